//! Finding a test suite on disk: an environment variable's folder or a default one; a
//! missing suite fails a CI run (which must not pass by testing nothing) and is only noted
//! elsewhere.

use std::path::PathBuf;

/// Where a suite is looked for and what to say when it is not there.
pub struct Suite<'a> {
    /// The variable that overrides `default`, e.g. `KILN_SPEC_TESTSUITE`.
    pub env_var: &'a str,
    /// The folder used when the variable is not set.
    pub default: PathBuf,
    /// The suite in words, e.g. "the spec test suite".
    pub what: &'a str,
    /// The repository a copy can be taken from (the upstream its `SOURCE.md` names).
    pub upstream: &'a str,
}

impl Suite<'_> {
    /// The suite's folder, or `None` (after a note) when it is missing outside CI. Under
    /// `CI=true` a missing suite ends the test process with an error.
    pub fn locate(&self) -> Option<PathBuf> {
        let dir = std::env::var_os(self.env_var).map(PathBuf::from).unwrap_or_else(|| self.default.clone());
        if dir.is_dir() {
            return Some(dir);
        }
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            eprintln!(
                "error: cannot find {} at {} (set {} or put a copy of {} there)",
                self.what,
                dir.display(),
                self.env_var,
                self.upstream
            );
            std::process::exit(1);
        }
        println!(
            "note: cannot find {} at {}; no trials registered for it.\n\
             note: to run them, put a copy of {} (the upstream named in the suite's SOURCE.md) \
             there, or point {} at one.",
            self.what,
            dir.display(),
            self.upstream,
            self.env_var
        );
        None
    }
}
