//! `apply(&[Change], &mut impl Cluster)`: the only writer.
//!
//! Every change is a replace. On a running SC that is delete + create of the same name and
//! id with every other field copied from the live spec, because the SC has no in-place
//! update. The order of each replace is chosen so that no failure can lose an SPU:
//!
//! 1. journal `begin` (old + new spec, fsynced) before anything is written;
//! 2. re-read the SPU; skip it (and end its `begin`) if it moved since the plan (someone
//!    else changed it);
//! 3. delete; on a dropped connection, look before retrying;
//! 4. create the new spec (built before the delete: nothing else runs in between);
//!    on a dropped connection, look before retrying, never create blindly twice;
//!    if the SC refuses the new spec, re-create the old one (rollback);
//! 5. after all changes, re-read the cluster and verify every SPU field by field; only then
//!    journal `end` for the applied ones (a change that ended otherwise was ended when it
//!    did). Anything left unresolved stays in the journal for `recover`, which the run
//!    itself tries at once.
//!
//! A change left unresolved (the SC stopped answering between a delete and its create, or
//! refused both the new spec and the old one) halts the run: no further SPU is touched,
//! each is reported "not started: an earlier change was left unresolved", and the run goes
//! on to verify and recover. Going on to delete more SPUs while the SC fails could only
//! leave more of them missing.
//!
//! ## Batches: one fsync for many `begin`s
//!
//! With the SC answering in about a millisecond, an fsync per `begin` and per `end` would
//! cost more than the replace itself. So the `begin` lines are group-committed: changes go
//! in batches, and the `begin` lines of a whole batch are written with one write and made
//! durable with one fsync (`Journal::begin_batch`) before the batch's first request. Then
//! each SPU of the batch goes through steps 2 to 4 in plan order, exactly as without
//! batches: its own re-read right before its own delete, the delete and the create back to
//! back on the one connection. `end` lines are written at once but not fsynced on their own
//! (see `journal.rs`: a lost `end` only makes recovery re-check an SPU that is at its old or
//! new spec), except the `end` of a change that found its SPU gone or moved, which is made
//! durable at once (`Journal::end_durably`): lost, it would let recovery re-create an SPU
//! that someone deleted. At the end of the run `Journal::compact` syncs every line before
//! it removes the file.
//!
//! Batches are 1, 2, 4, ... changes, up to [`MAX_BATCH`] ([`batch_sizes`]): the first
//! change is a canary (if it is left unresolved the run halts, as above, with one SPU
//! journaled, not 64), and a short apply journals much as an unbatched one did. The batch
//! sizes depend only on the number of changes, never on time, so a run sends the same
//! requests in the same order whatever the machine's speed: per SPU one re-read, one
//! delete, one create, as before batching.
//!
//! Ctrl-C (`stop`) is checked before each SPU, never inside a replace: the SPU in flight is
//! finished; an SPU of the batch whose `begin` is written but which was not started is ended
//! `skipped` and reported "interrupted before this SPU", like the SPUs of later batches,
//! which get no `begin` at all.
//!
//! What a crash leaves, at each point of a batch (recovery is [`recover`], run by the next
//! `apply` first, or by `fluvio-endpoints recover`):
//! - while the batch's `begin` lines are written, before their fsync: no request of the
//!   batch was sent; whatever part of the lines survives names SPUs still at their old spec
//!   (`at_old`, ended without a write), and a torn last line is ignored;
//! - after the fsync, part-way through the batch: every SPU of the batch is pending.
//!   Recovery finds the replaced ones `at_new`, the one caught between its delete and its
//!   create missing (re-created with its new spec, as without batches), those not started
//!   yet `at_old` (unless someone else changed them meanwhile: `other`, left alone; or
//!   deleted them: see below). No SPU can be missing without its `begin` on disk;
//! - after the last replace, during verification, or with an `end` that a machine crash
//!   lost: the SPU is pending and found at its new (or old) spec; recovery ends it without
//!   a write.
//!
//! The one thing batching widens: an SPU that someone else deletes on purpose after its
//! `begin` is durable and before this run reaches it, in a run that then dies before it
//! reaches it, is re-created by recovery (with its new spec), because recovery cannot tell
//! that delete from ours. Without batches that window was one round trip; now it is at most
//! one batch ([`MAX_BATCH`] replaces). Recovery errs on the side of never losing an SPU.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cluster::{Cluster, ClusterError};
use crate::error::Result;
use crate::journal::{EndOutcome, Journal, Pending};
use crate::model::{ClusterId, Endpoint, LivePartition, SpuId, SpuSpec, SpuState};
use crate::plan::{Action, Change};
use crate::replication::{all_caught_up, follows_any, Gate, PartitionCheck};

/// The most changes whose `begin` lines share one fsync.
pub const MAX_BATCH: usize = 64;

/// The report's reason for a change not started because of Ctrl-C.
const INTERRUPTED: &str = "interrupted before this SPU";
/// The report's reason for a change not started because an earlier one was left
/// unresolved.
pub(crate) const HALTED: &str = "not started: an earlier change was left unresolved";
/// The report's reason for a change not started because an earlier SPU's restart or
/// replication gate failed.
pub(crate) const GATE_HALTED: &str =
    "not started: an earlier SPU's restart or replication gate failed";

/// The sizes of the batches `n` changes go in: 1, 2, 4, ... up to [`MAX_BATCH`], the last
/// one what is left.
pub fn batch_sizes(n: usize) -> impl Iterator<Item = usize> {
    let mut left = n;
    let mut size = 1;
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let this = size.min(left);
        left -= this;
        size = (size * 2).min(MAX_BATCH);
        Some(this)
    })
}

/// How often, and after what pause, a request that failed transiently is retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts after the first, for one request.
    pub retries: u32,
    /// First pause between attempts; doubles each time.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 4,
            backoff: Duration::from_millis(100),
        }
    }
}

/// How one SPU's change ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "Outcome")]
pub enum SpuOutcome {
    /// Replaced and verified.
    Applied,
    /// Not touched (it moved since the plan, or the run was stopped first).
    Skipped,
    /// The new spec was refused; the old spec was put back.
    RolledBack,
    /// The change failed; the SPU exists with its old spec.
    Failed,
    /// The outcome is unknown (the SC stopped answering mid-replace); the journal keeps it
    /// for `recover`.
    Unresolved,
}

impl SpuOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            SpuOutcome::Applied => "applied",
            SpuOutcome::Skipped => "skipped",
            SpuOutcome::RolledBack => "rolled back",
            SpuOutcome::Failed => "failed",
            SpuOutcome::Unresolved => "unresolved",
        }
    }
}

/// The report line for one SPU.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct SpuResult {
    pub id: SpuId,
    pub name: String,
    pub action: Action,
    pub before: Option<Endpoint>,
    pub after: Option<Endpoint>,
    pub outcome: SpuOutcome,
    /// Why, for anything but `applied`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Delete acknowledged -> create acknowledged, in milliseconds (replace on an SC only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable_ms: Option<f64>,
    /// The replicated partitions this SPU holds a replica of, and what the run did and saw
    /// of them (absent when it holds none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_plane: Option<DataPlaneResult>,
    #[serde(skip)]
    seq: Option<u64>,
}

/// One changed SPU's data plane: its restart (a rolling apply), its gate, and each of its
/// replicated partitions as last seen.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct DataPlaneResult {
    /// The change put these partitions at risk: the SPU follows at least one and was
    /// re-registered on a running SC, which stalls them until its process restarts.
    pub at_risk: bool,
    /// The restart command's run, when one ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<crate::hook::HookRun>,
    /// How long the gate waited for the partitions to commit, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate_ms: Option<f64>,
    pub partitions: Vec<PartitionCheck>,
    /// Why the partitions were not checked, or what failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl DataPlaneResult {
    /// Partitions the run does not gate, and why.
    pub fn unchecked(change: &Change, at_risk: bool, note: String) -> Option<Self> {
        (!change.partitions.is_empty()).then(|| DataPlaneResult {
            at_risk,
            restart: None,
            gate_ms: None,
            partitions: change
                .partitions
                .iter()
                .map(PartitionCheck::not_checked)
                .collect(),
            note: Some(note),
        })
    }

    /// True when the gate passed: it says nothing went wrong (a gate that timed out, or
    /// was interrupted, says why in its note even when its last read looked caught up),
    /// and every partition was gated and found caught up.
    pub fn proven(&self) -> bool {
        self.note.is_none() && !self.partitions.is_empty() && all_caught_up(&self.partitions)
    }
}

impl SpuResult {
    /// This result, ended with `outcome` for `reason`.
    fn ended(mut self, outcome: SpuOutcome, reason: String) -> Self {
        self.outcome = outcome;
        self.reason = Some(reason);
        self
    }

    /// A change not (yet) carried out.
    fn skipped(change: &Change, reason: Option<String>) -> Self {
        SpuResult {
            id: change.id,
            name: change.name.clone(),
            action: change.action,
            before: change.before.clone(),
            after: change.after.clone(),
            outcome: SpuOutcome::Skipped,
            reason,
            unavailable_ms: None,
            data_plane: None,
            seq: None,
        }
    }
}

/// What recovery found for one interrupted change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryState {
    /// The SPU exists with the new spec: the change had completed.
    AtNew,
    /// The SPU exists with the old spec: the change had not started.
    AtOld,
    /// The SPU exists with a spec someone else wrote since; left alone.
    Other,
    /// The SPU was missing and was re-created with the new spec.
    RestoredNew,
    /// The SPU was missing, the new spec was refused, and the old one was re-created.
    RestoredOld,
    /// Could not be resolved now (e.g. SC unreachable); still in the journal.
    Unresolved,
}

impl RecoveryState {
    /// As in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryState::AtNew => "at_new",
            RecoveryState::AtOld => "at_old",
            RecoveryState::Other => "other",
            RecoveryState::RestoredNew => "restored_new",
            RecoveryState::RestoredOld => "restored_old",
            RecoveryState::Unresolved => "unresolved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Recovered {
    pub id: SpuId,
    pub name: String,
    pub state: RecoveryState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Everything `apply` did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ApplyReport {
    /// Changes an earlier, interrupted apply left open, resolved before this run planned.
    pub recovered_first: Vec<Recovered>,
    /// Changes of this run left unresolved, and what recovering them at once found.
    pub recovered: Vec<Recovered>,
    pub results: Vec<SpuResult>,
    /// Set when the final re-read itself failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_error: Option<String>,
    /// Set when an SPU's restart or replication gate failed and halted the run: which SPU,
    /// and what failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_plane_failure: Option<String>,
    /// The SC-offline route's stop and start (absent on other routes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline: Option<OfflineRun>,
}

/// What the SC-offline route did.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct OfflineRun {
    /// The metadata directory changed.
    pub metadata_dir: String,
    /// From the stop command until the SC no longer served the directory, in milliseconds.
    pub stop_ms: f64,
    /// From the start command until the SC answered again, in milliseconds.
    pub start_ms: f64,
    /// From the stop command to the SC answering again: how long the control plane was
    /// down (its SPUs kept serving), in milliseconds.
    pub sc_outage_ms: f64,
    /// Metadata files the stop left torn (the SC was killed while writing them), put back
    /// as they were read right before the stop.
    pub restored: Vec<String>,
}

impl ApplyReport {
    pub fn count(&self, outcome: SpuOutcome) -> usize {
        self.results.iter().filter(|r| r.outcome == outcome).count()
    }

    pub fn all_applied(&self) -> bool {
        self.verification_error.is_none()
            && self
                .results
                .iter()
                .all(|r| r.outcome == SpuOutcome::Applied)
    }

    /// Changes still open in the journal. An apply with unresolved results recovers them
    /// at once; what that recovery could not resolve is what remains.
    pub fn unresolved(&self) -> usize {
        if self.recovered.is_empty() {
            self.count(SpuOutcome::Unresolved)
        } else {
            self.recovered
                .iter()
                .filter(|r| r.state == RecoveryState::Unresolved)
                .count()
        }
    }
}

enum CreateOutcome {
    /// Our create was acknowledged.
    Created,
    /// After a failure, the SPU was found with this spec.
    Found(SpuSpec),
    /// The SC refused the spec.
    Refused(ClusterError),
    /// Retries ran out without knowing.
    Unknown(ClusterError),
}

/// Where creating a new spec, else restoring the old one, left an SPU: the one
/// create-or-roll-back of a replace's last step and of recovery.
enum Landing {
    /// The new spec is there (ours, or found as we would have written it).
    New,
    /// Someone else's spec is there instead of the new one.
    Moved(SpuSpec),
    /// The create of the new spec did not complete: it may still land.
    Unknown(ClusterError),
    /// The SC refused the new spec; then the old one was created again, or not.
    RolledBack {
        refused: ClusterError,
        rollback: Rollback,
    },
}

/// What restoring the old spec came to.
enum Rollback {
    /// The old spec is there again.
    Old,
    /// Someone else's spec is there instead of the old one.
    Moved(SpuSpec),
    /// Restoring failed (refused, or did not complete).
    Failed(ClusterError),
}

struct Engine<'a, T: Cluster> {
    cluster: &'a mut T,
    journal: &'a mut Journal,
    options: &'a RetryPolicy,
    identity: ClusterId,
    /// Why no further SPU is touched, once a change was left unresolved (see the module
    /// comment) or an SPU's restart or gate failed.
    halted: Option<&'static str>,
    /// The SPU whose restart or gate failed, and what failed.
    gate_failure: Option<String>,
}

impl<T: Cluster> Engine<'_, T> {
    async fn pause(&mut self, attempt: u32) {
        let factor = 1u32 << attempt.min(6);
        tokio::time::sleep(self.options.backoff * factor).await;
        // A failed reconnect is retried by the next attempt's request.
        let _ = self.cluster.reconnect().await;
    }

    /// The one retry loop: runs `op` (given the attempt's number) until it ends; a
    /// transient failure it returns as `Err` is retried after a pause while retries
    /// remain, and otherwise ends the loop through `give_up`. An `op` that can tell
    /// whether an earlier, unanswered attempt landed looks first when `attempt > 0`.
    async fn retried<R>(
        &mut self,
        mut op: impl AsyncFnMut(&mut Self, u32) -> Result<R, ClusterError>,
        give_up: impl FnOnce(ClusterError) -> R,
    ) -> R {
        let mut attempt = 0;
        loop {
            match op(self, attempt).await {
                Ok(done) => return done,
                Err(_) if attempt < self.options.retries => {
                    self.pause(attempt).await;
                    attempt += 1;
                }
                Err(e) => return give_up(e),
            }
        }
    }

    async fn fetch(&mut self, name: &str) -> Result<Option<SpuSpec>, ClusterError> {
        self.retried(
            async |engine: &mut Self, _| match engine.cluster.fetch(name).await {
                Ok(found) => Ok(Ok(found.map(|l| std::sync::Arc::unwrap_or_clone(l.spec)))),
                Err(e) if e.is_transient() => Err(e),
                Err(e) => Ok(Err(e)),
            },
            Err,
        )
        .await
    }

    /// Reads the whole cluster, retrying transient failures like `fetch`.
    async fn read(&mut self) -> Result<crate::model::Live, ClusterError> {
        self.retried(
            async |engine: &mut Self, _| match engine.cluster.read().await {
                Ok(live) => Ok(Ok(live)),
                Err(e) if e.is_transient() => Err(e),
                Err(e) => Ok(Err(e)),
            },
            Err,
        )
        .await
    }

    /// Creates `spec`, looking before any retry so a create that landed is not repeated.
    async fn create(&mut self, spec: &SpuSpec) -> CreateOutcome {
        self.retried(
            async |engine: &mut Self, attempt| {
                if attempt > 0 {
                    if let Ok(Some(found)) = engine.fetch(&spec.name).await {
                        return Ok(CreateOutcome::Found(found));
                    }
                }
                match engine.cluster.create(spec).await {
                    Ok(()) => Ok(CreateOutcome::Created),
                    Err(e @ ClusterError::AlreadyExists { .. }) => {
                        Ok(match engine.fetch(&spec.name).await {
                            Ok(Some(found)) => CreateOutcome::Found(found),
                            // The id belongs to an SPU of another name.
                            Ok(None) => CreateOutcome::Refused(e),
                            Err(fetch_err) => CreateOutcome::Unknown(fetch_err),
                        })
                    }
                    Err(e) if e.is_transient() => Err(e),
                    Err(e) => Ok(CreateOutcome::Refused(e)),
                }
            },
            CreateOutcome::Unknown,
        )
        .await
    }

    /// Deletes `spec`. `Ok(true)`: it is gone. `Ok(false)`: it was not ours to delete
    /// (gone or changed before we touched it).
    async fn delete(&mut self, spec: &SpuSpec) -> Result<bool, ClusterError> {
        self.retried(
            async |engine: &mut Self, attempt| {
                if attempt > 0 {
                    match engine.fetch(&spec.name).await {
                        Ok(None) => return Ok(Ok(true)),
                        Ok(Some(found)) if found == *spec => {}
                        Ok(Some(_)) => return Ok(Ok(false)),
                        Err(_) => {}
                    }
                }
                match engine.cluster.delete(spec).await {
                    Ok(()) => Ok(Ok(true)),
                    // A retry finding it gone means our earlier attempt landed.
                    Err(ClusterError::NotFound { .. }) => Ok(Ok(attempt > 0)),
                    Err(e) if e.is_transient() => Err(e),
                    Err(e) => Ok(Err(e)),
                }
            },
            Err,
        )
        .await
    }

    /// Creates `new`; when the SC refuses it, creates `old` again.
    async fn create_or_restore(&mut self, new: &SpuSpec, old: &SpuSpec) -> Landing {
        let refused = match self.create(new).await {
            CreateOutcome::Created => return Landing::New,
            CreateOutcome::Found(found) if found == *new => return Landing::New,
            CreateOutcome::Found(found) => return Landing::Moved(found),
            CreateOutcome::Unknown(e) => return Landing::Unknown(e),
            CreateOutcome::Refused(e) => e,
        };
        let rollback = match self.create(old).await {
            CreateOutcome::Created => Rollback::Old,
            CreateOutcome::Found(found) if found == *old => Rollback::Old,
            CreateOutcome::Found(found) => Rollback::Moved(found),
            CreateOutcome::Refused(e) | CreateOutcome::Unknown(e) => Rollback::Failed(e),
        };
        Landing::RolledBack { refused, rollback }
    }

    async fn batch(
        &mut self,
        batch: &[Change],
        stop: &AtomicBool,
        emit: &mut dyn FnMut(SpuResult),
    ) -> Result<()> {
        // 1. Durable intent for the whole batch before its first request.
        let nexts: Vec<SpuSpec> = batch.iter().map(Change::next).collect();
        let begun: Vec<(&SpuSpec, &SpuSpec)> = batch.iter().map(|c| &*c.live).zip(&nexts).collect();
        let seqs = self.journal.begin_batch(&self.identity, &begun)?;
        for (change, seq) in batch.iter().zip(seqs) {
            let result = match self.not_started(stop) {
                Some(reason) => {
                    // Begun but never started: nothing was written for it.
                    self.journal.end(seq, EndOutcome::Skipped)?;
                    SpuResult::skipped(change, Some(reason.into()))
                }
                None => self.change(change, seq).await?,
            };
            if result.outcome == SpuOutcome::Unresolved {
                self.halted = Some(HALTED);
            }
            emit(result);
        }
        Ok(())
    }

    /// Why the next change is not to be started, if it is not: Ctrl-C, or an earlier
    /// change left unresolved.
    fn not_started(&self, stop: &AtomicBool) -> Option<&'static str> {
        if stop.load(Ordering::SeqCst) {
            Some(INTERRUPTED)
        } else {
            self.halted
        }
    }

    /// One replace, steps 2 to 4, of a change begun as `seq`; step 5 (verification) runs
    /// after all of them.
    async fn change(&mut self, change: &Change, seq: u64) -> Result<SpuResult> {
        let result = SpuResult::skipped(change, None);
        // 2. The SPU must still be exactly what the plan saw.
        let result = match self.recheck(change, result).await {
            Step::Next(result) => result,
            Step::Done(result) => {
                // Nothing was written for it: its `begin` ends here, durably (it may have
                // found the SPU gone: see the module comment).
                self.journal.end_durably(seq, EndOutcome::Skipped)?;
                return Ok(result);
            }
        };
        let result = SpuResult {
            seq: Some(seq),
            ..result
        };
        if self.cluster.updates_in_place() {
            return self.rewrite(change, result, seq).await;
        }
        // 3. Delete.
        let result = match self.delete_step(change, result, seq).await? {
            Step::Next(result) => result,
            Step::Done(result) => return Ok(result),
        };
        // 4. Create the new spec; roll back to the old one if it is refused.
        self.create_step(change, result, seq, Instant::now()).await
    }

    /// Step 2: re-reads the SPU; anything but the planned live spec ends the change here.
    async fn recheck(&mut self, change: &Change, result: SpuResult) -> Step {
        match self.fetch(&change.name).await {
            Err(e) => {
                Step::Done(result.ended(SpuOutcome::Skipped, format!("could not re-read it: {e}")))
            }
            Ok(None) => Step::Done(result.ended(SpuOutcome::Skipped, "it no longer exists".into())),
            Ok(Some(now)) if now == change.next() => {
                Step::Done(result.ended(SpuOutcome::Applied, "already as declared".into()))
            }
            Ok(Some(now)) if now != *change.live => {
                Step::Done(result.ended(SpuOutcome::Skipped, moved(&change.live, &now)))
            }
            Ok(Some(_)) => Step::Next(result),
        }
    }

    /// A cluster that rewrites a spec in place: one write, no unavailability.
    async fn rewrite(
        &mut self,
        change: &Change,
        mut result: SpuResult,
        seq: u64,
    ) -> Result<SpuResult> {
        match self.cluster.update(&change.next()).await {
            Ok(()) => {
                result.outcome = SpuOutcome::Applied;
                Ok(result)
            }
            Err(e) => {
                // Safe to end only if the old spec is intact on disk.
                if let Ok(Some(found)) = self.fetch(&change.name).await {
                    if found == *change.live {
                        self.journal.end(seq, EndOutcome::Failed)?;
                        return Ok(result.ended(SpuOutcome::Failed, e.to_string()));
                    }
                }
                Ok(result.ended(SpuOutcome::Unresolved, e.to_string()))
            }
        }
    }

    /// Step 3: deletes the live spec. `Next` once it is gone; `Done` when the change ends
    /// here (not ours to delete, refused, or not known to have landed).
    async fn delete_step(&mut self, change: &Change, result: SpuResult, seq: u64) -> Result<Step> {
        let err = match self.delete(&change.live).await {
            Ok(true) => return Ok(Step::Next(result)),
            Ok(false) => {
                // Gone or changed before we touched it: durably, as in `change`.
                self.journal.end_durably(seq, EndOutcome::Skipped)?;
                return Ok(Step::Done(result.ended(
                    SpuOutcome::Skipped,
                    "someone else deleted or changed it just before the change".into(),
                )));
            }
            Err(e) => e,
        };
        let reason = if err.is_transient() {
            format!("delete did not complete: {err}")
        } else {
            format!("delete failed: {err}")
        };
        // An unanswered delete may still land later: only a refusal ends the entry, and
        // only when the old spec is still there.
        if !err.is_transient() {
            if let Ok(Some(found)) = self.fetch(&change.name).await {
                if found == *change.live {
                    self.journal.end(seq, EndOutcome::Failed)?;
                    return Ok(Step::Done(result.ended(SpuOutcome::Failed, reason)));
                }
            }
        }
        Ok(Step::Done(result.ended(SpuOutcome::Unresolved, reason)))
    }

    /// Step 4: creates the new spec after the delete at `deleted_at`.
    async fn create_step(
        &mut self,
        change: &Change,
        mut result: SpuResult,
        seq: u64,
        deleted_at: Instant,
    ) -> Result<SpuResult> {
        let window = || Some(deleted_at.elapsed().as_secs_f64() * 1000.0);
        let next = change.next();
        match self.create_or_restore(&next, &change.live).await {
            Landing::New => {
                result.unavailable_ms = window();
                result.outcome = SpuOutcome::Applied;
                Ok(result)
            }
            Landing::Moved(other) => {
                self.journal.end(seq, EndOutcome::Conflict)?;
                Ok(result.ended(
                    SpuOutcome::Skipped,
                    format!(
                        "someone else re-created it during the change: {}",
                        moved(&next, &other)
                    ),
                ))
            }
            Landing::Unknown(e) => Ok(result.ended(
                SpuOutcome::Unresolved,
                format!("create did not complete: {e}"),
            )),
            Landing::RolledBack { refused, rollback } => {
                result.unavailable_ms = window();
                self.rolled_back(change, result, seq, refused, rollback)
            }
        }
    }

    /// What a rollback to the old spec, after the new one was refused, came to.
    fn rolled_back(
        &mut self,
        change: &Change,
        result: SpuResult,
        seq: u64,
        create_err: ClusterError,
        rollback: Rollback,
    ) -> Result<SpuResult> {
        let note = match rollback {
            Rollback::Old => "the old spec was restored".to_string(),
            Rollback::Moved(found) => format!(
                "it now exists as someone else wrote it ({})",
                moved(&change.live, &found)
            ),
            Rollback::Failed(e) => {
                return Ok(result.ended(
                    SpuOutcome::Unresolved,
                    format!("{create_err}; restoring the old spec also failed: {e}"),
                ))
            }
        };
        self.journal.end(seq, EndOutcome::RolledBack)?;
        Ok(result.ended(SpuOutcome::RolledBack, format!("{create_err}; {note}")))
    }
}

/// Where a step of a replace leaves the change: go on, or ended with this result.
enum Step {
    Next(SpuResult),
    Done(SpuResult),
}

/// What differs between two specs, for reports.
pub fn moved(expected: &SpuSpec, found: &SpuSpec) -> String {
    let show = |s: &SpuSpec| serde_json::to_value(s).expect("spec serializes");
    let (a, b) = (show(expected), show(found));
    let mut fields = Vec::new();
    if let (Some(a), Some(b)) = (a.as_object(), b.as_object()) {
        for (key, value) in a {
            if b.get(key) != Some(value) {
                fields.push(key.clone());
            }
        }
    }
    format!("it changed since the plan ({} differ)", fields.join(", "))
}

/// The permission pre-flight, a step of its own before the first write of a run: proves
/// that the caller may re-create what a replace deletes. A real SC never checks deletes but
/// does check creates, so a caller without Create would delete an SPU and then be refused
/// its re-creation (and the rollback).
///
/// One dry-run create answers for the whole run: the SC checks the Create permission on the
/// CustomSpu TYPE, with no instance, before it looks at the name or id; so the answer for
/// one SPU is the answer for every SPU. Existence is per name, but it is no part of the
/// permission: each SPU is re-read just before its own delete (step 2), and a dry run per
/// SPU would cost one round-trip each and prove nothing more.
///
/// `specs` are the specs the run would create. Nothing to check on a cluster that rewrites
/// in place (no delete), nor for an empty run.
pub async fn preflight<T: Cluster, S: std::borrow::Borrow<SpuSpec>>(
    cluster: &mut T,
    specs: &[S],
) -> Result<()> {
    let Some(first) = specs.first().map(S::borrow) else {
        return Ok(());
    };
    if cluster.updates_in_place() {
        return Ok(());
    }
    match cluster.may_create(first).await {
        Ok(()) => Ok(()),
        Err(ClusterError::Denied { message, .. }) => Err(crate::error::Error::PermissionDenied {
            spu: format!("{} ({})", first.id, first.name),
            more: specs.len() - 1,
            answer: message.escape_debug().to_string(),
        }),
        Err(e) => Err(crate::error::Error::from_cluster(e)),
    }
}

/// Whether `recover` first proves that the caller may re-create what it finds missing
/// ([`preflight`]), or the run already did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateCheck {
    First,
    AlreadyDone,
}

/// Resolves every change an earlier run left unfinished, so each SPU exists again.
pub async fn recover<T: Cluster>(
    cluster: &mut T,
    journal: &mut Journal,
    options: &RetryPolicy,
    check: CreateCheck,
) -> Result<Vec<Recovered>> {
    let identity = cluster.identity();
    let pending: Vec<Pending> = journal.pending().to_vec();
    let mut engine = Engine {
        cluster,
        journal,
        options,
        identity,
        halted: None,
        gate_failure: None,
    };
    // One read of the cluster tells where every entry stands; only an SPU found missing
    // costs requests of its own (its re-creation). A failed read leaves every entry
    // unresolved, without a request (and a retry budget) each.
    let live = if pending.is_empty() {
        Ok(HashMap::new())
    } else {
        engine.specs_by_name().await
    };
    // Recovery re-creates an SPU only where it is missing: prove first, from the same
    // read, that the caller may (if the read failed, nothing is created).
    if let (CreateCheck::First, Ok(by_name)) = (check, &live) {
        let missing: Vec<&SpuSpec> = pending
            .iter()
            .map(|p| &p.new)
            .filter(|new| !by_name.contains_key(&new.name))
            .collect();
        preflight(&mut *engine.cluster, &missing).await?;
    }
    let mut out = Vec::new();
    for p in pending {
        let found = live
            .as_ref()
            .map(|by_name| by_name.get(&p.new.name).cloned());
        let (state, detail) = match found {
            Err(e) => (RecoveryState::Unresolved, Some(e.clone())),
            Ok(Some(found)) if found == p.new => (RecoveryState::AtNew, None),
            Ok(Some(found)) if found == p.old => (RecoveryState::AtOld, None),
            Ok(Some(found)) => (RecoveryState::Other, Some(moved(&p.new, &found))),
            Ok(None) => recreated(&p, engine.create_or_restore(&p.new, &p.old).await),
        };
        if state != RecoveryState::Unresolved {
            engine.journal.end(p.seq, EndOutcome::Recovered)?;
        }
        out.push(Recovered {
            id: p.new.id,
            name: p.new.name.clone(),
            state,
            detail,
        });
    }
    engine.journal.compact()?;
    Ok(out)
}

impl<T: Cluster> Engine<'_, T> {
    /// Every SPU's spec by name, in one read (retried); the error as text.
    async fn specs_by_name(&mut self) -> Result<HashMap<String, SpuSpec>, String> {
        match self.read().await {
            Ok(live) => Ok(live
                .spus
                .into_values()
                .map(|l| (l.spec.name.clone(), std::sync::Arc::unwrap_or_clone(l.spec)))
                .collect()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Where re-creating a missing SPU of an unfinished change left it.
fn recreated(p: &Pending, landing: Landing) -> (RecoveryState, Option<String>) {
    match landing {
        Landing::New => (RecoveryState::RestoredNew, None),
        Landing::Moved(found) => (RecoveryState::Other, Some(moved(&p.new, &found))),
        Landing::Unknown(e) => (RecoveryState::Unresolved, Some(e.to_string())),
        Landing::RolledBack { refused, rollback } => match rollback {
            Rollback::Old => (RecoveryState::RestoredOld, Some(refused.to_string())),
            Rollback::Moved(found) => (RecoveryState::Other, Some(moved(&p.old, &found))),
            Rollback::Failed(e) => (
                RecoveryState::Unresolved,
                Some(format!(
                    "new spec refused ({refused}); old spec refused ({e})"
                )),
            ),
        },
    }
}

pub use crate::hook::Restart;

/// A rolling apply: every changed SPU that follows a replicated partition is restarted
/// right after its replace and gated before the next SPU is touched.
pub struct Rolling<'a> {
    pub restart: &'a mut dyn Restart,
    /// The partitions as the run read them before any change.
    pub planned: &'a [LivePartition],
    /// How long a gate may wait for one SPU's partitions to commit.
    pub gate_timeout: Duration,
    /// How often a gate reads the partitions (the SC's status lags its SPUs by up to
    /// 400 ms upstream).
    pub poll: Duration,
    /// How long after the restart the gate takes its targets ([`GATE_SETTLE`]).
    ///
    /// [`GATE_SETTLE`]: crate::replication::GATE_SETTLE
    pub settle: Duration,
}

/// Where the changes of a run go: runs of changes that need no restart are batched as
/// usual; a change that needs one goes alone.
enum Segment<'c> {
    Batched(&'c [Change]),
    Healed(&'c Change),
}

/// Splits `changes` into [`Segment`]s, in order; without a rolling apply, one batched run.
fn segments(changes: &[Change], rolling: bool) -> Vec<Segment<'_>> {
    if !rolling {
        return vec![Segment::Batched(changes)];
    }
    let mut out = Vec::new();
    let mut start = 0;
    for (i, change) in changes.iter().enumerate() {
        if follows_any(&change.partitions) {
            if start < i {
                out.push(Segment::Batched(&changes[start..i]));
            }
            out.push(Segment::Healed(change));
            start = i + 1;
        }
    }
    if start < changes.len() {
        out.push(Segment::Batched(&changes[start..]));
    }
    out
}

impl<T: Cluster> Engine<'_, T> {
    /// Changes in batches (see the module comment), each result to `emit`.
    async fn batched(
        &mut self,
        changes: &[Change],
        stop: &AtomicBool,
        emit: &mut dyn FnMut(SpuResult),
    ) -> Result<()> {
        let mut rest = changes;
        for size in batch_sizes(changes.len()) {
            let (batch, tail) = rest.split_at(size);
            rest = tail;
            match self.not_started(stop) {
                // Nothing of this batch is journaled.
                Some(reason) => {
                    for change in batch {
                        emit(SpuResult::skipped(change, Some(reason.into())));
                    }
                }
                None => self.batch(batch, stop, emit).await?,
            }
        }
        Ok(())
    }

    /// One change that needs a restart: replaced alone, then (if the SPU was re-registered)
    /// restarted and gated. A restart or gate that fails halts the run.
    async fn healed(
        &mut self,
        change: &Change,
        rolling: &mut Rolling<'_>,
        stop: &AtomicBool,
    ) -> Result<SpuResult> {
        if let Some(reason) = self.not_started(stop) {
            return Ok(SpuResult::skipped(change, Some(reason.into())));
        }
        let mut replaced = None;
        self.batch(std::slice::from_ref(change), stop, &mut |r| {
            replaced = Some(r)
        })
        .await?;
        let mut result = replaced.expect("a batch of one gives one result");
        // Only a delete + create (applied, or rolled back to the old spec) re-registered
        // the SPU; anything else left it as it was.
        let re_registered = result.unavailable_ms.is_some()
            && matches!(result.outcome, SpuOutcome::Applied | SpuOutcome::RolledBack);
        if !re_registered {
            result.data_plane = DataPlaneResult::unchecked(
                change,
                false,
                "not restarted: it was not re-registered".into(),
            );
            return Ok(result);
        }
        let expected = match result.outcome {
            SpuOutcome::Applied => change.next(),
            _ => SpuSpec::clone(&change.live),
        };
        let data_plane = self.heal(change, &expected, rolling, stop).await;
        if !data_plane.proven() {
            self.halted = Some(GATE_HALTED);
            self.gate_failure = Some(format!(
                "SPU {} ({}): {}",
                change.id,
                change.name,
                data_plane
                    .note
                    .as_deref()
                    .unwrap_or("its partitions did not catch up")
            ));
        }
        result.data_plane = Some(data_plane);
        Ok(result)
    }

    /// Restarts the SPU of `change` and waits until its replicated partitions commit again.
    async fn heal(
        &mut self,
        change: &Change,
        expected: &SpuSpec,
        rolling: &mut Rolling<'_>,
        stop: &AtomicBool,
    ) -> DataPlaneResult {
        let unchecked = |note: String| {
            DataPlaneResult::unchecked(change, true, note)
                .expect("a change that needs a restart has partitions")
        };
        // The replace is proven first: a process restarted for an SPU that is not
        // registered is refused by the SC.
        match self.fetch(&change.name).await {
            Ok(Some(found)) if found == *expected => {}
            Ok(Some(found)) => {
                return unchecked(format!("not restarted: {}", moved(expected, &found)))
            }
            Ok(None) => return unchecked("not restarted: it is missing after its replace".into()),
            Err(e) => return unchecked(format!("not restarted: could not re-read it: {e}")),
        }
        let restart = match rolling.restart.restart(expected).await {
            Ok(run) => run,
            Err(why) => return unchecked(format!("the restart failed: {why}")),
        };
        let started = Instant::now();
        let deadline = started + rolling.gate_timeout;
        // the targets come from offsets reported after the restart, so that a stall shows
        // in them (see `replication::GATE_SETTLE`)
        tokio::time::sleep(rolling.settle.min(rolling.gate_timeout)).await;
        let mut gate: Option<Gate> = None;
        let mut last: Vec<PartitionCheck> = Vec::new();
        let mut waiting_for = String::from("a first read of its partitions");
        let note = loop {
            if let Some(read) = self.gate_read(&change.name).await {
                let (status, partitions) = read;
                let online = status == Some(SpuState::Online);
                let gate = gate
                    .get_or_insert_with(|| Gate::begin(&[change.id], rolling.planned, &partitions));
                last = gate.check(&partitions);
                if online && gate.passed(&last) {
                    break None;
                }
                waiting_for = if online {
                    "its partitions to commit".to_string()
                } else {
                    format!(
                        "the SPU to be Online (it is {})",
                        status.map_or("not registered", |s| s.label())
                    )
                };
            }
            if stop.load(Ordering::SeqCst) {
                break Some(format!("interrupted while waiting for {waiting_for}"));
            }
            if Instant::now() >= deadline {
                break Some(format!(
                    "the gate timed out after {:.0} s waiting for {waiting_for}",
                    rolling.gate_timeout.as_secs_f64()
                ));
            }
            tokio::time::sleep(rolling.poll.min(deadline - Instant::now())).await;
        };
        if last.is_empty() {
            last = change
                .partitions
                .iter()
                .map(PartitionCheck::not_checked)
                .collect();
        }
        DataPlaneResult {
            at_risk: true,
            restart: Some(restart),
            gate_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
            partitions: last,
            note,
        }
    }

    /// One read of a gate: the SPU's status and every partition. `None` when a read failed
    /// (the gate reads again at its next poll, until its deadline).
    async fn gate_read(&mut self, name: &str) -> Option<(Option<SpuState>, Vec<LivePartition>)> {
        let status = match self.cluster.fetch(name).await {
            Ok(found) => found.map(|l| l.status),
            Err(e) => {
                if e.is_transient() {
                    let _ = self.cluster.reconnect().await;
                }
                return None;
            }
        };
        match self.cluster.partitions().await {
            Ok(partitions) => Some((status, partitions)),
            Err(e) => {
                if e.is_transient() {
                    let _ = self.cluster.reconnect().await;
                }
                None
            }
        }
    }
}

/// Why a change's replicated partitions were not gated.
fn unhealed(result: &SpuResult, change: &Change, in_place: bool) -> String {
    if in_place {
        "changed in place in the metadata directory: the SPU was not re-registered".into()
    } else if result.unavailable_ms.is_none() {
        "not re-registered by this run".into()
    } else if follows_any(&change.partitions) {
        "not restarted: the partitions it follows stop committing until its SPU process restarts"
            .into()
    } else {
        "it leads these partitions and follows none: a re-registration does not stall them".into()
    }
}

/// Applies `changes` in order, then verifies them against a fresh read of the cluster.
///
/// Changes go in batches (see the module comment). `stop` is checked between SPUs (never
/// inside a replace), so Ctrl-C finishes the SPU in flight and skips the rest. `progress`
/// sees each result as it happens. With `rolling`, each change of an SPU that follows a
/// replicated partition goes alone and is restarted and gated (see [`Rolling`]); a restart
/// or gate that fails halts the run, and `data_plane_failure` says which and why.
pub async fn apply<T: Cluster>(
    changes: &[Change],
    cluster: &mut T,
    journal: &mut Journal,
    options: &RetryPolicy,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&SpuResult),
    mut rolling: Option<Rolling<'_>>,
) -> Result<ApplyReport> {
    let mut report = ApplyReport::default();
    let identity = cluster.identity();
    let mut engine = Engine {
        cluster,
        journal,
        options,
        identity,
        halted: None,
        gate_failure: None,
    };
    {
        let mut emit = |result: SpuResult| {
            progress(&result);
            report.results.push(result);
        };
        for segment in segments(changes, rolling.is_some()) {
            match (segment, rolling.as_mut()) {
                (Segment::Batched(run), _) => engine.batched(run, stop, &mut emit).await?,
                (Segment::Healed(change), Some(rolling)) => {
                    let result = engine.healed(change, rolling, stop).await?;
                    emit(result);
                }
                (Segment::Healed(_), None) => unreachable!("only a rolling apply heals"),
            }
        }
    }
    report.data_plane_failure = engine.gate_failure.take();
    let in_place = engine.cluster.updates_in_place();
    unchecked_data_plane(&mut report, changes, in_place);

    // 5. Prove the result: every applied SPU exactly as planned, every other field intact.
    if report.results.iter().any(|r| r.seq.is_some()) {
        match engine.read().await {
            Err(e) => {
                report.verification_error = Some(format!("could not re-read the cluster: {e}"))
            }
            Ok(live) => verify(&mut report, changes, &live, engine.journal)?,
        }
    }
    // Anything missing now is restored from the journal straight away.
    if report
        .results
        .iter()
        .any(|r| r.outcome == SpuOutcome::Unresolved)
    {
        // This run's pre-flight already proved the Create permission.
        report.recovered = recover(
            engine.cluster,
            engine.journal,
            options,
            CreateCheck::AlreadyDone,
        )
        .await?;
    } else {
        engine.journal.compact()?;
    }
    Ok(report)
}

/// The data plane of every result a gate did not check: at risk when its SPU was replaced
/// (not updated in place) while it follows a replicated partition.
fn unchecked_data_plane(report: &mut ApplyReport, changes: &[Change], in_place: bool) {
    for (result, change) in report.results.iter_mut().zip(changes) {
        if result.data_plane.is_none() {
            let at_risk =
                !in_place && result.unavailable_ms.is_some() && follows_any(&change.partitions);
            result.data_plane =
                DataPlaneResult::unchecked(change, at_risk, unhealed(result, change, in_place));
        }
    }
}

/// Checks every applied SPU against the cluster read back after the run, and ends its
/// journal entry: applied, or failed verification.
fn verify(
    report: &mut ApplyReport,
    changes: &[Change],
    live: &crate::model::Live,
    journal: &mut Journal,
) -> Result<()> {
    for (result, change) in report.results.iter_mut().zip(changes) {
        let Some(seq) = result.seq else { continue };
        if result.outcome != SpuOutcome::Applied {
            continue;
        }
        match live.spus.get(&change.id).map(|l| &l.spec) {
            Some(found) if **found == change.next() => {
                journal.end(seq, EndOutcome::Applied)?;
            }
            Some(found) => {
                journal.end(seq, EndOutcome::VerifyFailed)?;
                result.outcome = SpuOutcome::Failed;
                result.reason = Some(format!("verification: {}", moved(&change.next(), found)));
            }
            None => {
                result.outcome = SpuOutcome::Unresolved;
                result.reason = Some(
                    "verification: the SPU is missing after its create was acknowledged".into(),
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
