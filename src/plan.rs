//! `plan(&Desired, &Live) -> Plan`: the pure heart of the tool. No I/O, no async.
//!
//! Only local endpoints are ever changed; everything else the file says is an assertion,
//! reported as drift. Anything that makes the plan unsafe or impossible is a blocker, and a
//! plan with blockers is never applied.

use itertools::{EitherOrBoth, Itertools};
use serde::{Deserialize, Serialize};

use crate::model::{Desired, Endpoint, Live, SpuId, SpuKind, SpuSpec, Unmanaged};

/// Oldest SC platform that carries `public_endpoint_local` on create (v0.11.11).
pub const MIN_LOCAL_ENDPOINT_PLATFORM: (u64, u64, u64) = (0, 11, 11);

/// What happens to one SPU's local endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// none -> endpoint
    Set,
    /// endpoint -> another endpoint
    Change,
    /// endpoint -> none
    Clear,
}

impl Action {
    /// The action that takes a local endpoint from `before` to `after` (they differ).
    pub fn between(before: &Option<Endpoint>, after: &Option<Endpoint>) -> Action {
        match (before, after) {
            (None, Some(_)) => Action::Set,
            (Some(_), None) => Action::Clear,
            _ => Action::Change,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Action::Set => "+",
            Action::Change => "~",
            Action::Clear => "-",
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Action::Set => "set",
            Action::Change => "change",
            Action::Clear => "clear",
        }
    }
}

// One local-endpoint change, carried out as a replace of the SPU: what `plan` finds, what
// plan documents (and saved plans) carry, and what the apply engine takes. Doc comments
// here become the JSON Schema's descriptions (`schemas/plan.schema.json`), so only the
// fields a document adds have them; the rest are plain comments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ChangeDoc")]
pub struct Change {
    pub id: SpuId,
    pub name: String,
    pub action: Action,
    pub before: Option<Endpoint>,
    pub after: Option<Endpoint>,
    /// 1-based line of the SPU's `local` in the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Fingerprint of `live` (in JSON/YAML plans and saved plans; empty in text ones, which
    /// never show it): apply refuses a saved plan if the SPU no longer matches it.
    #[serde(default)]
    pub live_fingerprint: String,
    // The live spec the plan was made from (every field is copied from it), shared with
    // the cluster read. What the replace creates is `live` with `after` as its local
    // endpoint ([`Change::next`]); documents before format 2 spelled it out as `target`.
    pub live: std::sync::Arc<SpuSpec>,
    /// The replicated partitions (more than one replica) this SPU holds a replica of, and
    /// its role in each, when the plan read them. Replication of each one it follows stalls
    /// when the SPU is re-registered on a running SC, until its process restarts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<crate::model::PartitionRole>,
}

impl Change {
    /// What the replace creates: the live spec with the new local endpoint.
    pub fn next(&self) -> SpuSpec {
        self.live.with_local(self.after.clone())
    }
}

/// An asserted field of the file that the cluster does not match. Never applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub id: SpuId,
    pub name: String,
    pub field: DriftField,
    pub expected: String,
    pub actual: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DriftField {
    Name,
    Public,
    Private,
    Rack,
}

impl DriftField {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftField::Name => "name",
            DriftField::Public => "public",
            DriftField::Private => "private",
            DriftField::Rack => "rack",
        }
    }
}

/// An SPU in the cluster that the file does not mention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UnmanagedSpu {
    pub id: SpuId,
    pub name: String,
    pub kind: SpuKind,
}

/// A blocker's kind, for machines reading the plan document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlockerKind {
    UnknownSpu,
    ManagedSpu,
    ScTooOld,
    Unmanaged,
    TooManyChanges,
    // A local endpoint the plan would set does not answer from where the plan ran
    // (`--probe`, `[policy] probe = "error"`).
    Unreachable,
    // The change re-registers, on a running SC, an SPU that follows a replicated
    // partition, which stops that partition's replication until the SPU's process
    // restarts; and the run neither heals it (`--restart-command`, the SC-offline route)
    // nor does the file accept it (`[policy] replication_stalls = "accept"`).
    ReplicationStall,
}

/// Why a plan must not be applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Blocker {
    /// The file names an SPU id the cluster does not have.
    UnknownSpu { id: SpuId },
    /// The file asks to change a Managed SPU, whose local endpoint its SPU group owns.
    ManagedSpu {
        id: SpuId,
        name: String,
        live: Option<Endpoint>,
        wanted: Option<Endpoint>,
    },
    /// The SC is older than v0.11.11 and cannot store a local endpoint.
    ScTooOld { version: String },
    /// `[policy] unmanaged = "error"` and the cluster has SPUs the file does not list.
    Unmanaged { ids: Vec<SpuId> },
    /// More changes than `max_changes` allows.
    TooManyChanges {
        changes: usize,
        /// The number allowed.
        max: usize,
        /// The rule as written, and the custom SPUs counted when it is a percentage.
        rule: crate::model::MaxChanges,
        custom: usize,
    },
    /// The probe found no Fluvio SPU answering at a local endpoint the plan would set.
    Unreachable {
        id: SpuId,
        name: String,
        endpoint: String,
        why: String,
    },
    /// Re-registering this SPU would stall the replicated partitions it follows.
    ReplicationStall {
        id: SpuId,
        name: String,
        follows: Vec<String>,
    },
}

impl Blocker {
    pub fn message(&self) -> String {
        match self {
            Blocker::UnknownSpu { id } => format!("SPU {id} is not in the cluster"),
            Blocker::ManagedSpu { id, name, live, wanted } => format!(
                "SPU {id} ({name}) is managed by its SPU group; its local endpoint ({}) is set by the SC, not by this tool (the file wants {})",
                describe_endpoint(live),
                describe_endpoint(wanted)
            ),
            Blocker::ScTooOld { version } => format!(
                "the SC runs platform {version}, older than 0.11.11, and cannot store local endpoints"
            ),
            Blocker::Unmanaged { ids } => format!(
                "the cluster has {} SPU(s) not in the file ({}), and [policy] unmanaged = \"error\"",
                ids.len(),
                ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
            ),
            Blocker::TooManyChanges {
                changes,
                max,
                rule,
                custom,
            } => match rule {
                crate::model::MaxChanges::Count(_) => {
                    format!("the plan has {changes} changes, more than the allowed {max}")
                }
                crate::model::MaxChanges::Percent(_) => format!(
                    "the plan has {changes} changes, more than the allowed {max} (max_changes = {rule} of the cluster's {custom} custom SPUs, rounded down)"
                ),
            },
            Blocker::Unreachable {
                id,
                name,
                endpoint,
                why,
            } => format!(
                "SPU {id} ({name}): no Fluvio SPU answers at {endpoint} from here: {why}"
            ),
            Blocker::ReplicationStall { id, name, follows } => format!(
                "SPU {id} ({name}) follows {} replicated partition{} ({}): deleting and re-creating it on the running SC stops their replication until its SPU process restarts (records are accepted by the leaders but never committed)",
                follows.len(),
                if follows.len() == 1 { "" } else { "s" },
                some_of(follows, 5)
            ),
        }
    }

    pub fn help(&self) -> &'static str {
        match self {
            Blocker::UnknownSpu { .. } => {
                "check the id with `fluvio-endpoints list`, or remove the entry"
            }
            Blocker::ManagedSpu { .. } => {
                "set the local endpoint the SC generates, or remove the entry"
            }
            Blocker::ScTooOld { .. } => "upgrade the cluster to Fluvio 0.11.11 or later",
            Blocker::Unmanaged { .. } => {
                "add the SPUs to the file, or set [policy] unmanaged to \"warn\""
            }
            Blocker::TooManyChanges { .. } => {
                "split the change, raise --max-changes, or pass --force"
            }
            Blocker::Unreachable { .. } => {
                "run `fluvio-endpoints probe -f FILE` where the zone's clients run for each address and a hint; fix the name or the network, or pass --force to set it anyway"
            }
            Blocker::ReplicationStall { .. } => {
                "heal as you go with --restart-command CMD (restarts each such SPU's process after its change, then waits until its partitions commit), or apply with the SC stopped (--sc-offline DIR --sc-stop CMD --sc-start CMD), or accept stalls with [policy] replication_stalls = \"accept\" (see README, Replication)"
            }
        }
    }

    pub fn kind(&self) -> BlockerKind {
        match self {
            Blocker::UnknownSpu { .. } => BlockerKind::UnknownSpu,
            Blocker::ManagedSpu { .. } => BlockerKind::ManagedSpu,
            Blocker::ScTooOld { .. } => BlockerKind::ScTooOld,
            Blocker::Unmanaged { .. } => BlockerKind::Unmanaged,
            Blocker::TooManyChanges { .. } => BlockerKind::TooManyChanges,
            Blocker::Unreachable { .. } => BlockerKind::Unreachable,
            Blocker::ReplicationStall { .. } => BlockerKind::ReplicationStall,
        }
    }

    /// The SPU this blocker is about, for annotations at its entry.
    pub fn spu(&self) -> Option<SpuId> {
        match self {
            Blocker::UnknownSpu { id }
            | Blocker::ManagedSpu { id, .. }
            | Blocker::Unreachable { id, .. }
            | Blocker::ReplicationStall { id, .. } => Some(*id),
            _ => None,
        }
    }
}

/// The first `n` of `items`, and how many more there are.
fn some_of(items: &[String], n: usize) -> String {
    let mut text = items.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > n {
        text.push_str(&format!(" and {} more", items.len() - n));
    }
    text
}

pub(crate) fn describe_endpoint(endpoint: &Option<Endpoint>) -> String {
    endpoint
        .as_ref()
        .map_or("none".to_string(), |e| e.describe())
}

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// SPUs in the file whose local endpoint is already as declared.
    pub unchanged: Vec<SpuId>,
    pub drift: Vec<Drift>,
    pub unmanaged: Vec<UnmanagedSpu>,
    pub unmanaged_policy: Unmanaged,
    pub blockers: Vec<Blocker>,
}

impl Plan {
    /// Keeps only what `targeting` covers: changes, unchanged entries, drift, unmanaged
    /// SPUs and the blockers of single SPUs (an unknown or managed SPU outside the target
    /// no longer refuses the plan). Called before any plan-wide check (`max_changes`).
    pub fn retain_targeted(&mut self, targeting: &crate::model::Targeting) {
        if targeting.is_all() {
            return;
        }
        let covers = |id: SpuId| targeting.covers(id);
        self.changes.retain(|c| covers(c.id));
        self.unchanged.retain(|id| covers(*id));
        self.drift.retain(|d| covers(d.id));
        self.unmanaged.retain(|u| covers(u.id));
        self.blockers.retain_mut(|b| match b {
            Blocker::Unmanaged { ids } => {
                ids.retain(|id| covers(*id));
                !ids.is_empty()
            }
            b => b.spu().is_none_or(covers),
        });
    }

    /// Refuses the plan when it has more changes than `max` allows on a cluster of
    /// `custom` custom SPUs (`--force` skips this call).
    pub fn enforce_max_changes(&mut self, max: Option<crate::model::MaxChanges>, custom: usize) {
        if let Some(rule) = max {
            let allowed = rule.allowed(custom);
            if self.changes.len() > allowed {
                self.blockers.push(Blocker::TooManyChanges {
                    changes: self.changes.len(),
                    max: allowed,
                    rule,
                    custom,
                });
            }
        }
    }
}

/// Diffs the file against the cluster.
pub fn plan(desired: &Desired, live: &Live) -> Plan {
    let mut plan = Plan {
        unmanaged_policy: desired.policy.unmanaged,
        ..Plan::default()
    };
    // At most one change per entry: reserved once, not grown by copying.
    plan.changes.reserve(desired.spus.len());
    let mut unmanaged: Vec<UnmanagedSpu> = Vec::new();
    // Both sides are ordered by id: one walk over the two, no lookups.
    let pairs =
        (desired.spus.iter()).merge_join_by(&live.spus, |(want, _), (spu, _)| want.cmp(spu));
    for pair in pairs {
        match pair {
            EitherOrBoth::Left((&id, _)) => plan.blockers.push(Blocker::UnknownSpu { id }),
            EitherOrBoth::Right((_, s)) => unmanaged.push(UnmanagedSpu {
                id: s.spec.id,
                name: s.spec.name.clone(),
                kind: s.spec.kind,
            }),
            EitherOrBoth::Both((&id, want), (_, spu)) => diff_one(&mut plan, id, want, &spu.spec),
        }
    }
    match desired.policy.unmanaged {
        Unmanaged::Ignore => {}
        Unmanaged::Warn => plan.unmanaged = unmanaged,
        Unmanaged::Error => {
            if !unmanaged.is_empty() {
                plan.blockers.push(Blocker::Unmanaged {
                    ids: unmanaged.iter().map(|u| u.id).collect(),
                });
            }
            plan.unmanaged = unmanaged;
        }
    }
    if !plan.changes.is_empty() {
        if let Some(version) = &live.platform_version {
            if !platform_supports_local(version) {
                plan.blockers.push(Blocker::ScTooOld {
                    version: version.clone(),
                });
            }
        }
    }
    plan
}

/// One SPU the file declares and the cluster has.
fn diff_one(
    plan: &mut Plan,
    id: SpuId,
    want: &crate::model::DesiredSpu,
    spec: &std::sync::Arc<SpuSpec>,
) {
    drift(plan, want, spec);
    let wanted = want.local.resolve(spec);
    if wanted == spec.local {
        plan.unchanged.push(id);
        return;
    }
    if spec.kind == SpuKind::Managed {
        plan.blockers.push(Blocker::ManagedSpu {
            id,
            name: spec.name.clone(),
            live: spec.local.clone(),
            wanted,
        });
        return;
    }
    plan.changes.push(Change {
        id,
        name: spec.name.clone(),
        action: Action::between(&spec.local, &wanted),
        before: spec.local.clone(),
        after: wanted,
        line: None,
        live_fingerprint: String::new(),
        live: std::sync::Arc::clone(spec),
        partitions: Vec::new(),
    });
}

fn drift(plan: &mut Plan, want: &crate::model::DesiredSpu, spec: &SpuSpec) {
    // The live value is only spelled out for a field the file asserts.
    let mut check = |field, expected: &Option<String>, actual: &dyn Fn() -> String| {
        if let Some(expected) = expected {
            let actual = actual();
            if *expected != actual {
                plan.drift.push(Drift {
                    id: spec.id,
                    name: spec.name.clone(),
                    field,
                    expected: expected.clone(),
                    actual,
                });
            }
        }
    };
    check(DriftField::Name, &want.name, &|| spec.name.clone());
    check(DriftField::Public, &want.public, &|| {
        spec.public.assertion().unwrap_or_else(|| "-".to_string())
    });
    check(DriftField::Private, &want.private, &|| {
        spec.private.host_port().to_string()
    });
    check(DriftField::Rack, &want.rack, &|| {
        spec.rack.clone().unwrap_or_else(|| "-".to_string())
    });
}

/// True when a platform version is at least 0.11.11. An unparsable version is given the
/// benefit of the doubt: the client's own version check has already accepted it.
/// A pre-release or build of 0.11.11 counts as 0.11.11.
pub fn platform_supports_local(version: &str) -> bool {
    match semver::Version::parse(version) {
        Ok(v) => (v.major, v.minor, v.patch) >= MIN_LOCAL_ENDPOINT_PLATFORM,
        Err(_) => true,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::*;

    /// A live SPU as a local cluster registers it, for tests.
    pub(crate) fn spec(id: SpuId, kind: SpuKind, local: Option<&str>) -> LiveSpu {
        LiveSpu {
            spec: SpuSpec {
                name: format!("custom-spu-{id}"),
                id,
                kind,
                public: Ingress {
                    port: 9010,
                    addrs: vec![IngressAddr {
                        hostname: Some("localhost".into()),
                        ip: None,
                    }],
                    encryption: Encryption::Plaintext,
                },
                private: Endpoint {
                    host: "localhost".into(),
                    port: 9011,
                    encryption: Encryption::Plaintext,
                },
                rack: None,
                local: local.map(|h| Endpoint {
                    host: h.into(),
                    port: 9010,
                    encryption: Encryption::Plaintext,
                }),
            }
            .into(),
            status: SpuState::Online,
        }
    }

    /// Saved plans carry fingerprints, and apply recomputes them: the value of a spec's
    /// fingerprint never changes between builds (this one was made by the first format).
    #[test]
    fn a_fingerprint_is_the_same_in_every_build() {
        let spec = spec(5001, SpuKind::Custom, None).spec;
        assert_eq!(spec.fingerprint(), "13ef0e375eb28a46c255102fc624b921");
        // twice on one thread (the buffer is reused), and for another spec
        assert_eq!(spec.fingerprint(), "13ef0e375eb28a46c255102fc624b921");
        let local = spec.with_local(Some(spec.private.clone()));
        assert_ne!(local.fingerprint(), spec.fingerprint());
    }

    /// A zone-file entry declaring only `local`, for tests.
    pub(crate) fn want(id: SpuId, local: Option<&str>) -> DesiredSpu {
        DesiredSpu {
            id,
            local: match local {
                None => LocalDecl::None,
                Some(h) => LocalDecl::Set {
                    host: h.into(),
                    port: None,
                    encryption: None,
                },
            },
            name: None,
            public: None,
            private: None,
            rack: None,
            spans: SpuSpans::default(),
        }
    }

    pub(crate) fn desired(spus: Vec<DesiredSpu>) -> Desired {
        Desired {
            spus: spus.into_iter().map(|s| (s.id, s)).collect(),
            ..Desired::default()
        }
    }

    #[test]
    fn actions_table() {
        let cases = [
            (None, Some("h"), Some(Action::Set)),
            (Some("a"), Some("b"), Some(Action::Change)),
            (Some("a"), None, Some(Action::Clear)),
            (Some("a"), Some("a"), None),
            (None, None, None),
        ];
        for (live_local, wanted, action) in cases {
            let live = Live::from_specs([spec(1, SpuKind::Custom, live_local)]);
            let plan = plan(&desired(vec![want(1, wanted)]), &live);
            assert_eq!(
                plan.changes.first().map(|c| c.action),
                action,
                "{live_local:?} -> {wanted:?}"
            );
            assert!(plan.blockers.is_empty());
            if let Some(change) = plan.changes.first() {
                assert_eq!(change.next().local, change.after);
                assert_eq!(change.next().with_local(None), change.live.with_local(None));
            } else {
                assert_eq!(plan.unchanged, vec![1]);
            }
        }
    }

    #[test]
    fn omitted_port_and_encryption_come_from_public() {
        let mut live = spec(1, SpuKind::Custom, None);
        std::sync::Arc::make_mut(&mut live.spec).public.port = 9333;
        std::sync::Arc::make_mut(&mut live.spec).public.encryption = Encryption::Ssl;
        let plan = plan(
            &desired(vec![want(1, Some("h"))]),
            &Live::from_specs([live]),
        );
        let after = plan.changes[0].after.clone().unwrap();
        assert_eq!((after.port, after.encryption), (9333, Encryption::Ssl));
    }

    #[test]
    fn live_against_itself_is_empty() {
        let live = Live::from_specs(
            (1..=50).map(|i| spec(i, SpuKind::Custom, (i % 3 != 0).then_some("h.example"))),
        );
        let exported = desired(
            live.spus
                .values()
                .map(|s| want(s.spec.id, s.spec.local.as_ref().map(|e| e.host.as_str())))
                .collect(),
        );
        let plan = plan(&exported, &live);
        assert!(plan.changes.is_empty() && plan.blockers.is_empty() && plan.drift.is_empty());
        assert_eq!(plan.unchanged.len(), 50);
    }

    #[test]
    fn unknown_and_managed_spus_block() {
        let live = Live::from_specs([spec(1, SpuKind::Managed, Some("gen.svc"))]);
        let plan = plan(&desired(vec![want(1, Some("other")), want(9, None)]), &live);
        assert!(plan.changes.is_empty());
        assert!(matches!(
            plan.blockers[0],
            Blocker::ManagedSpu { id: 1, .. }
        ));
        assert_eq!(plan.blockers[1], Blocker::UnknownSpu { id: 9 });
    }

    #[test]
    fn managed_spu_already_matching_is_fine() {
        let live = Live::from_specs([spec(1, SpuKind::Managed, Some("gen.svc"))]);
        let plan = plan(&desired(vec![want(1, Some("gen.svc"))]), &live);
        assert!(plan.blockers.is_empty() && plan.changes.is_empty());
    }

    #[test]
    fn drift_is_reported_not_applied() {
        let mut w = want(1, None);
        w.public = Some("localhost:9999".into());
        w.rack = Some("r1".into());
        w.name = Some("custom-spu-1".into());
        let plan = plan(
            &desired(vec![w]),
            &Live::from_specs([spec(1, SpuKind::Custom, None)]),
        );
        assert!(plan.changes.is_empty());
        let fields: Vec<_> = plan
            .drift
            .iter()
            .map(|d| (d.field, d.actual.as_str()))
            .collect();
        assert_eq!(
            fields,
            vec![
                (DriftField::Public, "localhost:9010"),
                (DriftField::Rack, "-")
            ]
        );
    }

    #[test]
    fn unmanaged_policy() {
        let live = Live::from_specs([
            spec(1, SpuKind::Custom, None),
            spec(2, SpuKind::Custom, None),
        ]);
        let mut d = desired(vec![want(1, None)]);
        for (policy, listed, blocked) in [
            (Unmanaged::Ignore, 0, false),
            (Unmanaged::Warn, 1, false),
            (Unmanaged::Error, 1, true),
        ] {
            d.policy.unmanaged = policy;
            let plan = plan(&d, &live);
            assert_eq!(plan.unmanaged.len(), listed, "{policy:?}");
            assert_eq!(!plan.blockers.is_empty(), blocked, "{policy:?}");
        }
    }

    #[test]
    fn old_sc_blocks_only_when_something_would_change() {
        let mut live = Live::from_specs([spec(1, SpuKind::Custom, None)]);
        live.platform_version = Some("0.11.10".into());
        assert!(!plan(&desired(vec![want(1, Some("h"))]), &live)
            .blockers
            .is_empty());
        assert!(plan(&desired(vec![want(1, None)]), &live)
            .blockers
            .is_empty());
        live.platform_version = Some("0.11.11".into());
        assert!(plan(&desired(vec![want(1, Some("h"))]), &live)
            .blockers
            .is_empty());
    }

    #[test]
    fn platform_versions() {
        for (v, ok) in [
            ("0.11.11", true),
            ("0.18.1", true),
            ("1.0.0-dev", true),
            ("0.11.9", false),
            ("0.10.99", false),
            ("0.11.11-dev", true),
            ("0.11.9+build.1", false),
            ("not a version", true),
        ] {
            assert_eq!(platform_supports_local(v), ok, "{v}");
        }
    }

    #[test]
    fn max_changes() {
        let live = Live::from_specs((1..=3).map(|i| spec(i, SpuKind::Custom, None)));
        let mut d = desired((1..=3).map(|i| want(i, Some("h"))).collect());
        d.policy.max_changes = Some(MaxChanges::Count(2));
        let mut plan = plan(&d, &live);
        assert!(plan.blockers.is_empty());
        plan.enforce_max_changes(Some(MaxChanges::Count(3)), 3);
        assert!(plan.blockers.is_empty());
        plan.enforce_max_changes(d.policy.max_changes, 3);
        assert_eq!(
            plan.blockers,
            vec![Blocker::TooManyChanges {
                changes: 3,
                max: 2,
                rule: MaxChanges::Count(2),
                custom: 3
            }]
        );
    }

    #[test]
    fn a_targeted_plan_keeps_only_what_it_covers() {
        // 1 changes, 2 is unknown to the cluster, 3 unchanged, 4 unmanaged
        let live = Live::from_specs([1, 3, 4].map(|i| spec(i, SpuKind::Custom, None)));
        let mut d = desired(vec![want(1, Some("h")), want(2, Some("h")), want(3, None)]);
        d.policy.unmanaged = Unmanaged::Error;
        let full = plan(&d, &live);
        assert_eq!(full.blockers.len(), 2, "{:?}", full.blockers);
        let only = |spus: &[SpuId], exclude: &[SpuId]| {
            let mut p = plan(&d, &live);
            p.retain_targeted(&Targeting {
                spus: spus.iter().copied().collect(),
                exclude: exclude.iter().copied().collect(),
            });
            p
        };
        // --spu 1: the unknown SPU 2 and the unmanaged 4 no longer refuse it
        let one = only(&[1], &[]);
        assert_eq!(one.changes.len(), 1);
        assert!(one.blockers.is_empty(), "{:?}", one.blockers);
        assert!(one.unchanged.is_empty());
        // --exclude-spu 2: 4 is still unmanaged and still refuses it
        let but_two = only(&[], &[2]);
        assert_eq!(but_two.blockers, vec![Blocker::Unmanaged { ids: vec![4] }]);
        assert_eq!(but_two.unchanged, vec![3]);
        // no targeting: the plan as it was
        assert_eq!(only(&[], &[]), full);
    }

    #[test]
    fn max_changes_as_a_percentage_of_the_custom_spus_rounds_down_at_its_edge() {
        let live = Live::from_specs((1..=3).map(|i| spec(i, SpuKind::Custom, None)));
        let d = desired((1..=3).map(|i| want(i, Some("h"))).collect());
        // 30% of 10 custom SPUs is 3: three changes pass, as exactly the threshold
        let mut at_edge = plan(&d, &live);
        at_edge.enforce_max_changes(Some(MaxChanges::Percent(30)), 10);
        assert!(at_edge.blockers.is_empty());
        // 30% of 9 is 2.7, rounded down to 2: refused, and the message names both numbers
        let mut over = plan(&d, &live);
        over.enforce_max_changes(Some(MaxChanges::Percent(30)), 9);
        assert_eq!(over.blockers.len(), 1);
        let message = over.blockers[0].message();
        assert!(
            message.contains(
                "more than the allowed 2 (max_changes = 30% of the cluster's 9 custom SPUs"
            ),
            "{message}"
        );
        assert_eq!(MaxChanges::parse("30%"), Ok(MaxChanges::Percent(30)));
        assert_eq!(MaxChanges::parse("7"), Ok(MaxChanges::Count(7)));
        for bad in ["101%", "-1", "x", "3.5%", "%", "+3", "+3%"] {
            assert!(MaxChanges::parse(bad).is_err(), "{bad}");
        }
    }
}
