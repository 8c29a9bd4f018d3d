#![allow(dead_code)]
pub mod test_sc;
pub mod cli;
