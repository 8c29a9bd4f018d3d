//! The SC-offline route of `apply` (`--sc-offline DIR --sc-stop CMD --sc-start CMD`).
//!
//! A local-mode SC keeps its metadata in a directory it loads at start. Its SPUs do not
//! need it running to serve producers and consumers, and when it starts it sends each SPU
//! the full SPU list, in which a changed SPU never disappeared: so no leader drops its
//! pending-update entry, nothing stalls, no leadership moves. The run:
//!
//! 1. plans against the running SC (its partitions too), shows the plan, has it approved;
//! 2. runs the stop command, then waits until no process on this machine serves `DIR` and
//!    the SC's address no longer answers (refusing to go on if either still does);
//! 3. applies through the metadata directory, journaled as any `--metadata-dir` run;
//! 4. runs the start command (always, once the SC was stopped), waits until the SC
//!    answers again;
//! 5. verifies every change through the SC, then gates the changed SPUs' replicated
//!    partitions (each caught up under the leader it had before).
//!
//! If the SC does not come back, the error says what the directory holds.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::apply::{outcome, ApplyOptions, Inputs, Source};
use super::route::{read_live, Offline};
use super::session::{ClusterFlags, Connect, Session};
use super::{refused, RunOutcome};
use crate::apply::{ApplyReport, DataPlaneResult, OfflineRun, RetryPolicy, SpuOutcome};
use crate::cluster::{metadata_files, AnyCluster, Cluster, ClusterError};
use crate::error::{Error, Result};
use crate::model::{ClusterTable, LivePartition, SpuId};

use crate::escape::visible;
use crate::output::Printer;
use crate::replication::{Gate, PartitionCheck, Route, GATE_SETTLE};
use crate::report::{PlanDoc, RunKind};

/// How often the route looks whether the SC stopped or answers, and how long one look at
/// its address may take.
const LOOK_EVERY: Duration = Duration::from_millis(100);
const LOOK_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn run(
    connect: &Connect,
    options: &ApplyOptions,
    offline: &Offline,
    printer: &Printer,
) -> Result<RunOutcome> {
    let inputs = Inputs::read(&options.source, &options.targeting)?;
    let mut connect = connect.clone();
    let cluster_table = inputs.cluster(&mut connect);
    if connect.flags.metadata_dir.is_some() {
        return Err(Error::Store(ClusterError::Store(
            "--sc-offline changes a running SC's metadata directory: this plan was made for a metadata directory, which `apply PLAN --metadata-dir` changes without the SC".into(),
        )));
    }
    let dir = metadata_dir(&offline.dir)?;
    let run = if options.dry_run {
        RunKind::DryRun
    } else {
        RunKind::Real
    };
    // The SC is opened as for any apply: its lock is held, and what an earlier run left
    // unfinished on it is recovered first.
    let mut opened = super::apply::open(&connect, &cluster_table, run, printer).await?;
    connect.warn_local_off(&cluster_table, None, printer);
    let (cluster, mut recovered_first) = opened.parts();
    let live = read_live(cluster).await.map_err(Error::from_cluster)?;
    let live = connect
        .until_registered(cluster, live, &inputs.named(), printer)
        .await?;
    inputs.check_excluded(&options.source, &live)?;
    belongs_to(&dir, &cluster.identity(), &live).await?;
    let policy = inputs.policy();
    let stalls = options.route_request().stalls(&policy);
    let mut doc = inputs.plan(
        cluster,
        &live,
        options.limit,
        printer.documents_carry_fingerprints(),
        (Route::Offline, stalls),
    )?;
    let probe_policy = policy.probe;
    super::probe::check_plan(&mut doc, options.probe.mode(probe_policy), printer).await;
    printer.plan_if_text(&doc);
    if let Some(end) = before_the_route(
        &doc,
        options,
        offline,
        &dir,
        run,
        &mut recovered_first,
        printer,
    ) {
        return end;
    }
    let planned = live.partitions.clone().unwrap_or_default();
    let gate_timeout = options.healing.gate_timeout;
    let route = Offlining {
        connect: &connect,
        cluster_table: &cluster_table,
        offline,
        dir: &dir,
        planned: &planned,
        gate_timeout,
        printer,
    };
    let mut report = route.carry_out(&doc).await?;
    report.recovered_first = recovered_first;
    printer.apply_report(&doc, &report);
    outcome(&doc, &report)
}

/// Ends the run before the SC is stopped when the plan says so: refused, nothing to
/// change, a dry run, or declined at the prompt. `None`: go on.
fn before_the_route(
    doc: &PlanDoc,
    options: &ApplyOptions,
    offline: &Offline,
    dir: &Path,
    run: RunKind,
    recovered_first: &mut Vec<crate::apply::Recovered>,
    printer: &Printer,
) -> Option<Result<RunOutcome>> {
    let unexecuted = |recovered_first: &mut Vec<_>| {
        printer.unexecuted(doc, std::mem::take(recovered_first), run)
    };
    if doc.is_blocked() {
        unexecuted(recovered_first);
        return Some(Err(refused(doc)));
    }
    if !doc.has_changes() {
        unexecuted(recovered_first);
        return Some(Ok(RunOutcome::default()));
    }
    if run == RunKind::DryRun {
        unexecuted(recovered_first);
        printer.note(&format!(
            "Dry run: the SC at {} would be stopped (`{}`), {} change(s) applied to {}, and the SC started again (`{}`); nothing was run or written.\n",
            doc.cluster,
            visible(&offline.stop.command),
            doc.changes.len(),
            dir.display(),
            visible(&offline.start.command),
        ));
        return Some(Ok(RunOutcome { changes: true }));
    }
    let reviewed = matches!(options.source, Source::Saved { .. });
    if !options.auto_approve && !reviewed {
        if let Err(declined) = printer.approve(doc) {
            unexecuted(recovered_first);
            return Some(Err(declined));
        }
    }
    None
}

/// Refuses, before anything is stopped, a directory that is not the running SC's: one that
/// no process on this machine serves, or one whose SPUs are not those the SC lists (the
/// directory of another SC, or a copy).
async fn belongs_to(
    dir: &Path,
    sc: &crate::model::ClusterId,
    live: &crate::model::Live,
) -> Result<()> {
    let refuse = |why: String| {
        Err(Error::ScOffline(format!(
            "{why}; is it the metadata directory of the SC at {sc}? Nothing was stopped or written"
        )))
    };
    if crate::cluster::metadata_dir::serving_process(dir).is_none() {
        return refuse(format!(
            "no process on this machine serves {}",
            dir.display()
        ));
    }
    let mut stored = crate::cluster::metadata_dir::MetadataDir::open(dir)
        .await
        .map_err(Error::from_cluster)?;
    let held = stored.read().await.map_err(Error::from_cluster)?;
    let differ: Vec<String> = live
        .spus
        .keys()
        .chain(held.spus.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|id| live.spus.get(id).map(|s| &s.spec) != held.spus.get(id).map(|s| &s.spec))
        .map(|id| id.to_string())
        .collect();
    if differ.is_empty() {
        Ok(())
    } else {
        refuse(format!(
            "{} does not hold the SPUs the SC serves (SPU {} differ{})",
            dir.display(),
            differ
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            if differ.len() > 5 { " and more" } else { "" }
        ))
    }
}

/// The directory, canonical, and a Fluvio metadata directory.
fn metadata_dir(dir: &Path) -> Result<PathBuf> {
    let store = |message: String| Error::Store(ClusterError::Store(message));
    let canonical = dir.canonicalize().map_err(|e| {
        store(format!(
            "cannot open metadata directory {}: {e}",
            dir.display()
        ))
    })?;
    if !canonical.join("SPU").is_dir() {
        return Err(store(format!(
            "{} is not a Fluvio metadata directory: it has no SPU folder",
            canonical.display()
        )));
    }
    Ok(canonical)
}

/// One run of the route, once its plan is approved.
struct Offlining<'a> {
    connect: &'a Connect,
    cluster_table: &'a ClusterTable,
    offline: &'a Offline,
    dir: &'a Path,
    /// The partitions as the plan read them, before the SC stopped.
    planned: &'a [LivePartition],
    gate_timeout: Duration,
    printer: &'a Printer,
}

impl Offlining<'_> {
    /// The commands' environment: the SC's address as the run reached it, and the directory.
    fn env(&self, doc: &PlanDoc) -> Vec<(&'static str, String)> {
        let addr = match &doc.cluster {
            crate::model::ClusterId::Sc(addr) => addr.clone(),
            other => other.to_string(),
        };
        vec![
            ("SC_ADDR", addr),
            ("METADATA_DIR", self.dir.display().to_string()),
        ]
    }

    async fn run_hook(&self, hook: &crate::hook::Hook, doc: &PlanDoc) -> Result<f64, String> {
        let env = self.env(doc);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        hook.run(&env)
            .await
            .map(|r| r.ms)
            .map_err(|e| e.to_string())
    }

    /// Stop, apply to the directory, start, verify, gate.
    async fn carry_out(&self, doc: &PlanDoc) -> Result<ApplyReport> {
        // The SC has no graceful stop and rewrites its files in place: a whole copy of each,
        // to put back any file the stop tears (see `cluster::metadata_files`).
        let snapshot = metadata_files::Snapshot::take(self.dir).await;
        let began = Instant::now();
        self.stop(doc).await?;
        let stop_ms = began.elapsed().as_secs_f64() * 1000.0;
        let restored = match self.repair(&snapshot).await {
            Ok(restored) => restored,
            Err(why) => {
                let back = self.start(doc).await;
                return Err(Error::ScOffline(format!(
                    "the SC's stop left a metadata file that its store cannot load: {why}; nothing was written; {}",
                    match back {
                        Ok(_) => "the SC was started again, but it will not load that folder until the file is repaired".to_string(),
                        Err(e) => format!("starting it again failed: {e}"),
                    }
                )));
            }
        };
        let applied = self.apply_to_dir(doc).await;
        let started = Instant::now();
        let answering = self.start(doc).await;
        let start_ms = started.elapsed().as_secs_f64() * 1000.0;
        let outage_ms = began.elapsed().as_secs_f64() * 1000.0;
        let mut sc = match answering {
            Ok(sc) => sc,
            Err(why) => return Err(Error::ScOffline(self.left_stopped(doc, &applied, &why))),
        };
        let mut report = applied?;
        report.offline = Some(OfflineRun {
            metadata_dir: self.dir.display().to_string(),
            stop_ms,
            start_ms,
            sc_outage_ms: outage_ms,
            restored: restored.iter().map(|p| p.display().to_string()).collect(),
        });
        self.printer.note(&format!(
            "The SC answers again: its control plane was down {:.0} ms. Verifying through it...\n",
            outage_ms
        ));
        verify(&mut sc, doc, &mut report).await;
        self.gate(&mut sc, doc, &mut report).await;
        Ok(report)
    }

    /// Stops the SC and waits until it no longer answers. When it does not stop, or stops
    /// although its command failed, nothing is written and the SC is started again (unless
    /// it still answers).
    async fn stop(&self, doc: &PlanDoc) -> Result<()> {
        self.printer.note(&format!(
            "Stopping the SC at {}: `{}`\n",
            doc.cluster,
            visible(&self.offline.stop.command)
        ));
        let stop = self.run_hook(&self.offline.stop, doc).await;
        let stopped = self.wait_stopped().await;
        match (&stop, stopped) {
            (Ok(_), Ok(())) => {}
            (Err(why), Ok(())) => {
                // The SC is down although its command failed: bring it back, write nothing.
                let back = self.start(doc).await;
                return Err(Error::ScOffline(format!(
                    "the stop command failed ({why}) though the SC stopped; nothing was written; {}",
                    match back {
                        Ok(_) => "the SC was started again".to_string(),
                        Err(e) => format!("starting it again failed: {e}"),
                    }
                )));
            }
            (_, Err(still)) => {
                let said = match &stop {
                    Ok(_) => "the stop command succeeded".to_string(),
                    Err(why) => format!("the stop command failed ({why})"),
                };
                // The SC may be down while something else still serves the directory:
                // then it is started again, not left stopped.
                let after = match self.look().await {
                    Ok(_) => "the start command was not run (the SC still answers)".to_string(),
                    Err(_) => match self.start(doc).await {
                        Ok(_) => "the SC was down, so it was started again".to_string(),
                        Err(e) => format!("the SC was down and starting it again failed: {e}"),
                    },
                };
                return Err(Error::ScOffline(format!(
                    "{said}, but {still} after {:.0} s; nothing was written; {after}",
                    self.gate_timeout.as_secs_f64()
                )));
            }
        }
        Ok(())
    }

    /// Puts back, from the copy taken before the stop, every file the stop left unloadable.
    async fn repair(&self, snapshot: &metadata_files::Snapshot) -> Result<Vec<PathBuf>, String> {
        let torn = metadata_files::torn(self.dir).await;
        if torn.is_empty() {
            return Ok(Vec::new());
        }
        let restored = snapshot.restore(self.dir, &torn)?;
        for path in &restored {
            self.printer.warn(
                &format!(
                    "the SC's stop left {} unloadable (torn while the SC wrote it); it was put back as read just before the stop",
                    path.display()
                ),
                None,
            );
        }
        Ok(restored)
    }

    /// Waits until no process on this machine serves the directory and the SC's address
    /// does not answer; `Err` says which still does at the deadline.
    async fn wait_stopped(&self) -> Result<(), String> {
        let deadline = Instant::now() + self.gate_timeout;
        loop {
            let served = crate::cluster::metadata_dir::serving_process(self.dir);
            let answers = self.look().await.is_ok();
            match (served, answers) {
                (None, false) => return Ok(()),
                _ if Instant::now() < deadline => tokio::time::sleep(LOOK_EVERY).await,
                (Some((pid, cmd)), _) => {
                    return Err(format!(
                        "process {pid} ({}) still serves {}",
                        visible(&cmd),
                        self.dir.display()
                    ))
                }
                (None, true) => return Err("the SC still answers at its address".to_string()),
            }
        }
    }

    /// One connect to the SC, bounded by [`LOOK_TIMEOUT`].
    async fn look(&self) -> Result<AnyCluster> {
        let mut quick = self.connect.clone();
        quick.timeout = LOOK_TIMEOUT;
        quick
            .open(
                self.cluster_table,
                super::session::Access::Read,
                self.printer,
            )
            .await
    }

    /// Runs the start command, then waits until the SC answers.
    async fn start(&self, doc: &PlanDoc) -> Result<AnyCluster, String> {
        self.printer.note(&format!(
            "Starting the SC: `{}`\n",
            visible(&self.offline.start.command)
        ));
        let ran = self.run_hook(&self.offline.start, doc).await;
        let deadline = Instant::now() + self.gate_timeout;
        loop {
            match self.look().await {
                Ok(sc) => return Ok(sc),
                Err(e) if Instant::now() >= deadline => {
                    let why = crate::causes::one_line(&e);
                    return Err(match ran {
                        Ok(_) => format!(
                            "the start command succeeded, but the SC did not answer within {:.0} s ({why})",
                            self.gate_timeout.as_secs_f64()
                        ),
                        Err(failed) => format!("the start command failed ({failed}) and the SC does not answer ({why})"),
                    });
                }
                Err(_) => tokio::time::sleep(LOOK_EVERY).await,
            }
        }
    }

    /// The changes through the stopped SC's directory: journaled and verified there.
    async fn apply_to_dir(&self, doc: &PlanDoc) -> Result<ApplyReport> {
        let connect = Connect {
            flags: ClusterFlags {
                metadata_dir: Some(self.dir.to_path_buf()),
                ..ClusterFlags::default()
            },
            ..self.connect.clone()
        };
        let mut session = Session::open(&connect, &ClusterTable::default(), self.printer).await?;
        // Ctrl-C is not watched here: with the SC stopped, the run finishes its changes
        // and starts the SC again rather than leave the cluster without one.
        let stop = AtomicBool::new(false);
        let bar = self.printer.start_apply(doc.changes.len(), &session.id());
        let report = crate::apply::apply(
            &doc.changes,
            &mut session.cluster,
            &mut session.journal,
            &RetryPolicy::default(),
            &stop,
            &mut |r| self.printer.progress(r),
            None,
        )
        .await;
        drop(bar);
        report
    }

    /// The error when the SC did not come back: what the directory holds now.
    fn left_stopped(&self, doc: &PlanDoc, applied: &Result<ApplyReport>, why: &str) -> String {
        let state = match applied {
            Ok(report) => {
                let done: Vec<String> = report
                    .results
                    .iter()
                    .filter(|r| r.outcome == SpuOutcome::Applied)
                    .map(|r| format!("{} ({})", r.id, visible(&r.name)))
                    .collect();
                format!(
                    "{} holds the new spec of {} of {} SPU(s){}{}",
                    self.dir.display(),
                    done.len(),
                    report.results.len(),
                    if done.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", done.join(", "))
                    },
                    if report.unresolved() == 0 {
                        ", each written whole (the journal is clear)"
                    } else {
                        "; the journal keeps the rest for `recover --metadata-dir`"
                    }
                )
            }
            Err(e) => format!(
                "nothing may have been written to {} ({})",
                self.dir.display(),
                crate::causes::one_line(e)
            ),
        };
        format!(
            "the SC at {} is stopped: {why}. {state}. Start the SC yourself, then check with `fluvio-endpoints drift`",
            doc.cluster
        )
    }

    /// Gates every changed SPU's replicated partitions now that the SC runs again: each
    /// must catch up, and the report says whether its leader moved (it should not have).
    async fn gate(&self, sc: &mut AnyCluster, doc: &PlanDoc, report: &mut ApplyReport) {
        let ids: Vec<SpuId> = report
            .results
            .iter()
            .filter(|r| r.outcome == SpuOutcome::Applied)
            .map(|r| r.id)
            .collect();
        let planned = self.planned;
        let started = Instant::now();
        let deadline = started + self.gate_timeout;
        let mut gate: Option<Gate> = None;
        let mut checks: Vec<PartitionCheck> = Vec::new();
        let passed = loop {
            if gate.is_none() && started.elapsed() < GATE_SETTLE {
                // targets from offsets reported since the SC started
                tokio::time::sleep(GATE_SETTLE - started.elapsed()).await;
                continue;
            }
            if let Ok(now) = sc.partitions().await {
                let gate = gate.get_or_insert_with(|| Gate::begin(&ids, planned, &now));
                checks = gate.check(&now);
                if gate.passed(&checks) {
                    break true;
                }
            }
            if Instant::now() >= deadline {
                break false;
            }
            tokio::time::sleep(LOOK_EVERY).await;
        };
        let gate_ms = started.elapsed().as_secs_f64() * 1000.0;
        for (result, change) in report.results.iter_mut().zip(&doc.changes) {
            if change.partitions.is_empty() || !ids.contains(&result.id) {
                continue;
            }
            let mine: Vec<PartitionCheck> = change
                .partitions
                .iter()
                .filter_map(|role| checks.iter().find(|c| c.partition == role.partition))
                .map(|c| PartitionCheck {
                    role: change
                        .partitions
                        .iter()
                        .find(|r| r.partition == c.partition)
                        .map_or(c.role, |r| r.role),
                    ..c.clone()
                })
                .collect();
            result.data_plane = Some(DataPlaneResult {
                at_risk: false,
                restart: None,
                gate_ms: Some(gate_ms),
                partitions: mine,
                note: (!passed).then(|| {
                    format!(
                        "its partitions did not all catch up within {:.0} s of the SC's start",
                        self.gate_timeout.as_secs_f64()
                    )
                }),
            });
        }
        if !passed {
            report.data_plane_failure = Some(format!(
                "after the SC started, the changed SPUs' partitions did not all catch up within {:.0} s",
                self.gate_timeout.as_secs_f64()
            ));
        }
    }
}

/// Proves every applied change through the SC: its spec there is the new one.
async fn verify(sc: &mut AnyCluster, doc: &PlanDoc, report: &mut ApplyReport) {
    let live = match sc.read().await {
        Ok(live) => live,
        Err(e) => {
            report.verification_error = Some(format!(
                "could not re-read the SPUs through the SC after its start: {e}"
            ));
            return;
        }
    };
    for (result, change) in report.results.iter_mut().zip(&doc.changes) {
        if result.outcome != SpuOutcome::Applied {
            continue;
        }
        match live.spus.get(&change.id).map(|l| &l.spec) {
            Some(found) if **found == change.next() => {}
            Some(found) => {
                result.outcome = SpuOutcome::Failed;
                result.reason = Some(format!(
                    "verification through the SC after its start: {}",
                    crate::apply::moved(&change.next(), found)
                ));
            }
            None => {
                result.outcome = SpuOutcome::Failed;
                result.reason = Some(
                    "verification through the SC after its start: the SC lists no such SPU".into(),
                );
            }
        }
    }
}
