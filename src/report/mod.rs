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

/// The version of the plan and apply documents.
pub const FORMAT_VERSION: u32 = 1;

pub(crate) fn pretty_schema(schema: schemars::schema::RootSchema) -> String {
    let mut text = serde_json::to_string_pretty(&schema).expect("schemas serialize");
    text.push('\n');
    text
}
