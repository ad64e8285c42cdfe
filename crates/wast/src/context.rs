//! The state a script runs in (engine, store, linker, the modules and
//! instances it has defined) and the execution of each directive against it.

use std::collections::HashMap;

use kiln::{Config, Engine, Instance, Linker, Module, Store, Val};
use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::token::Id;
use wast::{QuoteWat, Wast, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

use crate::report::{Failure, Report};
use crate::value::{arg_to_val, describe_all};
use crate::{guard, matching, spectest};

/// What running a script step produced from the engine's point of view: the
/// returned values, or the engine's error (a trap, a link error, ...).
type Outcome = kiln::Result<Vec<Val>>;

/// One script's world: a fresh engine and store, a linker that knows
/// `spectest` and every `register`ed instance, and the named modules and
/// instances defined so far.
pub struct WastContext {
    engine: Engine,
    store: Store<()>,
    linker: Linker<()>,
    /// The most recent instance (the target of `invoke` without a name);
    /// `None` after a failed module directive so later steps fail too.
    current: Option<Instance>,
    instances: HashMap<String, Instance>,
    /// Compiled modules by name (`module definition $m`, `module $m`).
    modules: HashMap<String, Module>,
    /// The most recently compiled module (`module instance` without a name).
    last_module: Option<Module>,
    /// Load every module through its serialized artifact, as a precompiled one would be.
    through_artifact: bool,
}

impl WastContext {
    /// A context with a new engine built from `config` and `spectest` defined.
    ///
    /// # Errors
    /// When the engine cannot be created.
    pub fn new(config: &Config, through_artifact: bool) -> anyhow::Result<WastContext> {
        let engine = Engine::new(config).map_err(|e| anyhow::anyhow!("failed to create engine: {e}"))?;
        let mut store = Store::new(&engine, ());
        // With fuel or epoch checks on, scripts run as far as they would without them.
        // (Setting fuel fails only in an engine that consumes none, where it has no use.)
        let _ = store.set_fuel(u64::MAX);
        store.set_epoch_deadline(u64::MAX);
        let mut linker = Linker::new(&engine);
        spectest::define(&mut linker, &mut store)
            .map_err(|e| anyhow::anyhow!("failed to define the spectest module: {e}"))?;
        Ok(WastContext {
            engine,
            store,
            linker,
            current: None,
            instances: HashMap::new(),
            modules: HashMap::new(),
            last_module: None,
            through_artifact,
        })
    }

    /// Parses `text` as a script named `name` and runs every directive, continuing past
    /// failures.
    ///
    /// # Errors
    /// Only when the script does not parse.
    pub fn run(&mut self, name: &str, text: &str) -> anyhow::Result<Report> {
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
            let kind = crate::directive::kind(&directive);
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
            WastDirective::Register { name, module, .. } => {
                let instance = self.instance(module)?;
                self.linker
                    .instance(&mut self.store, name, instance)
                    .map_err(|e| format!("failed to register instance as {name:?}: {e}"))?;
                Ok(())
            }
            WastDirective::Invoke(invoke) => match self.invoke(&invoke)? {
                Ok(_) => Ok(()),
                Err(e) => Err(format!("invocation of {:?} failed: {e}", invoke.name)),
            },
            WastDirective::AssertReturn { mut exec, results, .. } => self.assert_return(&mut exec, &results),
            WastDirective::AssertTrap { mut exec, message, .. } => {
                let outcome = self.execute(&mut exec)?;
                expect_trap(outcome, message)
            }
            WastDirective::AssertExhaustion { call, message, .. } => {
                let outcome = self.invoke(&call)?;
                expect_trap(outcome, message)
            }
            WastDirective::AssertInvalid { mut module, message, .. }
            | WastDirective::AssertMalformed { mut module, message, .. } => match self.compile(&mut module) {
                Ok(_) => Err(format!("expected the module to be rejected (`{message}`), but it compiled")),
                Err(_) => Ok(()),
            },
            WastDirective::AssertUnlinkable { mut module, message, .. } => self.assert_unlinkable(&mut module, message),
            other @ (WastDirective::AssertInvalidCustom { .. }
            | WastDirective::AssertMalformedCustom { .. }
            | WastDirective::AssertException { .. }
            | WastDirective::AssertSuspension { .. }
            | WastDirective::Thread(_)
            | WastDirective::Wait { .. }) => Err(format!("unsupported directive: {}", crate::directive::kind(&other))),
        }
    }

    /// `(module ...)`: compile, instantiate, make it the current instance and
    /// bind its name (as both module and instance).
    fn module(&mut self, wat: &mut QuoteWat<'_>) -> Result<(), String> {
        let name = wat.name().map(|id| id.name().to_string());
        let result = self.compile(wat).and_then(|module| {
            self.last_module = Some(module.clone());
            if let Some(name) = &name {
                self.modules.insert(name.clone(), module.clone());
            }
            self.instantiate(&module)
        });
        self.bind_instance(name, result)
    }

    /// `(module definition ...)`: compile only, remembering the module by name
    /// and as the most recent one.
    fn module_definition(&mut self, wat: &mut QuoteWat<'_>) -> Result<(), String> {
        let name = wat.name().map(|id| id.name().to_string());
        match self.compile(wat) {
            Ok(module) => {
                if let Some(name) = name {
                    self.modules.insert(name, module.clone());
                }
                self.last_module = Some(module);
                Ok(())
            }
            Err(e) => {
                if let Some(name) = name {
                    self.modules.remove(&name);
                }
                self.last_module = None;
                Err(e)
            }
        }
    }

    /// `(module instance $i $m)`: instantiate a defined module.
    fn module_instance(&mut self, instance: Option<Id<'_>>, module: Option<Id<'_>>) -> Result<(), String> {
        let name = instance.map(|id| id.name().to_string());
        let module = match module {
            Some(id) => self
                .modules
                .get(id.name())
                .cloned()
                .ok_or_else(|| format!("unknown module `${}` (undefined, or its definition failed)", id.name())),
            None => {
                self.last_module.clone().ok_or_else(|| "no module defined (or the last definition failed)".to_string())
            }
        };
        let result = module.and_then(|m| self.instantiate(&m));
        self.bind_instance(name, result)
    }

    /// Records the result of instantiating: on success the new current
    /// instance; on failure nothing is current and the name is unbound.
    fn bind_instance(&mut self, name: Option<String>, result: Result<Instance, String>) -> Result<(), String> {
        match result {
            Ok(instance) => {
                self.current = Some(instance);
                if let Some(name) = name {
                    self.instances.insert(name, instance);
                }
                Ok(())
            }
            Err(e) => {
                self.current = None;
                if let Some(name) = name {
                    self.instances.remove(&name);
                }
                Err(e)
            }
        }
    }

    /// Encodes a (possibly quoted) module to binary and compiles it.
    fn compile(&self, wat: &mut QuoteWat<'_>) -> Result<Module, String> {
        let bytes = wat.encode().map_err(|e| format!("failed to encode module: {e}"))?;
        self.compile_binary(&bytes)
    }

    fn compile_binary(&self, bytes: &[u8]) -> Result<Module, String> {
        let module = Module::from_binary(&self.engine, bytes).map_err(|e| format!("compilation failed: {e}"))?;
        if !self.through_artifact {
            return Ok(module);
        }
        module.reload_from_artifact().map_err(|e| format!("loading the artifact failed: {e}"))
    }

    /// Instantiates through the linker, rendering any error as a message.
    fn instantiate(&mut self, module: &Module) -> Result<Instance, String> {
        self.linker.instantiate(&mut self.store, module).map_err(|e| format!("instantiation failed: {e}"))
    }

    /// The named instance, or the current one.
    fn instance(&self, id: Option<Id<'_>>) -> Result<Instance, String> {
        match id {
            Some(id) => self.instances.get(id.name()).copied().ok_or_else(|| {
                format!("unknown instance `${}` (never defined, or its module directive failed)", id.name())
            }),
            None => self
                .current
                .ok_or_else(|| "no current instance (no module yet, or the last module directive failed)".to_string()),
        }
    }

    /// Calls an exported function. The outer `Err` is a problem with the
    /// script step itself (unknown export, unsupported argument).
    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> Result<Outcome, String> {
        let instance = self.instance(invoke.module)?;
        let func = instance
            .get_func(&mut self.store, invoke.name)
            .ok_or_else(|| format!("no exported function {:?}", invoke.name))?;
        let args = invoke.args.iter().map(arg_to_val).collect::<Result<Vec<Val>, String>>()?;
        let result_count = func.ty(&mut self.store).results().len();
        let mut results = vec![Val::I32(0); result_count];
        Ok(func.call(&mut self.store, &args, &mut results).map(|()| results))
    }

    /// Runs the subject of `assert_return` / `assert_trap`: an invocation, a
    /// global read, or the instantiation of a module (which yields no values).
    fn execute(&mut self, exec: &mut WastExecute<'_>) -> Result<Outcome, String> {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(invoke),
            WastExecute::Get { module, global, .. } => {
                let instance = self.instance(*module)?;
                let global_handle = instance
                    .get_global(&mut self.store, global)
                    .ok_or_else(|| format!("no exported global {global:?}"))?;
                Ok(Ok(vec![global_handle.get(&mut self.store)]))
            }
            WastExecute::Wat(wat) => {
                if let Wat::Component(_) = wat {
                    return Err("unsupported: components".to_string());
                }
                let bytes = wat.encode().map_err(|e| format!("failed to encode module: {e}"))?;
                let module = self.compile_binary(&bytes)?;
                Ok(self.linker.instantiate(&mut self.store, &module).map(|_| Vec::new()))
            }
        }
    }

    fn assert_return(&mut self, exec: &mut WastExecute<'_>, expected: &[WastRet<'_>]) -> Result<(), String> {
        let actual = match self.execute(exec)? {
            Ok(values) => values,
            Err(e) => return Err(format!("expected a return, got error: {e}")),
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
            matching::check(a, e).map_err(
                |why| {
                    if expected.len() == 1 { why } else { format!("result {i}: {why}") }
                },
            )?;
        }
        Ok(())
    }

    fn assert_unlinkable(&mut self, wat: &mut Wat<'_>, message: &str) -> Result<(), String> {
        let bytes = wat.encode().map_err(|e| format!("failed to encode module: {e}"))?;
        let module = self.compile_binary(&bytes)?;
        match self.linker.instantiate(&mut self.store, &module) {
            // Kiln's link errors start with the spec's reason (`unknown import`,
            // `incompatible import type`).
            Err(kiln::Error::Link(m)) if m.starts_with(message) => Ok(()),
            Err(e) => Err(format!("expected a link error (`{message}`), got: {e}")),
            Ok(_) => Err(format!("expected a link error (`{message}`), but instantiation succeeded")),
        }
    }
}

/// `Ok` when `outcome` is a trap whose message agrees with `expected` (either
/// may abbreviate the other).
fn expect_trap(outcome: Outcome, expected: &str) -> Result<(), String> {
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
