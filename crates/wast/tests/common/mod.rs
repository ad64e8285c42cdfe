//! What the suite-running tests (`spec.rs`, `component_model.rs`) share: finding a suite
//! on disk, and judging each file's run against an expected-failures list.

pub mod expected;
pub mod suite;
