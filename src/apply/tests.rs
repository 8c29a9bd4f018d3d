//! The engine's retry and fallback paths against a scripted in-memory cluster behind the
//! `Cluster` trait, and the metadata-dir adapter on a copy of the bundled metadata.
//!
//! Each scripted fault says exactly what one request does (lost before it is applied,
//! applied with its answer lost, refused), and every test asserts the exact sequence or
//! count of requests the engine sent.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::{
    apply, batch_sizes, recover, ApplyReport, CreateCheck, RecoveryState, RetryPolicy, SpuOutcome,
    HALTED, MAX_BATCH,
};
use crate::cluster::metadata_dir::MetadataDir;
use crate::cluster::{Cluster, ClusterError};
use crate::journal::Journal;
use crate::model::{ClusterId, Encryption, Endpoint, Live, LiveSpu, SpuKind, SpuSpec, SpuState};
use crate::plan::{Action, Change};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Read,
    Fetch,
    Delete,
    Create,
    Reconnect,
    Partitions,
}

/// What one scripted request does instead of succeeding.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// The connection fails before the request is applied.
    Lost,
    /// The request is applied, then the connection fails before the answer.
    AnswerLost,
    /// The cluster refuses it (nothing changes).
    Refused(&'static str),
    /// It goes as if unscripted (to script the request after it).
    Pass,
    /// The code handling it panics (a bug): nothing after it runs.
    Panic,
}

/// An SC in memory: SPUs by name, a script of faults per request kind (taken in order),
/// and the log of every request.
#[derive(Default)]
struct Scripted {
    spus: BTreeMap<String, SpuSpec>,
    script: HashMap<Op, VecDeque<Fault>>,
    log: Vec<Op>,
    /// What successive partition lists answer; the last one stays.
    partitions: VecDeque<Vec<crate::model::LivePartition>>,
}

impl Scripted {
    fn with(specs: &[SpuSpec]) -> Self {
        Scripted {
            spus: specs.iter().map(|s| (s.name.clone(), s.clone())).collect(),
            ..Default::default()
        }
    }

    fn script(mut self, op: Op, faults: &[Fault]) -> Self {
        self.script
            .entry(op)
            .or_default()
            .extend(faults.iter().copied());
        self
    }

    fn count(&self, op: Op) -> usize {
        self.log.iter().filter(|o| **o == op).count()
    }

    /// Logs `op` and returns its scripted fault, if any is left.
    fn next(&mut self, op: Op) -> Option<Fault> {
        self.log.push(op);
        self.script.get_mut(&op).and_then(VecDeque::pop_front)
    }

    fn lost(op: Op) -> ClusterError {
        ClusterError::Transient {
            op: format!("{op:?}"),
            cause: "the SC closed the connection".into(),
        }
    }

    fn refused(op: Op, message: &str) -> ClusterError {
        ClusterError::Refused {
            op: format!("{op:?}"),
            message: message.into(),
        }
    }

    fn live(&self) -> Live {
        Live::from_specs(self.spus.values().map(|spec| LiveSpu {
            spec: spec.clone().into(),
            status: SpuState::Online,
        }))
    }
}

impl Cluster for Scripted {
    fn identity(&self) -> ClusterId {
        ClusterId::Sc("scripted:9003".into())
    }

    async fn read(&mut self) -> Result<Live, ClusterError> {
        match self.next(Op::Read) {
            None | Some(Fault::Pass) => Ok(self.live()),
            Some(Fault::Refused(m)) => Err(Self::refused(Op::Read, m)),
            Some(_) => Err(Self::lost(Op::Read)),
        }
    }

    async fn fetch(&mut self, name: &str) -> Result<Option<LiveSpu>, ClusterError> {
        match self.next(Op::Fetch) {
            None | Some(Fault::Pass) => Ok(self.spus.get(name).map(|spec| LiveSpu {
                spec: spec.clone().into(),
                status: SpuState::Online,
            })),
            Some(Fault::Refused(m)) => Err(Self::refused(Op::Fetch, m)),
            Some(_) => Err(Self::lost(Op::Fetch)),
        }
    }

    async fn partitions(&mut self) -> Result<Vec<crate::model::LivePartition>, ClusterError> {
        self.log.push(Op::Partitions);
        let read = if self.partitions.len() > 1 {
            self.partitions.pop_front()
        } else {
            self.partitions.front().cloned()
        };
        Ok(read.unwrap_or_default())
    }

    fn updates_in_place(&self) -> bool {
        false
    }

    /// The pre-flight is not scripted: the engine's own steps are what these tests drive.
    async fn may_create(&mut self, _spec: &SpuSpec) -> Result<(), ClusterError> {
        Ok(())
    }

    async fn update(&mut self, spec: &SpuSpec) -> Result<(), ClusterError> {
        Err(Self::refused(
            Op::Create,
            &format!("no update of {}", spec.name),
        ))
    }

    async fn delete(&mut self, spec: &SpuSpec) -> Result<(), ClusterError> {
        let fault = self.next(Op::Delete);
        if let Some(Fault::Lost) = fault {
            return Err(Self::lost(Op::Delete));
        }
        if let Some(Fault::Refused(m)) = fault {
            return Err(Self::refused(Op::Delete, m));
        }
        if self.spus.remove(&spec.name).is_none() {
            return Err(ClusterError::NotFound {
                op: "Delete".into(),
                message: "not found".into(),
            });
        }
        match fault {
            Some(Fault::AnswerLost) => Err(Self::lost(Op::Delete)),
            _ => Ok(()),
        }
    }

    async fn create(&mut self, spec: &SpuSpec) -> Result<(), ClusterError> {
        let fault = self.next(Op::Create);
        if let Some(Fault::Panic) = fault {
            panic!("a bug while creating {}", spec.name);
        }
        if let Some(Fault::Lost) = fault {
            return Err(Self::lost(Op::Create));
        }
        if let Some(Fault::Refused(m)) = fault {
            return Err(Self::refused(Op::Create, m));
        }
        if self.spus.contains_key(&spec.name) || self.spus.values().any(|s| s.id == spec.id) {
            return Err(ClusterError::AlreadyExists {
                op: "Create".into(),
                message: "already defined".into(),
            });
        }
        self.spus.insert(spec.name.clone(), spec.clone());
        match fault {
            Some(Fault::AnswerLost) => Err(Self::lost(Op::Create)),
            _ => Ok(()),
        }
    }

    async fn reconnect(&mut self) -> Result<(), ClusterError> {
        self.log.push(Op::Reconnect);
        Ok(())
    }
}

/// SPU `id` as a local cluster registers it, without a local endpoint.
fn spu(id: i32) -> SpuSpec {
    std::sync::Arc::unwrap_or_clone(crate::plan::tests::spec(id, SpuKind::Custom, None).spec)
}

fn change(live: &SpuSpec) -> Change {
    let local = Some(Endpoint {
        host: format!("h{}.example", live.id),
        port: 9010,
        encryption: Encryption::Plaintext,
    });
    Change {
        id: live.id,
        name: live.name.clone(),
        action: Action::between(&live.local, &local),
        before: live.local.clone(),
        after: local.clone(),
        line: None,
        live_fingerprint: live.fingerprint(),
        live: live.clone().into(),
        partitions: Vec::new(),
    }
}

/// No waiting between attempts: the tests count attempts, not time.
fn policy() -> RetryPolicy {
    RetryPolicy {
        retries: 4,
        backoff: Duration::ZERO,
    }
}

struct Run {
    report: ApplyReport,
    cluster: Scripted,
    journal: Journal,
    _dir: tempfile::TempDir,
}

async fn run(cluster: Scripted, changes: &[Change]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = cluster;
    let mut journal = Journal::open(dir.path(), &cluster.identity()).unwrap();
    let stop = AtomicBool::new(false);
    let report = apply(
        changes,
        &mut cluster,
        &mut journal,
        &policy(),
        &stop,
        &mut |_| {},
        None,
    )
    .await
    .expect("the journal works");
    Run {
        report,
        cluster,
        journal,
        _dir: dir,
    }
}

fn outcome(run: &Run) -> SpuOutcome {
    run.report.results[0].outcome
}

#[tokio::test]
async fn a_clean_replace_is_recheck_delete_create_verify() {
    let old = spu(5001);
    let c = change(&old);
    let run = run(Scripted::with(&[old]), std::slice::from_ref(&c)).await;
    assert_eq!(outcome(&run), SpuOutcome::Applied);
    assert_eq!(
        run.cluster.log,
        vec![Op::Fetch, Op::Delete, Op::Create, Op::Read]
    );
    assert_eq!(run.cluster.spus[&c.name], c.next());
    assert!(run.journal.pending().is_empty());
}

#[tokio::test]
async fn a_lost_delete_is_looked_at_then_sent_again() {
    let old = spu(5001);
    let c = change(&old);
    let cluster = Scripted::with(&[old]).script(Op::Delete, &[Fault::Lost]);
    let run = run(cluster, std::slice::from_ref(&c)).await;
    assert_eq!(outcome(&run), SpuOutcome::Applied);
    assert_eq!(
        run.cluster.log,
        vec![
            Op::Fetch,
            Op::Delete,
            Op::Reconnect,
            Op::Fetch,
            Op::Delete,
            Op::Create,
            Op::Read
        ]
    );
    assert_eq!(run.cluster.spus[&c.name], c.next());
}

#[tokio::test]
async fn a_delete_that_landed_without_an_answer_is_not_sent_again() {
    let old = spu(5001);
    let c = change(&old);
    let cluster = Scripted::with(&[old]).script(Op::Delete, &[Fault::AnswerLost]);
    let run = run(cluster, std::slice::from_ref(&c)).await;
    assert_eq!(outcome(&run), SpuOutcome::Applied);
    assert_eq!(run.cluster.count(Op::Delete), 1);
    assert_eq!(run.cluster.count(Op::Create), 1);
    assert_eq!(run.cluster.spus[&c.name], c.next());
}

#[tokio::test]
async fn a_create_that_landed_without_an_answer_is_found_not_repeated() {
    let old = spu(5001);
    let c = change(&old);
    let cluster = Scripted::with(&[old]).script(Op::Create, &[Fault::AnswerLost]);
    let run = run(cluster, std::slice::from_ref(&c)).await;
    assert_eq!(outcome(&run), SpuOutcome::Applied);
    assert_eq!(
        run.cluster.count(Op::Create),
        1,
        "never created blindly twice"
    );
    assert_eq!(
        run.cluster.log,
        vec![
            Op::Fetch,
            Op::Delete,
            Op::Create,
            Op::Reconnect,
            Op::Fetch,
            Op::Read
        ]
    );
    assert!(run.journal.pending().is_empty());
}

#[tokio::test]
async fn a_create_is_tried_once_and_retried_at_most_4_times() {
    let old = spu(5001);
    let c = change(&old);
    let cluster = Scripted::with(&[old]).script(Op::Create, &[Fault::Lost; 5]);
    let run = run(cluster, std::slice::from_ref(&c)).await;
    assert_eq!(outcome(&run), SpuOutcome::Unresolved);
    // the replace: 5 creates (a look before each retry, one pause = one reconnect each);
    // then the run's own recovery: a look, and one create that succeeds
    let replace: Vec<Op> = run
        .cluster
        .log
        .iter()
        .copied()
        .take(2 + 5 + 4 * 2)
        .collect();
    assert_eq!(replace.iter().filter(|o| **o == Op::Create).count(), 5);
    assert_eq!(replace.iter().filter(|o| **o == Op::Reconnect).count(), 4);
    assert_eq!(run.cluster.count(Op::Create), 6);
    assert_eq!(run.report.recovered.len(), 1);
    assert_eq!(run.report.recovered[0].state, RecoveryState::RestoredNew);
    assert_eq!(run.cluster.spus[&c.name], c.next());
    assert!(run.journal.pending().is_empty());
}

#[tokio::test]
async fn a_delete_lost_every_time_is_unresolved_then_found_at_its_old_spec() {
    let old = spu(5001);
    let c = change(&old);
    let cluster = Scripted::with(std::slice::from_ref(&old)).script(Op::Delete, &[Fault::Lost; 5]);
    let run = run(cluster, &[c]).await;
    assert_eq!(outcome(&run), SpuOutcome::Unresolved);
    assert_eq!(run.cluster.count(Op::Delete), 5, "one try and 4 retries");
    assert_eq!(run.cluster.count(Op::Create), 0);
    assert_eq!(run.report.recovered[0].state, RecoveryState::AtOld);
    assert_eq!(run.cluster.spus[&old.name], old);
    assert!(run.journal.pending().is_empty());
}

#[tokio::test]
async fn a_refused_new_spec_is_rolled_back_to_the_old_one() {
    let old = spu(5001);
    let c = change(&old);
    let cluster = Scripted::with(std::slice::from_ref(&old))
        .script(Op::Create, &[Fault::Refused("bad host")]);
    let run = run(cluster, &[c]).await;
    assert_eq!(outcome(&run), SpuOutcome::RolledBack);
    assert!(
        run.report.results[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("bad host")),
        "{:?}",
        run.report.results[0].reason
    );
    assert_eq!(
        run.cluster.count(Op::Create),
        2,
        "new spec, then the old one"
    );
    assert_eq!(run.cluster.spus[&old.name], old);
    assert!(run.journal.pending().is_empty());
}

#[tokio::test]
async fn a_refused_rollback_is_unresolved_and_recovered_with_the_new_spec() {
    let old = spu(5001);
    let c = change(&old);
    let cluster = Scripted::with(&[old]).script(
        Op::Create,
        &[Fault::Refused("full"), Fault::Refused("full")],
    );
    let run = run(cluster, std::slice::from_ref(&c)).await;
    assert_eq!(outcome(&run), SpuOutcome::Unresolved);
    assert_eq!(run.cluster.count(Op::Create), 3);
    assert_eq!(run.report.recovered[0].state, RecoveryState::RestoredNew);
    assert_eq!(run.cluster.spus[&c.name], c.next());
}

#[tokio::test]
async fn an_spu_that_moved_since_the_plan_is_skipped_untouched() {
    let old = spu(5001);
    let c = change(&old);
    let mut moved = old.clone();
    moved.rack = Some("r2".into());
    let run = run(Scripted::with(std::slice::from_ref(&moved)), &[c]).await;
    assert_eq!(outcome(&run), SpuOutcome::Skipped);
    assert_eq!(
        run.cluster.log,
        vec![Op::Fetch],
        "no write, no verification"
    );
    assert_eq!(run.cluster.spus[&moved.name], moved);
    assert!(run.journal.pending().is_empty());
}

#[test]
fn batches_double_from_one_up_to_the_most_and_end_with_what_is_left() {
    let sizes = |n| batch_sizes(n).collect::<Vec<_>>();
    assert_eq!(sizes(0), Vec::<usize>::new());
    assert_eq!(sizes(1), [1]);
    assert_eq!(sizes(7), [1, 2, 4]);
    assert_eq!(sizes(8), [1, 2, 4, 1]);
    assert_eq!(sizes(130), [1, 2, 4, 8, 16, 32, 64, 3]);
    assert_eq!(MAX_BATCH, 64);
    assert_eq!(sizes(1000).iter().sum::<usize>(), 1000);
    assert!(sizes(1000).iter().all(|&n| n <= MAX_BATCH));
}

#[tokio::test]
async fn an_spu_that_moved_inside_a_batch_ends_its_begin_untouched() {
    // Batches [5001], [5002, 5003]: 5002 moved, so only 5003 of that batch is replaced.
    let specs: Vec<SpuSpec> = (5001..=5003).map(spu).collect();
    let changes: Vec<Change> = specs.iter().map(change).collect();
    let mut now = specs.clone();
    now[1].rack = Some("r2".into());
    let run = run(Scripted::with(&now), &changes).await;
    let outcomes: Vec<SpuOutcome> = run.report.results.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            SpuOutcome::Applied,
            SpuOutcome::Skipped,
            SpuOutcome::Applied
        ]
    );
    assert_eq!(
        run.cluster.log,
        vec![
            Op::Fetch,
            Op::Delete,
            Op::Create,
            Op::Fetch,
            Op::Fetch,
            Op::Delete,
            Op::Create,
            Op::Read
        ]
    );
    assert_eq!(run.cluster.spus[&now[1].name], now[1], "5002 untouched");
    assert!(run.journal.pending().is_empty(), "its begin was ended");
}

#[tokio::test]
async fn an_unresolved_change_halts_the_run_and_touches_no_further_spu() {
    // Batches [5001], [5002, 5003], [5004]; 5002's new spec and its rollback are refused.
    let specs: Vec<SpuSpec> = (5001..=5004).map(spu).collect();
    let changes: Vec<Change> = specs.iter().map(change).collect();
    let cluster = Scripted::with(&specs).script(
        Op::Create,
        &[Fault::Pass, Fault::Refused("full"), Fault::Refused("full")],
    );
    let run = run(cluster, &changes).await;
    let results: Vec<(SpuOutcome, Option<&str>)> = run
        .report
        .results
        .iter()
        .map(|r| (r.outcome, r.reason.as_deref()))
        .collect();
    assert_eq!(results[0], (SpuOutcome::Applied, None));
    assert_eq!(results[1].0, SpuOutcome::Unresolved);
    assert_eq!(results[2..], [(SpuOutcome::Skipped, Some(HALTED)); 2]);
    assert_eq!(
        run.cluster.log,
        vec![
            Op::Fetch,
            Op::Delete,
            Op::Create,
            Op::Fetch,
            Op::Delete,
            Op::Create,
            Op::Create,
            // verification, then the run's own recovery: one read, 5002 re-created
            Op::Read,
            Op::Read,
            Op::Create,
        ],
        "nothing sent for 5003 (begun in 5002's batch) or 5004"
    );
    assert_eq!(run.report.recovered.len(), 1);
    assert_eq!(run.report.recovered[0].state, RecoveryState::RestoredNew);
    assert_eq!(run.cluster.spus[&specs[1].name], changes[1].next());
    assert_eq!(run.cluster.spus[&specs[2].name], specs[2]);
    assert_eq!(run.cluster.spus[&specs[3].name], specs[3]);
    assert!(run.journal.pending().is_empty());
}

#[tokio::test]
async fn an_unreadable_verification_keeps_the_change_in_the_journal() {
    let old = spu(5001);
    let c = change(&old);
    let cluster = Scripted::with(&[old]).script(Op::Read, &[Fault::Lost; 5]);
    let run = run(cluster, std::slice::from_ref(&c)).await;
    assert_eq!(outcome(&run), SpuOutcome::Applied);
    assert_eq!(run.cluster.count(Op::Read), 5, "one read and 4 retries");
    assert!(run
        .report
        .verification_error
        .as_deref()
        .is_some_and(|e| e.starts_with("could not re-read the cluster")));
    assert_eq!(run.journal.pending().len(), 1, "not verified, not ended");

    // `recover` then confirms it at its new spec
    let mut cluster = run.cluster;
    let mut journal = run.journal;
    let recovered = recover(&mut cluster, &mut journal, &policy(), CreateCheck::First)
        .await
        .unwrap();
    assert_eq!(recovered[0].state, RecoveryState::AtNew);
    assert!(journal.pending().is_empty());
}

#[tokio::test]
async fn a_missing_spu_is_re_created_from_the_journal_falling_back_to_the_old_spec() {
    let old = spu(5001);
    let c = change(&old);
    let dir = tempfile::tempdir().unwrap();
    // an apply that died between its delete and its create
    let mut cluster = Scripted::default().script(Op::Create, &[Fault::Refused("bad host")]);
    {
        let mut journal = Journal::open(dir.path(), &cluster.identity()).unwrap();
        journal
            .begin(&cluster.identity(), &c.live, &c.next())
            .unwrap();
    }
    let mut journal = Journal::open(dir.path(), &cluster.identity()).unwrap();
    assert_eq!(journal.pending().len(), 1);
    let recovered = recover(&mut cluster, &mut journal, &policy(), CreateCheck::First)
        .await
        .unwrap();
    assert_eq!(recovered[0].state, RecoveryState::RestoredOld);
    assert_eq!(cluster.count(Op::Create), 2);
    assert_eq!(cluster.spus[&old.name], old);
    assert!(journal.pending().is_empty());
}

// ------------------------------------------------------------------ metadata-dir adapter

/// A copy of the bundled stopped-cluster metadata (three custom SPUs).
fn bundled_copy() -> tempfile::TempDir {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/local-cluster/metadata/SPU");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("SPU")).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join("SPU").join(entry.file_name())).unwrap();
    }
    dir
}

#[tokio::test]
async fn the_metadata_dir_rewrites_one_spec_in_place_and_keeps_every_other_field() {
    let dir = bundled_copy();
    let path = dir.path().canonicalize().unwrap();
    let mut cluster = MetadataDir::open(&path).await.unwrap();
    assert!(cluster.updates_in_place());
    assert_eq!(cluster.identity(), ClusterId::MetadataDir(path.clone()));
    let before = cluster.read().await.unwrap();
    assert_eq!(before.spus.len(), 3);
    let (&id, first) = before.spus.iter().next().unwrap();
    let next = first.spec.with_local(Some(Endpoint {
        host: "h.example".into(),
        port: 1234,
        encryption: Encryption::Ssl,
    }));
    cluster.update(&next).await.unwrap();
    assert_eq!(
        cluster
            .fetch(&next.name)
            .await
            .unwrap()
            .map(|l| (*l.spec).clone()),
        Some(next.clone())
    );
    // what is on disk: a fresh open reads the new spec, the others as they were
    let mut again = MetadataDir::open(&path).await.unwrap();
    let after = again.read().await.unwrap();
    assert_eq!(*after.spus[&id].spec, next);
    for (other, live) in before.spus.iter().filter(|(i, _)| **i != id) {
        assert_eq!(after.spus[other].spec, live.spec);
    }
    assert!(
        !path.join(".fluvio-endpoints-staging").exists(),
        "the staging copy is cleared after the write"
    );
    assert_eq!(
        std::fs::read_dir(path.join("SPU")).unwrap().count(),
        3,
        "no file added or lost"
    );
}

#[tokio::test]
async fn the_metadata_dir_refuses_a_delete_and_a_duplicate_create() {
    let dir = bundled_copy();
    let path = dir.path().canonicalize().unwrap();
    let mut cluster = MetadataDir::open(&path).await.unwrap();
    let live = cluster.read().await.unwrap();
    let spec = live.spus.values().next().unwrap().spec.clone();
    let err = cluster.delete(&spec).await.unwrap_err();
    assert!(matches!(err, ClusterError::Refused { .. }), "{err}");
    let err = cluster.create(&spec).await.unwrap_err();
    assert!(matches!(err, ClusterError::AlreadyExists { .. }), "{err}");
    assert_eq!(cluster.read().await.unwrap(), live, "nothing changed");
}

#[tokio::test]
async fn an_unreadable_metadata_dir_is_a_store_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    match MetadataDir::open(&missing).await {
        Err(ClusterError::Store(message)) => {
            assert!(message.contains("nope"), "{message}")
        }
        Err(other) => panic!("not a store error: {other}"),
        Ok(_) => panic!("a missing dir opened"),
    }
}

// ---------------------------------------------------------------- rolling applies

use super::{segments, Restart, Rolling, Segment, GATE_HALTED};
use crate::hook::HookRun;
use crate::model::{LivePartition, ReplicaOffsets};
use crate::replication::{PartitionRole, ReplicationState, Role};
use std::future::Future;
use std::pin::Pin;

/// A restart that records whom it restarted, and fails for the ids in `fail`.
#[derive(Default)]
struct Restarts {
    calls: Vec<i32>,
    fail: Vec<i32>,
}

impl Restart for Restarts {
    fn restart<'a>(
        &'a mut self,
        spu: &'a SpuSpec,
    ) -> Pin<Box<dyn Future<Output = Result<HookRun, String>> + 'a>> {
        Box::pin(async move {
            self.calls.push(spu.id);
            if self.fail.contains(&spu.id) {
                Err("`restart` exited with status 1".to_string())
            } else {
                Ok(HookRun { ms: 1.0 })
            }
        })
    }
}

/// Partition `name`: replicas `replicas` (the first leads), every replica at `leo`
/// except `lagging` (leader's view), the high watermark at the lowest.
fn partition(name: &str, replicas: &[i32], leo: i64, lagging: Option<(i32, i64)>) -> LivePartition {
    let leo_of = |spu: i32| match lagging {
        Some((s, l)) if s == spu => l,
        _ => leo,
    };
    let hw = replicas.iter().map(|&r| leo_of(r)).min().unwrap_or(leo);
    LivePartition {
        name: name.into(),
        leader: replicas[0],
        replicas: replicas.to_vec(),
        online: true,
        leader_offsets: ReplicaOffsets {
            spu: replicas[0],
            hw,
            leo: leo_of(replicas[0]),
        },
        follower_offsets: replicas[1..]
            .iter()
            .map(|&spu| ReplicaOffsets {
                spu,
                hw,
                leo: leo_of(spu),
            })
            .collect(),
    }
}

/// The changes of `specs`, with their roles in `partitions`.
fn changes_with_roles(specs: &[SpuSpec], partitions: &[LivePartition]) -> Vec<Change> {
    let mut changes: Vec<Change> = specs.iter().map(change).collect();
    let _ = crate::replication::assess_changes(
        &mut changes,
        partitions,
        crate::replication::Route::Rolling,
        crate::replication::StallPolicy::Refuse,
    );
    changes
}

async fn rolling_run(
    cluster: Scripted,
    changes: &[Change],
    planned: &[LivePartition],
    restarts: &mut Restarts,
    gate_timeout: Duration,
) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = cluster;
    let mut journal = Journal::open(dir.path(), &cluster.identity()).unwrap();
    let stop = AtomicBool::new(false);
    let report = apply(
        changes,
        &mut cluster,
        &mut journal,
        &policy(),
        &stop,
        &mut |_| {},
        Some(Rolling {
            restart: restarts,
            planned,
            gate_timeout,
            poll: Duration::from_millis(5),
            settle: Duration::from_millis(10),
        }),
    )
    .await
    .expect("the journal works");
    Run {
        report,
        cluster,
        journal,
        _dir: dir,
    }
}

#[test]
fn only_changes_that_follow_a_replicated_partition_go_alone() {
    let specs: Vec<SpuSpec> = (5001..=5005).map(spu).collect();
    // 5002 follows a-0; 5004 leads b-0 (and follows nothing); the rest hold no replica
    let partitions = [
        partition("a-0", &[5003, 5002], 0, None),
        partition("b-0", &[5004, 5009], 0, None),
    ];
    let mut changes = changes_with_roles(&specs, &partitions);
    // 5003 leads a-0 but follows nothing: batched too
    changes.retain(|c| c.id != 5003);
    let shape: Vec<String> = segments(&changes, true)
        .iter()
        .map(|s| match s {
            Segment::Batched(run) => {
                format!("batch {:?}", run.iter().map(|c| c.id).collect::<Vec<_>>())
            }
            Segment::Healed(c) => format!("alone {}", c.id),
        })
        .collect();
    assert_eq!(shape, ["batch [5001]", "alone 5002", "batch [5004, 5005]"]);
    assert_eq!(
        segments(&changes, false).len(),
        1,
        "without a restart command: one run of batches"
    );
}

#[tokio::test]
async fn a_rolling_apply_restarts_each_follower_after_its_replace_and_gates_it() {
    let specs: Vec<SpuSpec> = (5001..=5003).map(spu).collect();
    let planned = [
        partition("a-0", &[5001, 5002, 5003], 100, None),
        partition("a-1", &[5002, 5003, 5001], 100, None),
    ];
    let changes = changes_with_roles(&specs, &planned);
    let mut cluster = Scripted::with(&specs);
    // each SPU's gate first sees its partitions lagging, then caught up
    for _ in 0..3 {
        cluster.partitions.push_back(vec![
            partition("a-0", &[5001, 5002, 5003], 120, Some((5003, 100))),
            planned[1].clone(),
        ]);
        cluster.partitions.push_back(vec![
            partition("a-0", &[5001, 5002, 5003], 120, None),
            planned[1].clone(),
        ]);
    }
    let mut restarts = Restarts::default();
    let run = rolling_run(
        cluster,
        &changes,
        &planned,
        &mut restarts,
        Duration::from_secs(30),
    )
    .await;
    assert!(run.report.all_applied(), "{:?}", run.report);
    assert_eq!(
        restarts.calls,
        [5001, 5002, 5003],
        "every SPU follows a replicated partition: each is restarted, in plan order"
    );
    for r in &run.report.results {
        let d = r.data_plane.as_ref().expect("a data plane for each");
        assert!(d.at_risk && d.proven(), "{d:?}");
        assert!(d.restart.is_some() && d.gate_ms.is_some());
        assert_eq!(d.partitions.len(), 2);
        assert!(d
            .partitions
            .iter()
            .all(|p| p.state == ReplicationState::CaughtUp));
    }
    assert_eq!(run.report.data_plane_failure, None);
    assert_eq!(
        crate::report::DataPlane::of(&run.report),
        crate::report::DataPlane::Proven
    );
    // one SPU at a time: its re-check and replace, a re-read proving it, the restart,
    // then the gate's reads (the SPU's status and the partitions; twice here: lagging,
    // then caught up), all before the next SPU's first request; one read to verify at
    // the end
    let one_spu = [
        Op::Fetch,
        Op::Delete,
        Op::Create,
        Op::Fetch,
        Op::Fetch,
        Op::Partitions,
        Op::Fetch,
        Op::Partitions,
    ];
    let expected: Vec<Op> = one_spu
        .iter()
        .chain(&one_spu)
        .chain(&one_spu)
        .copied()
        .chain([Op::Read])
        .collect();
    assert_eq!(run.cluster.log, expected);
    assert!(run.journal.pending().is_empty());
}

#[tokio::test]
async fn a_restart_that_fails_halts_the_run_with_the_spu_named() {
    let specs: Vec<SpuSpec> = (5001..=5003).map(spu).collect();
    let planned = [partition("a-0", &[5003, 5001, 5002], 10, None)];
    let changes = changes_with_roles(&specs, &planned);
    let mut cluster = Scripted::with(&specs);
    cluster.partitions.push_back(planned.to_vec());
    let mut restarts = Restarts {
        fail: vec![5001],
        ..Restarts::default()
    };
    let run = rolling_run(
        cluster,
        &changes,
        &planned,
        &mut restarts,
        Duration::from_secs(30),
    )
    .await;
    let results = &run.report.results;
    assert_eq!(
        results[0].outcome,
        SpuOutcome::Applied,
        "the change itself stands"
    );
    let d = results[0].data_plane.as_ref().unwrap();
    assert!(d.at_risk && !d.proven());
    assert!(
        d.note.as_deref().unwrap().contains("restart failed"),
        "{d:?}"
    );
    assert!(d
        .partitions
        .iter()
        .all(|p| p.state == ReplicationState::NotChecked));
    // nothing further touched: 5002 (follows) and 5003 (leads) are not started
    for r in &results[1..] {
        assert_eq!(r.outcome, SpuOutcome::Skipped);
        assert_eq!(r.reason.as_deref(), Some(GATE_HALTED));
    }
    assert_eq!(run.cluster.count(Op::Delete), 1);
    assert_eq!(restarts.calls.len(), 1);
    let failure = run.report.data_plane_failure.as_deref().unwrap();
    assert!(
        failure.starts_with("SPU 5001 (custom-spu-5001): "),
        "{failure}"
    );
    assert_eq!(
        crate::report::DataPlane::of(&run.report),
        crate::report::DataPlane::NotProven
    );
    assert!(
        run.journal.pending().is_empty(),
        "journal semantics unchanged: the change verified"
    );
}

#[tokio::test]
async fn a_gate_that_times_out_halts_the_run_with_the_lag() {
    let specs: Vec<SpuSpec> = (5001..=5002).map(spu).collect();
    let planned = [partition("a-0", &[5002, 5001], 10, None)];
    let changes = changes_with_roles(&specs, &planned);
    let mut cluster = Scripted::with(&specs);
    // 5001 never catches up after its restart
    cluster
        .partitions
        .push_back(vec![partition("a-0", &[5002, 5001], 50, Some((5001, 10)))]);
    let mut restarts = Restarts::default();
    let run = rolling_run(
        cluster,
        &changes,
        &planned,
        &mut restarts,
        Duration::from_millis(60),
    )
    .await;
    let d = run.report.results[0].data_plane.as_ref().unwrap();
    assert_eq!(d.partitions[0].state, ReplicationState::Lagging);
    assert_eq!(d.partitions[0].lag, Some(40));
    assert_eq!(d.partitions[0].role, Role::Follower);
    assert!(d.note.as_deref().unwrap().contains("timed out"), "{d:?}");
    // 5002 only leads: it would not need a restart, but the run halted before it
    assert_eq!(run.report.results[1].outcome, SpuOutcome::Skipped);
    assert!(run.report.data_plane_failure.is_some());
}

#[tokio::test]
async fn a_gate_that_times_out_halts_even_when_its_last_read_looked_caught_up() {
    let specs: Vec<SpuSpec> = (5001..=5002).map(spu).collect();
    let planned = [partition("a-0", &[5002, 5001], 10, None)];
    let changes = changes_with_roles(&specs, &planned);
    // an idle partition, caught up in every read: but the gate's one read is the one that
    // began it (its timeout is shorter than the settle), which proves nothing
    let mut restarts = Restarts::default();
    let run = rolling_run(
        Scripted::with(&specs),
        &changes,
        &planned,
        &mut restarts,
        Duration::from_millis(8),
    )
    .await;
    let d = run.report.results[0].data_plane.as_ref().unwrap();
    assert!(d.note.as_deref().unwrap().contains("timed out"), "{d:?}");
    assert!(!d.proven(), "{d:?}");
    assert!(run.report.data_plane_failure.is_some());
    assert_eq!(run.report.results[1].outcome, SpuOutcome::Skipped);
}

#[tokio::test]
async fn without_a_restart_the_report_says_which_changes_left_partitions_at_risk() {
    let specs: Vec<SpuSpec> = (5001..=5002).map(spu).collect();
    let planned = [partition("a-0", &[5002, 5001], 10, None)];
    let changes = changes_with_roles(&specs, &planned);
    let run = run(Scripted::with(&specs), &changes).await;
    assert!(run.report.all_applied());
    let follower = run.report.results[0].data_plane.as_ref().unwrap();
    assert!(follower.at_risk, "5001 follows a-0 and was re-registered");
    let leader = run.report.results[1].data_plane.as_ref().unwrap();
    assert!(!leader.at_risk, "5002 only leads");
    assert_eq!(
        crate::report::DataPlane::of(&run.report),
        crate::report::DataPlane::NotProven
    );
    let roles: Vec<_> = changes.iter().map(|c| c.partitions.clone()).collect();
    assert_eq!(
        roles[0],
        [PartitionRole {
            partition: "a-0".into(),
            role: Role::Follower,
            replicas: 2
        }]
    );
}

#[test]
fn recovery_states_are_named_as_in_json() {
    for state in [
        RecoveryState::AtNew,
        RecoveryState::AtOld,
        RecoveryState::Other,
        RecoveryState::RestoredNew,
        RecoveryState::RestoredOld,
        RecoveryState::Unresolved,
    ] {
        assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
    }
}

#[tokio::test]
async fn a_panic_between_delete_and_create_leaves_the_change_in_flight_in_the_journal() {
    use futures_util::FutureExt;
    let old = spu(5001);
    let c = change(&old);
    let dir = tempfile::tempdir().unwrap();
    let mut cluster =
        Scripted::with(std::slice::from_ref(&old)).script(Op::Create, &[Fault::Panic]);
    let mut journal = Journal::open(dir.path(), &cluster.identity()).unwrap();
    let stop = AtomicBool::new(false);
    let retry = policy();
    let mut progress = |_: &_| {};
    let applying = apply(
        std::slice::from_ref(&c),
        &mut cluster,
        &mut journal,
        &retry,
        &stop,
        &mut progress,
        None,
    );
    // as the binary's top level catches it (and exits 70)
    let caught = std::panic::AssertUnwindSafe(applying).catch_unwind().await;
    assert!(caught.is_err(), "the create panicked");
    assert_eq!(cluster.count(Op::Delete), 1);
    assert!(
        cluster.spus.is_empty(),
        "the SPU is deleted, not re-created"
    );
    drop(journal);
    // what the next run finds on disk: the change in flight, with both specs
    let path = Journal::path_for(dir.path(), &cluster.identity());
    let (pending, _) = crate::journal::read_pending(&path).unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].old, old);
    assert_eq!(pending[0].new, c.next());
    // and recovery re-creates it at the new spec
    let mut journal = Journal::open(dir.path(), &cluster.identity()).unwrap();
    let recovered = recover(&mut cluster, &mut journal, &policy(), CreateCheck::First)
        .await
        .unwrap();
    assert_eq!(recovered.len(), 1);
    assert_eq!(cluster.spus.get(&old.name), Some(&c.next()));
    assert!(journal.pending().is_empty());
}
