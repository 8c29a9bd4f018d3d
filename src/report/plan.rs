//! `plan -o json` and saved plans: the plan document.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::{pretty_schema, ConfigRef, FORMAT_VERSION};
use crate::config::SourceFile;
use crate::model::{ClusterId, Desired, SpuId, SpuSpans};
use crate::plan::{Action, Blocker, BlockerKind, Change, Drift, DriftField, Plan, UnmanagedSpu};

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
        if let Some((file, desired)) = file {
            // The changes come in the order of the file's entries (by id): one walk over
            // both, a lookup only for one out of that order.
            let mut entries = desired.spus.iter();
            for c in &mut changes {
                let entry = entries
                    .find(|(id, _)| **id == c.id)
                    .or_else(|| desired.spus.get_key_value(&c.id));
                c.line = entry.map(|(_, s)| file.line_col(s.spans.local.start).0);
            }
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
        // Thousands of fingerprints (a JSON form and a hash each) are shared out among
        // the cores; a few are made here.
        const ALONE: usize = 512;
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let fill = |changes: &mut [Change]| {
            for c in changes {
                c.live_fingerprint = c.live.fingerprint();
            }
        };
        if threads < 2 || self.changes.len() < ALONE {
            fill(&mut self.changes);
            return self;
        }
        let share = self.changes.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let mut shares = self.changes.chunks_mut(share);
            let mine = shares.next();
            for other in shares {
                scope.spawn(move || fill(other));
            }
            fill(mine.unwrap_or_default());
        });
        self
    }
}

/// The JSON Schema of `plan -o json` (and of saved plans), as checked in under `schemas/`.
pub fn plan_schema() -> String {
    pretty_schema(schemars::schema_for!(PlanDoc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Live, SpuKind};
    use crate::plan::tests::{desired, spec, want};

    #[test]
    fn every_change_of_a_large_plan_is_fingerprinted_as_alone() {
        let n = 1500;
        let live = Live::from_specs((1..=n).map(|id| spec(id, SpuKind::Custom, None)));
        let desired = desired((1..=n).map(|id| want(id, Some("h.example"))).collect());
        let plan = crate::plan::plan(&desired, &live);
        let cluster = ClusterId::Sc("127.0.0.1:9003".into());
        let doc = PlanDoc::new(plan, &cluster, None, None).fingerprinted();
        assert_eq!(doc.changes.len(), n as usize);
        for c in &doc.changes {
            assert_eq!(c.live_fingerprint, c.live.fingerprint(), "SPU {}", c.id);
        }
        let distinct: std::collections::BTreeSet<_> =
            doc.changes.iter().map(|c| &c.live_fingerprint).collect();
        assert_eq!(distinct.len(), n as usize);
    }
}
