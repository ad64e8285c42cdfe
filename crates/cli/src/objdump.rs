//! `kiln objdump`: what an artifact holds. Its engine settings, then each function (symbol
//! name, text range, size) with the trap sites inside it, and with `--disassemble` its
//! machine code (through capstone, behind the `disassemble` feature).
use anyhow::{Context, Result, anyhow};
use kiln_environ::artifact::{ENGINE_SECTION, TRAPS_SECTION, TrapTable};
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
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
    let elf = object::File::parse(&*bytes)
        .map_err(|_| anyhow!("{} is not a Kiln artifact (not an ELF file)", file.display()))?;
    let section = |name: &str| {
        elf.section_by_name(name)
            .and_then(|s| s.data().ok())
            .ok_or_else(|| anyhow!("{} is not a Kiln artifact (no {name} section)", file.display()))
    };
    let engine = kiln_environ::EngineInfo::decode(section(ENGINE_SECTION)?)?;
    let text_section = elf.section_by_name(".text").ok_or_else(|| anyhow!("{}: no .text section", file.display()))?;
    let text = text_section.data()?;
    let traps = TrapTable::decode(section(TRAPS_SECTION)?)?;
    let mut out = String::new();
    writeln!(out, "{}: Kiln artifact, {} bytes, .text {} bytes", file.display(), bytes.len(), text.len())?;
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
    let mut functions: Vec<(u64, u64, String)> = elf
        .symbols()
        .filter(|s| s.kind() == SymbolKind::Text)
        .map(|s| (s.address(), s.size(), s.name().unwrap_or("?").to_string()))
        .collect();
    functions.sort();
    writeln!(out, "\n{} functions:", functions.len())?;
    writeln!(out, "  {:>10} {:>10} {:>8}  name", "start", "end", "size")?;
    for (start, size, name) in &functions {
        writeln!(out, "  {start:#010x} {:#010x} {size:>8}  {name}", start + size)?;
        let range = *start..start + size;
        for (offset, trap) in traps.offsets.iter().zip(&traps.traps) {
            if range.contains(&u64::from(*offset)) {
                writeln!(out, "      trap at {offset:#010x}: {trap}")?;
            }
        }
        if disassemble {
            let code = text
                .get(*start as usize..(start + size) as usize)
                .ok_or_else(|| anyhow!("{name} lies outside .text"))?;
            disassemble_into(&mut out, code, *start)?;
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
