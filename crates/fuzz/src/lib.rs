//! Kiln's fuzzers, deterministic from a seed and needing no libFuzzer: `differential` runs
//! modules from wasm-smith in Kiln and in the wasmi interpreter and compares everything the
//! spec fixes; `mutate` damages valid modules and artifacts and runs the `kiln` command on
//! them in child processes, looking for crashes. The binary `kiln-fuzz` is their command
//! line; the tests call them here.
#![forbid(unsafe_code)]

pub mod args;
pub mod child;
pub mod differential;
pub mod generate;
pub mod isolate;
pub mod kiln_side;
pub mod mutate;
pub mod mutation;
pub mod outcome;
pub mod rng;
pub mod seal;
pub mod side;
pub mod wasmi_side;
