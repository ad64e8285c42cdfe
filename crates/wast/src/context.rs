//! The state a script runs in (engine, store, linkers, the modules, components and
//! instances it has defined) and the execution of each directive against it.

use std::collections::HashMap;
use std::rc::Rc;

use kiln::{Config, Engine, Instance, Linker, Module, Store, Val};
use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::token::Id;
use wast::{QuoteWat, Wast, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

use crate::component::{self, ComponentInstance};
use crate::report::{Failure, Report};
use crate::value::{arg_to_val, describe_all};
use crate::{guard, matching, spectest};

/// What running a core script step produced from the engine's point of view: the
/// returned values, or the engine's error (a trap, a link error, ...).
type CoreOutcome = kiln::Result<Vec<Val>>;

/// What running a script step produced: the outcome of a core step (an invocation, a
/// global read, a module's instantiation) or of a component one.
enum Outcome {
    Core(CoreOutcome),
    Component(component::Outcome),
}

/// A compiled module or component, ready to be instantiated.
#[derive(Clone)]
enum Definition {
    Module(Module),
    Component(kiln::component::Component),
}

/// An instance a script can invoke: a core instance (in the context's store) or a
/// component instance (in a store of its own).
#[derive(Clone)]
enum InstanceRef {
    Core(Instance),
    Component(Rc<ComponentInstance>),
}

/// One script's world: a fresh engine and store, a linker that knows
/// `spectest` and every `register`ed instance, a component linker, and the
/// named modules, components and instances defined so far.
pub struct WastContext {
    engine: Engine,
    store: Store<()>,
    linker: Linker<()>,
    component_linker: kiln::component::Linker<()>,
    /// The most recent instance (the target of `invoke` without a name);
    /// after a failed module or component directive, why there is none, so
    /// later steps fail too and say why.
    current: Result<InstanceRef, String>,
    /// Instances by name; a name whose last instantiation failed keeps why.
    instances: HashMap<String, Result<InstanceRef, String>>,
    /// Compiled modules and components by name (`module definition $m`, `module $m`,
    /// and their `component` counterparts); a name whose definition failed keeps why.
    definitions: HashMap<String, Result<Definition, String>>,
    /// The most recently compiled module or component (`module instance` or
    /// `component instance` without a name), or why the last definition failed.
    last_definition: Result<Definition, String>,
    /// Load every module and component through its serialized artifact, as a precompiled
    /// one would be.
    through_artifact: bool,
}

/// A store of `engine` in which scripts run as far as they would without fuel or epoch
/// checks (when the engine has them on).
pub(crate) fn new_store(engine: &Engine) -> Store<()> {
    let mut store = Store::new(engine, ());
    // Setting fuel fails only in an engine that consumes none, where it has no use.
    let _ = store.set_fuel(u64::MAX);
    store.set_epoch_deadline(u64::MAX);
    store
}

impl WastContext {
    /// A context with a new engine built from `config` and `spectest` defined.
    ///
    /// # Errors
    /// When the engine cannot be created.
    pub fn new(config: &Config, through_artifact: bool) -> anyhow::Result<WastContext> {
        let engine = Engine::new(config).map_err(|e| anyhow::anyhow!("failed to create engine: {e}"))?;
        let mut store = new_store(&engine);
        let mut linker = Linker::new(&engine);
        // Scripts register a name again for a later module, which then replaces the first.
        linker.allow_shadowing(true);
        spectest::define(&mut linker, &mut store)
            .map_err(|e| anyhow::anyhow!("failed to define the spectest module: {e}"))?;
        let component_linker = kiln::component::Linker::new(&engine);
        Ok(WastContext {
            engine,
            store,
            linker,
            component_linker,
            current: Err("no module or component yet".to_string()),
            instances: HashMap::new(),
            definitions: HashMap::new(),
            last_definition: Err("no module or component defined yet".to_string()),
            through_artifact,
        })
    }

    /// Parses `text` as a script named `name` and runs every directive, continuing past
    /// failures.
    ///
    /// # Errors
    /// Only when the script does not parse.
    pub fn run(&mut self, name: &str, text: &str) -> anyhow::Result<Report> {
        // The folded legacy `try` of older scripts, which the parser no longer reads.
        let text = &*crate::legacy_syntax::unfold_try(text);
        let with_location = |mut e: wast::Error| {
            e.set_path(std::path::Path::new(name));
            e.set_text(text);
            anyhow::anyhow!("{e}")
        };
        // Spec scripts deliberately use bidirectional-override and similar
        // characters in names (names.wast); they are data, not a trick.
        let mut lexer = Lexer::new(text);
        lexer.allow_confusing_unicode(true);
        let buf = ParseBuffer::new_with_lexer(lexer).map_err(with_location)?;
        let script = parser::parse::<Wast<'_>>(&buf).map_err(with_location)?;

        let mut report = Report::default();
        for directive in script.directives {
            let line = directive.span().linecol_in(text).0 + 1;
            let kind = crate::directive::kind(&directive, text);
            match guard::guarded(|| self.directive(directive)) {
                Ok(()) => report.passed += 1,
                Err(message) => report.failures.push(Failure { file: name.to_string(), line, kind, message }),
            }
        }
        Ok(report)
    }

    /// Runs one directive; `Err` describes how it failed.
    fn directive(&mut self, directive: WastDirective<'_>) -> Result<(), String> {
        match directive {
            WastDirective::Module(mut module) => self.module(&mut module),
            WastDirective::ModuleDefinition(mut module) => self.module_definition(&mut module),
            WastDirective::ModuleInstance { instance, module, .. } => self.module_instance(instance, module),
            WastDirective::Register { name, module, .. } => match self.instance(module)? {
                InstanceRef::Core(instance) => {
                    self.linker
                        .instance(&mut self.store, name, instance)
                        .map_err(|e| format!("failed to register instance as {name:?}: {e}"))?;
                    Ok(())
                }
                InstanceRef::Component(_) => Err("unsupported: register of a component instance".to_string()),
            },
            WastDirective::Invoke(invoke) => match self.invoke(&invoke)? {
                Outcome::Core(Err(e)) | Outcome::Component(Err(e)) => {
                    Err(format!("invocation of {:?} failed: {e}", invoke.name))
                }
                Outcome::Core(Ok(_)) | Outcome::Component(Ok(_)) => Ok(()),
            },
            WastDirective::AssertReturn { mut exec, results, .. } => self.assert_return(&mut exec, &results),
            WastDirective::AssertTrap { mut exec, message, .. } => {
                let outcome = self.execute(&mut exec)?;
                expect_trap(outcome, message)
            }
            WastDirective::AssertException { mut exec, .. } => {
                let outcome = self.execute(&mut exec)?;
                expect_exception(outcome)
            }
            WastDirective::AssertExhaustion { call, message, .. } => {
                let outcome = self.invoke(&call)?;
                expect_trap(outcome, message)
            }
            WastDirective::AssertInvalid { mut module, message, .. }
            | WastDirective::AssertMalformed { mut module, message, .. } => match self.compile(&mut module) {
                Ok(_) => Err(format!(
                    "expected the {} to be rejected (`{message}`), but it compiled",
                    kind_name(component::is_component(&module))
                )),
                Err(_) => Ok(()),
            },
            WastDirective::AssertUnlinkable { mut module, message, .. } => self.assert_unlinkable(&mut module, message),
            other @ (WastDirective::AssertInvalidCustom { .. }
            | WastDirective::AssertMalformedCustom { .. }
            | WastDirective::AssertSuspension { .. }
            | WastDirective::Thread(_)
            | WastDirective::Wait { .. }) => {
                Err(format!("unsupported directive: {}", crate::directive::kind(&other, "")))
            }
        }
    }

    /// `(module ...)` or `(component ...)`: compile, instantiate, make it the current
    /// instance and bind its name (as both definition and instance).
    fn module(&mut self, wat: &mut QuoteWat<'_>) -> Result<(), String> {
        let name = wat.name().map(|id| id.name().to_string());
        let result = self.compile(wat).and_then(|definition| {
            self.last_definition = Ok(definition.clone());
            if let Some(name) = &name {
                self.definitions.insert(name.clone(), Ok(definition.clone()));
            }
            self.instantiate(&definition)
        });
        self.bind_instance(name, result)
    }

    /// `(module definition ...)` or `(component definition ...)`: compile only,
    /// remembering the result by name and as the most recent one.
    fn module_definition(&mut self, wat: &mut QuoteWat<'_>) -> Result<(), String> {
        let name = wat.name().map(|id| id.name().to_string());
        let result = self.compile(wat);
        if let Some(name) = name {
            self.definitions.insert(name, result.clone());
        }
        self.last_definition = result.clone().map_err(|e| format!("the last definition failed: {e}"));
        result.map(|_| ())
    }

    /// `(module instance $i $m)` or `(component instance $i $c)` (one directive to the
    /// parser): instantiate what `$m` (or, without it, the last definition) names.
    fn module_instance(&mut self, instance: Option<Id<'_>>, module: Option<Id<'_>>) -> Result<(), String> {
        let name = instance.map(|id| id.name().to_string());
        let definition = match module {
            Some(id) => match self.definitions.get(id.name()) {
                Some(Ok(definition)) => Ok(definition.clone()),
                Some(Err(e)) => Err(format!("the definition of `${}` failed: {e}", id.name())),
                None => Err(format!("unknown module or component `${}`", id.name())),
            },
            None => self.last_definition.clone().map_err(|why| format!("nothing to instantiate: {why}")),
        };
        let result = definition.and_then(|d| self.instantiate(&d));
        self.bind_instance(name, result)
    }

    /// Records the result of instantiating: on success the new current instance; on
    /// failure nothing is current, and the name (if any) remembers why.
    fn bind_instance(&mut self, name: Option<String>, result: Result<InstanceRef, String>) -> Result<(), String> {
        if let Some(name) = name {
            self.instances.insert(name, result.clone());
        }
        match result {
            Ok(instance) => {
                self.current = Ok(instance);
                Ok(())
            }
            Err(e) => {
                self.current = Err(format!("the last module or component directive failed: {e}"));
                Err(e)
            }
        }
    }

    /// Encodes a (possibly quoted) module or component to binary and compiles it.
    fn compile(&self, wat: &mut QuoteWat<'_>) -> Result<Definition, String> {
        let is_component = component::is_component(wat);
        let bytes = wat.encode().map_err(|e| format!("failed to encode {}: {e}", kind_name(is_component)))?;
        self.compile_bytes(is_component, &bytes)
    }

    /// Like [`Self::compile`], for an item that cannot be quoted.
    fn compile_wat(&self, wat: &mut Wat<'_>) -> Result<Definition, String> {
        let is_component = matches!(wat, Wat::Component(_));
        let bytes = wat.encode().map_err(|e| format!("failed to encode {}: {e}", kind_name(is_component)))?;
        self.compile_bytes(is_component, &bytes)
    }

    fn compile_bytes(&self, is_component: bool, bytes: &[u8]) -> Result<Definition, String> {
        if is_component {
            let component = component::compile(&self.engine, bytes)?;
            if !self.through_artifact {
                return Ok(Definition::Component(component));
            }
            component
                .reload_from_artifact()
                .map(Definition::Component)
                .map_err(|e| format!("loading the artifact failed: {e}"))
        } else {
            self.compile_binary(bytes).map(Definition::Module)
        }
    }

    fn compile_binary(&self, bytes: &[u8]) -> Result<Module, String> {
        let module = Module::from_binary(&self.engine, bytes).map_err(|e| format!("compilation failed: {e}"))?;
        if !self.through_artifact {
            return Ok(module);
        }
        module.reload_from_artifact().map_err(|e| format!("loading the artifact failed: {e}"))
    }

    /// Instantiates a definition, rendering any error as a message.
    fn instantiate(&mut self, definition: &Definition) -> Result<InstanceRef, String> {
        let instance = match definition {
            Definition::Module(module) => self.linker.instantiate(&mut self.store, module).map(InstanceRef::Core),
            Definition::Component(component) => {
                self.instantiate_component(component).map(|instance| InstanceRef::Component(Rc::new(instance)))
            }
        };
        instance.map_err(|e| format!("instantiation failed: {e}"))
    }

    /// Instantiates a component in a store of its own, as wasmtime's runner does.
    fn instantiate_component(&self, component: &kiln::component::Component) -> kiln::Result<ComponentInstance> {
        ComponentInstance::new(&self.engine, &self.component_linker, component)
    }

    /// The named instance, or the current one.
    fn instance(&self, id: Option<Id<'_>>) -> Result<InstanceRef, String> {
        match id {
            Some(id) => match self.instances.get(id.name()) {
                Some(Ok(instance)) => Ok(instance.clone()),
                Some(Err(e)) => Err(format!("instance `${}` does not exist: its directive failed: {e}", id.name())),
                None => Err(format!("unknown instance `${}`", id.name())),
            },
            None => self.current.clone().map_err(|why| format!("no current instance ({why})")),
        }
    }

    /// Calls an exported function. The outer `Err` is a problem with the
    /// script step itself (unknown export, unsupported argument).
    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> Result<Outcome, String> {
        let instance = match self.instance(invoke.module)? {
            InstanceRef::Core(instance) => instance,
            InstanceRef::Component(instance) => return instance.invoke(invoke).map(Outcome::Component),
        };
        let func = instance
            .get_func(&mut self.store, invoke.name)
            .ok_or_else(|| format!("no exported function {:?}", invoke.name))?;
        let ty = func.ty(&mut self.store);
        let params = ty.params();
        let args = (0..)
            .zip(&invoke.args)
            .map(|(i, arg)| arg_to_val(arg, params.get(i).copied(), &mut self.store))
            .collect::<Result<Vec<Val>, String>>()?;
        let result_count = ty.results().len();
        let mut results = vec![Val::I32(0); result_count];
        Ok(Outcome::Core(func.call(&mut self.store, &args, &mut results).map(|()| results)))
    }

    /// Runs the subject of `assert_return` / `assert_trap`: an invocation, a
    /// global read, or the instantiation of a module or component (which yields no values).
    fn execute(&mut self, exec: &mut WastExecute<'_>) -> Result<Outcome, String> {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(invoke),
            WastExecute::Get { module, global, .. } => {
                let instance = match self.instance(*module)? {
                    InstanceRef::Core(instance) => instance,
                    InstanceRef::Component(_) => {
                        return Err("unsupported: `get` of a component instance's export".to_string());
                    }
                };
                let global_handle = instance
                    .get_global(&mut self.store, global)
                    .ok_or_else(|| format!("no exported global {global:?}"))?;
                Ok(Outcome::Core(Ok(vec![global_handle.get(&mut self.store)])))
            }
            // The instance is not kept: only whether instantiating it traps matters.
            WastExecute::Wat(wat) => Ok(match self.compile_wat(wat)? {
                Definition::Module(module) => {
                    Outcome::Core(self.linker.instantiate(&mut self.store, &module).map(|_| Vec::new()))
                }
                Definition::Component(component) => {
                    Outcome::Component(self.instantiate_component(&component).map(|_| Vec::new()))
                }
            }),
        }
    }

    fn assert_return(&mut self, exec: &mut WastExecute<'_>, expected: &[WastRet<'_>]) -> Result<(), String> {
        let actual = match self.execute(exec)? {
            Outcome::Core(Ok(values)) => values,
            Outcome::Component(Ok(values)) => return component::check_results(&values, expected),
            Outcome::Core(Err(e)) | Outcome::Component(Err(e)) => {
                return Err(format!("expected a return, got error: {e}"));
            }
        };
        if actual.len() != expected.len() {
            return Err(format!(
                "expected {} result(s), got {}: {}",
                expected.len(),
                actual.len(),
                describe_all(&actual)
            ));
        }
        for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
            matching::check(a, e, &self.store)
                .map_err(|why| if expected.len() == 1 { why } else { format!("result {i}: {why}") })?;
        }
        Ok(())
    }

    fn assert_unlinkable(&mut self, wat: &mut Wat<'_>, message: &str) -> Result<(), String> {
        let module = match self.compile_wat(wat)? {
            Definition::Module(module) => module,
            // No spec words a component's link errors: any failure to instantiate will do.
            Definition::Component(component) => {
                return match self.instantiate_component(&component) {
                    Err(_) => Ok(()),
                    Ok(_) => Err(format!("expected a link error (`{message}`), but instantiation succeeded")),
                };
            }
        };
        match self.linker.instantiate(&mut self.store, &module) {
            // Kiln's link errors start with the spec's reason (`unknown import`,
            // `incompatible import type`).
            Err(kiln::Error::Link(m)) if m.starts_with(message) => Ok(()),
            Err(e) => Err(format!("expected a link error (`{message}`), got: {e}")),
            Ok(_) => Err(format!("expected a link error (`{message}`), but instantiation succeeded")),
        }
    }
}

/// What a script calls a compiled item, for messages.
fn kind_name(is_component: bool) -> &'static str {
    if is_component { "component" } else { "module" }
}

/// `Ok` when `outcome` is a trap whose message agrees with `expected`.
fn expect_trap(outcome: Outcome, expected: &str) -> Result<(), String> {
    match outcome {
        Outcome::Core(outcome) => expect_core_trap(outcome, expected),
        Outcome::Component(outcome) => component::expect_trap(outcome, expected),
    }
}

/// `Ok` when `outcome` is a wasm exception that nothing caught.
fn expect_exception(outcome: Outcome) -> Result<(), String> {
    match outcome {
        Outcome::Core(Err(kiln::Error::Exception(_))) => Ok(()),
        Outcome::Core(Ok(values)) => Err(format!("expected an exception, but it returned {}", describe_all(&values))),
        Outcome::Core(Err(e)) => Err(format!("expected an exception, got error: {e}")),
        Outcome::Component(_) => Err("assert_exception of a component call: unsupported".into()),
    }
}

/// `Ok` when `outcome` is a trap whose message agrees with `expected` (either
/// may abbreviate the other).
fn expect_core_trap(outcome: CoreOutcome, expected: &str) -> Result<(), String> {
    let error = match outcome {
        Ok(values) => {
            return Err(format!("expected trap `{expected}`, but it returned {}", describe_all(&values)));
        }
        Err(e) => e,
    };
    if let Some(trap) = error.as_trap() {
        let actual = trap.to_string();
        if actual.contains(expected) || (!actual.is_empty() && expected.contains(&actual)) {
            return Ok(());
        }
        return Err(format!("expected trap `{expected}`, got trap `{actual}`"));
    }
    match &error {
        kiln::Error::Unsupported(what) => {
            Err(format!("expected trap `{expected}`, but kiln does not support this: {what}"))
        }
        other => Err(format!("expected trap `{expected}`, got error: {other}")),
    }
}
