//! The outcome of running one `.wast` script: how many directives passed and a
//! description of every directive that failed.

use std::fmt;

/// One directive of a script that did not behave as the script demanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The script's name (its path for [`crate::run_file`], the given name for
    /// [`crate::run_str`]).
    pub file: String,
    /// The 1-based line on which the failing directive starts.
    pub line: usize,
    /// The directive's keyword, e.g. `"assert_return"` or `"module"`.
    pub kind: &'static str,
    /// What went wrong, in words.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}: {}", self.file, self.line, self.kind, self.message)
    }
}

/// The tally of one script run: counted directives that passed, and those that failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Number of counted directives that behaved as expected.
    pub passed: usize,
    /// Every counted directive that did not, in script order.
    pub failures: Vec<Failure>,
}

impl Report {
    /// Total number of counted directives (passed plus failed).
    pub fn total(&self) -> usize {
        self.passed + self.failures.len()
    }

    /// Whether every counted directive passed.
    pub fn is_success(&self) -> bool {
        self.failures.is_empty()
    }
}

impl fmt::Display for Report {
    /// Prints every failure on its own line, then a `passed/total` summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for failure in &self.failures {
            writeln!(f, "{failure}")?;
        }
        write!(f, "{} of {} assertions passed, {} failed", self.passed, self.total(), self.failures.len())
    }
}
