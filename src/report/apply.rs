//! `apply -o json`: the apply document.

use serde::Serialize;

use super::{pretty_schema, PlanDoc, FORMAT_VERSION};
use crate::apply::{ApplyReport, SpuOutcome};
use crate::model::ClusterId;

/// An apply run as printed with `-o json|yaml`: once it has a plan, a run prints one, also
/// when the plan is refused, has no changes, is a dry run or is not approved (not when a
/// saved plan is stale, or an error stops the run itself).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ApplyDoc<'a> {
    pub format_version: u32,
    pub tool_version: &'static str,
    #[serde(rename = "target")]
    pub cluster: &'a ClusterId,
    /// `--dry-run`: nothing was written.
    pub dry_run: bool,
    pub plan: &'a PlanDoc,
    pub report: &'a ApplyReport,
    pub summary: ApplySummary,
}

/// Whether an apply run may write: a dry run does every check and writes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Real,
    DryRun,
}

impl<'a> ApplyDoc<'a> {
    pub fn new(plan: &'a PlanDoc, report: &'a ApplyReport, run: RunKind) -> Self {
        let dry_run = run == RunKind::DryRun;
        let mut summary = ApplySummary::of(report);
        // Nothing refused, previewed or left unapproved is proven to be as the file says:
        // every planned change must have its result.
        summary.verified &=
            !dry_run && !plan.is_blocked() && report.results.len() == plan.changes.len();
        ApplyDoc {
            format_version: FORMAT_VERSION,
            tool_version: env!("CARGO_PKG_VERSION"),
            cluster: &plan.cluster,
            dry_run,
            plan,
            report,
            summary,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ApplySummary {
    pub applied: usize,
    pub skipped: usize,
    pub rolled_back: usize,
    pub failed: usize,
    pub unresolved: usize,
    /// Changes of an earlier, interrupted apply resolved before this run planned.
    pub recovered_first: usize,
    /// Changes of this run that recovery resolved at once (those it could not are in
    /// `unresolved`).
    pub recovered: usize,
    /// The re-read proved every change (true too when there was nothing to change).
    pub verified: bool,
    /// Largest unavailability window of the run, in milliseconds.
    pub max_unavailable_ms: Option<f64>,
    /// Whether the data plane was proven, not only the metadata (see `DataPlane`).
    pub data_plane: DataPlane,
}

/// What a run proved of the replicated partitions its SPUs hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataPlane {
    /// Nothing the run did can stall replication: no changed SPU follows a replicated
    /// partition, or none was re-registered on a running SC; and nothing was gated.
    NotAffected,
    /// Every partition the run gated (each restarted SPU's, or on the SC-offline route
    /// every changed SPU's) was caught up, and no change left one at risk.
    Proven,
    /// A change left replicated partitions at risk without proving them caught up: stalls
    /// accepted, a restart that failed, a gate that timed out, or a run halted before it.
    NotProven,
}

impl DataPlane {
    pub fn of(report: &ApplyReport) -> DataPlane {
        let planes = || report.results.iter().filter_map(|r| r.data_plane.as_ref());
        let gated = || planes().filter(|d| d.gate_ms.is_some());
        if planes().any(|d| (d.at_risk || d.gate_ms.is_some()) && !d.proven()) {
            DataPlane::NotProven
        } else if gated().next().is_some() {
            DataPlane::Proven
        } else {
            DataPlane::NotAffected
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DataPlane::NotAffected => "data plane not affected",
            DataPlane::Proven => "data plane proven",
            DataPlane::NotProven => "data plane NOT proven",
        }
    }
}

impl ApplySummary {
    pub fn of(report: &ApplyReport) -> Self {
        ApplySummary {
            applied: report.count(SpuOutcome::Applied),
            skipped: report.count(SpuOutcome::Skipped),
            rolled_back: report.count(SpuOutcome::RolledBack),
            failed: report.count(SpuOutcome::Failed),
            unresolved: report.unresolved(),
            recovered_first: resolved(&report.recovered_first),
            recovered: resolved(&report.recovered),
            verified: report.all_applied(),
            max_unavailable_ms: report
                .results
                .iter()
                .filter_map(|r| r.unavailable_ms)
                .fold(None, |m: Option<f64>, w| Some(m.map_or(w, |m| m.max(w)))),
            data_plane: DataPlane::of(report),
        }
    }
}

/// How many recoveries resolved their change (every state but `unresolved`).
fn resolved(items: &[crate::apply::Recovered]) -> usize {
    items
        .iter()
        .filter(|r| r.state != crate::apply::RecoveryState::Unresolved)
        .count()
}

/// The JSON Schema of `apply -o json`, as checked in under `schemas/`.
pub fn apply_schema() -> String {
    pretty_schema(schemars::schema_for!(ApplyDoc<'static>))
}
