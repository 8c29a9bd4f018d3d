//! The machine-readable contract: the JSON documents for plans (also the saved-plan
//! format of `plan --out` / `apply PLAN`) and apply reports. `format_version` changes only
//! when a field changes meaning or goes away; new fields may be added.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::apply::{ApplyReport, SpuOutcome};
pub use crate::config::ConfigRef;
use crate::config::SourceFile;
use crate::model::{ClusterId, Desired, SpuId, SpuSpans};
use crate::plan::{Action, Blocker, BlockerKind, Change, Drift, DriftField, Plan, UnmanagedSpu};

pub const FORMAT_VERSION: u32 = 1;

fn count(actions: impl Iterator<Item = Action>, action: Action) -> usize {
    actions.filter(|a| *a == action).count()
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Summary {
    pub set: usize,
    pub change: usize,
    pub clear: usize,
    pub unchanged: usize,
    pub drift: usize,
    pub unmanaged: usize,
    pub blocked: usize,
}

/// A change as plan documents carry it: the plan's own `Change`, with its line and
/// fingerprint filled in.
pub type ChangeDoc = Change;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DriftDoc {
    pub id: SpuId,
    pub name: String,
    pub field: DriftField,
    pub expected: String,
    pub actual: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BlockerDoc {
    pub kind: BlockerKind,
    pub message: String,
    pub help: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spu: Option<SpuId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// Where in the file each SPU's entry and fields are, as 1-based lines (none without a
/// file, e.g. for `update-local`).
struct Lines<'a>(Option<(&'a SourceFile, &'a Desired)>);

impl Lines<'_> {
    fn of(&self, id: SpuId, pick: impl Fn(&SpuSpans) -> Option<Range<usize>>) -> Option<usize> {
        self.0.and_then(|(file, desired)| {
            desired
                .spus
                .get(&id)
                .and_then(|s| pick(&s.spans))
                .map(|span| file.line_col(span.start).0)
        })
    }
}

impl DriftDoc {
    fn new(d: Drift, lines: &Lines<'_>) -> Self {
        DriftDoc {
            line: lines.of(d.id, |s| match d.field {
                DriftField::Name => s.name.clone(),
                DriftField::Public => s.public.clone(),
                DriftField::Private => s.private.clone(),
                DriftField::Rack => s.rack.clone(),
            }),
            id: d.id,
            name: d.name,
            field: d.field,
            expected: d.expected,
            actual: d.actual,
        }
    }
}

impl BlockerDoc {
    /// `b`, at its SPU's entry in the file.
    fn new(b: &Blocker, lines: &Lines<'_>) -> Self {
        let line = b
            .spu()
            .and_then(|id| lines.of(id, |s| Some(s.entry.clone())));
        BlockerDoc::at(b, line)
    }

    /// `b`, at `line` of the file.
    fn at(b: &Blocker, line: Option<usize>) -> Self {
        BlockerDoc {
            kind: b.kind(),
            message: b.message(),
            help: b.help().to_string(),
            spu: b.spu(),
            line,
        }
    }
}

/// A plan as printed with `-o json` and saved with `--out`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlanDoc {
    pub format_version: u32,
    pub tool_version: String,
    /// The cluster the plan was made against (`sc://host:port` or `dir:/path`).
    #[serde(rename = "target")]
    pub cluster: ClusterId,
    #[serde(default)]
    pub platform_version: Option<String>,
    #[serde(default)]
    pub config: Option<ConfigRef>,
    pub summary: Summary,
    pub changes: Vec<ChangeDoc>,
    pub drift: Vec<DriftDoc>,
    pub unmanaged: Vec<UnmanagedSpu>,
    pub blockers: Vec<BlockerDoc>,
    /// How the changes would be made, and so whether they stall replication (absent in
    /// plans saved before it existed: `online`).
    #[serde(default)]
    pub route: crate::replication::Route,
    /// Present when the plan covers only some of the file's SPUs (`--spu`,
    /// `--exclude-spu`); applying a saved plan re-checks only what it covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targeting: Option<TargetingDoc>,
}

impl TargetingDoc {
    /// `only SPU 5001 (--spu); 2 entries of the file not planned`.
    pub fn describe(&self) -> String {
        format!(
            "{}; {} {} of the file not planned",
            self.targeting.describe(),
            self.not_planned,
            if self.not_planned == 1 {
                "entry"
            } else {
                "entries"
            }
        )
    }
}

/// Which SPUs a targeted plan covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TargetingDoc {
    #[serde(flatten)]
    pub targeting: crate::model::Targeting,
    /// How many of the file's entries the plan leaves out.
    pub not_planned: usize,
}

impl PlanDoc {
    pub fn new(
        plan: Plan,
        cluster: &ClusterId,
        platform_version: Option<String>,
        file: Option<(&SourceFile, &Desired)>,
    ) -> Self {
        let lines = Lines(file);
        let mut changes = plan.changes;
        for c in &mut changes {
            c.line = lines.of(c.id, |s| Some(s.local.clone()));
        }
        let mut doc = PlanDoc {
            format_version: FORMAT_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            cluster: cluster.clone(),
            platform_version,
            config: file.map(|(f, _)| ConfigRef::of(f)),
            // set / change / clear: counted by `recount` below.
            summary: Summary {
                unchanged: plan.unchanged.len(),
                drift: plan.drift.len(),
                unmanaged: plan.unmanaged.len(),
                blocked: plan.blockers.len(),
                ..Summary::default()
            },
            changes,
            drift: plan
                .drift
                .into_iter()
                .map(|d| DriftDoc::new(d, &lines))
                .collect(),
            unmanaged: plan.unmanaged,
            blockers: plan
                .blockers
                .iter()
                .map(|b| BlockerDoc::new(b, &lines))
                .collect(),
            route: crate::replication::Route::default(),
            targeting: None,
        };
        doc.recount();
        doc
    }

    /// Records `targeting` when it leaves anything out of the file's SPUs.
    pub fn target(&mut self, targeting: &crate::model::Targeting, desired: &Desired) {
        if targeting.is_all() {
            return;
        }
        self.targeting = Some(TargetingDoc {
            targeting: targeting.clone(),
            not_planned: desired
                .spus
                .keys()
                .filter(|id| !targeting.covers(**id))
                .count(),
        });
    }

    /// Whether the plan changes anything. This and [`PlanDoc::is_blocked`] are the one
    /// place a plan's verdict is read; every run decides on the document.
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// A plan with blockers is never applied (nor saved).
    pub fn is_blocked(&self) -> bool {
        !self.blockers.is_empty()
    }

    /// Refuses the plan for `blocker`, found after the document was made (a probe), at
    /// `line` of the file.
    pub fn block(&mut self, blocker: &Blocker, line: Option<usize>) {
        self.blockers.push(BlockerDoc::at(blocker, line));
        self.summary.blocked = self.blockers.len();
    }

    /// Sets the summary's change counts from the changes themselves (a saved plan's own
    /// counts are not trusted).
    pub fn recount(&mut self) {
        let actions = || self.changes.iter().map(|c| c.action);
        self.summary.set = count(actions(), Action::Set);
        self.summary.change = count(actions(), Action::Change);
        self.summary.clear = count(actions(), Action::Clear);
    }

    /// Fills in each change's fingerprint: for documents a machine keeps or compares.
    pub fn fingerprinted(mut self) -> Self {
        for c in &mut self.changes {
            c.live_fingerprint = c.live.fingerprint();
        }
        self
    }
}

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

fn pretty_schema(schema: schemars::schema::RootSchema) -> String {
    let mut text = serde_json::to_string_pretty(&schema).expect("schemas serialize");
    text.push('\n');
    text
}

/// The JSON Schema of `plan -o json` (and of saved plans), as checked in under `schemas/`.
pub fn plan_schema() -> String {
    pretty_schema(schemars::schema_for!(PlanDoc))
}

/// The JSON Schema of `apply -o json`, as checked in under `schemas/`.
pub fn apply_schema() -> String {
    pretty_schema(schemars::schema_for!(ApplyDoc<'static>))
}
