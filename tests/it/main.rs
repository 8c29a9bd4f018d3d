mod ci;
mod examples;
mod faults;
mod limits;
mod props;
mod reconcile;
#[path = "../support/mod.rs"]
mod support;
mod test_sc;
