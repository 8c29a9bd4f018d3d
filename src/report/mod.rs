//! The machine-readable contract: the JSON documents for plans (also the saved-plan
//! format of `plan --out` / `apply PLAN`, `plan`), apply reports (`apply`) and probe
//! reports (`probe`), and their JSON Schemas (`schemas/`). `format_version` changes only
//! when a field changes meaning or goes away; new fields may be added. The engine's own
//! results that the documents carry (`apply::ApplyReport`, `probe::SpuProbe`, the plan's
//! `Change`) stay with the engine, below this module.

mod apply;
mod plan;
mod probe;

pub use self::apply::{apply_schema, ApplyDoc, ApplySummary, DataPlane, RunKind};
pub use self::plan::{
    plan_schema, BlockerDoc, ChangeDoc, DriftDoc, PlanDoc, Summary, TargetingDoc,
};
pub use self::probe::{probe_schema, ProbeDoc, ProbeSummary, Settings};
pub use crate::config::ConfigRef;

/// The version of the plan and apply documents. Format 2 dropped each change's `target`
/// (the live spec with the new local endpoint, which the change's `live` and `after`
/// already say); saved plans of format 1 are still read ([`FORMAT_V1`]).
pub const FORMAT_VERSION: u32 = 2;

/// The first format of plan documents, still read as saved plans.
pub const FORMAT_V1: u32 = 1;

pub(crate) fn pretty_schema(schema: schemars::schema::RootSchema) -> String {
    let mut text = serde_json::to_string_pretty(&schema).expect("schemas serialize");
    text.push('\n');
    text
}
