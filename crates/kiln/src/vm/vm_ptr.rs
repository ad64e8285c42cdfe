//! `VmPtr<T>`: how the runtime's structures hold a pointer that compiled code or another
//! structure follows — a non-null address, typed by what it points at, never a bare `usize`.
//! A nullable pointer is `Option<VmPtr<T>>`, which has the same layout as a raw pointer (null
//! for `None`), so either can sit in a `#[repr(C)]` structure that compiled code reads.
//!
//! A `VmPtr` is only an address: holding or copying one is safe, and every dereference is an
//! `unsafe` block at its use that argues why the pointee is alive there. Converting to and
//! from the raw bits that wasm passes around (a funcref in a `ValRaw`, a table element)
//! happens here only, with exposed provenance: addresses handed to compiled code are
//! exposed, and the addresses it hands back are the ones it was given.
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ptr::NonNull;

/// A non-null pointer to a `T` owned by the runtime.
#[repr(transparent)]
pub struct VmPtr<T: ?Sized>(NonNull<T>);

// SAFETY: a `VmPtr` is an address; sending or sharing it dereferences nothing, and each
// dereference (always `unsafe`) argues for itself that the pointee is alive and unaliased.
unsafe impl<T: ?Sized> Send for VmPtr<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized> Sync for VmPtr<T> {}

impl<T: ?Sized> VmPtr<T> {
    /// The pointer to `value`.
    pub fn from_ref(value: &T) -> VmPtr<T> {
        VmPtr(NonNull::from(value))
    }

    /// The raw pointer.
    pub fn as_ptr(self) -> *mut T {
        self.0.as_ptr()
    }

    /// The `NonNull` pointer.
    pub fn as_non_null(self) -> NonNull<T> {
        self.0
    }

    /// The same address, as a pointer to `U`.
    pub fn cast<U>(self) -> VmPtr<U> {
        VmPtr(self.0.cast())
    }

    /// The address, exposed so that compiled code (or a raw wasm value) may hand it back.
    pub fn expose(self) -> usize {
        self.0.as_ptr().cast::<u8>().expose_provenance()
    }
}

impl<T> VmPtr<T> {
    /// The address `addr` that [`VmPtr::expose`] produced earlier, or `None` for 0.
    pub fn from_exposed(addr: usize) -> Option<VmPtr<T>> {
        NonNull::new(std::ptr::with_exposed_provenance_mut(addr)).map(VmPtr)
    }

    /// A well-aligned, non-null pointer that points at nothing, for a field that is filled
    /// in before anything follows it.
    pub fn dangling() -> VmPtr<T> {
        VmPtr(NonNull::dangling())
    }
}

impl<T: ?Sized> From<NonNull<T>> for VmPtr<T> {
    fn from(p: NonNull<T>) -> VmPtr<T> {
        VmPtr(p)
    }
}

impl<T: ?Sized> Clone for VmPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for VmPtr<T> {}

impl<T: ?Sized> PartialEq for VmPtr<T> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::addr_eq(self.0.as_ptr(), other.0.as_ptr())
    }
}

impl<T: ?Sized> Eq for VmPtr<T> {}

impl<T: ?Sized> Hash for VmPtr<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.as_ptr().cast::<u8>().addr().hash(state);
    }
}

impl<T: ?Sized> fmt::Debug for VmPtr<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:p}", self.0.as_ptr().cast::<u8>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_pointers_have_the_layout_of_a_raw_pointer() {
        assert_eq!(size_of::<Option<VmPtr<u64>>>(), size_of::<*mut u64>());
        let x = 7u64;
        let p = VmPtr::from_ref(&x);
        assert_eq!(VmPtr::<u64>::from_exposed(p.expose()), Some(p));
        assert_eq!(VmPtr::<u64>::from_exposed(0), None);
    }
}
