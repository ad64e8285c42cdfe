//! `wasi:cli`: the program's arguments and environment, `exit`, its standard streams and
//! whether they are terminals (`run` is what a command exports; see [`super::run`]).
//! `exit` unwinds the guest with [`crate::I32Exit`], as preview1's `proc_exit` does (and
//! refuses the same statuses). The context
//! grants no working directory, so `initial-cwd` is `none`.
use super::io::{InputStream, OutputStream};
use super::{Interface, WasiView};
use crate::proc::exit;
use kiln::component::{Linker, Resource};

/// `wasi:cli/terminal-input.terminal-input`.
pub(crate) struct TerminalInput;

/// `wasi:cli/terminal-output.terminal-output`.
pub(crate) struct TerminalOutput;

pub(super) fn add_to_linker<T: 'static>(linker: &mut Linker<T>, view: WasiView<T>) -> kiln::Result<()> {
    let mut env = Interface::new(linker, view, "wasi:cli/environment")?;
    env.func("get-environment", |h, ()| Ok((h.ctx.env.clone(),)))?;
    env.func("get-arguments", |h, ()| Ok((h.ctx.args.clone(),)))?;
    env.func("initial-cwd", |_, ()| Ok((None::<String>,)))?;

    let mut exit_ = Interface::new(linker, view, "wasi:cli/exit")?;
    exit_.func("exit", |_, (status,): (Result<(), ()>,)| -> kiln::Result<()> {
        Err(exit(if status.is_ok() { 0 } else { 1 }))
    })?;
    exit_.func("exit-with-code", |_, (code,): (u8,)| -> kiln::Result<()> { Err(exit(code.into())) })?;

    let mut stdin = Interface::new(linker, view, "wasi:cli/stdin")?;
    stdin.resource::<InputStream>("input-stream")?;
    stdin.func("get-stdin", |h, ()| Ok((h.table.push(InputStream::Stdin)?,)))?;
    let mut stdout = Interface::new(linker, view, "wasi:cli/stdout")?;
    stdout.resource::<OutputStream>("output-stream")?;
    stdout.func("get-stdout", |h, ()| Ok((h.table.push(OutputStream::Stdio(1))?,)))?;
    let mut stderr = Interface::new(linker, view, "wasi:cli/stderr")?;
    stderr.resource::<OutputStream>("output-stream")?;
    stderr.func("get-stderr", |h, ()| Ok((h.table.push(OutputStream::Stdio(2))?,)))?;

    Interface::new(linker, view, "wasi:cli/terminal-input")?.resource::<TerminalInput>("terminal-input")?;
    Interface::new(linker, view, "wasi:cli/terminal-output")?.resource::<TerminalOutput>("terminal-output")?;
    let mut term_in = Interface::new(linker, view, "wasi:cli/terminal-stdin")?;
    term_in.resource::<TerminalInput>("terminal-input")?;
    term_in.func("get-terminal-stdin", |h, ()| {
        let tty = h.ctx.stdin().is_some_and(|s| s.is_terminal());
        Ok((if tty { Some(h.table.push(TerminalInput)?) } else { None },))
    })?;
    let mut term_out = Interface::new(linker, view, "wasi:cli/terminal-stdout")?;
    term_out.resource::<TerminalOutput>("terminal-output")?;
    term_out.func("get-terminal-stdout", |h, ()| terminal_output(h, 1))?;
    let mut term_err = Interface::new(linker, view, "wasi:cli/terminal-stderr")?;
    term_err.resource::<TerminalOutput>("terminal-output")?;
    term_err.func("get-terminal-stderr", |h, ()| terminal_output(h, 2))?;
    Ok(())
}

/// A terminal handle for standard output (`fd` 1) or error (2), if it is a terminal.
fn terminal_output(h: &mut super::Host<'_>, fd: u32) -> kiln::Result<(Option<Resource<TerminalOutput>>,)> {
    let tty = h.ctx.output(fd).is_some_and(|s| s.is_terminal());
    Ok((if tty { Some(h.table.push(TerminalOutput)?) } else { None },))
}
