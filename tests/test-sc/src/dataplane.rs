//! The test SC's simulated SPU data plane: SPU processes, their replica logs (records are
//! offsets only), the follower connections between them, the leaders' status reports to the
//! SC, and the SC's leader election. It stands for what `fluvio-spu` and the SC's partition
//! controllers do; the rules follow upstream (see FIDELITY.md, "Data plane"), the code is ours.
//!
//! State that SPU processes hold (`DataPlane`) lives in `Shared`, outside any SC incarnation,
//! so it survives `TestSc::restart`. What an SC does with it (partition status, elections,
//! topics) runs per incarnation.
//!
//! Upstream (fluvio-community/fluvio):
//! - `crates/fluvio-spu/src/replication/leader/spu.rs`: each SPU process keeps, per other SPU
//!   id, a pending-update entry (`FollowerNotifier`); `sync_from_spus` drops the entry of an
//!   SPU whose spec disappears and creates a fresh one when it is back. A follower's
//!   connection to a leader listens on the entry it found when it connected
//!   (`services/internal/service_impl.rs`, `leader/connection.rs`), so after a drop it is never
//!   notified again until it reconnects. Offsets it sends still reach the leader.
//! - `replication/leader/replica_state.rs`: `in_sync_replica` = number of replicas;
//!   `compute_hw`; a follower position newer than the leader's is ignored; the status sent to
//!   the SC (`as_lrs_request`) is the leader `{spu, hw, leo}` and the followers as the leader
//!   knows them, in SPU id order, -1 until known.
//! - `replication/follower/state.rs`: a follower writes records only at its LEO and takes the
//!   leader's HW when it is ahead of its own and not past its LEO.
//! - `control_plane/dispatcher.rs`: leaders report to the SC every 400 ms
//!   (`MIN_SC_SINK_TIME`), only what changed.
//! - SC: `services/private_api/private_server.rs` (`receive_lrs_update`: resolution Online and
//!   `merge` into the stored status, `stores/partition/store.rs`),
//!   `controllers/partitions/reducer.rs` + `stores/partition/policy.rs` (election),
//!   `controllers/scheduler/partition.rs` (replica assignment of a computed topic).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use fluvio_controlplane_metadata::partition::{
    PartitionResolution, PartitionSpec, PartitionStatus, ReplicaKey, ReplicaStatus,
};
use fluvio_controlplane_metadata::spu::SpuSpec;
use fluvio_controlplane_metadata::topic::{TopicResolution, TopicSpec, TopicStatus};
use fluvio_future::timer::sleep;
use fluvio_stream_dispatcher::metadata::local::LocalMetadataItem;
use fluvio_stream_dispatcher::store::MetadataStoreObject;

use super::state::{ScState, Shared};
use super::Health;

/// How often SPU processes replicate, reconnect and learn from the SC (upstream is driven by
/// events; a short tick stands for them).
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// How long the test SC's own waits (restart of an SPU process, a status report) may take
/// before they fail: only a broken test reaches it.
const DEADLINE: Duration = Duration::from_secs(60);

/// The data plane's truth for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaState {
    /// the SPU that leads the partition (as the SPU processes know it)
    pub leader: i32,
    /// the committed high watermark: the leader's HW
    pub hw: i64,
    /// each replica's log end offset, as that SPU holds it
    pub leo: BTreeMap<i32, i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Offsets {
    hw: i64,
    leo: i64,
}

impl Offsets {
    const ZERO: Offsets = Offsets { hw: 0, leo: 0 };
    /// upstream `OffsetInfo::default()`: not known yet
    const UNKNOWN: Offsets = Offsets { hw: -1, leo: -1 };

    fn is_valid(&self) -> bool {
        self.leo != -1 && self.hw != -1
    }

    /// upstream `OffsetInfo::newer`: a follower must never be ahead of its leader
    fn newer(&self, other: &Offsets) -> bool {
        self.leo > other.leo || self.hw > other.hw
    }
}

/// A simulated SPU process.
#[derive(Debug, Default)]
struct SpuProcess {
    up: bool,
    /// it has learned the SPU list and its replicas from a running SC since it last started
    synced: bool,
    /// its pending-update entries as a leader (upstream `FollowerNotifier`): follower SPU id
    /// -> generation of the entry
    entries: BTreeMap<i32, u64>,
}

#[derive(Debug)]
struct Partition {
    key: ReplicaKey,
    leader: i32,
    replicas: Vec<i32>,
    /// each replica's log as that SPU holds it
    logs: BTreeMap<i32, Offsets>,
    /// the leader's view of its followers (upstream `LeaderReplicaState::followers`)
    views: BTreeMap<i32, Offsets>,
}

impl Partition {
    fn new(key: ReplicaKey, leader: i32, replicas: Vec<i32>, logs: BTreeMap<i32, Offsets>) -> Self {
        let mut p = Partition {
            key,
            leader,
            replicas,
            logs,
            views: BTreeMap::new(),
        };
        p.fresh_leader_state();
        p
    }

    fn followers(&self) -> Vec<i32> {
        self.replicas
            .iter()
            .copied()
            .filter(|r| *r != self.leader)
            .collect()
    }

    fn log(&self, spu: i32) -> Offsets {
        self.logs.get(&spu).copied().unwrap_or(Offsets::ZERO)
    }

    /// A new leader state (a new leader, or the leader's process started again): it knows
    /// none of its followers yet.
    fn fresh_leader_state(&mut self) {
        self.views = self
            .followers()
            .into_iter()
            .map(|f| (f, Offsets::UNKNOWN))
            .collect();
        for r in &self.replicas {
            self.logs.entry(*r).or_insert(Offsets::ZERO);
        }
    }

    /// What the leader sends the SC (upstream `as_lrs_request`, as the SC turns it into a
    /// status): followers in SPU id order with the leader's view of them. Records carry no
    /// bytes here, so the size is 0.
    fn report(&self) -> PartitionStatus {
        let leader = self.log(self.leader);
        PartitionStatus::new2(
            ReplicaStatus::new(self.leader, leader.hw, leader.leo),
            self.views
                .iter()
                .map(|(spu, v)| ReplicaStatus::new(*spu, v.hw, v.leo))
                .collect(),
            0,
            PartitionResolution::Online,
            0,
        )
    }
}

/// The SPU processes and their partitions' logs.
#[derive(Debug, Default)]
pub(crate) struct DataPlane {
    spus: BTreeMap<i32, SpuProcess>,
    /// open follower connections: (follower, leader) -> generation of the leader's entry the
    /// connection listens on
    links: BTreeMap<(i32, i32), u64>,
    partitions: BTreeMap<String, Partition>,
    next_generation: u64,
}

impl DataPlane {
    fn ready(&self, id: i32) -> bool {
        self.spus.get(&id).is_some_and(|s| s.up && s.synced)
    }

    /// The SPU process `id` started (`Online` after being down or unknown) or went away
    /// (`Offline`). A process that starts has no connection and no entry yet; it learns the
    /// SPUs and its replicas once it registers with a running SC.
    pub fn health_changed(&mut self, id: i32, health: Health) {
        let process = self.spus.entry(id).or_default();
        let up = health == Health::Online;
        if process.up == up {
            return;
        }
        process.up = up;
        process.synced = false;
        process.entries.clear();
        // its connections end, as follower and as leader
        self.links.retain(|(f, l), _| *f != id && *l != id);
        // the leader states it had are gone; a started process makes fresh ones
        for p in self.partitions.values_mut() {
            if p.leader == id {
                p.fresh_leader_state();
            }
        }
    }

    /// An SPU was deleted through a running SC: every SPU process connected to it (other than
    /// the deleted one) drops its pending-update entry for that id.
    pub fn spu_deleted(&mut self, id: i32, registered: &BTreeSet<i32>) {
        for (pid, process) in self.spus.iter_mut() {
            if *pid != id && process.up && registered.contains(pid) {
                process.entries.remove(&id);
            }
        }
    }

    /// The SPU list a running SC sends to the processes registered with it (upstream
    /// `sync_from_spus`: drop entries of SPUs that are gone, create fresh ones for new SPUs).
    ///
    /// Entries are kept only where they can matter: for the followers of the partitions a
    /// process leads and for the followers connected to it. One made later, when a pair
    /// starts to matter, is as fresh as upstream's (made when the SPU appeared): no
    /// connection listens on either yet.
    fn sync_spus(&mut self, ids: &BTreeSet<i32>, registered: &BTreeSet<i32>) {
        let mut pairs: BTreeSet<(i32, i32)> = self.links.keys().map(|(f, l)| (*l, *f)).collect();
        for p in self.partitions.values() {
            for f in p.followers() {
                pairs.insert((p.leader, f));
            }
        }
        let mut next = self.next_generation;
        for (pid, process) in self.spus.iter_mut() {
            if !process.up || !registered.contains(pid) {
                continue;
            }
            process.entries.retain(|f, _| ids.contains(f));
            for (_, f) in pairs.range((*pid, i32::MIN)..=(*pid, i32::MAX)) {
                if f != pid && ids.contains(f) && !process.entries.contains_key(f) {
                    next += 1;
                    process.entries.insert(*f, next);
                }
            }
            process.synced = true;
        }
        self.next_generation = next;
    }

    fn is_empty(&self) -> bool {
        self.partitions.is_empty()
    }

    /// Partition specs from a running SC. A new leader makes a fresh leader state. A
    /// partition the processes do not know yet (a metadata dir from an earlier run) resumes
    /// from its stored status: the logs as last reported.
    fn sync_partitions(&mut self, partitions: &[(ReplicaKey, PartitionSpec, PartitionStatus)]) {
        for (key, spec, status) in partitions {
            let name = key.to_string();
            match self.partitions.get_mut(&name) {
                Some(p) => {
                    if p.replicas != spec.replicas || p.leader != spec.leader {
                        p.replicas = spec.replicas.clone();
                        p.leader = spec.leader;
                        p.fresh_leader_state();
                    }
                }
                None => {
                    let logs = resumed_logs(spec, status);
                    self.partitions.insert(
                        name,
                        Partition::new(key.clone(), spec.leader, spec.replicas.clone(), logs),
                    );
                }
            }
        }
    }

    /// Partitions just created: empty logs.
    fn insert_new_all(&mut self, created: Vec<(ReplicaKey, PartitionSpec)>) {
        for (key, spec) in created {
            self.partitions.entry(key.to_string()).or_insert_with(|| {
                Partition::new(key, spec.leader, spec.replicas, BTreeMap::new())
            });
        }
    }

    /// One replication round over every partition.
    pub fn replicate(&mut self) {
        let DataPlane {
            spus,
            links,
            partitions,
            ..
        } = self;
        for p in partitions.values_mut() {
            replicate_partition(spus, links, p);
        }
    }

    /// Append `n` records at the partition's leader.
    pub fn produce(&mut self, partition: &str, n: u64) -> Result<()> {
        let n = i64::try_from(n).context("record count")?;
        let ready = {
            let p = self
                .partitions
                .get(partition)
                .ok_or_else(|| anyhow!("unknown partition '{partition}'"))?;
            match self.spus.get(&p.leader) {
                Some(s) if s.up && s.synced => Ok(()),
                Some(s) if s.up => Err(anyhow!(
                    "the leader of '{partition}', SPU {}, has not registered with an SC since it started",
                    p.leader
                )),
                _ => Err(anyhow!(
                    "the leader of '{partition}', SPU {}, is down",
                    p.leader
                )),
            }
        };
        ready?;
        let DataPlane {
            spus,
            links,
            partitions,
            ..
        } = self;
        let p = partitions.get_mut(partition).expect("checked above");
        let single = p.replicas.len() <= 1;
        let log = p.logs.entry(p.leader).or_insert(Offsets::ZERO);
        log.leo = log
            .leo
            .checked_add(n)
            .ok_or_else(|| anyhow!("offset overflow"))?;
        if single {
            // in_sync_replica == 1: the write commits at once
            log.hw = log.leo;
        }
        replicate_partition(spus, links, p);
        Ok(())
    }

    pub fn replica_state(&self, partition: &str) -> Option<ReplicaState> {
        let p = self.partitions.get(partition)?;
        Some(ReplicaState {
            leader: p.leader,
            hw: p.log(p.leader).hw,
            leo: p.replicas.iter().map(|r| (*r, p.log(*r).leo)).collect(),
        })
    }

    /// The status each partition's leader sends the SC, for leaders that are up and
    /// registered with it.
    fn reports(&self, registered: &BTreeSet<i32>) -> Vec<(ReplicaKey, PartitionStatus)> {
        self.partitions
            .values()
            .filter(|p| self.ready(p.leader) && registered.contains(&p.leader))
            .map(|p| (p.key.clone(), p.report()))
            .collect()
    }

    /// Leaders that are up and hold partitions but cannot report: not registered with the SC.
    fn silent_leaders(&self, registered: &BTreeSet<i32>) -> BTreeSet<i32> {
        self.partitions
            .values()
            .map(|p| p.leader)
            .filter(|l| self.ready(*l) && !registered.contains(l))
            .collect()
    }

    fn knows_process(&self, id: i32) -> bool {
        self.spus.contains_key(&id)
    }
}

/// Logs of a partition the SPU processes resume from its stored status (they kept running
/// while the SC was stopped): each replica's offsets as last reported. A replica whose LEO was
/// never reported holds at least the committed records (leader HW).
fn resumed_logs(spec: &PartitionSpec, status: &PartitionStatus) -> BTreeMap<i32, Offsets> {
    let committed = status.leader.hw.max(0);
    spec.replicas
        .iter()
        .map(|r| {
            let reported = std::iter::once(&status.leader)
                .chain(status.replicas.iter())
                .find(|s| s.spu == *r && s.leo >= 0);
            let log = match reported {
                Some(s) => Offsets {
                    leo: s.leo,
                    hw: if s.hw >= 0 {
                        s.hw
                    } else {
                        committed.min(s.leo)
                    },
                },
                None => Offsets {
                    hw: committed,
                    leo: committed,
                },
            };
            (*r, log)
        })
        .collect()
}

/// One partition: followers report their offsets to the leader over any open connection; the
/// leader sends records and its HW over connections that listen on its current entry for
/// that follower; the leader's HW follows `compute_hw`. Repeated until nothing changes.
fn replicate_partition(
    spus: &BTreeMap<i32, SpuProcess>,
    links: &mut BTreeMap<(i32, i32), u64>,
    p: &mut Partition,
) {
    let ready = |id: i32| spus.get(&id).is_some_and(|s| s.up && s.synced);
    let l = p.leader;
    if !ready(l) {
        return;
    }
    let entries = &spus[&l].entries;
    let in_sync = p.replicas.len();
    // converges in a few rounds; bounded all the same
    for _ in 0..16 {
        let mut changed = false;
        for f in p.followers() {
            if !ready(f) {
                continue;
            }
            // the follower connects when it has no connection to this leader; the leader
            // accepts it only if it has an entry for it
            let generation = match links.get(&(f, l)) {
                Some(g) => *g,
                None => match entries.get(&f) {
                    Some(g) => {
                        links.insert((f, l), *g);
                        *g
                    }
                    None => continue,
                },
            };
            let listening = entries.get(&f) == Some(&generation);
            // follower -> leader: its offsets
            let leader = p.log(l);
            let log = p.log(f);
            let view = p.views.get(&f).copied().unwrap_or(Offsets::UNKNOWN);
            if log != view && !log.newer(&leader) {
                p.views.insert(f, log);
                changed = true;
            }
            // leader -> follower: records from the follower's LEO, and the leader's HW
            let view = p.views.get(&f).copied().unwrap_or(Offsets::UNKNOWN);
            if listening && view.is_valid() && view != leader {
                let log = p.logs.entry(f).or_insert(Offsets::ZERO);
                if view.leo < leader.leo && log.leo == view.leo {
                    log.leo = leader.leo;
                    changed = true;
                }
                if log.hw < leader.hw && leader.hw <= log.leo {
                    log.hw = leader.hw;
                    changed = true;
                }
            }
        }
        let leader = p.log(l);
        if leader.hw != leader.leo {
            if let Some(hw) = compute_hw(leader, in_sync, &p.views) {
                if hw != leader.hw {
                    p.logs.entry(l).or_insert(Offsets::ZERO).hw = hw;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
}

/// upstream `compute_hw`: of the followers' LEOs above the leader's HW, the
/// `min(in_sync - 1, followers)`-th highest; none when fewer qualify. With every replica in
/// sync required, that is the lowest follower LEO, once all are above the HW.
fn compute_hw(leader: Offsets, in_sync: usize, views: &BTreeMap<i32, Offsets>) -> Option<i64> {
    let min_lrs = in_sync.saturating_sub(1).min(views.len());
    let mut qualified: Vec<i64> = views
        .values()
        .map(|v| v.leo)
        .filter(|leo| *leo > leader.hw)
        .collect();
    if min_lrs == 0 {
        return qualified.into_iter().max();
    }
    if qualified.len() < min_lrs {
        return None;
    }
    qualified.sort_unstable_by(|a, b| b.cmp(a));
    Some(qualified[min_lrs - 1])
}

// ---------------------------------------------------------------- SC side: status

/// upstream `ReplicaStatusExtension::merge`: -1 (spu or offsets) never overwrites; another
/// SPU replaces this one and hands the old one back.
fn merge_replica(target: &mut ReplicaStatus, source: &ReplicaStatus) -> Option<ReplicaStatus> {
    if source.spu == -1 {
        return None;
    }
    if target.spu == -1 || target.spu == source.spu {
        target.spu = source.spu;
        if source.leo != -1 {
            target.leo = source.leo;
        }
        if source.hw != -1 {
            target.hw = source.hw;
        }
        None
    } else {
        Some(std::mem::replace(target, source.clone()))
    }
}

/// upstream `PartitonStatusExtension::merge`: what the SC stores when a leader reports.
fn merge_status(current: &mut PartitionStatus, report: PartitionStatus) {
    current.resolution = report.resolution;
    current.size = report.size;
    if let Some(old_leader) = merge_replica(&mut current.leader, &report.leader) {
        current.replicas.push(old_leader);
    }
    for replica in report.replicas {
        let known = current.replicas.iter().position(|s| s.spu == replica.spu);
        match known {
            Some(i) => {
                merge_replica(&mut current.replicas[i], &replica);
            }
            None => current.replicas.push(replica),
        }
    }
    let leader = current.leader.spu;
    current.replicas.retain(|r| r.spu != leader);
    let leader_leo = current.leader.leo;
    current.lsr = current
        .replicas
        .iter()
        .filter(|r| r.leo != -1 && r.leo == leader_leo)
        .count() as u32;
}

/// SPU ids whose processes are registered with this incarnation and up.
pub(crate) fn registered_online(state: &ScState) -> BTreeSet<i32> {
    state
        .registered
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|(_, h)| **h == Health::Online)
        .map(|(id, _)| *id)
        .collect()
}

/// An SPU was deleted through this running SC (the delete handler, once applied).
pub(crate) fn spu_deleted(state: &ScState, id: i32) {
    if state.shared.dataplane().is_empty() {
        // no replicas, so no entry to drop
        return;
    }
    let registered = registered_online(state);
    state.shared.dataplane().spu_deleted(id, &registered);
}

/// The partitions in the SC's store, sorted by name.
pub(crate) async fn stored_partitions(
    state: &ScState,
) -> Vec<(ReplicaKey, PartitionSpec, PartitionStatus)> {
    let mut all: Vec<_> = state
        .partitions
        .store()
        .clone_values()
        .await
        .into_iter()
        .map(|p| (p.key, p.spec, p.status))
        .collect();
    all.sort_by_key(|(key, _, _)| key.to_string());
    all
}

/// What SPU processes registered with a running SC learn from it: the SPU list and the
/// partition specs. Nothing to learn while there are no partitions (SPU processes then
/// have no replicas and no entry matters), which keeps a cluster of thousands of SPUs and no
/// topic (the benchmarks) free of this work.
pub(crate) async fn sync_from_sc(state: &ScState) {
    if state.shared.dataplane().is_empty() && state.partitions.store().count().await == 0 {
        return;
    }
    let ids: BTreeSet<i32> = state
        .spus
        .store()
        .read()
        .await
        .values()
        .map(|s| s.spec.id)
        .collect();
    let partitions = stored_partitions(state).await;
    let registered = registered_online(state);
    let mut dp = state.shared.dataplane();
    dp.sync_partitions(&partitions);
    dp.sync_spus(&ids, &registered);
}

/// The leaders' status reports, every `interval` while this incarnation runs: each partition
/// whose leader is up and registered reports what changed since it last reported to this
/// SC, merged into the stored status as upstream's `receive_lrs_update` does.
pub(crate) async fn status_reporter(state: Arc<ScState>, interval: Duration) {
    let mut sent: HashMap<String, PartitionStatus> = HashMap::new();
    loop {
        sleep(interval).await;
        let silent = report_pass(&state, &mut sent).await;
        *state
            .shared
            .silent_leaders
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = silent;
        state.shared.status_reports.fetch_add(1, Ordering::SeqCst);
    }
}

/// One pass; returns the leaders that could not report (up, not registered).
async fn report_pass(
    state: &ScState,
    sent: &mut HashMap<String, PartitionStatus>,
) -> BTreeSet<i32> {
    if state.shared.dataplane().is_empty() {
        return BTreeSet::new();
    }
    let registered = registered_online(state);
    let (reports, silent) = {
        let dp = state.shared.dataplane();
        (dp.reports(&registered), dp.silent_leaders(&registered))
    };
    let _writes = state.partition_writes.lock().await;
    for (key, report) in reports {
        let name = key.to_string();
        if sent.get(&name) == Some(&report) {
            continue;
        }
        let Some(current) = state.partitions.store().value(&key).await else {
            // upstream: "trying to update replica ... that doesn't exist"
            continue;
        };
        let mut status = current.inner().status.clone();
        merge_status(&mut status, report.clone());
        match state.partitions.update_status(key, status).await {
            Ok(_) => {
                sent.insert(name, report);
            }
            Err(err) => tracing::warn!(%name, %err, "test sc: partition status update failed"),
        }
    }
    silent
}

/// `TestSc::wait_status_report`: a whole report pass that started after the call, in which
/// every leader that is up reported. A leader that is up but not registered (after a
/// restart of the SC, before `reconnect_spu_processes`) cannot report: waited for while its
/// registration is pending, an error otherwise.
pub(crate) async fn wait_status_report(shared: &Shared, interval: Duration) -> Result<()> {
    let deadline = Instant::now() + DEADLINE + 2 * interval;
    let mut target = shared.status_reports.load(Ordering::SeqCst) + 2;
    loop {
        while shared.status_reports.load(Ordering::SeqCst) < target {
            if Instant::now() > deadline {
                bail!("no status report within the deadline");
            }
            let Some(_) = shared.running() else {
                bail!("test sc is not running");
            };
            sleep(Duration::from_millis(2)).await;
        }
        let silent = shared
            .silent_leaders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if silent.is_empty() {
            return Ok(());
        }
        let state = shared
            .running()
            .ok_or_else(|| anyhow!("test sc is not running"))?;
        let registered = registered_online(&state);
        let pending = shared.registering();
        let unregistered: Vec<i32> = silent
            .into_iter()
            .filter(|l| !registered.contains(l) && !pending.contains(l))
            .collect();
        if !unregistered.is_empty() {
            bail!(
                "the SPU processes {unregistered:?} lead partitions but are not registered with \
                 the running SC, so their status is not reported (after a restart: \
                 reconnect_spu_processes)"
            );
        }
        if Instant::now() > deadline {
            bail!("no complete status report within the deadline");
        }
        target = shared.status_reports.load(Ordering::SeqCst) + 1;
    }
}

// ---------------------------------------------------------------- SC side: election

enum Election {
    Leader(ReplicaKey, PartitionSpec),
    Status(ReplicaKey, PartitionStatus),
}

/// upstream `SimplePolicy::potential_leader_score`: lag behind the leader's LEO, suitable
/// under 4 (the score is the lag as u16, as upstream casts it).
fn leader_score(replica: &ReplicaStatus, leader: &ReplicaStatus) -> Option<u16> {
    let lag = leader.leo - replica.leo;
    (lag < 4).then_some(lag as u16)
}

/// upstream `candidate_leader`: the online replica with the lowest score, the first one on a tie.
fn candidate_leader(status: &PartitionStatus, online: &HashSet<i32>) -> Option<i32> {
    let mut best: Option<(i32, u16)> = None;
    for replica in &status.replicas {
        if !online.contains(&replica.spu) {
            continue;
        }
        if let Some(score) = leader_score(replica, &status.leader) {
            if best.is_none_or(|(_, s)| score < s) {
                best = Some((replica.spu, score));
            }
        }
    }
    best.map(|(spu, _)| spu)
}

/// The SC's partition controller: on SPU status changes, a partition whose leader went
/// offline gets a new leader (or `LeaderOffline`), and a partition that is not readable gets
/// an SPU that came online as leader (or back `Online` when it is its leader). Upstream
/// `controllers/partitions/{controller,reducer}.rs`.
pub(crate) async fn election_controller(state: Arc<ScState>) {
    let mut listener = state.spus.change_listener();
    // as upstream, the state loaded at start is not a change
    if listener.current_change() <= 0 {
        listener.listen().await;
    }
    listener.load_last();
    state
        .election_epoch
        .store(listener.last_change(), Ordering::SeqCst);
    loop {
        listener.listen().await;
        if state.partitions.store().count().await == 0 {
            // nothing to elect for: skip the diff of every SPU (thousands in the benchmarks)
            listener.load_last();
            state
                .election_epoch
                .store(listener.last_change(), Ordering::SeqCst);
            continue;
        }
        let changes = listener.sync_status_changes().await;
        let epoch = changes.epoch;
        let (updates, _deletes) = changes.parts();
        if !updates.is_empty() {
            elect(&state, updates).await;
        }
        state.election_epoch.store(epoch, Ordering::SeqCst);
    }
}

async fn elect(state: &ScState, changed: Vec<MetadataStoreObject<SpuSpec, LocalMetadataItem>>) {
    let partitions = state.partitions.store().clone_values().await;
    if partitions.is_empty() {
        return;
    }
    let online: HashSet<i32> = state
        .spus
        .store()
        .read()
        .await
        .values()
        .filter(|s| s.status.is_online())
        .map(|s| s.spec.id)
        .collect();
    let (came_online, mut went_offline): (Vec<_>, Vec<_>) =
        changed.into_iter().partition(|s| s.status.is_online());
    went_offline.retain(|s| !s.status.is_init());

    let mut actions = vec![];
    for spu in &went_offline {
        let id = spu.spec.id;
        for p in partitions.iter().filter(|p| p.spec.leader == id) {
            if let Some(candidate) = candidate_leader(&p.status, &online) {
                let mut spec = p.spec.clone();
                spec.leader = candidate;
                tracing::info!(partition = %p.key, candidate, "test sc: changing to new leader");
                actions.push(Election::Leader(p.key.clone(), spec));
            } else if p.status.is_online() {
                let mut status = p.status.clone();
                status.resolution = PartitionResolution::LeaderOffline;
                actions.push(Election::Status(p.key.clone(), status));
            }
        }
    }
    for spu in &came_online {
        let id = spu.spec.id;
        for p in partitions.iter().filter(|p| !p.status.is_readable()) {
            if p.spec.leader != id {
                let suitable = p
                    .status
                    .replicas
                    .iter()
                    .any(|r| r.spu == id && leader_score(r, &p.status.leader).is_some());
                if suitable {
                    let mut spec = p.spec.clone();
                    spec.leader = id;
                    actions.push(Election::Leader(p.key.clone(), spec));
                }
            } else {
                let mut status = p.status.clone();
                status.resolution = PartitionResolution::Online;
                actions.push(Election::Status(p.key.clone(), status));
            }
        }
    }
    if actions.is_empty() {
        return;
    }
    let _writes = state.partition_writes.lock().await;
    for action in actions {
        let result = match action {
            Election::Leader(key, spec) => state.partitions.create_spec(key, spec).await.map(drop),
            Election::Status(key, status) => {
                state.partitions.update_status(key, status).await.map(drop)
            }
        };
        if let Err(err) = result {
            tracing::warn!(%err, "test sc: election update failed");
        }
    }
}

// ---------------------------------------------------------------- SC side: topics

/// upstream topic names: a DNS label (lowercase alphanumerics and '-', at most 63)
fn check_topic_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !ok {
        bail!("invalid topic name '{name}': lowercase letters, digits and '-' (1-63, not at either end)");
    }
    Ok(())
}

/// upstream `PartitionScheduler::generate_partitions_without_rack`: for each partition, each
/// replica goes to the online SPU (ids sorted) with the fewest leaders (first replica) or
/// followers (the others) so far, counting the partitions already stored, the first on a
/// tie, never twice in one partition.
fn schedule(
    online: &[i32],
    existing: &[(ReplicaKey, PartitionSpec, PartitionStatus)],
    partitions: u32,
    replication: u32,
) -> Result<BTreeMap<u32, Vec<i32>>> {
    let mut leaders: HashMap<i32, u16> = HashMap::new();
    let mut followers: HashMap<i32, u16> = HashMap::new();
    for (_, spec, _) in existing {
        *leaders.entry(spec.leader).or_default() += 1;
        for r in spec.replicas.iter().filter(|r| **r != spec.leader) {
            *followers.entry(*r).or_default() += 1;
        }
    }
    let mut map = BTreeMap::new();
    for p in 0..partitions {
        let mut reserved: Vec<i32> = vec![];
        for r in 0..replication {
            let weights = if r == 0 { &leaders } else { &followers };
            let mut best: Option<(i32, u16)> = None;
            for spu in online.iter().filter(|s| !reserved.contains(s)) {
                let weight = weights.get(spu).copied().unwrap_or(0);
                if best.is_none_or(|(_, w)| weight < w) {
                    best = Some((*spu, weight));
                }
            }
            let Some((spu, _)) = best else {
                bail!(
                    "insufficient resources: {} online SPUs for replication {replication}",
                    online.len()
                );
            };
            reserved.push(spu);
            let counts = if r == 0 { &mut leaders } else { &mut followers };
            *counts.entry(spu).or_default() += 1;
        }
        map.insert(p, reserved);
    }
    Ok(map)
}

/// Creates a computed topic as the SC's topic controller ends up storing it: the Topic object
/// (Provisioned, with its replica map) and one Partition object per partition, a child of the
/// topic, with the status its leader's first report gives (Online, leader {spu, 0, 0},
/// followers -1 until known).
pub(crate) async fn create_topic(
    state: &ScState,
    name: &str,
    partitions: u32,
    replication: u32,
) -> Result<()> {
    check_topic_name(name)?;
    if partitions == 0 || replication == 0 {
        bail!("partitions and replication must be at least 1");
    }
    let topic_name = name.to_owned();
    if state.topics.store().contains_key(&topic_name).await {
        bail!("topic '{name}' already exists");
    }
    let spus = state.spus.store().clone_values().await;
    if (spus.len() as u64) < u64::from(replication) {
        bail!(
            "insufficient resources: {} SPUs for replication {replication}",
            spus.len()
        );
    }
    let mut online: Vec<i32> = spus
        .iter()
        .filter(|s| s.status.is_online())
        .map(|s| s.spec.id)
        .collect();
    online.sort_unstable();

    let _writes = state.partition_writes.lock().await;
    let existing = stored_partitions(state).await;
    let replica_map = schedule(&online, &existing, partitions, replication)?;

    let spec = TopicSpec::new_computed(partitions, replication, None);
    state
        .topics
        .create_spec(topic_name.clone(), spec.clone())
        .await
        .with_context(|| format!("storing topic {name}"))?;
    let provisioned = TopicStatus {
        resolution: TopicResolution::Provisioned,
        replica_map: replica_map.clone(),
        mirror_map: Default::default(),
        reason: String::new(),
    };
    state
        .topics
        .update_status(topic_name.clone(), provisioned)
        .await
        .with_context(|| format!("provisioning topic {name}"))?;
    let topic = state
        .topics
        .store()
        .value(&topic_name)
        .await
        .ok_or_else(|| anyhow!("topic {name} vanished"))?;
    let child = topic.inner().ctx().create_child();

    let mut created = vec![];
    for (idx, replicas) in replica_map {
        let key = ReplicaKey::new(name, idx);
        let pspec = PartitionSpec::from_replicas(replicas, &spec, None);
        let leader = ReplicaStatus::new(pspec.leader, 0, 0);
        let followers = {
            let mut f = pspec.followers();
            f.sort_unstable();
            f.into_iter()
                .map(|spu| ReplicaStatus::new(spu, -1, -1))
                .collect()
        };
        let mut status = PartitionStatus::default();
        merge_status(
            &mut status,
            PartitionStatus::new2(leader, followers, 0, PartitionResolution::Online, 0),
        );
        let mut obj =
            MetadataStoreObject::new_with_context(key.clone(), pspec.clone(), child.clone());
        obj.set_status(status);
        state
            .partitions
            .apply(obj)
            .await
            .with_context(|| format!("storing partition {key}"))?;
        created.push((key, pspec));
    }
    state.shared.dataplane().insert_new_all(created);
    drop(_writes);
    // the SC sends the new replicas to the SPU processes registered with it
    sync_from_sc(state).await;
    Ok(())
}

// ---------------------------------------------------------------- SPU process restart

async fn wait_for<F, Fut>(what: &str, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if check().await? {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        sleep(Duration::from_millis(2)).await;
    }
}

async fn spu_resolution(
    state: &ScState,
    id: i32,
) -> Option<fluvio_controlplane_metadata::spu::SpuStatusResolution> {
    state.spu_by_id(id).await.map(|s| s.status.resolution)
}

/// Restarts the SPU process `id`: it goes away (the running SC marks it Offline and its
/// partition controller elects new leaders for what it led), then starts again with no
/// connection (it reconnects to every leader, so a stalled follower heals), registers, and
/// this returns once the SC shows it Online.
pub(crate) async fn restart_spu(shared: &Arc<Shared>, id: i32) -> Result<()> {
    use fluvio_controlplane_metadata::spu::SpuStatusResolution as R;

    let state = shared
        .running()
        .ok_or_else(|| anyhow!("test sc is not running"))?;
    if state.spu_by_id(id).await.is_none() {
        bail!("no SPU with id {id} in the SC");
    }
    if !shared.dataplane().knows_process(id) {
        bail!("SPU {id} has no SPU process");
    }
    let stopped = || anyhow!("the test SC stopped while SPU {id} restarted");
    let was_registered = registered_online(&state).contains(&id);
    shared.set_health(id, Health::Offline);
    if was_registered {
        // the SC sees it go away, and its partition controller has acted on that
        wait_for("the SC to mark the SPU offline", || async {
            if state.is_stopped() {
                return Err(stopped());
            }
            Ok(spu_resolution(&state, id).await == Some(R::Offline))
        })
        .await?;
        let epoch = state.spus.store().epoch().await;
        wait_for("the SC's partition controller", || async {
            if state.is_stopped() {
                return Err(stopped());
            }
            Ok(state.election_epoch.load(Ordering::SeqCst) >= epoch)
        })
        .await?;
        // the other SPU processes learn the new leaders before this one is back
        sync_from_sc(&state).await;
    }
    shared.set_health(id, Health::Online);
    wait_for("the SC to mark the SPU online", || async {
        if state.is_stopped() {
            return Err(stopped());
        }
        Ok(spu_resolution(&state, id).await == Some(R::Online))
    })
    .await?;
    // registered: it learns the SPUs and its replicas from the SC
    sync_from_sc(&state).await;
    Ok(())
}

/// The data plane's own loop, for the life of a `TestSc` (over restarts): SPU processes learn
/// from the running SC, replicate, and the control dir is polled.
pub(crate) async fn run(shared: Arc<Shared>, control_dir: Option<std::path::PathBuf>) {
    /// a sync also runs this often when nothing it looks at changed
    const RESYNC: Duration = Duration::from_millis(500);
    let mut control = control_dir.map(super::control::Control::new);
    let mut synced: Option<(usize, i64, i64, u64)> = None;
    let mut synced_at = Instant::now();
    loop {
        if let Some(state) = shared.running() {
            // what the SC would send the SPU processes changed: its incarnation, SPUs,
            // partitions or registrations
            let mark = (
                Arc::as_ptr(&state) as usize,
                state.spus.store().epoch().await,
                state.partitions.store().epoch().await,
                state.registrations.load(Ordering::SeqCst),
            );
            if synced != Some(mark) || synced_at.elapsed() >= RESYNC {
                sync_from_sc(&state).await;
                synced = Some(mark);
                synced_at = Instant::now();
            }
        }
        shared.dataplane().replicate();
        if let Some(control) = control.as_mut() {
            control.poll(&shared);
        }
        sleep(TICK).await;
    }
}
