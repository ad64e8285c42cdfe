//! WASI 0.2 (preview 2) for components: every function of the `wasi:cli`, `wasi:io`,
//! `wasi:clocks`, `wasi:random`, `wasi:filesystem` and `wasi:sockets` interfaces of the
//! `wasi:cli/command` world, defined on a component [`Linker`] by [`add_to_linker`] under
//! their names at [`VERSION`] (the linker matches a component's `0.2.x` imports to them), and
//! [`run`], which calls a command's `wasi:cli/run` export.
//!
//! The program's world is the same [`WasiCtx`] preview1 uses, with the same grants: its
//! arguments, environment, standard streams (preview1's fds 0–2) and preopened directories
//! (with their access), through the same cap-std sandbox (`sandbox.rs`), and no network (the
//! sockets interfaces are present and refuse everything). The values behind the resources a
//! program holds (streams, descriptors, pollables, errors…) live in a [`ResourceTable`] beside
//! the context; a handle of the wrong type or one already dropped is an error from the table,
//! which traps the guest, never a panic.
//!
//! One file per package: `cli.rs`, `io.rs` (errors, streams, pollables and `poll`),
//! `clocks.rs`, `random.rs`, `filesystem/` (its types, descriptors, preopens) and
//! `sockets.rs`. Each defines its interfaces through `Interface`, which wraps each host
//! function as `fn(&mut Host, params) -> kiln::Result<results>`.
//!
//! ```no_run
//! use kiln::component::{Component, Linker, ResourceTable};
//! use kiln::{Engine, Store};
//! use kiln_wasi::WasiCtx;
//!
//! struct State { wasi: WasiCtx, table: ResourceTable }
//!
//! let engine = Engine::default();
//! let component = Component::from_file(&engine, "command.wasm")?;
//! let mut linker = Linker::new(&engine);
//! kiln_wasi::p2::add_to_linker(&mut linker, |s: &mut State| (&mut s.wasi, &mut s.table))?;
//! let wasi = WasiCtx::builder().inherit_stdio().arg("command").build();
//! let mut store = Store::new(&engine, State { wasi, table: ResourceTable::new() });
//! let instance = linker.instantiate(&mut store, &component)?;
//! match kiln_wasi::p2::run(&mut store, &instance) {
//!     Ok(Ok(())) => {}                      // `run` returned ok
//!     Ok(Err(())) => std::process::exit(1), // `run` returned err
//!     Err(kiln::Error::Host(e)) if e.is::<kiln_wasi::I32Exit>() => {} // `exit` was called
//!     Err(e) => return Err(e),
//! }
//! # Ok::<(), kiln::Error>(())
//! ```
mod cli;
mod clocks;
mod filesystem;
mod io;
mod random;
mod sockets;

use crate::WasiCtx;
use kiln::AsContextMut;
use kiln::component::{Instance, LiftList, Linker, LinkerInstance, LowerList, Resource, ResourceTable, ResourceType};

/// The version of the WASI 0.2 interfaces defined: every interface is defined under
/// `<package>/<interface>@VERSION`.
pub const VERSION: &str = "0.2.12";

/// How the host functions find the program's [`WasiCtx`] and [`ResourceTable`] in the
/// store's data.
pub type WasiView<T> = fn(&mut T) -> (&mut WasiCtx, &mut ResourceTable);

/// Define every function and resource of WASI 0.2 on `linker`; `view` finds the context and
/// the resource table in the store's data.
///
/// # Errors
/// When `linker` already defines one of them.
pub fn add_to_linker<T: 'static>(linker: &mut Linker<T>, view: WasiView<T>) -> kiln::Result<()> {
    io::add_to_linker(linker, view)?;
    cli::add_to_linker(linker, view)?;
    clocks::add_to_linker(linker, view)?;
    random::add_to_linker(linker, view)?;
    filesystem::add_to_linker(linker, view)?;
    sockets::add_to_linker(linker, view)
}

/// Call the `run` function of the command `instance` exports (`wasi:cli/run@0.2.x`, any
/// patch version up to 0.2.99): `Ok(Ok(()))` when it returns `ok`, `Ok(Err(()))` when it
/// returns `err`. A program that calls `wasi:cli/exit` ends the call with
/// `kiln::Error::Host` holding an [`I32Exit`](crate::I32Exit) (0 for `exit(ok)`, 1 for
/// `exit(err)`), as preview1's `proc_exit` does.
///
/// # Errors
/// When the instance exports no `wasi:cli/run` function of type `func() -> result`, and
/// whatever the call raises: traps, `I32Exit`, other host errors.
pub fn run<T>(mut store: impl AsContextMut<Data = T>, instance: &Instance) -> kiln::Result<Result<(), ()>> {
    let name = instance
        .component(&store)
        .exports()
        .into_iter()
        .map(|(name, _)| name)
        .find(|name| name.starts_with("wasi:cli/run@0.2") && name.ends_with("#run") && name.matches('#').count() == 1)
        .ok_or_else(|| kiln::Error::Link("the component exports no `wasi:cli/run@0.2.x` `run` function".into()))?;
    let run = instance.get_typed_func::<(), (Result<(), ()>,)>(&mut store, &name)?;
    Ok(run.call(&mut store, ())?.0)
}

/// What a host function works on: the program's context and its resources.
pub(crate) struct Host<'a> {
    pub ctx: &'a mut WasiCtx,
    pub table: &'a mut ResourceTable,
}

/// A host function: the parameters as a tuple in, the results as a tuple out; an error
/// traps the guest.
pub(crate) type HostFn<P, R> = fn(&mut Host<'_>, P) -> kiln::Result<R>;

/// One interface being defined on a linker.
pub(crate) struct Interface<'a, T> {
    inst: LinkerInstance<'a, T>,
    view: WasiView<T>,
}

impl<'a, T: 'static> Interface<'a, T> {
    /// The interface `name` (`package/interface`, without the version).
    pub fn new(linker: &'a mut Linker<T>, view: WasiView<T>, name: &str) -> kiln::Result<Interface<'a, T>> {
        Ok(Interface { inst: linker.instance(&format!("{name}@{VERSION}"))?, view })
    }

    /// Define the function `name` as `f`.
    pub fn func<P: LiftList + 'static, R: LowerList + 'static>(
        &mut self,
        name: &str,
        f: HostFn<P, R>,
    ) -> kiln::Result<()> {
        let view = self.view;
        self.inst.func_wrap(name, move |mut store, params: P| {
            let (ctx, table) = view(store.data_mut());
            f(&mut Host { ctx, table }, params)
        })
    }

    /// Define the resource type `name` as the host type `R`, whose values live in the
    /// table; dropping an owned handle removes its value. A resource an interface `use`s
    /// from another is defined in both: a component imports it under each name.
    pub fn resource<R: Send + 'static>(&mut self, name: &str) -> kiln::Result<()> {
        let view = self.view;
        self.inst.resource(name, ResourceType::host::<R>(), move |mut store, rep| {
            let (_, table) = view(store.data_mut());
            table.delete(Resource::<R>::new_own(rep)).map(drop)
        })
    }
}
