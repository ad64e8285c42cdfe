//! Host roots: how the host holds references that a store's collector manages (`AnyRef`,
//! `EqRef`, `StructRef`, `ArrayRef`, `ExternRef`). Each such handle names an entry of its
//! store's root set ([`RootSet`]), whose words the collector marks; the handle itself is a
//! store id and a position, so it is `Copy` and reading through it checks that the root is
//! still there.
//!
//! A [`Rooted`] is a scoped root: an entry of a stack the store keeps. A [`RootScope`] pops
//! what was pushed while it lived, and so does the return of every host function called from
//! wasm; using a `Rooted` whose entry was popped is [`Error::Unrooted`] (its entry carries a
//! serial number that a reused position does not repeat). Roots made outside any scope last
//! as long as the store. An [`OwnedRooted`] is an owned root: a slot kept while some clone
//! of the handle lives, whatever the scopes, and freed for reuse (with a new generation)
//! once the last clone drops.
use crate::store::StoreOpaqueExt;
use crate::vm::ids::{OwnedRoot, ScopedRoot, StoreId};
use crate::vm::store::StoreOpaque;
use crate::{AsContext, AsContextMut, Error, Result, StoreContext, StoreContextMut};
use cranelift_entity::{EntityRef, PrimaryMap};
use sealed::Rooting;
use std::sync::{Arc, Weak};

/// Where a host root is: its store, and its entry there.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct GcRootIndex {
    store: StoreId,
    entry: RootEntry,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
enum RootEntry {
    /// The scoped root at `index`, while that entry still has serial number `serial`.
    Scoped { index: ScopedRoot, serial: u64 },
    /// The owned root in slot `index`, while that slot is of generation `generation`.
    Owned { index: OwnedRoot, generation: u64 },
}

/// An owned root's slot.
struct OwnedSlot {
    word: usize,
    generation: u64,
    /// Live while some `OwnedRooted` of this slot lives.
    holder: Weak<()>,
}

/// A store's host roots: the words the collector must keep for the host.
#[derive(Default)]
pub struct RootSet {
    /// Each scoped root's word and serial number, in order (popped from the end).
    scoped: Vec<(usize, u64)>,
    next_serial: u64,
    owned: PrimaryMap<OwnedRoot, OwnedSlot>,
    free_owned: Vec<OwnedRoot>,
    /// Look for released owned slots when this many are in use.
    owned_threshold: usize,
}

impl RootSet {
    /// How many scoped roots there are: what [`RootSet::pop_to`] returns to.
    pub fn depth(&self) -> usize {
        self.scoped.len()
    }

    /// Pop the scoped roots made since the depth was `depth`.
    pub fn pop_to(&mut self, depth: usize) {
        self.scoped.truncate(depth);
    }

    /// Every word the host roots, for a collection (which also frees the owned slots whose
    /// handles all dropped).
    pub fn words(&mut self) -> Vec<usize> {
        self.release_owned();
        let owned = self.owned.values().filter(|s| s.holder.strong_count() > 0).map(|s| s.word);
        self.scoped.iter().map(|(word, _)| *word).chain(owned).collect()
    }

    /// Free the owned slots whose handles all dropped.
    fn release_owned(&mut self) {
        for (index, slot) in self.owned.iter_mut() {
            if slot.holder.strong_count() == 0 && slot.word != 0 {
                slot.word = 0;
                slot.generation += 1;
                self.free_owned.push(index);
            }
        }
        self.owned_threshold = (self.owned.len() - self.free_owned.len()) * 2;
    }

    fn scoped_word(&self, index: ScopedRoot, serial: u64) -> Option<usize> {
        self.scoped.get(index.index()).filter(|(_, s)| *s == serial).map(|(word, _)| *word)
    }

    fn owned_word(&self, index: OwnedRoot, generation: u64) -> Option<usize> {
        let slot = self.owned.get(index)?;
        (slot.generation == generation && slot.holder.strong_count() > 0).then_some(slot.word)
    }
}

impl StoreOpaque {
    /// A new scoped root of the non-null word `word`.
    pub(crate) fn root_scoped(&mut self, word: usize) -> GcRootIndex {
        let roots = &mut self.gc.roots;
        let serial = roots.next_serial;
        roots.next_serial += 1;
        let index = ScopedRoot::new(roots.scoped.len());
        roots.scoped.push((word, serial));
        GcRootIndex { store: self.id(), entry: RootEntry::Scoped { index, serial } }
    }

    /// A new owned root of the non-null word `word`, kept while the returned holder (or a
    /// clone of it) lives.
    pub(crate) fn root_owned(&mut self, word: usize) -> (GcRootIndex, Arc<()>) {
        let roots = &mut self.gc.roots;
        if roots.owned.len() - roots.free_owned.len() >= roots.owned_threshold.max(1024) {
            roots.release_owned();
        }
        let holder = Arc::new(());
        let index = match roots.free_owned.pop() {
            Some(index) => {
                let slot = &mut roots.owned[index];
                slot.word = word;
                slot.holder = Arc::downgrade(&holder);
                index
            }
            None => roots.owned.push(OwnedSlot { word, generation: 0, holder: Arc::downgrade(&holder) }),
        };
        let generation = roots.owned[index].generation;
        (GcRootIndex { store: self.id(), entry: RootEntry::Owned { index, generation } }, holder)
    }

    /// The word a root keeps.
    ///
    /// # Errors
    /// [`Error::Unrooted`] when the root is gone (its scope ended, or its owners dropped),
    /// [`Error::Other`] when it is another store's.
    pub(crate) fn root_word(&self, root: GcRootIndex) -> Result<usize> {
        self.check_store(root.store)?;
        let roots = &self.gc.roots;
        let word = match root.entry {
            RootEntry::Scoped { index, serial } => roots.scoped_word(index, serial),
            RootEntry::Owned { index, generation } => roots.owned_word(index, generation),
        };
        word.ok_or(Error::Unrooted)
    }
}

pub(crate) mod sealed {
    /// What every reference type the host can root is: a root.
    pub trait GcRefImpl: Copy {
        /// The reference of root `root`.
        fn from_root(root: super::GcRootIndex) -> Self;
        /// Its root.
        fn root(&self) -> super::GcRootIndex;
    }

    /// What roots a reference of type `T`.
    pub trait Rooting<T> {
        /// The reference.
        fn gc_ref(&self) -> &T;
    }
}

/// A reference type the host holds through a root: [`AnyRef`](crate::AnyRef),
/// [`EqRef`](crate::EqRef), [`StructRef`](crate::StructRef), [`ArrayRef`](crate::ArrayRef),
/// [`ExternRef`](crate::ExternRef).
pub trait GcRef: sealed::GcRefImpl + Send + Sync + std::fmt::Debug + 'static {}

/// A root of a reference of type `T`, scoped or owned: [`Rooted`] or [`OwnedRooted`].
pub trait RootedGcRef<T: GcRef>: Rooting<T> {}

impl<T: GcRef> Rooting<T> for Rooted<T> {
    fn gc_ref(&self) -> &T {
        &self.inner
    }
}
impl<T: GcRef> RootedGcRef<T> for Rooted<T> {}

impl<T: GcRef> Rooting<T> for OwnedRooted<T> {
    fn gc_ref(&self) -> &T {
        &self.inner
    }
}
impl<T: GcRef> RootedGcRef<T> for OwnedRooted<T> {}

/// A scoped root of a reference of type `T`: valid until the [`RootScope`] it was made in
/// ends (or, made in a host function, until the host function returns; made outside any
/// scope, as long as the store). It dereferences to `T`, whose methods read through it. A
/// view of a reference (`as_struct`, `to_anyref`…) shares its root: a view of an
/// [`OwnedRooted`]'s reference is valid as long as the owned root.
#[derive(Copy, Clone, Debug)]
pub struct Rooted<T: GcRef> {
    inner: T,
}

impl<T: GcRef> std::ops::Deref for Rooted<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: GcRef> Rooted<T> {
    /// The handle of root `root`, of type `T` (which the caller checked).
    pub(crate) fn from_root(root: GcRootIndex) -> Rooted<T> {
        Rooted { inner: T::from_root(root) }
    }

    /// A scoped root of `word`, of type `T` (which the caller checked).
    pub(crate) fn new(store: &mut StoreOpaque, word: usize) -> Rooted<T> {
        Rooted { inner: T::from_root(store.root_scoped(word)) }
    }

    /// The same reference, viewed as type `U` (a supertype, or one the caller checked).
    pub(crate) fn cast<U: GcRef>(self) -> Rooted<U> {
        Rooted { inner: U::from_root(self.inner.root()) }
    }

    /// The same reference, viewed as type `U` (one whose words are the same: the
    /// `extern`/`any` conversions), after checking the root.
    ///
    /// # Errors
    /// [`Error::Unrooted`] when this root is gone; [`Error::Other`] for another store.
    pub(crate) fn convert<U: GcRef>(self, store: impl AsContext) -> Result<Rooted<U>> {
        store.as_context().opaque().root_word(self.inner.root())?;
        Ok(self.cast())
    }

    /// An owned root of the same reference, which outlives this one's scope.
    ///
    /// # Errors
    /// [`Error::Unrooted`] when this root is gone; [`Error::Other`] for another store.
    pub fn to_owned_rooted(&self, mut store: impl AsContextMut) -> Result<OwnedRooted<T>> {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        let word = s.root_word(self.inner.root())?;
        Ok(OwnedRooted::new(s, word))
    }

    /// Whether this root is still valid in `store`.
    pub fn is_rooted(&self, store: impl AsContext) -> bool {
        store.as_context().opaque().root_word(self.inner.root()).is_ok()
    }

    /// Whether `a` and `b` are the same reference (wasm's `ref.eq`).
    ///
    /// # Errors
    /// [`Error::Unrooted`] when either root is gone; [`Error::Other`] for another store.
    pub fn ref_eq(store: impl AsContext, a: &impl RootedGcRef<T>, b: &impl RootedGcRef<T>) -> Result<bool> {
        let cx = store.as_context();
        Ok(cx.opaque().root_word(a.gc_ref().root())? == cx.opaque().root_word(b.gc_ref().root())?)
    }
}

/// An owned root of a reference of type `T`: valid while this handle or a clone of it lives,
/// whatever the scopes. It dereferences to `T`.
#[derive(Clone, Debug)]
pub struct OwnedRooted<T: GcRef> {
    inner: T,
    _holder: Arc<()>,
}

impl<T: GcRef> std::ops::Deref for OwnedRooted<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: GcRef> OwnedRooted<T> {
    pub(crate) fn new(store: &mut StoreOpaque, word: usize) -> OwnedRooted<T> {
        let (root, holder) = store.root_owned(word);
        OwnedRooted { inner: T::from_root(root), _holder: holder }
    }

    /// A scoped root of the same reference, in `store`'s current scope.
    ///
    /// # Errors
    /// [`Error::Other`] when this is another store's reference.
    pub fn to_rooted(&self, mut store: impl AsContextMut) -> Result<Rooted<T>> {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        let word = s.root_word(self.inner.root())?;
        Ok(Rooted::new(s, word))
    }
}

/// A scope for [`Rooted`]s: the roots made through it (or through the store while it lives)
/// are released when it drops. It lends the store like the store itself.
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// use kiln::{AnyRef, Engine, I31, RootScope, Store};
/// let mut store = Store::new(&Engine::default(), ());
/// let outer = AnyRef::from_i31(&mut store, I31::wrapping_u32(7));
/// let inner = {
///     let mut scope = RootScope::new(&mut store);
///     AnyRef::from_i31(&mut scope, I31::wrapping_u32(8))
/// };
/// assert_eq!(outer.as_i31(&store)?, Some(I31::wrapping_u32(7)));
/// assert!(matches!(inner.as_i31(&store), Err(kiln::Error::Unrooted)));
/// # Ok(())
/// # }
/// ```
pub struct RootScope<C: AsContextMut> {
    store: C,
    depth: usize,
}

impl<C: AsContextMut> RootScope<C> {
    /// A scope over `store`.
    pub fn new(mut store: C) -> RootScope<C> {
        let depth = store.as_context_mut().opaque().gc.roots.depth();
        RootScope { store, depth }
    }
}

impl<C: AsContextMut> Drop for RootScope<C> {
    fn drop(&mut self) {
        self.store.as_context_mut().opaque().gc.roots.pop_to(self.depth);
    }
}

impl<C: AsContextMut> AsContext for RootScope<C> {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        self.store.as_context()
    }
}

impl<C: AsContextMut> AsContextMut for RootScope<C> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, C::Data> {
        self.store.as_context_mut()
    }
}

/// Make `$t`, a struct with one field `root: GcRootIndex`, a [`GcRef`].
macro_rules! gc_ref_type {
    ($($t:ident),*) => {$(
        impl $crate::gc_root::sealed::GcRefImpl for $t {
            fn from_root(root: $crate::gc_root::GcRootIndex) -> $t {
                $t { root }
            }
            fn root(&self) -> $crate::gc_root::GcRootIndex {
                self.root
            }
        }
        impl $crate::gc_root::GcRef for $t {}
    )*};
}
pub(crate) use gc_ref_type;

#[cfg(test)]
mod tests {
    use crate::{AnyRef, Engine, I31, RootScope, Store};

    #[test]
    fn the_root_set_stays_as_large_as_what_the_host_holds() {
        let mut store = Store::new(&Engine::default(), ());
        let kept = AnyRef::from_i31(&mut store, I31::wrapping_u32(1)).to_owned_rooted(&mut store).unwrap();
        for i in 0..100_000 {
            let mut scope = RootScope::new(&mut store);
            let r = AnyRef::from_i31(&mut scope, I31::wrapping_u32(i));
            drop(r.to_owned_rooted(&mut scope).unwrap());
        }
        let roots = &store.inner.get().opaque.gc.roots;
        assert_eq!(roots.depth(), 1, "only the first scoped root is left");
        assert!(roots.owned.len() <= 2048, "{} owned slots", roots.owned.len());
        assert_eq!(kept.as_i31(&store).unwrap(), Some(I31::wrapping_u32(1)));
    }
}
