#![allow(dead_code)]
pub mod cli;
pub mod fixtures;
// The test SC and SPU responder are a crate of their own (tests/test-sc); the tests keep
// naming them `support::test_sc` and `support::spu_responder`.
pub use fluvio_endpoints_test_sc as test_sc;
pub use fluvio_endpoints_test_sc::spu_responder;
