//! The data plane of a change, as far as the SC can show it. Pure: no I/O, no async.
//!
//! A change on a running SC is a delete + create of the SPU, and that stalls replication
//! on a real cluster: when an SPU's spec disappears, every other SPU's leader side drops
//! its pending-update entry for it and makes a fresh one when the spec returns, while the
//! changed SPU's open follower connection keeps waiting on the old entry (upstream
//! `fluvio-spu`, `replication/leader/spu.rs`). So every replicated partition the changed
//! SPU *follows* stops committing (its high watermark freezes at that follower's log end)
//! until the SPU's process restarts and connects again. Partitions it *leads* go on.
//!
//! This module says which partitions a change puts at risk (the plan's
//! [`Blocker::ReplicationStall`]) and, for a run that heals as it goes, whether a gate's
//! reads show a restarted SPU's partitions caught up ([`Gate`]).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{Live, LivePartition, SpuId};
pub use crate::model::{PartitionRole, Role, StallPolicy};
use crate::plan::{Blocker, Change, Plan};

/// How a run changes SPUs, and so whether their followers stall.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Delete + create on the running SC. A changed follower stalls until its process
    /// restarts.
    #[default]
    Online,
    /// Online, and every changed SPU that follows a replicated partition is restarted by a
    /// hook right after its change, then gated on its partitions before the next SPU.
    Rolling,
    /// The SC is stopped by a command, its metadata directory changed in place, and the SC
    /// started again: SPUs learn the change from the full list a starting SC sends them, in
    /// which the SPU never disappeared, so no leader drops its entry.
    Offline,
    /// A stopped cluster's metadata directory (`--metadata-dir`): changed in place, as
    /// `Offline` without the commands.
    MetadataDir,
}

impl Route {
    /// True when the route re-registers SPUs on a running SC without healing them.
    pub fn stalls(self) -> bool {
        self == Route::Online
    }

    pub fn describe(self) -> &'static str {
        match self {
            Route::Online => "online: each SPU is deleted and re-created on the running SC",
            Route::Rolling => "online, rolling: each SPU is deleted and re-created on the running SC; every SPU that follows a replicated partition is then restarted by the restart command and its partitions are gated before the next SPU",
            Route::Offline => "SC offline: the SC is stopped, its metadata directory is changed in place, and the SC is started again (SPUs keep running)",
            Route::MetadataDir => "metadata directory: a stopped cluster's files are changed in place",
        }
    }
}

/// Only partitions with more than one replica can stall.
fn replicated(p: &LivePartition) -> bool {
    p.replicas.len() > 1
}

/// The replicated partitions each SPU holds a replica of, in the order listed.
pub fn roles_by_spu(partitions: &[LivePartition]) -> HashMap<SpuId, Vec<PartitionRole>> {
    let mut roles: HashMap<SpuId, Vec<PartitionRole>> = HashMap::new();
    for p in partitions.iter().filter(|p| replicated(p)) {
        for &spu in &p.replicas {
            roles.entry(spu).or_default().push(PartitionRole {
                partition: p.name.clone(),
                role: if spu == p.leader {
                    Role::Leader
                } else {
                    Role::Follower
                },
                replicas: p.replicas.len(),
            });
        }
    }
    roles
}

/// True when a change of an SPU with these roles would stall replication.
pub fn follows_any(roles: &[PartitionRole]) -> bool {
    roles.iter().any(|r| r.role == Role::Follower)
}

/// Names each change's replicated partitions, and refuses every change that would stall
/// one (it follows a replicated partition) unless the route heals it or the file accepts
/// stalls. Nothing to say when the partitions were not read.
pub fn assess(plan: &mut Plan, live: &Live, route: Route, stalls: StallPolicy) {
    if let Some(partitions) = &live.partitions {
        let blockers = assess_changes(&mut plan.changes, partitions, route, stalls);
        plan.blockers.extend(blockers);
    }
}

/// [`assess`] for changes already planned (a saved plan's, applied now): each change's
/// partitions as `partitions` has them, and the blockers.
pub fn assess_changes(
    changes: &mut [Change],
    partitions: &[LivePartition],
    route: Route,
    stalls: StallPolicy,
) -> Vec<Blocker> {
    let mut roles = roles_by_spu(partitions);
    let mut blockers = Vec::new();
    for change in changes {
        change.partitions = roles.remove(&change.id).unwrap_or_default();
        if route.stalls() && stalls == StallPolicy::Refuse && follows_any(&change.partitions) {
            blockers.push(Blocker::ReplicationStall {
                id: change.id,
                name: change.name.clone(),
                follows: change
                    .partitions
                    .iter()
                    .filter(|r| r.role == Role::Follower)
                    .map(|r| r.partition.clone())
                    .collect(),
            });
        }
    }
    blockers
}

/// How far a partition has come when a gate looks at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplicationState {
    /// Its high watermark and every replica's log end reached the gate's target: all that
    /// was written before the gate began is committed on every replica.
    CaughtUp,
    /// Not (yet) caught up; `lag` says by how many records.
    Lagging,
    /// Not looked at (see the SPU's `note`).
    NotChecked,
    /// No longer listed: its topic was deleted, or the SC lists no partitions (after a
    /// restart, when it cannot load them). The gate waits for it as for one lagging.
    Gone,
}

impl ReplicationState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicationState::CaughtUp => "caught up",
            ReplicationState::Lagging => "lagging",
            ReplicationState::NotChecked => "not checked",
            ReplicationState::Gone => "gone",
        }
    }
}

/// One partition of a changed SPU, as its gate last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PartitionCheck {
    pub partition: String,
    /// The SPU's role in the partition when the run planned.
    pub role: Role,
    pub state: ReplicationState,
    /// The leader when last read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<SpuId>,
    /// The leader changed since the run planned (a restart moves leadership away).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_moved: Option<bool>,
    /// The offset every replica had to reach: the leader's log end when the gate began
    /// (taken again from a new leader if leadership moved during the gate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<i64>,
    /// The partition's high watermark when last read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hw: Option<i64>,
    /// How many records the slowest replica (or the high watermark) is behind `target`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag: Option<i64>,
}

impl PartitionCheck {
    /// A partition the run did not gate.
    pub fn not_checked(role: &PartitionRole) -> Self {
        PartitionCheck {
            partition: role.partition.clone(),
            role: role.role,
            state: ReplicationState::NotChecked,
            leader: None,
            leader_moved: None,
            target: None,
            hw: None,
            lag: None,
        }
    }
}

#[derive(Debug, Clone)]
struct Target {
    role: Role,
    /// The leader when the run planned.
    planned_leader: SpuId,
    /// The leader whose log end `offset` was taken from.
    leader: SpuId,
    offset: i64,
    /// What every replica held then (see `reached`).
    reached: i64,
}

/// How long after an SPU's restart (or the SC's start, on the SC-offline route) a gate
/// takes its targets. Upstream SPUs send their replicas' offsets to the SC every 400 ms, so
/// a read right after a restart can show only what was written before the change, all of
/// it committed: a gate that took its target there would pass a stall that the first
/// record after the change makes visible. 500 ms is that report interval and a margin.
pub const GATE_SETTLE: Duration = Duration::from_millis(500);

/// Waits, read by read, until every replicated partition with a replica on the gated SPUs
/// has committed what was written before the gate began, and commits what is written
/// while it waits.
///
/// A partition is caught up when the SC reports it online under the leader its spec names,
/// its high watermark at or past the target, and every follower's log end at or past it
/// too. The target is the leader's log end when the gate began. Two tempting checks are
/// wrong: in a stalled partition the high watermark sits exactly at the stalled follower's
/// log end, so "every follower's log end >= the high watermark" passes a stall; and under
/// steady traffic log ends are never all equal, so "every log end equal" never passes. A
/// fixed target passes as soon as what was written before it is everywhere, traffic or not.
///
/// A fixed target alone passes a stall whose first uncommitted record arrives after the
/// gate began (a restart command that restarted nothing, run right after the change): so
/// when the leader has taken records since the gate began, what every replica holds must
/// have moved too, and the gate never passes on the read that began it. A partition that
/// took no record during the gate passes on its target alone: nothing written is owed,
/// and a stall there shows with its next record.
///
/// If leadership moves during the gate (a restarted leader hands over), the target is taken
/// again from the new leader: records the old leader had not committed are not owed.
#[derive(Debug, Clone)]
pub struct Gate {
    targets: BTreeMap<String, Target>,
    /// Reads checked so far; the read that began the gate proves nothing.
    reads: usize,
}

impl Gate {
    /// Begins a gate over the replicated partitions that `spus` hold, as `planned` (the
    /// run's read before any change) assigned them, with targets from `now`.
    pub fn begin(spus: &[SpuId], planned: &[LivePartition], now: &[LivePartition]) -> Gate {
        let now: HashMap<&str, &LivePartition> = now.iter().map(|p| (p.name.as_str(), p)).collect();
        let mut targets = BTreeMap::new();
        for p in planned.iter().filter(|p| replicated(p)) {
            let Some(&spu) = p.replicas.iter().find(|r| spus.contains(r)) else {
                continue;
            };
            let current = now.get(p.name.as_str()).copied().unwrap_or(p);
            let (offset, reached) = start_of(current);
            targets.insert(
                p.name.clone(),
                Target {
                    role: if p.leader == spu {
                        Role::Leader
                    } else {
                        Role::Follower
                    },
                    planned_leader: p.leader,
                    leader: current.leader,
                    offset,
                    reached,
                },
            );
        }
        Gate { targets, reads: 0 }
    }

    /// True when there is nothing to wait for.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The partitions as of `now`; the gate passes when [`all_caught_up`] says so.
    pub fn check(&mut self, now: &[LivePartition]) -> Vec<PartitionCheck> {
        self.reads += 1;
        let now: HashMap<&str, &LivePartition> = now.iter().map(|p| (p.name.as_str(), p)).collect();
        self.targets
            .iter_mut()
            .map(|(name, target)| match now.get(name.as_str()) {
                None => PartitionCheck {
                    partition: name.clone(),
                    role: target.role,
                    state: ReplicationState::Gone,
                    leader: None,
                    leader_moved: None,
                    target: None,
                    hw: None,
                    lag: None,
                },
                Some(p) => {
                    if p.leader != target.leader {
                        target.leader = p.leader;
                        (target.offset, target.reached) = start_of(p);
                    }
                    check_one(name, target, p)
                }
            })
            .collect()
    }

    /// True when the last [`check`](Self::check) proves every partition caught up, on a
    /// read after the one that began the gate.
    pub fn passed(&self, checks: &[PartitionCheck]) -> bool {
        self.reads > 1 && all_caught_up(checks)
    }
}

/// The target and the offset every replica holds, as `p` reports them when a gate begins
/// (or its leader changes).
fn start_of(p: &LivePartition) -> (i64, i64) {
    (p.leader_offsets.leo.max(0), reached(p))
}

/// The offset that the high watermark and every replica's log end have reached: what the
/// partition holds everywhere, committed.
fn reached(p: &LivePartition) -> i64 {
    // every follower the spec names, at the offsets the leader reports for it (-1 when it
    // reports none)
    let lowest_leo = p
        .replicas
        .iter()
        .filter(|&&r| r != p.leader)
        .map(|r| {
            p.follower_offsets
                .iter()
                .find(|o| o.spu == *r)
                .map_or(-1, |o| o.leo)
        })
        .fold(p.leader_offsets.leo, i64::min);
    p.leader_offsets.hw.min(lowest_leo)
}

fn check_one(name: &str, target: &Target, p: &LivePartition) -> PartitionCheck {
    let reported_by_leader = p.leader_offsets.spu == p.leader;
    let hw = p.leader_offsets.hw;
    let reached = reached(p);
    // records taken since the gate began must be moving everywhere: a stall freezes the
    // high watermark and the stalled follower at what they held
    let moving = p.leader_offsets.leo <= target.offset || reached > target.reached;
    let caught_up = p.online && reported_by_leader && reached >= target.offset && moving;
    PartitionCheck {
        partition: name.to_string(),
        role: target.role,
        state: if caught_up {
            ReplicationState::CaughtUp
        } else {
            ReplicationState::Lagging
        },
        leader: Some(p.leader),
        leader_moved: Some(p.leader != target.planned_leader),
        target: Some(target.offset),
        hw: Some(hw),
        lag: Some((target.offset - reached).max(0)),
    }
}

/// True when every partition a gate checked is caught up. A partition no longer listed
/// does not pass: after an SC restart an unreadable metadata folder lists none at all.
pub fn all_caught_up(checks: &[PartitionCheck]) -> bool {
    checks.iter().all(|c| c.state == ReplicationState::CaughtUp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ReplicaOffsets;

    fn offsets(spu: SpuId, hw: i64, leo: i64) -> ReplicaOffsets {
        ReplicaOffsets { spu, hw, leo }
    }

    /// A partition of replicas `replicas` (the first leads) with the leader at (hw, leo)
    /// and each follower at its own log end.
    fn partition(
        name: &str,
        replicas: &[SpuId],
        hw: i64,
        leo: i64,
        followers: &[i64],
    ) -> LivePartition {
        LivePartition {
            name: name.into(),
            leader: replicas[0],
            replicas: replicas.to_vec(),
            online: true,
            leader_offsets: offsets(replicas[0], hw, leo),
            follower_offsets: replicas[1..]
                .iter()
                .zip(followers)
                .map(|(&spu, &f)| offsets(spu, hw.min(f), f))
                .collect(),
        }
    }

    #[test]
    fn only_a_follower_changed_online_without_a_heal_refuses_the_plan() {
        use crate::model::SpuKind;
        use crate::plan::tests::{desired, spec, want};
        use crate::plan::BlockerKind;
        let mut live = Live::from_specs([1, 2, 3].map(|i| spec(i, SpuKind::Custom, None)));
        live.partitions = Some(vec![
            partition("a-0", &[1, 2], 0, 0, &[0]),
            partition("one-0", &[3], 0, 0, &[]),
        ]);
        let file = desired([1, 2, 3].map(|i| want(i, Some("h"))).to_vec());
        let blocked = |live: &Live, route, stalls| {
            let mut plan = crate::plan::plan(&file, live);
            assess(&mut plan, live, route, stalls);
            let kinds: Vec<_> = plan.blockers.iter().map(|b| (b.kind(), b.spu())).collect();
            (plan, kinds)
        };
        let (plan, kinds) = blocked(&live, Route::Online, StallPolicy::Refuse);
        // 2 follows a-0; 1 only leads it; 3's partition has one replica
        assert_eq!(kinds, [(BlockerKind::ReplicationStall, Some(2))]);
        assert!(plan.blockers[0]
            .message()
            .contains("follows 1 replicated partition (a-0)"));
        let roles: Vec<_> = plan.changes.iter().map(|c| c.partitions.len()).collect();
        assert_eq!(roles, [1, 1, 0]);
        for (route, stalls) in [
            (Route::Rolling, StallPolicy::Refuse),
            (Route::Offline, StallPolicy::Refuse),
            (Route::MetadataDir, StallPolicy::Refuse),
            (Route::Online, StallPolicy::Accept),
        ] {
            let (plan, kinds) = blocked(&live, route, stalls);
            assert!(kinds.is_empty(), "{route:?} {stalls:?}: {kinds:?}");
            assert_eq!(plan.changes[1].partitions[0].role, Role::Follower);
        }
        // partitions not read: nothing to say
        live.partitions = None;
        assert!(blocked(&live, Route::Online, StallPolicy::Refuse)
            .1
            .is_empty());
    }

    #[test]
    fn only_replicated_partitions_have_roles() {
        let partitions = [
            partition("a-0", &[1, 2, 3], 0, 0, &[0, 0]),
            partition("a-1", &[2, 3, 1], 0, 0, &[0, 0]),
            partition("single-0", &[1], 0, 0, &[]),
        ];
        let roles = roles_by_spu(&partitions);
        let of = |spu| {
            roles[&spu]
                .iter()
                .map(|r| (r.partition.as_str(), r.role))
                .collect::<Vec<_>>()
        };
        assert_eq!(of(1), [("a-0", Role::Leader), ("a-1", Role::Follower)]);
        assert_eq!(of(2), [("a-0", Role::Follower), ("a-1", Role::Leader)]);
        assert!(follows_any(&roles[&1]));
        let leads_only = roles_by_spu(&[partition("b-0", &[4, 5], 0, 0, &[0])]);
        assert!(!follows_any(&leads_only[&4]));
    }

    #[test]
    fn a_gate_passes_only_when_what_was_written_before_it_is_everywhere() {
        let before = [partition("a-0", &[1, 2, 3], 100, 150, &[150, 100])];
        let mut gate = Gate::begin(&[3], &before, &before);
        // the stalled follower (3) sits at the high watermark: a "follower >= hw" check
        // would pass here
        let checks = gate.check(&before);
        assert_eq!(checks[0].state, ReplicationState::Lagging);
        assert_eq!(checks[0].lag, Some(50));
        assert_eq!(checks[0].target, Some(150));
        assert!(!gate.passed(&checks));
        // under steady traffic the leader is ahead again, yet the target is met
        let later = [partition("a-0", &[1, 2, 3], 160, 190, &[180, 160])];
        let checks = gate.check(&later);
        assert_eq!(checks[0].state, ReplicationState::CaughtUp, "{checks:?}");
        assert_eq!(checks[0].lag, Some(0));
        assert!(gate.passed(&checks));
    }

    #[test]
    fn a_gate_does_not_pass_a_stall_that_begins_after_it() {
        // everything committed when the gate begins (a restart that restarted nothing,
        // run a moment after the change): the target is met at once
        let begin = [partition("a-0", &[1, 2, 3], 28, 28, &[28, 28])];
        let mut gate = Gate::begin(&[3], &begin, &begin);
        let checks = gate.check(&begin);
        assert_eq!(checks[0].state, ReplicationState::CaughtUp);
        assert!(
            !gate.passed(&checks),
            "the read that began the gate proves nothing"
        );
        // records arrive, the leader takes them, 3 stays where it was and so does the hw
        let stalled = [partition("a-0", &[1, 2, 3], 28, 46, &[46, 28])];
        let checks = gate.check(&stalled);
        assert_eq!(checks[0].state, ReplicationState::Lagging, "{checks:?}");
        assert!(!gate.passed(&checks));
        // once 3 follows again, what it holds moves and the gate passes under traffic
        let healed = [partition("a-0", &[1, 2, 3], 60, 64, &[64, 61])];
        let checks = gate.check(&healed);
        assert!(gate.passed(&checks));
        // an idle partition owes nothing: it passes on the second read
        let mut idle = Gate::begin(&[3], &begin, &begin);
        let first = idle.check(&begin);
        assert!(!idle.passed(&first));
        let second = idle.check(&begin);
        assert!(idle.passed(&second));
    }

    #[test]
    fn a_gate_takes_its_target_again_from_a_new_leader() {
        let planned = [partition("a-0", &[3, 1, 2], 100, 120, &[100, 100])];
        let mut gate = Gate::begin(&[3], &planned, &planned);
        // 3 restarted: 1 leads now, with the 100 records that were committed
        let mut moved = partition("a-0", &[1, 2, 3], 100, 100, &[100, -1]);
        moved.replicas = vec![3, 1, 2];
        let checks = gate.check(std::slice::from_ref(&moved));
        assert_eq!(checks[0].leader, Some(1));
        assert_eq!(checks[0].leader_moved, Some(true));
        assert_eq!(checks[0].target, Some(100));
        // 3 is not known to the new leader yet
        assert_eq!(checks[0].state, ReplicationState::Lagging);
        moved.follower_offsets = vec![offsets(2, 100, 100), offsets(3, 100, 100)];
        let checks = gate.check(std::slice::from_ref(&moved));
        assert!(gate.passed(&checks), "{checks:?}");
    }

    #[test]
    fn a_gate_needs_the_leader_online_and_reporting() {
        let planned = [partition("a-0", &[1, 2], 10, 10, &[10])];
        let mut gate = Gate::begin(&[2], &planned, &planned);
        let mut offline = planned[0].clone();
        offline.online = false;
        let checks = gate.check(&[offline]);
        assert!(!gate.passed(&checks));
        let mut stale = planned[0].clone();
        stale.leader_offsets.spu = 2;
        let checks = gate.check(&[stale]);
        assert!(!gate.passed(&checks));
        let checks = gate.check(&planned);
        assert!(gate.passed(&checks));
        let checks = gate.check(&[]);
        assert_eq!(checks[0].state, ReplicationState::Gone);
        assert!(!gate.passed(&checks));
    }

    #[test]
    fn a_gate_covers_only_replicated_partitions_of_its_spus() {
        let planned = [
            partition("a-0", &[1, 2], 0, 0, &[0]),
            partition("b-0", &[2], 0, 0, &[]),
            partition("c-0", &[3, 4], 0, 0, &[0]),
        ];
        let mut gate = Gate::begin(&[2], &planned, &planned);
        let names: Vec<_> = gate
            .check(&planned)
            .into_iter()
            .map(|c| c.partition)
            .collect();
        assert_eq!(names, ["a-0"]);
        assert!(Gate::begin(&[5], &planned, &planned).is_empty());
    }
}
