//! Checking a [`ComponentInfo`] that was decoded from an artifact, before the runtime indexes
//! by it: anyone can recompute an artifact's checksum, so the description is checked the way
//! `Module::check_consistent` checks a module's. Every index must name something that exists
//! when it is used (an initializer may only name core instances, lowered functions, memories,
//! `realloc`s and `post-return`s that earlier initializers created), and the value types must
//! be what validation lets through: no type that contains itself, none nested deeper or larger
//! than wasmparser's limits allow (with room to spare), so that sizes, alignments and
//! flattenings computed from them neither recurse without end nor overflow.
use std::collections::{HashMap, HashSet};

use super::info::{CanonicalOptions, ComponentInfo, CoreDef, Export, ImportType, Initializer, LiftedFunction};
use super::info::{LowerSource, ResourceDef};
use super::types::{ComponentTypes, InterfaceType, TypeFuncIndex};
use cranelift_entity::EntityRef;

/// The deepest nesting of value types accepted: twice wasmparser's
/// `MAX_WASM_COMPONENT_TYPE_DEPTH`, so that anything validation accepts passes.
const MAX_TYPE_DEPTH: u32 = 200;
/// The largest effective size of a type (the nodes of its tree with every shared type
/// expanded) accepted: twice wasmparser's `MAX_WASM_TYPE_SIZE`.
const MAX_TYPE_SIZE: u64 = 2_000_000;
/// The most names of one flags type: wasmparser's `MAX_WASM_FLAG_NAMES`.
const MAX_FLAG_NAMES: usize = 1_000;
/// The most component instances one instantiation may create: flattening stops after a
/// million steps, and each instance takes at least one.
const MAX_COMPONENT_INSTANCES: u32 = 1_000_000;

/// What the initializers have created so far.
#[derive(Default)]
struct Created {
    core_instances: usize,
    lowered: usize,
    memories: usize,
    reallocs: usize,
    post_returns: usize,
}

/// The size and depth of every compound type measured so far.
struct TypeMeasure<'a> {
    types: &'a ComponentTypes,
    num_resources: usize,
    done: HashMap<InterfaceType, (u64, u32)>,
}

fn out_of_range(what: &str, index: usize) -> String {
    format!("{what} {index} out of range")
}

impl TypeMeasure<'_> {
    /// The measure of a type that has no component types: primitives and handles.
    fn leaf(&self, t: InterfaceType) -> Result<Option<(u64, u32)>, String> {
        Ok(match t {
            InterfaceType::Own(r) | InterfaceType::Borrow(r) => {
                if r.index() >= self.num_resources {
                    return Err(out_of_range("resource", r.index()));
                }
                Some((1, 1))
            }
            InterfaceType::Record(_)
            | InterfaceType::Variant(_)
            | InterfaceType::List(_)
            | InterfaceType::Tuple(_)
            | InterfaceType::Flags(_)
            | InterfaceType::Enum(_)
            | InterfaceType::Option(_)
            | InterfaceType::Result(_)
            | InterfaceType::Map(_) => None,
            _ => Some((1, 1)),
        })
    }

    /// The types a compound type is made of.
    fn children(&self, t: InterfaceType) -> Result<Vec<InterfaceType>, String> {
        let types = self.types;
        let missing = |what: &str, i: usize| out_of_range(what, i);
        Ok(match t {
            InterfaceType::Record(i) => types
                .records
                .get(i)
                .ok_or_else(|| missing("record type", i.index()))?
                .fields
                .iter()
                .map(|f| f.1)
                .collect(),
            InterfaceType::Variant(i) => types
                .variants
                .get(i)
                .ok_or_else(|| missing("variant type", i.index()))?
                .cases
                .iter()
                .filter_map(|c| c.1)
                .collect(),
            InterfaceType::List(i) => vec![*types.lists.get(i).ok_or_else(|| missing("list type", i.index()))?],
            InterfaceType::Tuple(i) => {
                types.tuples.get(i).ok_or_else(|| missing("tuple type", i.index()))?.types.clone()
            }
            InterfaceType::Flags(i) => {
                let flags = types.flags.get(i).ok_or_else(|| missing("flags type", i.index()))?;
                if flags.names.len() > MAX_FLAG_NAMES {
                    return Err(format!("flags type {} has {} names", i.index(), flags.names.len()));
                }
                Vec::new()
            }
            InterfaceType::Enum(i) => {
                types.enums.get(i).ok_or_else(|| missing("enum type", i.index()))?;
                Vec::new()
            }
            InterfaceType::Option(i) => vec![*types.options.get(i).ok_or_else(|| missing("option type", i.index()))?],
            InterfaceType::Result(i) => {
                let r = types.results.get(i).ok_or_else(|| missing("result type", i.index()))?;
                r.ok.into_iter().chain(r.err).collect()
            }
            InterfaceType::Map(i) => {
                let m = types.maps.get(i).ok_or_else(|| missing("map type", i.index()))?;
                vec![m.key, m.value]
            }
            _ => Vec::new(),
        })
    }

    /// The measure of a type already known to be measured (or a leaf).
    fn known(&self, t: InterfaceType) -> Result<Option<(u64, u32)>, String> {
        Ok(self.leaf(t)?.or_else(|| self.done.get(&t).copied()))
    }

    /// The measure of a compound made of types of these measures.
    fn combine(measures: impl IntoIterator<Item = (u64, u32)>) -> (u64, u32) {
        measures.into_iter().fold((1, 1), |(size, depth), (s, d)| (size.saturating_add(s), depth.max(d + 1)))
    }

    /// Check `t` and every type it is made of; its effective size and depth. Iterative: a
    /// corrupt description may nest types as deep as its length allows.
    fn measure(&mut self, root: InterfaceType) -> Result<(u64, u32), String> {
        if let Some(m) = self.known(root)? {
            return Ok(m);
        }
        let mut on_path = HashSet::from([root]);
        let mut stack = vec![(root, self.children(root)?, 0usize)];
        while let Some(top) = stack.len().checked_sub(1) {
            let (t, next) = {
                let (t, children, next) = &mut stack[top];
                let child = children.get(*next).copied();
                *next += 1;
                (*t, child)
            };
            if let Some(child) = next {
                if self.known(child)?.is_some() {
                    continue;
                }
                if !on_path.insert(child) {
                    return Err(format!("type {child:?} contains itself"));
                }
                if stack.len() >= MAX_TYPE_DEPTH as usize {
                    return Err(format!("type {root:?} is nested too deeply"));
                }
                stack.push((child, self.children(child)?, 0));
                continue;
            }
            let (_, children, _) = stack.pop().expect("the stack has a top");
            let measures = children.iter().map(|c| self.known(*c)).collect::<Result<Vec<_>, _>>()?;
            let measure = Self::combine(measures.into_iter().flatten());
            check_measure(t, measure)?;
            self.done.insert(t, measure);
            on_path.remove(&t);
        }
        self.known(root)?.ok_or_else(|| format!("type {root:?} was not measured"))
    }
}

fn check_measure(t: impl std::fmt::Debug, (size, depth): (u64, u32)) -> Result<(), String> {
    if size > MAX_TYPE_SIZE {
        return Err(format!("type {t:?} is too large"));
    }
    if depth > MAX_TYPE_DEPTH {
        return Err(format!("type {t:?} is nested too deeply"));
    }
    Ok(())
}

/// Check every table of `types`: each entry is measured as a root, so no entry is left
/// unchecked whether or not anything names it.
fn check_types(types: &ComponentTypes, num_resources: usize) -> Result<(), String> {
    let mut m = TypeMeasure { types, num_resources, done: HashMap::new() };
    let roots = (types.records.keys().map(InterfaceType::Record))
        .chain(types.variants.keys().map(InterfaceType::Variant))
        .chain(types.lists.keys().map(InterfaceType::List))
        .chain(types.tuples.keys().map(InterfaceType::Tuple))
        .chain(types.flags.keys().map(InterfaceType::Flags))
        .chain(types.enums.keys().map(InterfaceType::Enum))
        .chain(types.options.keys().map(InterfaceType::Option))
        .chain(types.results.keys().map(InterfaceType::Result))
        .chain(types.maps.keys().map(InterfaceType::Map));
    for root in roots {
        m.measure(root)?;
    }
    for (f, func) in &types.funcs {
        let params = func.params.iter().map(|p| p.1);
        let measures = params.chain(func.result).map(|t| m.measure(t)).collect::<Result<Vec<_>, _>>()?;
        check_measure(f, TypeMeasure::combine(measures))?;
    }
    Ok(())
}

/// The checks of one description against the counts it must stay within.
struct Checker<'a> {
    info: &'a ComponentInfo,
    num_modules: usize,
}

impl Checker<'_> {
    fn func_type(&self, ty: TypeFuncIndex) -> Result<(), String> {
        match self.info.types.funcs.get(ty) {
            Some(_) => Ok(()),
            None => Err(out_of_range("function type", ty.index())),
        }
    }

    fn component_instance(&self, i: super::info::RuntimeComponentInstanceIndex) -> Result<(), String> {
        if i.as_u32() >= self.info.num_component_instances {
            return Err(out_of_range("component instance", i.index()));
        }
        Ok(())
    }

    fn resource(&self, r: super::types::ResourceIndex) -> Result<(), String> {
        if r.index() >= self.info.resources.len() {
            return Err(out_of_range("resource", r.index()));
        }
        Ok(())
    }

    /// That `r` is a resource a component instance defines (`instance`, when given).
    fn defined_by(
        &self,
        r: super::types::ResourceIndex,
        instance: Option<super::info::RuntimeComponentInstanceIndex>,
    ) -> Result<(), String> {
        match self.info.resources.get(r) {
            Some(ResourceDef::Defined { instance: i }) if instance.is_none_or(|want| want == *i) => Ok(()),
            Some(_) => Err(format!("resource {} is not one this instance defines", r.index())),
            None => Err(out_of_range("resource", r.index())),
        }
    }

    fn import(&self, i: super::info::RuntimeImportIndex) -> Result<(), String> {
        if i.index() >= self.info.imports.len() {
            return Err(out_of_range("import", i.index()));
        }
        Ok(())
    }

    fn core_def(&self, def: &CoreDef, created: &Created) -> Result<(), String> {
        match def {
            CoreDef::Export(instance, _) if instance.index() >= created.core_instances => {
                Err(format!("core instance {} used before it is created", instance.index()))
            }
            CoreDef::Export(..) | CoreDef::ContextGet(_) | CoreDef::ContextSet(_) => Ok(()),
            CoreDef::Lowered(l) if l.index() >= created.lowered => {
                Err(format!("lowered function {} used before it is created", l.index()))
            }
            CoreDef::Lowered(_) => Ok(()),
            CoreDef::ResourceNew(r, i) | CoreDef::ResourceRep(r, i) => {
                // Only the instance that defines a resource makes and reads its handles.
                self.defined_by(*r, Some(*i))?;
                self.component_instance(*i)
            }
            CoreDef::ResourceDrop(r, i) => {
                self.resource(*r)?;
                self.component_instance(*i)
            }
            CoreDef::BackpressureInc(i) | CoreDef::BackpressureDec(i) | CoreDef::Unsupported { instance: i, .. } => {
                self.component_instance(*i)
            }
            CoreDef::TaskReturn { result, options } => {
                if let Some(t) = result {
                    self.value_type(*t)?;
                }
                self.options(options, created)
            }
            CoreDef::Memory(m) | CoreDef::ValidateString { memory: m, .. } if m.index() >= created.memories => {
                Err(format!("memory {} used before it is extracted", m.index()))
            }
            CoreDef::Realloc(r) if r.index() >= created.reallocs => {
                Err(format!("realloc {} used before it is extracted", r.index()))
            }
            CoreDef::PostReturn(p) if p.index() >= created.post_returns => {
                Err(format!("post-return {} used before it is extracted", p.index()))
            }
            CoreDef::InstanceFlags(i) => self.component_instance(*i),
            CoreDef::ResourceTransferOwn { resource, from, to }
            | CoreDef::ResourceTransferBorrow { resource, from, to } => {
                self.resource(*resource)?;
                self.component_instance(*from)?;
                self.component_instance(*to)
            }
            CoreDef::Memory(_)
            | CoreDef::ValidateString { .. }
            | CoreDef::Realloc(_)
            | CoreDef::PostReturn(_)
            | CoreDef::ResourceEnterCall
            | CoreDef::ResourceExitCall
            | CoreDef::AdapterTrap => Ok(()),
        }
    }

    /// That a value type names entries the tables have (their contents are checked by
    /// `check_types`).
    fn value_type(&self, t: InterfaceType) -> Result<(), String> {
        let types = &self.info.types;
        let present = match t {
            InterfaceType::Record(i) => types.records.get(i).is_some(),
            InterfaceType::Variant(i) => types.variants.get(i).is_some(),
            InterfaceType::List(i) => types.lists.get(i).is_some(),
            InterfaceType::Tuple(i) => types.tuples.get(i).is_some(),
            InterfaceType::Flags(i) => types.flags.get(i).is_some(),
            InterfaceType::Enum(i) => types.enums.get(i).is_some(),
            InterfaceType::Option(i) => types.options.get(i).is_some(),
            InterfaceType::Result(i) => types.results.get(i).is_some(),
            InterfaceType::Map(i) => types.maps.get(i).is_some(),
            InterfaceType::Own(r) | InterfaceType::Borrow(r) => r.index() < self.info.resources.len(),
            _ => true,
        };
        if present { Ok(()) } else { Err(format!("value type {t:?} out of range")) }
    }

    fn options(&self, options: &CanonicalOptions, created: &Created) -> Result<(), String> {
        self.component_instance(options.instance)?;
        let used_early = |what: &str, index: Option<usize>, count: usize| match index {
            Some(i) if i >= count => Err(format!("{what} {i} used before it is extracted")),
            _ => Ok(()),
        };
        used_early("memory", options.memory.map(|m| m.index()), created.memories)?;
        used_early("realloc", options.realloc.map(|r| r.index()), created.reallocs)?;
        used_early("post-return", options.post_return.map(|p| p.index()), created.post_returns)
    }

    fn lifted(&self, lifted: &LiftedFunction, created: &Created) -> Result<(), String> {
        self.func_type(lifted.ty)?;
        self.core_def(&lifted.func, created)?;
        self.options(&lifted.options, created)
    }

    fn initializers(&self) -> Result<Created, String> {
        let mut created = Created::default();
        for init in &self.info.initializers {
            match init {
                Initializer::InstantiateModule { module, args } => {
                    if module.index() >= self.num_modules {
                        return Err(out_of_range("core module", module.index()));
                    }
                    for arg in args {
                        self.core_def(arg, &created)?;
                    }
                    created.core_instances += 1;
                }
                Initializer::Lower { source, ty, options } => {
                    match source {
                        LowerSource::Import(i) => self.import(*i)?,
                        LowerSource::Lifted(lifted) => self.lifted(lifted, &created)?,
                        LowerSource::Adapter { module, args } => {
                            if module.index() >= self.num_modules {
                                return Err(out_of_range("core module", module.index()));
                            }
                            for arg in args {
                                self.core_def(arg, &created)?;
                            }
                        }
                    }
                    self.func_type(*ty)?;
                    self.options(options, &created)?;
                    created.lowered += 1;
                }
                Initializer::ExtractMemory(def) => {
                    self.core_def(def, &created)?;
                    created.memories += 1;
                }
                Initializer::ExtractRealloc(def) => {
                    self.core_def(def, &created)?;
                    created.reallocs += 1;
                }
                Initializer::ExtractPostReturn(def) => {
                    self.core_def(def, &created)?;
                    created.post_returns += 1;
                }
                Initializer::ResourceDtor { resource, dtor } => {
                    self.defined_by(*resource, None)?;
                    self.core_def(dtor, &created)?;
                }
            }
        }
        Ok(created)
    }

    /// Every export, nested instances included (with an explicit stack).
    fn exports(&self, created: &Created) -> Result<(), String> {
        // Each list is checked once; an instance inside another must have a lower index,
        // so the lists cannot refer to themselves.
        let lists = &self.info.export_instances;
        let mut work: Vec<(&Export, usize)> = self.info.exports.iter().map(|(_, e)| (e, lists.len())).collect();
        for (i, items) in lists.iter() {
            work.extend(items.iter().map(|(_, e)| (e, i.index())));
        }
        while let Some((export, within)) = work.pop() {
            match export {
                Export::LiftedFunction(lifted) => self.lifted(lifted, created)?,
                Export::ImportedFunction(i, ty) => {
                    self.import(*i)?;
                    self.func_type(*ty)?;
                }
                Export::Instance(i) if i.index() >= within => {
                    return Err(format!("exported instance {} out of order", i.index()));
                }
                Export::Instance(_) => {}
                Export::Resource(r) => self.resource(*r)?,
                Export::Module(m) if m.index() >= self.num_modules => {
                    return Err(out_of_range("core module", m.index()));
                }
                Export::Module(_) | Export::Type => {}
            }
        }
        Ok(())
    }
}

impl ComponentInfo {
    /// Check that every count and index of this description is consistent, as flattening
    /// makes them, for a component of `num_modules` core modules: for a description decoded
    /// from an artifact, before anything indexes by it.
    ///
    /// # Errors
    /// A description of the first inconsistency found.
    pub fn check_consistent(&self, num_modules: usize) -> Result<(), String> {
        if self.num_component_instances > MAX_COMPONENT_INSTANCES {
            return Err(format!("{} component instances", self.num_component_instances));
        }
        if self.instance_parents.len() != self.num_component_instances as usize {
            return Err(format!(
                "{} component instances, {} with parents recorded",
                self.num_component_instances,
                self.instance_parents.len()
            ));
        }
        // A parent is created before its children, so walking up always ends.
        if let Some((child, _)) = self.instance_parents.iter().find(|(i, p)| p.is_some_and(|p| p >= *i)) {
            return Err(format!("component instance {} has a parent created after it", child.index()));
        }
        check_types(&self.types, self.resources.len())?;
        let checker = Checker { info: self, num_modules };
        for (_, _, ty) in self.imports.values() {
            if let ImportType::Func(f) = ty {
                checker.func_type(*f)?;
            }
        }
        for def in self.resources.values() {
            match def {
                ResourceDef::Defined { instance } => checker.component_instance(*instance)?,
                ResourceDef::Imported(i) => {
                    checker.import(*i)?;
                    if !matches!(self.imports[*i].2, ImportType::Resource) {
                        return Err(format!("resource import {} is not a resource", i.index()));
                    }
                }
            }
        }
        let created = checker.initializers()?;
        checker.exports(&created)
    }
}

#[cfg(test)]
mod tests {
    use super::super::types::{TypeFunc, TypeRecord, TypeRecordIndex};
    use super::*;

    fn component(wat: &str) -> (ComponentInfo, usize) {
        let t = crate::component::translate_component(&wat::parse_str(wat).unwrap()).unwrap();
        (t.info, t.modules.len())
    }

    const TWO_MODULES: &str = r#"(component
        (core module $a (memory (export "mem") 1) (func (export "f") (param i32) (result i32) local.get 0))
        (core module $b (import "a" "f" (func (param i32) (result i32))))
        (core instance $ia (instantiate $a))
        (core instance $ib (instantiate $b (with "a" (instance $ia))))
        (type $r (record (field "x" u8) (field "y" (list string))))
        (func (export "f") (param "x" u32) (result u32) (canon lift (core func $ia "f")))
    )"#;

    #[test]
    fn flattened_components_are_consistent() {
        let (info, modules) = component(TWO_MODULES);
        assert_eq!(modules, 2);
        info.check_consistent(modules).unwrap();
        assert!(info.check_consistent(1).unwrap_err().contains("core module 1 out of range"));
    }

    #[test]
    fn corrupt_descriptions_are_refused() {
        let (info, modules) = component(TWO_MODULES);
        let mut i = info.clone();
        i.initializers.swap(0, 1);
        assert!(i.check_consistent(modules).unwrap_err().contains("before it is created"));
        let mut i = info.clone();
        i.num_component_instances = u32::MAX;
        assert!(i.check_consistent(modules).is_err());
        let mut i = info.clone();
        i.num_component_instances = 0;
        i.instance_parents.clear();
        assert!(i.check_consistent(modules).unwrap_err().contains("component instance 0 out of range"));
        let mut i = info.clone();
        i.num_component_instances += 1;
        assert!(i.check_consistent(modules).unwrap_err().contains("with parents recorded"));
        let mut i = info.clone();
        let me = i.instance_parents.push(None);
        i.instance_parents[me] = Some(me);
        i.num_component_instances += 1;
        assert!(i.check_consistent(modules).unwrap_err().contains("a parent created after it"));
        // An exported instance that contains itself, and one that names no list.
        let mut i = info.clone();
        let me = i.export_instances.next_key();
        i.export_instances.push(vec![("me".into(), Export::Instance(me))]);
        assert!(i.check_consistent(modules).unwrap_err().contains("out of order"));
        let mut i = info.clone();
        i.exports.push(("nothing".into(), Export::Instance(i.export_instances.next_key())));
        assert!(i.check_consistent(modules).unwrap_err().contains("out of order"));
        // A record that contains itself, directly or through a list.
        let mut i = info.clone();
        let next = TypeRecordIndex::new(i.types.records.len());
        i.types.records.push(TypeRecord { fields: vec![("me".into(), InterfaceType::Record(next))] });
        assert!(i.check_consistent(modules).unwrap_err().contains("contains itself"));
        let mut i = info.clone();
        let list = i.types.lists.push(InterfaceType::Record(TypeRecordIndex::new(i.types.records.len())));
        i.types.records.push(TypeRecord { fields: vec![("l".into(), InterfaceType::List(list))] });
        assert!(i.check_consistent(modules).unwrap_err().contains("contains itself"));
        // A type that names nothing, and a function type that names nothing.
        let mut i = info.clone();
        i.types.options.push(InterfaceType::Tuple(super::super::types::TypeTupleIndex::new(99)));
        assert!(i.check_consistent(modules).unwrap_err().contains("tuple type 99 out of range"));
        let mut i = info.clone();
        i.types.funcs.push(TypeFunc {
            params: vec![],
            result: Some(InterfaceType::Own(super::super::types::ResourceIndex::new(99))),
        });
        assert!(i.check_consistent(modules).unwrap_err().contains("resource 99 out of range"));
        // A shared type whose expansion is enormous: each record holds the previous one twice.
        let mut i = info;
        let mut prev = InterfaceType::U8;
        for _ in 0..64 {
            let r = i.types.records.push(TypeRecord { fields: vec![("a".into(), prev), ("b".into(), prev)] });
            prev = InterfaceType::Record(r);
        }
        assert!(i.check_consistent(modules).unwrap_err().contains("too large"));
    }

    #[test]
    fn deep_chains_are_refused_without_recursion() {
        let (mut info, modules) = component(TWO_MODULES);
        let mut prev = InterfaceType::U8;
        for _ in 0..100_000 {
            prev = InterfaceType::List(info.types.lists.push(prev));
        }
        assert!(info.check_consistent(modules).unwrap_err().contains("nested too deeply"));
    }
}
