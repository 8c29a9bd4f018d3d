mod ci;
mod examples;
mod examples_ci;
mod faults;
mod reconcile;
#[path = "../support/mod.rs"]
mod support;
mod test_sc;
