//! What a component *is* once translated and flattened: the description the runtime
//! instantiates from. Every nested component, instance and alias has been resolved at
//! compile time, so what remains is a flat list of initializers over a handful of runtime
//! index spaces (core instances, component instances, lowered functions, memories, reallocs,
//! post-return functions, resources), the root's imports, and its exports.
use cranelift_entity::PrimaryMap;
use serde::{Deserialize, Serialize};

use super::types::{ComponentTypes, FlatType, InterfaceType, ResourceIndex, TypeFuncIndex};
use crate::StaticModuleIndex;

crate::index::index_type! {
    /// A core instance that instantiation creates.
    RuntimeInstanceIndex, "runtime_instance";
    /// A component instance that instantiation creates: each has its own handle table and
    /// the flags the canonical ABI keeps per instance.
    RuntimeComponentInstanceIndex, "runtime_component_instance";
    /// A core function made by `canon lower` (of a host import or of another component's
    /// lifted function).
    LoweredIndex, "lowered";
    /// A memory named by canonical options.
    RuntimeMemoryIndex, "runtime_memory";
    /// A `realloc` named by canonical options.
    RuntimeReallocIndex, "runtime_realloc";
    /// A `post-return` named by canonical options.
    RuntimePostReturnIndex, "runtime_post_return";
    /// One item the root component imports (a function, or a resource type), by its path.
    RuntimeImportIndex, "runtime_import";
    /// An exported instance's list of exports (kept flat, so that nothing decodes nested).
    ExportInstanceIndex, "export_instance";
}

/// The string encoding named by canonical options.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StringEncoding {
    /// `string-encoding=utf8` (the default).
    #[default]
    Utf8,
    /// `string-encoding=utf16`.
    Utf16,
    /// `string-encoding=latin1+utf16`.
    CompactUtf16,
}

/// The canonical options of one `canon lift` or `canon lower`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CanonicalOptions {
    /// The component instance the lifted or lowered function belongs to.
    pub instance: RuntimeComponentInstanceIndex,
    /// `(memory ..)`
    pub memory: Option<RuntimeMemoryIndex>,
    /// `(realloc ..)`
    pub realloc: Option<RuntimeReallocIndex>,
    /// `(post-return ..)`
    pub post_return: Option<RuntimePostReturnIndex>,
    /// `string-encoding=..`
    pub string_encoding: StringEncoding,
    /// `async`: a lifted function returns its result through `task.return`; a lowered one
    /// returns a status and writes its result to memory. (Without a callback; Kiln runs
    /// every such call to completion before it returns.)
    pub async_: bool,
}

/// A core definition: where a core wasm import of an instantiated module comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CoreDef {
    /// An export of a core instance created earlier.
    Export(RuntimeInstanceIndex, String),
    /// A function made by `canon lower`.
    Lowered(LoweredIndex),
    /// `canon resource.new`.
    ResourceNew(ResourceIndex, RuntimeComponentInstanceIndex),
    /// `canon resource.rep`.
    ResourceRep(ResourceIndex, RuntimeComponentInstanceIndex),
    /// `canon resource.drop`.
    ResourceDrop(ResourceIndex, RuntimeComponentInstanceIndex),
    /// `canon task.return`: the current async task's result, lifted under these options.
    TaskReturn {
        /// The result's type.
        result: Option<InterfaceType>,
        /// The options its values are lifted under.
        options: CanonicalOptions,
    },
    /// `canon context.get i32 N`: read slot N of the current task's context.
    ContextGet(u32),
    /// `canon context.set i32 N`: write slot N of the current task's context.
    ContextSet(u32),
    /// `canon backpressure.inc` of an instance.
    BackpressureInc(RuntimeComponentInstanceIndex),
    /// `canon backpressure.dec` of an instance.
    BackpressureDec(RuntimeComponentInstanceIndex),
    /// A canonical builtin Kiln does not run yet: a function of this core type that traps
    /// like the builtin when its instance may not leave, and otherwise answers
    /// `unsupported: component-model async (canon <name>)`.
    Unsupported {
        /// The builtin's name.
        name: String,
        /// Its core parameter types.
        params: Vec<FlatType>,
        /// Its core result types.
        results: Vec<FlatType>,
        /// The instance that defines it.
        instance: RuntimeComponentInstanceIndex,
    },
    /// A memory canonical options name (for a fused adapter).
    Memory(RuntimeMemoryIndex),
    /// A `realloc` canonical options name (for a fused adapter).
    Realloc(RuntimeReallocIndex),
    /// A `post-return` canonical options name (for a fused adapter).
    PostReturn(RuntimePostReturnIndex),
    /// The canonical ABI's flags of a component instance: a mutable `i32` global (see
    /// `adapter::FLAG_MAY_LEAVE` and `FLAG_MAY_ENTER`).
    InstanceFlags(RuntimeComponentInstanceIndex),
    /// The function `(param i32) (result i32)` a fused adapter calls to move an `own` handle
    /// of `resource` from the table of `from` into that of `to`.
    ResourceTransferOwn {
        /// The handle's resource type.
        resource: ResourceIndex,
        /// The instance giving the handle away.
        from: RuntimeComponentInstanceIndex,
        /// The instance receiving it.
        to: RuntimeComponentInstanceIndex,
    },
    /// The function `(param i32) (result i32)` a fused adapter calls to lend a handle of
    /// `resource` in the table of `from` to `to` for the call: `to` receives the
    /// representation if it defines the resource, else a borrow handle the call's end
    /// takes back.
    ResourceTransferBorrow {
        /// The handle's resource type.
        resource: ResourceIndex,
        /// The lending instance.
        from: RuntimeComponentInstanceIndex,
        /// The borrowing instance.
        to: RuntimeComponentInstanceIndex,
    },
    /// The function `(param)` a fused adapter whose parameters hold borrows calls before
    /// it moves them: it opens the call's scope of lends and borrows.
    ResourceEnterCall,
    /// The function `(param)` such an adapter calls when the callee has returned: it ends
    /// the scope, trapping if the callee kept a borrow.
    ResourceExitCall,
    /// The function `(param i32)` a fused adapter calls to raise the canonical ABI trap
    /// whose `AdapterTrap` code it passes.
    AdapterTrap,
    /// The function `(param i32 i32)` a fused adapter calls to check that the string at a
    /// pointer, of a length (in code units, tagged for latin1+utf16), in this memory is
    /// encoded as `encoding` says.
    ValidateString {
        /// The memory the string is in.
        memory: RuntimeMemoryIndex,
        /// Its encoding.
        encoding: StringEncoding,
    },
}

/// A function lifted by `canon lift`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiftedFunction {
    /// Its component-level type.
    pub ty: TypeFuncIndex,
    /// The core function lifted.
    pub func: CoreDef,
    /// Its canonical options.
    pub options: CanonicalOptions,
}

/// What a `canon lower` lowers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LowerSource {
    /// A function the root imports from the host.
    Import(RuntimeImportIndex),
    /// A function another component instance lifted: a call from one component to another,
    /// made by the runtime.
    Lifted(LiftedFunction),
    /// The same call, compiled: the export `adapter::ADAPTER_EXPORT` of an instance of this
    /// fused adapter module, instantiated with `args`.
    Adapter {
        /// The adapter module (after the component's own modules).
        module: StaticModuleIndex,
        /// One definition per import of the module.
        args: Vec<CoreDef>,
    },
}

/// One step of instantiation, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Initializer {
    /// Instantiate a core module; creates the next [`RuntimeInstanceIndex`]. `args` are in
    /// the order of the module's imports.
    InstantiateModule {
        /// The module.
        module: StaticModuleIndex,
        /// One definition per import of the module.
        args: Vec<CoreDef>,
    },
    /// Create the next [`LoweredIndex`].
    Lower {
        /// What is lowered.
        source: LowerSource,
        /// The lowering's type (the same as the lifted or imported function's).
        ty: TypeFuncIndex,
        /// The lowering's canonical options.
        options: CanonicalOptions,
    },
    /// Record the next [`RuntimeMemoryIndex`].
    ExtractMemory(CoreDef),
    /// Record the next [`RuntimeReallocIndex`].
    ExtractRealloc(CoreDef),
    /// Record the next [`RuntimePostReturnIndex`].
    ExtractPostReturn(CoreDef),
    /// Give a defined resource its destructor, once the destructor's instance exists.
    ResourceDtor {
        /// The resource.
        resource: ResourceIndex,
        /// Its destructor.
        dtor: CoreDef,
    },
}

/// Where a resource type of the flattened component comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResourceDef {
    /// Defined by `(type (resource (rep i32) ..))` in a component instance.
    Defined {
        /// The instance whose handle tables hold its representations.
        instance: RuntimeComponentInstanceIndex,
    },
    /// Imported by the root.
    Imported(RuntimeImportIndex),
}

/// An export of the component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Export {
    /// A lifted function.
    LiftedFunction(LiftedFunction),
    /// A function the root imported, exported again.
    ImportedFunction(RuntimeImportIndex, TypeFuncIndex),
    /// An instance: its exports by name, in `ComponentInfo::export_instances` (an instance
    /// inside it has a lower index than it).
    Instance(ExportInstanceIndex),
    /// A resource type.
    Resource(ResourceIndex),
    /// A core module the component defines.
    Module(StaticModuleIndex),
    /// A value type (not a resource): nothing to instantiate.
    Type,
}

/// The type of one thing the root imports, as far as linking checks it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportType {
    /// A function of this type.
    Func(TypeFuncIndex),
    /// A resource type.
    Resource,
}

/// A flattened component.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ComponentInfo {
    /// The type tables every index here points into.
    pub types: ComponentTypes,
    /// Every item the root imports: the import's name, the path of export names inside it
    /// (empty for a function imported directly), and its type.
    pub imports: PrimaryMap<RuntimeImportIndex, (String, Vec<String>, ImportType)>,
    /// The instantiation steps, in order.
    pub initializers: Vec<Initializer>,
    /// Every resource type, in the order instantiation creates them.
    pub resources: PrimaryMap<ResourceIndex, ResourceDef>,
    /// How many component instances instantiation creates.
    pub num_component_instances: u32,
    /// The instance that instantiated each component instance (`None` for the root), by
    /// which calls between a component and its ancestors are refused.
    pub instance_parents: PrimaryMap<RuntimeComponentInstanceIndex, Option<RuntimeComponentInstanceIndex>>,
    /// The root's exports, in order.
    pub exports: Vec<(String, Export)>,
    /// The exports of every exported instance.
    pub export_instances: PrimaryMap<ExportInstanceIndex, Vec<(String, Export)>>,
}

impl ComponentInfo {
    /// Whether one of two component instances is the other or an ancestor of it: calls
    /// between such instances are refused (as the canonical ABI says, for now).
    pub fn related(&self, a: RuntimeComponentInstanceIndex, b: RuntimeComponentInstanceIndex) -> bool {
        let is_ancestor = |anc: RuntimeComponentInstanceIndex, mut of: RuntimeComponentInstanceIndex| {
            // Parents come before their children (`check_consistent`), so this ends.
            for _ in 0..=self.instance_parents.len() {
                if of == anc {
                    return true;
                }
                match self.instance_parents.get(of).copied().flatten() {
                    Some(p) => of = p,
                    None => return false,
                }
            }
            false
        };
        is_ancestor(a, b) || is_ancestor(b, a)
    }
}
