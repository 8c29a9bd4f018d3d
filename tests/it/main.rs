mod authz;
mod ci;
mod examples;
mod examples_ci;
mod faults;
mod install;
mod probe;
mod reconcile;
#[path = "../support/mod.rs"]
mod support;
mod test_sc;
mod tls;
mod tty;
mod wire;
mod zones;
