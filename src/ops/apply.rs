//! `apply`: plan a file (or check a saved plan), have it approved, carry it out through
//! the engine (`crate::apply`), and report. Shared with `update-local` through `execute`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::plan::{document, limit};
use super::route::{read_live, Healing, Offline, RouteRequest};
use super::session::{Access, Connect, Session};
use super::{load_file, refused, saved, ChangeLimit, RunOutcome};
use crate::apply::{ApplyReport, Recovered, RetryPolicy, Rolling};
use crate::cluster::{AnyCluster, Cluster};
use crate::config::SourceFile;
use crate::error::{Error, Result};
use crate::hook::{Hook, RestartHook};
use crate::model::{
    ClusterId, ClusterTable, Desired, HostPort, Live, LivePartition, Policy, ProbePolicy,
};
use crate::output::Printer;
use crate::replication::{Route, StallPolicy};
use crate::report::{ApplySummary, ConfigRef, PlanDoc, RunKind};

/// What to apply.
#[derive(Debug, Clone)]
pub enum Source {
    /// Plan this zone file now, show the plan, ask.
    File(PathBuf),
    /// Exactly a plan saved by `plan --out` (reviewed when saved: not asked again);
    /// with `file`, refused if that file changed since.
    Saved {
        plan: PathBuf,
        file: Option<PathBuf>,
    },
    /// A zone file read and validated earlier (the reconcile agent's desired state, which
    /// an invalid edit on disk does not replace). Planned now, not asked.
    Loaded(Arc<(SourceFile, Desired)>),
}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub source: Source,
    /// Do not ask (`--auto-approve`).
    pub auto_approve: bool,
    /// Do every check, print the plan, write nothing.
    pub dry_run: bool,
    pub limit: ChangeLimit,
    /// `--probe` / `--force`, with the file's `[policy] probe`.
    pub probe: super::probe::ProbeRequest,
    /// A rolling apply's restart command and limits (`--restart-command`, ...).
    pub healing: Healing,
    /// The SC-offline route (`--sc-offline DIR --sc-stop CMD --sc-start CMD`).
    pub offline: Option<Offline>,
    /// Which of the file's SPUs the run covers (`--spu`, `--exclude-spu`; not with a
    /// saved plan, whose targeting was fixed when it was made).
    pub targeting: crate::model::Targeting,
    /// Set by the caller to stop the apply as Ctrl-C does: the SPU in flight is finished,
    /// the rest skipped.
    pub stop: Option<Arc<AtomicBool>>,
}

impl ApplyOptions {
    /// What the options ask of the route (the file's `[policy]` adds to it).
    pub fn route_request(&self) -> RouteRequest {
        RouteRequest {
            restart: self.healing.restart_command.is_some(),
            offline: self.offline.is_some(),
            accept_stalls: self.healing.accept_stalls,
        }
    }
}

/// The cluster an apply works on, open for writing or, for a dry run, checked as if.
pub(super) enum Opened {
    Session(Session),
    DryRun(AnyCluster),
}

impl Opened {
    /// The cluster, and what recovering an earlier run found (taken: reported once).
    pub(super) fn parts(&mut self) -> (&mut AnyCluster, Vec<Recovered>) {
        match self {
            Opened::Session(session) => (
                &mut session.cluster,
                std::mem::take(&mut session.recovered_first),
            ),
            Opened::DryRun(cluster) => (cluster, Vec::new()),
        }
    }
}

/// What an apply reads before it opens the cluster: a saved plan, a zone file, or both.
pub(super) struct Inputs {
    saved: Option<PlanDoc>,
    file: Option<(SourceFile, Desired)>,
    targeting: crate::model::Targeting,
}

impl Inputs {
    pub(super) fn read(source: &Source, targeting: &crate::model::Targeting) -> Result<Inputs> {
        Ok(match source {
            Source::File(path) => {
                let (file, desired) = load_file(path)?;
                super::plan::check_targets(targeting, &desired, path)?;
                Inputs {
                    saved: None,
                    file: Some((file, desired)),
                    targeting: targeting.clone(),
                }
            }
            Source::Loaded(loaded) => {
                let (file, desired) = loaded.as_ref().clone();
                super::plan::check_targets(targeting, &desired, std::path::Path::new(&file.name))?;
                Inputs {
                    saved: None,
                    file: Some((file, desired)),
                    targeting: targeting.clone(),
                }
            }
            Source::Saved { plan, file } => {
                if !targeting.is_all() {
                    return Err(Error::Usage(crate::error::Usage::SavedPlanTargeted));
                }
                Inputs {
                    saved: Some(saved::load(plan).map_err(|e| not_a_plan(plan, e))?),
                    file: file.as_deref().map(load_file).transpose()?,
                    targeting: crate::model::Targeting::default(),
                }
            }
        })
    }

    /// The cluster to open: the file's, else the saved plan's (whose metadata directory
    /// is used unless flags pick another cluster; a changed cluster is then stale). A
    /// saved SC address is dialed as written when it reads back as the same `host:port`;
    /// one that does not (a profile's `endpoint` the fluvio config spells otherwise) is
    /// left to the current profile, whose cluster must then be the plan's.
    pub(super) fn cluster(&self, connect: &mut Connect) -> ClusterTable {
        match (&self.file, &self.saved) {
            (Some((_, desired)), _) => desired.cluster.clone(),
            (None, Some(doc)) => match &doc.cluster {
                ClusterId::Sc(addr) => ClusterTable {
                    endpoint: HostPort::parse(addr).filter(|parsed| parsed.to_string() == *addr),
                    profile: None,
                },
                ClusterId::MetadataDir(dir) => {
                    if !connect.flags.pick_the_cluster() {
                        connect.flags.metadata_dir = Some(dir.clone());
                    }
                    ClusterTable::default()
                }
            },
            (None, None) => unreachable!("a source has a file or a plan"),
        }
    }

    /// The SPUs the run is about: the file's (as targeted), else the saved plan's changes.
    pub(super) fn named(&self) -> Vec<crate::model::SpuId> {
        match (&self.file, &self.saved) {
            (Some((_, desired)), _) => desired
                .spus
                .keys()
                .filter(|id| self.targeting.covers(**id))
                .copied()
                .collect(),
            (None, Some(doc)) => doc.changes.iter().map(|c| c.id).collect(),
            (None, None) => Vec::new(),
        }
    }

    /// Refuses `--exclude-spu` ids that neither the file nor `live` has.
    pub(super) fn check_excluded(&self, source: &Source, live: &Live) -> Result<()> {
        match (source, &self.file) {
            (Source::File(path), Some((_, desired))) => {
                super::plan::check_excluded(&self.targeting, desired, live, path)
            }
            _ => Ok(()),
        }
    }

    /// The file's probe policy (`Off` for a saved plan alone).
    pub(super) fn probe_policy(&self) -> ProbePolicy {
        self.file
            .as_ref()
            .map_or(ProbePolicy::Off, |(_, d)| d.policy.probe)
    }

    /// The file's `[policy]` (a saved plan alone has the defaults).
    pub(super) fn policy(&self) -> Policy {
        self.file
            .as_ref()
            .map_or_else(Policy::default, |(_, d)| d.policy.clone())
    }

    /// The plan to apply: the saved one if it is still fresh, else the file's, planned now;
    /// either way assessed for replication stalls as the run would go (`route`).
    pub(super) fn plan(
        self,
        cluster: &AnyCluster,
        live: &Live,
        limit_by: ChangeLimit,
        fingerprints: bool,
        (route, stalls): (Route, StallPolicy),
    ) -> Result<PlanDoc> {
        match (self.saved, &self.file) {
            (Some(mut doc), file) => {
                let file = file.as_ref().map(|(f, _)| ConfigRef::of(f));
                saved::check_fresh(&doc, &cluster.identity(), live, file.as_ref())
                    .map_err(Error::Stale)?;
                // The plan was reviewed for its changes; how they stall replication is a
                // matter of the cluster's partitions and this run's route, as they are now.
                doc.route = route;
                if let Some(partitions) = &live.partitions {
                    let blockers = crate::replication::assess_changes(
                        &mut doc.changes,
                        partitions,
                        route,
                        stalls,
                    );
                    for b in blockers {
                        let line = doc.changes.iter().find(|c| Some(c.id) == b.spu());
                        let line = line.and_then(|c| c.line);
                        doc.block(&b, line);
                    }
                }
                Ok(doc)
            }
            (None, Some((file, desired))) => {
                let mut plan = crate::plan::plan(desired, live);
                plan.retain_targeted(&self.targeting);
                crate::replication::assess(&mut plan, live, route, stalls);
                limit(&mut plan, limit_by, desired, live);
                let mut doc = document(
                    plan,
                    live,
                    cluster,
                    Some((file, desired)),
                    fingerprints,
                    route,
                );
                doc.target(&self.targeting, desired);
                Ok(doc)
            }
            (None, None) => unreachable!("a source has a file or a plan"),
        }
    }
}

/// A zone file given where a saved plan goes (`apply zone.toml` without -f) is called that.
fn not_a_plan(path: &std::path::Path, err: Error) -> Error {
    let toml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    match err {
        Error::BadSavedPlan { path, .. } if toml => Error::BadSavedPlan {
            path,
            message:
                "it is not a plan saved by `plan --out` but a TOML file (a zone file goes with -f)"
                    .to_string(),
        },
        other => other,
    }
}

/// Opens the cluster for the run. A dry run makes the same checks as a real one
/// (directory not served, lock free) and reports a pending journal instead of recovering
/// it.
pub(super) async fn open(
    connect: &Connect,
    cluster_table: &ClusterTable,
    run: RunKind,
    printer: &Printer,
) -> Result<Opened> {
    Ok(match run {
        RunKind::DryRun => {
            let cluster = connect.open(cluster_table, Access::Write, printer).await?;
            drop(connect.journal(&cluster.identity(), printer).await?);
            connect.warn_pending(&cluster.identity(), printer);
            Opened::DryRun(cluster)
        }
        RunKind::Real => Opened::Session(Session::open(connect, cluster_table, printer).await?),
    })
}

pub async fn run(
    connect: &Connect,
    options: &ApplyOptions,
    printer: &Printer,
) -> Result<RunOutcome> {
    if let Some(offline) = &options.offline {
        return super::offline::run(connect, options, offline, printer).await;
    }
    let inputs = Inputs::read(&options.source, &options.targeting)?;
    let mut connect = connect.clone();
    let cluster_table = inputs.cluster(&mut connect);
    let run = if options.dry_run {
        RunKind::DryRun
    } else {
        RunKind::Real
    };
    let mut opened = open(&connect, &cluster_table, run, printer).await?;
    connect.warn_local_off(&cluster_table, None, printer);
    let (cluster, recovered_first) = opened.parts();
    let live = read_live(cluster).await.map_err(Error::from_cluster)?;
    let live = connect
        .until_registered(cluster, live, &inputs.named(), printer)
        .await?;
    inputs.check_excluded(&options.source, &live)?;
    let policy = inputs.policy();
    let request = options.route_request();
    let route = (request.route(cluster, &policy), request.stalls(&policy));
    let restart = options.healing.restart_hook(&policy);
    let probe_policy = inputs.probe_policy();
    let mut doc = inputs.plan(
        cluster,
        &live,
        options.limit,
        printer.documents_carry_fingerprints(),
        route,
    )?;
    super::probe::check_plan(&mut doc, options.probe.mode(probe_policy), printer).await;
    printer.plan_if_text(&doc);
    // A run that stops short of executing still prints its one document.
    let unexecuted = |recovered_first| printer.unexecuted(&doc, recovered_first, run);
    if doc.is_blocked() {
        unexecuted(recovered_first);
        return Err(refused(&doc));
    }
    if !doc.has_changes() {
        unexecuted(recovered_first);
        return Ok(RunOutcome::default());
    }
    let session = match &mut opened {
        Opened::Session(session) => session,
        Opened::DryRun(cluster) => {
            unexecuted(recovered_first);
            return dry_run_end(cluster, &doc, printer).await;
        }
    };
    let reviewed = matches!(options.source, Source::Saved { .. } | Source::Loaded(_));
    if !options.auto_approve && !reviewed {
        if let Err(declined) = printer.approve(&doc) {
            unexecuted(recovered_first);
            return Err(declined);
        }
    }
    let heal = restart.map(|hook| Heal {
        hook,
        partitions: live.partitions.as_deref().unwrap_or_default(),
        gate_timeout: options.healing.gate_timeout,
    });
    execute(
        session,
        &doc,
        recovered_first,
        printer,
        heal,
        options.stop.clone(),
    )
    .await
}

/// The end of a dry run with changes: the same pre-flight a real run makes (a dry run also
/// says it would be refused), then what it would have done.
async fn dry_run_end(
    cluster: &mut AnyCluster,
    doc: &PlanDoc,
    printer: &Printer,
) -> Result<RunOutcome> {
    crate::apply::preflight(cluster, &creates(doc)).await?;
    printer.note(&format!(
        "Dry run: {} change(s) would be applied to {}; nothing was written.\n",
        doc.changes.len(),
        doc.cluster
    ));
    Ok(RunOutcome { changes: true })
}

/// `apply -f A -f B ...`: every file planned first, concurrently and read-only, and checked
/// against the others (files of one cluster must not contradict each other); if any plan is
/// refused or fails, nothing is written and the plans are shown as `plan` shows them. Then
/// each cluster's files are applied one after another under that cluster's lock, clusters
/// concurrently, each file planned again under the lock as a single apply does. The reports
/// are printed in the order the files were given (one JSON array or YAML stream), and the
/// run ends with the worst exit code among them.
pub async fn run_many(
    connect: &Connect,
    options: &ApplyOptions,
    files: &[PathBuf],
    printer: &Printer,
) -> Result<RunOutcome> {
    let plan_options = super::plan::PlanOptions {
        targeting: &options.targeting,
        route: options.route_request(),
        limit: options.limit,
        fingerprints: printer.documents_carry_fingerprints(),
        probe: options.probe,
        ownership: true,
    };
    // 1. Plan every file (read-only), and refuse contradicting files before any write.
    let planned = super::plan::plan_files(connect, files, plan_options, printer).await;
    let docs = all_stand(planned, options, printer).await?;
    // 2. Each cluster's files in turn, clusters concurrently; stdout kept per file, and
    // no progress bar (there is one terminal line for it).
    let printer = &Printer {
        quiet: true,
        ..printer.clone()
    };
    let runs = by_cluster(&docs)
        .await
        .into_iter()
        .map(|members| async move {
            let mut outputs = Vec::new();
            for i in members {
                let one = ApplyOptions {
                    source: Source::File(files[i].clone()),
                    ..options.clone()
                };
                let (result, out) = crate::output::collected(run(connect, &one, printer)).await;
                outputs.push((i, result, out));
            }
            outputs
        });
    let mut outputs: Vec<(usize, Result<RunOutcome>, String)> =
        futures_util::future::join_all(runs)
            .await
            .into_iter()
            .flatten()
            .collect();
    outputs.sort_by_key(|(i, _, _)| *i);
    print_in_order(printer, outputs.iter().map(|(_, _, out)| out.as_str()));
    worst_of(outputs, files, printer)
}

/// Every file's plan, when all of them stand: none failed, none is refused, and the
/// files of one cluster own their SPUs without contradiction. Otherwise every plan is
/// shown as a single apply shows one it does not execute, with every error, and nothing
/// is applied.
async fn all_stand(
    planned: Vec<Result<(PlanDoc, Option<super::ownership::Owned>)>>,
    options: &ApplyOptions,
    printer: &Printer,
) -> Result<Vec<PlanDoc>> {
    let mut owned = Vec::new();
    let mut docs = Vec::new();
    let mut failed = Vec::new();
    for result in planned {
        match result {
            Ok((doc, o)) => {
                owned.extend(o);
                docs.push(Some(doc));
            }
            Err(e) => {
                failed.push(e);
                docs.push(None);
            }
        }
    }
    if let Some(i) = failed.iter().position(|e| matches!(e, Error::Usage(_))) {
        return Err(failed.swap_remove(i));
    }
    super::ownership::check_resolved(&owned).await?;
    let refused: Vec<Error> = docs
        .iter()
        .flatten()
        .filter(|d| d.is_blocked())
        .map(refused)
        .collect();
    if failed.is_empty() && refused.is_empty() {
        return Ok(docs.into_iter().flatten().collect());
    }
    // each plan as a single apply prints one it does not execute
    let mut outputs = Vec::new();
    for doc in docs.iter().flatten() {
        let ((), out) = crate::output::collected(async {
            printer.plan_if_text(doc);
            let run = match options.dry_run {
                true => RunKind::DryRun,
                false => RunKind::Real,
            };
            printer.unexecuted(doc, Vec::new(), run);
        })
        .await;
        outputs.push(out);
    }
    print_in_order(printer, outputs.iter().map(String::as_str));
    let errors: Vec<Error> = failed.into_iter().chain(refused).collect();
    for e in &errors {
        printer.error(e);
    }
    printer.note("Nothing was applied: every file's plan must stand before any is applied.\n");
    Err(Error::Reported {
        count: errors.len(),
        code: crate::error::worst(errors.iter().map(Error::exit_code)),
    })
}

/// The files (by index) grouped by cluster, one cluster however its address is spelled:
/// files whose clusters resolve to a common address go one after another.
async fn by_cluster(docs: &[PlanDoc]) -> Vec<Vec<usize>> {
    let mut groups: Vec<(std::collections::BTreeSet<String>, Vec<usize>)> = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let key = super::ownership::resolved_key(&doc.cluster).await;
        match groups.iter_mut().find(|(k, _)| !k.is_disjoint(&key)) {
            Some((k, members)) => {
                k.extend(key);
                members.push(i);
            }
            None => groups.push((key, vec![i])),
        }
    }
    groups.into_iter().map(|(_, members)| members).collect()
}

/// The run's end: what the applies found, or every file's error and the worst exit code.
fn worst_of(
    outputs: Vec<(usize, Result<RunOutcome>, String)>,
    files: &[PathBuf],
    printer: &Printer,
) -> Result<RunOutcome> {
    let mut outcome = RunOutcome::default();
    let mut codes = Vec::new();
    for (i, result, _) in outputs {
        match result {
            Ok(f) => outcome.changes |= f.changes,
            Err(e) => {
                printer.note(&format!("{}:\n", files[i].display()));
                printer.error(&e);
                codes.push(e.exit_code());
            }
        }
    }
    match codes.is_empty() {
        true => Ok(outcome),
        false => Err(Error::Reported {
            count: codes.len(),
            code: crate::error::worst(codes.into_iter()),
        }),
    }
}

/// The kept outputs of several applies as one: a JSON array of their documents, a YAML
/// stream, or text and Markdown one after another.
fn print_in_order<'a>(printer: &Printer, outputs: impl Iterator<Item = &'a str>) {
    use crate::output::Format;
    let outputs: Vec<&str> = outputs.collect();
    let text = match printer.format {
        Format::Json => {
            let documents: Vec<&str> = outputs
                .iter()
                .map(|o| o.trim())
                .filter(|o| !o.is_empty())
                .collect();
            let indented: Vec<String> = documents
                .iter()
                .map(|d| {
                    d.lines()
                        .map(|l| format!("  {l}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .collect();
            format!("[\n{}\n]\n", indented.join(",\n"))
        }
        Format::Yaml => outputs
            .iter()
            .filter(|o| !o.trim().is_empty())
            .map(|o| match o.starts_with("---") {
                true => o.to_string(),
                false => format!("---\n{o}"),
            })
            .collect(),
        Format::Text | Format::Markdown => outputs.concat(),
    };
    printer.data(&text);
}

/// A rolling apply's parts: the restart command, the partitions as read before any
/// change, and how long a gate may wait.
pub struct Heal<'a> {
    pub hook: Hook,
    pub partitions: &'a [LivePartition],
    pub gate_timeout: std::time::Duration,
}

/// How often a gate reads the partitions: the SC's partition status comes from each
/// leader's report, sent every 400 ms upstream.
const GATE_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// The restart command, announced on stderr as each restart begins.
struct Announced<'p> {
    hook: RestartHook,
    printer: &'p Printer,
}

impl crate::apply::Restart for Announced<'_> {
    fn restart<'a>(
        &'a mut self,
        spu: &'a crate::model::SpuSpec,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<crate::hook::HookRun, String>> + 'a>,
    > {
        self.printer.note(&format!(
            "Restarting SPU {} ({}) with the restart command, then waiting for its partitions to commit...\n",
            spu.id,
            crate::escape::visible(&spu.name)
        ));
        self.hook.restart(spu)
    }
}

/// Carries out a reviewed plan and reports; shared by `apply` and `update-local`.
/// Ctrl-C (or `stop`, set) finishes the SPU in flight and skips the rest. With `heal`, a rolling apply
/// (when the plan's route is one).
pub async fn execute(
    session: &mut Session,
    doc: &PlanDoc,
    recovered_first: Vec<Recovered>,
    printer: &Printer,
    heal: Option<Heal<'_>>,
    stop: Option<Arc<AtomicBool>>,
) -> Result<RunOutcome> {
    // Before any write (and before Ctrl-C is watched): may the caller re-create what it
    // deletes?
    crate::apply::preflight(&mut session.cluster, &creates(doc)).await?;
    // A caller that brings its own stop flag watches the signals itself (the agent).
    let (stop, _watching) = match stop {
        Some(stop) => (stop, None),
        None => {
            let stop = Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            let printer = printer.clone();
            let watcher = tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    flag.store(true, Ordering::SeqCst);
                    printer.interrupted();
                }
            });
            // Stops watching however the run ends (an error below returns early).
            (stop, Some(AbortOnDrop(watcher)))
        }
    };
    let changes = &doc.changes;
    let bar = printer.start_apply(changes.len(), &doc.cluster);
    let mut announced;
    let rolling = match heal {
        Some(heal) if doc.route == Route::Rolling => {
            announced = Announced {
                hook: RestartHook(heal.hook),
                printer,
            };
            Some(Rolling {
                restart: &mut announced,
                planned: heal.partitions,
                gate_timeout: heal.gate_timeout,
                poll: GATE_POLL,
                settle: crate::replication::GATE_SETTLE,
            })
        }
        _ => None,
    };
    let mut report: ApplyReport = crate::apply::apply(
        changes,
        &mut session.cluster,
        &mut session.journal,
        &RetryPolicy::default(),
        &stop,
        &mut |r| printer.progress(r),
        rolling,
    )
    .await
    .map_err(|e| journal_failed_mid_apply(e, &session.journal))?;
    drop(bar);
    report.recovered_first = recovered_first;
    printer.apply_report(doc, &report);
    outcome(doc, &report)
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The specs a plan's changes would create.
fn creates(doc: &PlanDoc) -> Vec<crate::model::SpuSpec> {
    doc.changes.iter().map(crate::plan::Change::next).collect()
}

/// How an executed apply ends: every change verified, or the error that says what is left.
pub(super) fn outcome(doc: &PlanDoc, report: &ApplyReport) -> Result<RunOutcome> {
    let summary = ApplySummary::of(report);
    if summary.unresolved > 0 {
        return Err(Error::RecoveryNeeded(format!(
            "{} change(s) on {} are unresolved; every SPU named is kept in the journal",
            summary.unresolved, doc.cluster
        )));
    }
    if let Some(why) = &report.verification_error {
        return Err(Error::RecoveryNeeded(format!(
            "the changes on {} could not be verified ({why}); the journal keeps them until `recover` confirms each SPU",
            doc.cluster
        )));
    }
    if let Some(failure) = &report.data_plane_failure {
        return Err(Error::DataPlane(format!(
            "the run halted: {failure}; nothing after it was touched"
        )));
    }
    if !summary.verified {
        return Err(Error::Partial {
            not_applied: report.results.len() - summary.applied,
            total: report.results.len(),
        });
    }
    Ok(RunOutcome { changes: true })
}

/// A journal that could not be written once changes were begun leaves those changes open:
/// the cluster may have been written, so it is not a plain error (exit 1) but a run that
/// needs `recover` (exit 8), which names how many changes stay open.
fn journal_failed_mid_apply(err: Error, journal: &crate::journal::Journal) -> Error {
    match err {
        Error::Journal(e) if !journal.pending().is_empty() => {
            let cause = std::error::Error::source(&e)
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            Error::RecoveryNeeded(format!(
                "{e}{cause}; {} change(s) of this run stay open in the journal: run `fluvio-endpoints recover` once it can be written",
                journal.pending().len()
            ))
        }
        other => other,
    }
}
