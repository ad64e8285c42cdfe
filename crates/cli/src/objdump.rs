//! `kiln objdump`: what an artifact holds. Its kind and engine settings, then each function
//! (symbol name, text range, size) with the trap sites and the exception handlers of the call
//! sites inside it, and with `--disassemble` its
//! machine code (through capstone, behind the `disassemble` feature). A component's artifact
//! lists the functions of all its core modules, each named with its module's index
//! (`wasm[M]::function[N]`).
use anyhow::{Context, Result};
use kiln_environ::artifact::{Artifact, ArtifactKind, Handler, symbol_name};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

pub fn objdump(file: &Path, disassemble: bool) -> Result<ExitCode> {
    let out = describe(file, disassemble)?;
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        // A reader that stops early (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        r => r.map(|()| ExitCode::SUCCESS).context("writing to stdout"),
    }
}

fn describe(file: &Path, disassemble: bool) -> Result<String> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let artifact = Artifact::parse(&bytes).with_context(|| file.display().to_string())?;
    let (kind, modules) = match artifact.kind {
        ArtifactKind::Module => ("core module".to_string(), [artifact.module()?].into_iter().collect()),
        ArtifactKind::Component => {
            let (_, modules) = artifact.component()?;
            (format!("component of {} core modules", modules.len()), modules)
        }
    };
    let engine = &artifact.engine;
    let mut out = String::new();
    writeln!(
        out,
        "{}: Kiln artifact ({kind}), {} bytes, .text {} bytes",
        file.display(),
        bytes.len(),
        artifact.text.len()
    )?;
    for key in ["format", "kiln-version", "target"] {
        writeln!(out, "  {key}: {}", engine.get(key).unwrap_or("?"))?;
    }
    let features: Vec<&str> =
        engine.entries.iter().filter(|(k, v)| k.starts_with("cpu.") && v == "true").map(|(k, _)| &k[4..]).collect();
    writeln!(
        out,
        "  CPU features the code may use: {}",
        if features.is_empty() { "none".into() } else { features.join(" ") }
    )?;
    let mut functions = artifact.funcs.entries.clone();
    functions.sort_by_key(|f| f.start);
    writeln!(out, "\n{} functions:", functions.len())?;
    writeln!(out, "  {:>10} {:>10} {:>8}  name", "start", "end", "size")?;
    for f in &functions {
        let end = f.start + f.len;
        let name = symbol_name(f.key.module().and_then(|m| modules.get(m)), f.key);
        writeln!(out, "  {:#010x} {end:#010x} {:>8}  {name}", f.start, f.len)?;
        for (offset, trap) in artifact.traps.in_range(f.start..end) {
            writeln!(out, "      trap at {offset:#010x}: {trap}")?;
        }
        for site in artifact.call_sites.sites.iter().filter(|s| (f.start..end).contains(&s.ret_addr)) {
            let handlers: Vec<String> = site
                .handlers
                .iter()
                .filter_map(|h| match *h {
                    Handler::Context(_) => None,
                    Handler::Tag { tag, at } => Some(format!("tag {tag} -> {at:#010x}")),
                    Handler::Default { at } => Some(format!("all -> {at:#010x}")),
                })
                .collect();
            let mut parts = Vec::new();
            if !handlers.is_empty() {
                parts.push(format!("catches {}", handlers.join(", ")));
            }
            if !site.roots.is_empty() {
                let roots: Vec<String> = site.roots.iter().map(|at| format!("sp+{at:#x}")).collect();
                parts.push(format!("keeps references at {}", roots.join(" ")));
            }
            writeln!(out, "      call returning to {:#010x} {}", site.ret_addr, parts.join("; "))?;
        }
        if disassemble {
            let code = &artifact.text[f.start as usize..end as usize];
            disassemble_into(&mut out, code, u64::from(f.start))?;
        }
    }
    Ok(out)
}

#[cfg(feature = "disassemble")]
fn disassemble_into(out: &mut String, code: &[u8], address: u64) -> Result<()> {
    use capstone::prelude::*;
    let cs = Capstone::new().x86().mode(arch::x86::ArchMode::Mode64).syntax(arch::x86::ArchSyntax::Intel).build()?;
    for insn in cs.disasm_all(code, address)?.iter() {
        let bytes: Vec<String> = insn.bytes().iter().map(|b| format!("{b:02x}")).collect();
        writeln!(
            out,
            "        {:#010x}  {:<24} {} {}",
            insn.address(),
            bytes.join(" "),
            insn.mnemonic().unwrap_or("?"),
            insn.op_str().unwrap_or("")
        )?;
    }
    Ok(())
}

#[cfg(not(feature = "disassemble"))]
fn disassemble_into(_: &mut String, _: &[u8], _: u64) -> Result<()> {
    anyhow::bail!("unsupported: disassembly (this kiln was built without the `disassemble` feature)")
}
