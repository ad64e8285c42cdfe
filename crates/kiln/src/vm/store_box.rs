//! `StoreBox<T>`: a heap allocation owned like a `Box<T>`, for the runtime structures that
//! compiled code or other structures point into (the store itself, its store context, host
//! functions, host globals, the definitions of host-created memories and tables).
//!
//! A `Box` asserts unique access whenever it is moved or dereferenced, which would
//! invalidate the raw pointers handed out to its contents; a `StoreBox` holds only a raw
//! pointer, so moving it changes nothing, and every access — safe ones through
//! [`StoreBox::get`]/[`StoreBox::get_mut`], raw ones through [`StoreBox::ptr`] — derives
//! from that one pointer.
use super::vm_ptr::VmPtr;
use std::ptr::NonNull;

/// An owned heap allocation reached through a raw pointer.
pub struct StoreBox<T>(VmPtr<T>);

// SAFETY: a `StoreBox<T>` owns its `T` as a `Box<T>` does, so it may cross threads when `T` may.
unsafe impl<T: Send> Send for StoreBox<T> {}
// SAFETY: shared access hands out only `&T`, as `Box<T>` does.
unsafe impl<T: Sync> Sync for StoreBox<T> {}

impl<T> StoreBox<T> {
    /// Move `value` to the heap.
    pub fn new(value: T) -> StoreBox<T> {
        StoreBox(VmPtr::from(NonNull::from(Box::leak(Box::new(value)))))
    }

    /// The pointer every access derives from; it stays valid until this box is dropped.
    pub fn ptr(&self) -> VmPtr<T> {
        self.0
    }

    /// The value, moved back out of the heap.
    pub fn into_inner(self) -> T {
        let ptr = self.0;
        std::mem::forget(self);
        // SAFETY: the pointer came from `Box::leak` in `new`; forgetting `self` hands its
        // ownership to this `Box`, so it is released exactly once.
        *unsafe { Box::from_raw(ptr.as_ptr()) }
    }

    /// The value.
    pub fn get(&self) -> &T {
        // SAFETY: the allocation is live until `drop`, and `&self` excludes `get_mut`; raw
        // writers through `ptr` (compiled code, the signal handler's store pointer) only run
        // while the owner lends the whole structure out, never while a reference from here
        // is in use.
        unsafe { self.0.as_non_null().as_ref() }
    }

    /// The value, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: as in `get`; `&mut self` makes this the only reference.
        unsafe { self.0.as_non_null().as_mut() }
    }
}

impl<T> Drop for StoreBox<T> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Box::leak` in `new` and is released only here.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}
