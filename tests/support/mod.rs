#![allow(dead_code)]
pub mod cli;
pub mod fixtures;
pub mod spu_responder;
pub mod test_sc;
