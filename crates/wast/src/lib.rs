//! Kiln's runner for WebAssembly spec-test scripts (`.wast`), core modules and
//! Component Model components alike: it runs every directive of a script against
//! the `kiln` engine and reports which assertions passed and which failed, never
//! stopping early and never letting a panic escape.
//!
//! ```no_run
//! let report = kiln_wast::run_file("i32.wast".as_ref(), &kiln::Config::new())?;
//! for failure in &report.failures {
//!     eprintln!("{failure}");
//! }
//! # anyhow::Ok(())
//! ```
#![warn(missing_docs, clippy::missing_errors_doc, clippy::missing_panics_doc)]
#![forbid(unsafe_code)]

mod component;
mod context;
mod directive;
mod guard;
mod legacy_syntax;
mod matching;
mod report;
mod spectest;
mod value;

use std::path::Path;

use anyhow::Context as _;

pub use context::WastContext;
pub use report::{Failure, Report};

/// Runs the script at `path` in a fresh engine built from `config`; failing directives are
/// listed in the [`Report`].
///
/// # Errors
/// Only when the file cannot be read, the script does not parse, or the engine cannot be
/// created.
pub fn run_file(path: &Path, config: &kiln::Config) -> anyhow::Result<Report> {
    run_file_with(path, config, false)
}

/// Like [`run_file`]; with `through_artifact`, every core module and every component is
/// serialized and loaded back from its artifact before it is used, as a precompiled one would
/// be.
///
/// # Errors
/// As for [`run_file`].
pub fn run_file_with(path: &Path, config: &kiln::Config, through_artifact: bool) -> anyhow::Result<Report> {
    let text = std::fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?;
    WastContext::new(config, through_artifact)?.run(&path.display().to_string(), &text)
}

/// Runs the script `text` (reported under `name`) in a fresh engine built from `config`.
///
/// # Errors
/// Only when the script does not parse or the engine cannot be created.
pub fn run_str(name: &str, text: &str, config: &kiln::Config) -> anyhow::Result<Report> {
    WastContext::new(config, false)?.run(name, text)
}
