//! The engine-wide registry of canonical types. Types are registered a rec group at a time
//! and canonicalized iso-recursively: a group's key is its types with every reference into
//! the group itself written as a position in the group and every reference out of it as the
//! canonical id of a registered type, so two modules that declare equal groups get the same
//! ids, and equal types are equal ids (what `call_indirect`, casts and import checks compare).
//! Each type records its chain of supertypes from the root, which makes "is `a` a subtype of
//! `b`" one lookup. The registry counts who holds each group (modules and stores' host
//! functions, one registration per type) and forgets a group when the last holder drops, and
//! with it the hold it had on the groups its types name.
use cranelift_entity::{PrimaryMap, entity_impl};
use kiln_environ::{
    GcLayout, RecGroup, SharedTypeIndex, TypeIndex, TypedRef, WasmCompositeType, WasmFuncType, WasmSubType,
};
use std::collections::HashMap;
use std::sync::Arc;

/// A registered rec group.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct RecGroupId(u32);
entity_impl!(RecGroupId, "rec_group");

/// What a concrete type in a group's key is: a registered type, or the type at a position of
/// the group itself.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
enum KeyType {
    Registered(SharedTypeIndex),
    Local(u32),
}

/// A rec group's key: its types, with concrete types as [`KeyType`]s.
type GroupKey = Box<[WasmSubType<KeyType>]>;

/// A registered type.
struct TypeEntry {
    group: RecGroupId,
    /// For a function type, its signature, shared with every caller that asks for it.
    func: Option<Arc<WasmFuncType>>,
    /// For a function type, its typed references.
    func_refs: Arc<[TypedRef<SharedTypeIndex>]>,
    /// Its supertypes from the root down, then itself: `b` is a supertype of `a` exactly when
    /// `a`'s chain has `b` at the position of `b`'s own depth.
    supertypes: Box<[SharedTypeIndex]>,
    /// For a struct or array type, the layout of its objects.
    layout: Option<Arc<GcLayout>>,
    /// The type, with its concrete types as canonical ids.
    sub: Arc<WasmSubType<SharedTypeIndex>>,
}

/// A registered rec group and how many registrations hold it.
struct GroupEntry {
    key: GroupKey,
    types: Box<[SharedTypeIndex]>,
    /// Registrations: one per type per module or host function that registered it, and one
    /// per other group whose types name this one's.
    holders: usize,
    /// The other groups this one's types name, held once each.
    named: Box<[RecGroupId]>,
}

/// The registry (the engine keeps it behind a lock).
#[derive(Default)]
pub(crate) struct TypeRegistry {
    ids: HashMap<GroupKey, RecGroupId>,
    groups: PrimaryMap<RecGroupId, Option<GroupEntry>>,
    types: PrimaryMap<SharedTypeIndex, Option<TypeEntry>>,
    free_groups: Vec<RecGroupId>,
    free_types: Vec<SharedTypeIndex>,
}

impl TypeRegistry {
    fn entry(&self, id: SharedTypeIndex) -> Option<&TypeEntry> {
        self.types.get(id)?.as_ref()
    }

    fn group_mut(&mut self, g: RecGroupId) -> Option<&mut GroupEntry> {
        self.groups.get_mut(g)?.as_mut()
    }

    /// Register every rec group of a module's type section, once per type: the canonical id
    /// of each type, in order.
    ///
    /// # Panics
    /// If a type names a type of a later group: `Module::check_consistent` rules it out.
    pub(crate) fn register_module(&mut self, module: &kiln_environ::Module) -> PrimaryMap<TypeIndex, SharedTypeIndex> {
        let mut ids = PrimaryMap::with_capacity(module.types.len());
        for group in &module.rec_groups {
            let types: Vec<&WasmSubType> = group.types().map(|t| &module.types[t]).collect();
            for id in self.register_group(*group, &types, &ids) {
                ids.push(id);
            }
        }
        ids
    }

    /// Register one more hold of a function type of its own, final and without typed
    /// references (a host function's).
    pub(crate) fn register_plain(&mut self, ty: &WasmFuncType) -> SharedTypeIndex {
        let sub = WasmSubType {
            is_final: true,
            supertype: None,
            composite: WasmCompositeType::Func(ty.clone(), Box::new([])),
        };
        let group = RecGroup { start: TypeIndex::from_u32(0), len: 1 };
        self.register_group(group, &[&sub], &PrimaryMap::new())[0]
    }

    /// Register one more hold of a type the host made, a rec group of its own whose
    /// concrete types (if any) are registered ones.
    pub(crate) fn register_host(&mut self, ty: &WasmSubType<SharedTypeIndex>) -> SharedTypeIndex {
        self.register_key(Box::new([ty.map(KeyType::Registered)]))[0]
    }

    /// Register one more hold of registered type `id`.
    ///
    /// # Panics
    /// If `id` is not registered: its caller holds it.
    pub(crate) fn hold(&mut self, id: SharedTypeIndex) {
        let g = self.entry(id).expect("a held type is registered").group;
        self.group_mut(g).expect("a held group is registered").holders += 1;
    }

    /// Type `id`, with its concrete types as canonical ids, if registered.
    pub(crate) fn sub_type(&self, id: SharedTypeIndex) -> Option<Arc<WasmSubType<SharedTypeIndex>>> {
        Some(self.entry(id)?.sub.clone())
    }

    /// Register rec group `group`, whose types are `types`; the types before it are
    /// registered as `earlier` says.
    fn register_group(
        &mut self,
        group: RecGroup,
        types: &[&WasmSubType],
        earlier: &PrimaryMap<TypeIndex, SharedTypeIndex>,
    ) -> Box<[SharedTypeIndex]> {
        let key: GroupKey = types
            .iter()
            .map(|ty| {
                ty.map(|t| match group.contains(t) {
                    true => KeyType::Local(t.as_u32() - group.start.as_u32()),
                    false => KeyType::Registered(earlier[t]),
                })
            })
            .collect();
        self.register_key(key)
    }

    /// Register one more hold of each type of the rec group with key `key`.
    fn register_key(&mut self, key: GroupKey) -> Box<[SharedTypeIndex]> {
        if let Some(&g) = self.ids.get(&key) {
            let entry = self.group_mut(g).expect("a keyed group is registered");
            entry.holders += key.len();
            return entry.types.clone();
        }
        let g = self.free_groups.pop().unwrap_or_else(|| self.groups.next_key());
        let ids: Box<[SharedTypeIndex]> = (0..key.len())
            .map(|_| {
                let id = self.free_types.pop().unwrap_or_else(|| self.types.next_key());
                if id == self.types.next_key() {
                    self.types.push(None);
                }
                id
            })
            .collect();
        let mut named = Vec::new();
        for (local, ty) in key.iter().enumerate() {
            let canonical = ty.map(|t| match t {
                KeyType::Registered(id) => id,
                KeyType::Local(i) => ids[i as usize],
            });
            for t in ty.named_types() {
                if let KeyType::Registered(other) = t {
                    named.push(self.entry(other).expect("a named type is registered").group);
                }
            }
            // A supertype comes before its subtypes, so its chain is known.
            let mut supertypes: Vec<SharedTypeIndex> = match canonical.supertype {
                Some(s) => self.entry(s).expect("a supertype is registered").supertypes.to_vec(),
                None => Vec::new(),
            };
            supertypes.push(ids[local]);
            let func = canonical.as_func().map(|f| Arc::new(f.clone()));
            let layout = GcLayout::of(&canonical).map(Arc::new);
            let func_refs: Arc<[TypedRef<SharedTypeIndex>]> = canonical.func_refs().into();
            let sub = Arc::new(canonical);
            self.types[ids[local]] =
                Some(TypeEntry { group: g, func, func_refs, supertypes: supertypes.into(), layout, sub });
        }
        named.sort();
        named.dedup();
        for &other in &named {
            self.group_mut(other).expect("a named group is registered").holders += 1;
        }
        let entry = GroupEntry { key: key.clone(), types: ids.clone(), holders: key.len(), named: named.into() };
        if g == self.groups.next_key() {
            self.groups.push(Some(entry));
        } else {
            self.groups[g] = Some(entry);
        }
        self.ids.insert(key, g);
        ids
    }

    /// Drop one registration of each of `ids`, forgetting the groups nobody holds any more
    /// (and then the holds they had on the groups they name).
    pub(crate) fn release(&mut self, ids: impl IntoIterator<Item = SharedTypeIndex>) {
        let mut pending: Vec<RecGroupId> = ids.into_iter().filter_map(|id| Some(self.entry(id)?.group)).collect();
        while let Some(g) = pending.pop() {
            let Some(entry) = self.group_mut(g) else { continue };
            entry.holders -= 1;
            if entry.holders > 0 {
                continue;
            }
            let entry = self.groups[g].take().expect("the group is registered");
            self.ids.remove(&entry.key);
            for &id in entry.types.iter() {
                self.types[id] = None;
                self.free_types.push(id);
            }
            self.free_groups.push(g);
            pending.extend(entry.named.iter().copied());
        }
    }

    /// Whether `a` is `b` or a declared subtype of it, transitively.
    pub(crate) fn is_subtype(&self, a: SharedTypeIndex, b: SharedTypeIndex) -> bool {
        if a == b {
            return true;
        }
        let (Some(a), Some(b)) = (self.entry(a), self.entry(b)) else { return false };
        a.supertypes.get(b.supertypes.len() - 1) == b.supertypes.last()
    }

    /// The signature of function type `id`, if registered.
    pub(crate) fn func_type(&self, id: SharedTypeIndex) -> Option<Arc<WasmFuncType>> {
        self.entry(id)?.func.clone()
    }

    /// The typed references of function type `id`, if registered.
    pub(crate) fn func_type_refs(&self, id: SharedTypeIndex) -> Option<Arc<[TypedRef<SharedTypeIndex>]>> {
        Some(self.entry(id)?.func_refs.clone())
    }

    /// The layout of the objects of struct or array type `id`, if registered.
    pub(crate) fn gc_layout(&self, id: SharedTypeIndex) -> Option<Arc<GcLayout>> {
        self.entry(id)?.layout.clone()
    }

    /// How many types are registered.
    #[cfg(all(test, feature = "compiler"))]
    pub(crate) fn len(&self) -> usize {
        self.types.values().filter(|t| t.is_some()).count()
    }
}
