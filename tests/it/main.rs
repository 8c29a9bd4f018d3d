mod authz;
mod ci;
mod examples;
mod examples_ci;
mod faults;
mod probe;
mod promises;
mod reconcile;
#[path = "../support/mod.rs"]
mod support;
mod test_sc;
mod tls;
mod wire;
mod zones;
