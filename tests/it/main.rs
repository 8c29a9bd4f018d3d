mod ci;
mod examples;
mod faults;
mod reconcile;
#[path = "../support/mod.rs"]
mod support;
mod test_sc;
mod wire;
