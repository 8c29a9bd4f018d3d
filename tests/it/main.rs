#[path = "../support/mod.rs"]
mod support;
mod test_sc;
mod reconcile;
mod faults;
