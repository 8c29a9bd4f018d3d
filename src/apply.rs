//! `apply(&[Change], &mut impl Target)`: the only writer.
//!
//! Every change is a replace. On a running SC that is delete + create of the same name and
//! id with every other field copied from the live spec, because the SC has no in-place
//! update. The order of each replace is chosen so that no failure can lose an SPU:
//!
//! 1. re-read the SPU; skip it if it moved since the plan (someone else changed it);
//! 2. journal `begin` (old + new spec, fsynced) before anything is written;
//! 3. delete; on a dropped connection, look before retrying;
//! 4. create the new spec (built before the delete: nothing else runs in between);
//!    on a dropped connection, look before retrying, never create blindly twice;
//!    if the SC refuses the new spec, re-create the old one (rollback);
//! 5. after all changes, re-read the cluster and verify every SPU field by field; only then
//!    journal `end`. Anything left unresolved stays in the journal for `recover`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::Result;
use crate::journal::{Journal, Pending};
use crate::model::{Endpoint, SpuId, SpuSpec};
use crate::plan::{Action, Change};
use crate::target::{Target, TargetError};

/// Knobs for retries on transient failures.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Attempts after the first, for one request.
    pub retries: u32,
    /// First pause between attempts; doubles each time.
    pub backoff: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            retries: 4,
            backoff: Duration::from_millis(100),
        }
    }
}

/// How one SPU's change ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
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

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Skipped => "skipped",
            Outcome::RolledBack => "rolled back",
            Outcome::Failed => "failed",
            Outcome::Unresolved => "unresolved",
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
    pub outcome: Outcome,
    /// Why, for anything but `applied`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Delete acknowledged -> create acknowledged, in milliseconds (replace on an SC only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable_ms: Option<f64>,
    #[serde(skip)]
    seq: Option<u64>,
}

impl SpuResult {
    /// A change not (yet) carried out.
    fn skipped(change: &Change, reason: Option<String>) -> Self {
        SpuResult {
            id: change.id,
            name: change.name.clone(),
            action: change.action,
            before: change.before.clone(),
            after: change.after.clone(),
            outcome: Outcome::Skipped,
            reason,
            unavailable_ms: None,
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
}

impl ApplyReport {
    pub fn count(&self, outcome: Outcome) -> usize {
        self.results.iter().filter(|r| r.outcome == outcome).count()
    }

    pub fn all_applied(&self) -> bool {
        self.verification_error.is_none()
            && self.results.iter().all(|r| r.outcome == Outcome::Applied)
    }

    /// Changes still open in the journal. An apply with unresolved results recovers them
    /// at once; what that recovery could not resolve is what remains.
    pub fn unresolved(&self) -> usize {
        if self.recovered.is_empty() {
            self.count(Outcome::Unresolved)
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
    Refused(TargetError),
    /// Retries ran out without knowing.
    Unknown(TargetError),
}

struct Engine<'a, T: Target> {
    target: &'a mut T,
    journal: &'a mut Journal,
    options: &'a ApplyOptions,
    identity: String,
}

impl<T: Target> Engine<'_, T> {
    async fn pause(&mut self, attempt: u32) {
        let factor = 1u32 << attempt.min(6);
        tokio::time::sleep(self.options.backoff * factor).await;
        // A failed reconnect is retried by the next attempt's request.
        let _ = self.target.reconnect().await;
    }

    async fn fetch(&mut self, name: &str) -> Result<Option<SpuSpec>, TargetError> {
        let mut attempt = 0;
        loop {
            match self.target.fetch(name).await {
                Ok(found) => return Ok(found.map(|l| l.spec)),
                Err(e) if e.is_transient() && attempt < self.options.retries => {
                    self.pause(attempt).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads the whole cluster, retrying transient failures like `fetch`.
    async fn read(&mut self) -> Result<crate::model::Live, TargetError> {
        let mut attempt = 0;
        loop {
            match self.target.read().await {
                Ok(live) => return Ok(live),
                Err(e) if e.is_transient() && attempt < self.options.retries => {
                    self.pause(attempt).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Creates `spec`, looking before any retry so a create that landed is not repeated.
    async fn create(&mut self, spec: &SpuSpec) -> CreateOutcome {
        let mut attempt = 0;
        loop {
            match self.target.create(spec).await {
                Ok(()) => return CreateOutcome::Created,
                Err(e @ TargetError::AlreadyExists { .. }) => {
                    return match self.fetch(&spec.name).await {
                        Ok(Some(found)) => CreateOutcome::Found(found),
                        // The id belongs to an SPU of another name.
                        Ok(None) => CreateOutcome::Refused(e),
                        Err(fetch_err) => CreateOutcome::Unknown(fetch_err),
                    };
                }
                Err(e) if e.is_transient() => {
                    if attempt >= self.options.retries {
                        return CreateOutcome::Unknown(e);
                    }
                    self.pause(attempt).await;
                    attempt += 1;
                    if let Ok(Some(found)) = self.fetch(&spec.name).await {
                        return CreateOutcome::Found(found);
                    }
                }
                Err(e) => return CreateOutcome::Refused(e),
            }
        }
    }

    /// Deletes `spec`. `Ok(true)`: it is gone. `Ok(false)`: it was not ours to delete
    /// (gone or changed before we touched it).
    async fn delete(&mut self, spec: &SpuSpec) -> Result<bool, TargetError> {
        let mut attempt = 0;
        loop {
            match self.target.delete(spec).await {
                Ok(()) => return Ok(true),
                // A retry finding it gone means our earlier attempt landed.
                Err(TargetError::NotFound { .. }) if attempt > 0 => return Ok(true),
                Err(TargetError::NotFound { .. }) => return Ok(false),
                Err(e) if e.is_transient() && attempt < self.options.retries => {
                    self.pause(attempt).await;
                    attempt += 1;
                    match self.fetch(&spec.name).await {
                        Ok(None) => return Ok(true),
                        Ok(Some(found)) if found == *spec => continue,
                        Ok(Some(_)) => return Ok(false),
                        Err(_) => continue,
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn change(&mut self, change: &Change) -> Result<SpuResult> {
        let mut result = SpuResult::skipped(change, None);
        let finish = |mut r: SpuResult, outcome, reason: String| {
            r.outcome = outcome;
            r.reason = Some(reason);
            r
        };
        // 1. The SPU must still be exactly what the plan saw.
        match self.fetch(&change.name).await {
            Err(e) => {
                return Ok(finish(
                    result,
                    Outcome::Skipped,
                    format!("could not re-read it: {e}"),
                ))
            }
            Ok(None) => {
                return Ok(finish(
                    result,
                    Outcome::Skipped,
                    "it no longer exists".into(),
                ))
            }
            Ok(Some(now)) if now == change.target => {
                result.outcome = Outcome::Applied;
                result.reason = Some("already as declared".into());
                return Ok(result);
            }
            Ok(Some(now)) if now != change.live => {
                return Ok(finish(result, Outcome::Skipped, moved(&change.live, &now)));
            }
            Ok(Some(_)) => {}
        }
        // 2. Durable intent before the first write.
        let seq = self
            .journal
            .begin(&self.identity, &change.live, &change.target)?;
        result.seq = Some(seq);

        if self.target.updates_in_place() {
            return match self.target.update(&change.target).await {
                Ok(()) => {
                    result.outcome = Outcome::Applied;
                    Ok(result)
                }
                Err(e) => {
                    // Safe to end only if the old spec is intact on disk.
                    if let Ok(Some(found)) = self.fetch(&change.name).await {
                        if found == change.live {
                            self.journal.end(seq, "failed")?;
                            return Ok(finish(result, Outcome::Failed, e.to_string()));
                        }
                    }
                    Ok(finish(result, Outcome::Unresolved, e.to_string()))
                }
            };
        }

        // 3. Delete.
        match self.delete(&change.live).await {
            Ok(true) => {}
            Ok(false) => {
                self.journal.end(seq, "skipped")?;
                return Ok(finish(
                    result,
                    Outcome::Skipped,
                    "someone else deleted or changed it just before the change".into(),
                ));
            }
            // An unanswered delete may still land later: only a refusal ends the entry.
            Err(e) if e.is_transient() => {
                return Ok(finish(
                    result,
                    Outcome::Unresolved,
                    format!("delete did not complete: {e}"),
                ));
            }
            Err(e) => {
                return match self.fetch(&change.name).await {
                    Ok(Some(found)) if found == change.live => {
                        self.journal.end(seq, "failed")?;
                        Ok(finish(
                            result,
                            Outcome::Failed,
                            format!("delete failed: {e}"),
                        ))
                    }
                    _ => Ok(finish(
                        result,
                        Outcome::Unresolved,
                        format!("delete failed: {e}"),
                    )),
                };
            }
        }
        let deleted_at = Instant::now();

        // 4. Create the new spec; roll back to the old one if it is refused.
        match self.create(&change.target).await {
            CreateOutcome::Created => {
                result.unavailable_ms = Some(deleted_at.elapsed().as_secs_f64() * 1000.0);
                result.outcome = Outcome::Applied;
                Ok(result)
            }
            CreateOutcome::Found(found) if found == change.target => {
                result.unavailable_ms = Some(deleted_at.elapsed().as_secs_f64() * 1000.0);
                result.outcome = Outcome::Applied;
                Ok(result)
            }
            CreateOutcome::Found(other) => {
                self.journal.end(seq, "conflict")?;
                Ok(finish(
                    result,
                    Outcome::Skipped,
                    format!(
                        "someone else re-created it during the change: {}",
                        moved(&change.target, &other)
                    ),
                ))
            }
            CreateOutcome::Unknown(e) => Ok(finish(
                result,
                Outcome::Unresolved,
                format!("create did not complete: {e}"),
            )),
            CreateOutcome::Refused(create_err) => {
                let rollback = self.create(&change.live).await;
                let window = deleted_at.elapsed().as_secs_f64() * 1000.0;
                result.unavailable_ms = Some(window);
                match rollback {
                    CreateOutcome::Created => {
                        self.journal.end(seq, "rolled_back")?;
                        Ok(finish(
                            result,
                            Outcome::RolledBack,
                            format!("{create_err}; the old spec was restored"),
                        ))
                    }
                    CreateOutcome::Found(found) => {
                        self.journal.end(seq, "rolled_back")?;
                        let note = if found == change.live {
                            "the old spec was restored".to_string()
                        } else {
                            format!(
                                "it now exists as someone else wrote it ({})",
                                moved(&change.live, &found)
                            )
                        };
                        Ok(finish(
                            result,
                            Outcome::RolledBack,
                            format!("{create_err}; {note}"),
                        ))
                    }
                    CreateOutcome::Refused(e) | CreateOutcome::Unknown(e) => Ok(finish(
                        result,
                        Outcome::Unresolved,
                        format!("{create_err}; restoring the old spec also failed: {e}"),
                    )),
                }
            }
        }
    }
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

/// Resolves every change an earlier run left unfinished, so each SPU exists again.
pub async fn recover<T: Target>(
    target: &mut T,
    journal: &mut Journal,
    options: &ApplyOptions,
) -> Result<Vec<Recovered>> {
    let identity = target.identity();
    let pending: Vec<Pending> = journal.pending().to_vec();
    let mut engine = Engine {
        target,
        journal,
        options,
        identity,
    };
    let mut out = Vec::new();
    for p in pending {
        let (state, detail) = match engine.fetch(&p.new.name).await {
            Err(e) => (RecoveryState::Unresolved, Some(e.to_string())),
            Ok(Some(found)) if found == p.new => (RecoveryState::AtNew, None),
            Ok(Some(found)) if found == p.old => (RecoveryState::AtOld, None),
            Ok(Some(found)) => (RecoveryState::Other, Some(moved(&p.new, &found))),
            Ok(None) => match engine.create(&p.new).await {
                CreateOutcome::Created => (RecoveryState::RestoredNew, None),
                CreateOutcome::Found(found) if found == p.new => (RecoveryState::RestoredNew, None),
                CreateOutcome::Found(found) => (RecoveryState::Other, Some(moved(&p.new, &found))),
                CreateOutcome::Unknown(e) => (RecoveryState::Unresolved, Some(e.to_string())),
                CreateOutcome::Refused(new_err) => match engine.create(&p.old).await {
                    CreateOutcome::Created => {
                        (RecoveryState::RestoredOld, Some(new_err.to_string()))
                    }
                    CreateOutcome::Found(found) if found == p.old => {
                        (RecoveryState::RestoredOld, Some(new_err.to_string()))
                    }
                    CreateOutcome::Found(found) => {
                        (RecoveryState::Other, Some(moved(&p.old, &found)))
                    }
                    CreateOutcome::Refused(e) | CreateOutcome::Unknown(e) => (
                        RecoveryState::Unresolved,
                        Some(format!(
                            "new spec refused ({new_err}); old spec refused ({e})"
                        )),
                    ),
                },
            },
        };
        if state != RecoveryState::Unresolved {
            engine.journal.end(p.seq, "recovered")?;
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

/// Applies `changes` in order, then verifies them against a fresh read of the cluster.
///
/// `stop` is checked between SPUs (never inside a replace), so Ctrl-C finishes the SPU in
/// flight and skips the rest. `progress` sees each result as it happens.
pub async fn apply<T: Target>(
    changes: &[Change],
    target: &mut T,
    journal: &mut Journal,
    options: &ApplyOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&SpuResult),
) -> Result<ApplyReport> {
    let mut report = ApplyReport::default();
    let identity = target.identity();
    let mut engine = Engine {
        target,
        journal,
        options,
        identity,
    };
    for change in changes {
        let result = if stop.load(Ordering::SeqCst) {
            SpuResult::skipped(change, Some("interrupted before this SPU".into()))
        } else {
            engine.change(change).await?
        };
        progress(&result);
        report.results.push(result);
    }

    // 5. Prove the result: every applied SPU exactly as planned, every other field intact.
    if report.results.iter().any(|r| r.seq.is_some()) {
        let live = engine.read().await;
        match live {
            Err(e) => {
                report.verification_error = Some(format!("could not re-read the cluster: {e}"))
            }
            Ok(live) => {
                for (result, change) in report.results.iter_mut().zip(changes) {
                    let Some(seq) = result.seq else { continue };
                    if result.outcome != Outcome::Applied {
                        continue;
                    }
                    match live.spus.get(&change.id).map(|l| &l.spec) {
                        Some(found) if *found == change.target => {
                            engine.journal.end(seq, "applied")?;
                        }
                        Some(found) => {
                            engine.journal.end(seq, "verify_failed")?;
                            result.outcome = Outcome::Failed;
                            result.reason =
                                Some(format!("verification: {}", moved(&change.target, found)));
                        }
                        None => {
                            result.outcome = Outcome::Unresolved;
                            result.reason = Some("verification: the SPU is missing after its create was acknowledged".into());
                        }
                    }
                }
            }
        }
    }
    // Anything missing now is restored from the journal straight away.
    if report
        .results
        .iter()
        .any(|r| r.outcome == Outcome::Unresolved)
    {
        report.recovered = recover(engine.target, engine.journal, options).await?;
    } else {
        engine.journal.compact()?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::RecoveryState;

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
}
