//! `reconcile -f FILE...`: a long-running agent that keeps zones converged.
//!
//! Each zone (file) is read again when the SC's SPU watch says something changed
//! (debounced), every `--resync`, when its file changes on disk and on SIGHUP. A round
//! reads the cluster over the watch-free request connection, plans (the pure `plan`), and
//! reports drift once when it appears, changes or clears. With `--remediate` a drifting
//! zone is applied through `ops::apply` exactly as `apply -f FILE --auto-approve` would
//! (journal, lock, `max_changes`, probe policy, the replication route and restart hook),
//! at most once per `--min-interval`, with exponential backoff after failures, and not at
//! all after `--max-failures` failures in a row until the zone file or the cluster's SPUs
//! change. An invalid edit keeps the old desired state. SIGTERM/SIGINT finish the SPU in
//! flight and end the agent with exit 0.
//!
//! Logs are tracing events on stderr (text, or JSON lines with `--log-format json`); every
//! text from a cluster or a file is escaped before it is logged.

mod metrics;
mod serve;
mod tracker;
mod zones;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::session::Connect;
use super::ChangeLimit;
use crate::error::{Error, Result};
use crate::escape::visible;
use metrics::Metrics;
pub use tracker::Pacing;
use tracker::{Decision, Drift, Event};
use zones::Zone;

/// What the agent is asked to do.
#[derive(Debug, Clone)]
pub struct ReconcileOptions {
    pub files: Vec<PathBuf>,
    /// Apply drifting zones (otherwise only report).
    pub remediate: bool,
    /// A full re-read of every zone this often, whatever the watch says.
    pub resync: Duration,
    /// How long after a change the cluster is read (changes in the window are read once).
    pub debounce: Duration,
    pub pacing: Pacing,
    /// Serve `/metrics`, `/healthz`, `/readyz` here.
    pub listen: Option<SocketAddr>,
    /// `max_changes` as `apply` takes it.
    pub limit: ChangeLimit,
    /// `--force`: also an unreachable endpoint under the file's probe policy is a warning.
    pub force: bool,
    /// The rolling route's restart command and limits.
    pub healing: super::route::Healing,
}

/// Why the loop wakes.
#[derive(Debug)]
enum Trigger {
    /// News from a zone's SPU watch (of watch generation `generation`).
    Watch {
        zone: usize,
        generation: u64,
        news: WatchNews,
    },
    /// Something changed in a directory holding a zone file.
    FileEvent,
    /// SIGHUP.
    Reload,
    /// SIGTERM or SIGINT (the stop flag and the signal's name are already set).
    Shutdown,
    /// A zone's remediation ended.
    Applied(Box<Applied>),
}

/// What a remediation's apply returned and printed.
#[derive(Debug)]
struct Applied {
    zone: usize,
    result: Result<()>,
    /// Its `-o json` document.
    out: String,
    /// What it printed on stderr (notes, the restart command's output).
    err: String,
}

/// How long a remediation waits for another run's lock of the cluster (another agent, a
/// CD job) before it counts as a failure; `--lock-timeout` when longer. Such a run is
/// usually changing the same SPUs: once it is done, the apply finds less or nothing to do.
const REMEDIATION_LOCK_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug)]
enum WatchNews {
    Opened,
    Update(crate::cluster::watch::WatchUpdate),
    Lost(String),
}

/// How often a lost read or watch is tried again: from a quarter second, doubling, to 5 s.
fn reconnect_backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1 << attempt.min(5))).min(Duration::from_secs(5))
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

struct Agent {
    connect: Connect,
    options: ReconcileOptions,
    zones: Vec<Zone>,
    status: Arc<serve::Status>,
    stop: Arc<AtomicBool>,
    triggers: mpsc::UnboundedSender<Trigger>,
    /// When the files must be looked at (a change on disk, debounced).
    files_due: Option<Instant>,
    next_resync: Instant,
    /// The zone whose remediation runs (one at a time; the other zones are still read and
    /// reported meanwhile).
    applying: Option<usize>,
    /// The zone files' directories, watched (made again at each resync: a directory
    /// removed and made again is watched again).
    files_watch: Option<notify::RecommendedWatcher>,
    /// The signal that stopped the agent.
    stopped_by: Arc<std::sync::OnceLock<&'static str>>,
}

/// Runs the agent until SIGTERM or SIGINT.
pub async fn run(connect: &Connect, options: ReconcileOptions) -> Result<()> {
    // signals first: a SIGTERM during start-up stops the agent as it does later
    let (triggers, mut wake) = mpsc::unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped_by = Arc::new(std::sync::OnceLock::new());
    signals(triggers.clone(), stop.clone(), stopped_by.clone())?;
    // the output of restart commands becomes `apply_output` events, not raw log lines
    crate::hook::forward_output(crate::output::stderr);
    let zones = zones::load_all(connect, &options.files)?;
    for zone in &zones {
        // a profile or a directory that cannot be used is the command's error, at once
        connect.check_selection(&zone.loaded.1.cluster).await?;
    }
    let status = serving(&options, &zones).await?;
    let files_watch = zones::watch_files(&options.files, triggers.clone());
    let mut agent = Agent {
        connect: Connect {
            wait: None,
            lock_timeout: connect.lock_timeout.max(REMEDIATION_LOCK_WAIT),
            ..connect.clone()
        },
        zones,
        status,
        stop,
        triggers,
        files_due: None,
        next_resync: Instant::now() + options.resync,
        options,
        applying: None,
        files_watch,
        stopped_by,
    };
    agent.log_start();
    for z in 0..agent.zones.len() {
        agent.status.metrics.zero(&agent.zones[z].metric);
        agent.start_watch(z);
        agent.zones[z].due = Some(Instant::now());
    }
    agent.run_loop(&mut wake).await;
    // an apply under way finishes its SPU in flight (the stop flag is set) and skips the rest
    while agent.applying.is_some() {
        match wake.recv().await {
            Some(Trigger::Applied(applied)) => agent.applied(*applied),
            Some(_) => {}
            None => break,
        }
    }
    let signal = agent
        .stopped_by
        .get()
        .copied()
        .unwrap_or("a shutdown signal");
    tracing::info!(event = "stopped", signal, "stopped on {signal}");
    Ok(())
}

/// The endpoints' state, and with `--listen` the server, bound before the agent starts (a
/// refused address is the command's error).
async fn serving(options: &ReconcileOptions, zones: &[Zone]) -> Result<Arc<serve::Status>> {
    // a round may run an apply: restarts and gates included
    let healing = &options.healing;
    let stuck_after = Duration::from_secs(300)
        + (healing.restart_timeout + healing.gate_timeout)
            * zones.iter().map(Zone::size).sum::<usize>().max(1) as u32;
    let status = Arc::new(serve::Status::new(stuck_after));
    if let Some(addr) = options.listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::Listen {
                addr: addr.to_string(),
                cause: e.to_string(),
            })?;
        let bound = listener.local_addr().ok();
        tokio::spawn(serve::serve(listener, status.clone()));
        tracing::info!(event = "listening", listen = %bound.map_or_else(String::new, |a| a.to_string()), "serving /metrics, /healthz and /readyz");
    }
    Ok(status)
}

/// SIGTERM and SIGINT set the stop flag (an apply under way finishes its SPU in flight)
/// and wake the loop; SIGHUP reloads the zone files.
fn signals(
    triggers: mpsc::UnboundedSender<Trigger>,
    stop: Arc<AtomicBool>,
    stopped_by: Arc<std::sync::OnceLock<&'static str>>,
) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let install = |kind| signal(kind).map_err(|e| Error::Internal(format!("signal handler: {e}")));
    let mut term = install(SignalKind::terminate())?;
    let mut int = install(SignalKind::interrupt())?;
    let mut hup = install(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
                _ = hup.recv() => {
                    let _ = triggers.send(Trigger::Reload);
                    continue;
                }
            };
            let _ = stopped_by.set(name);
            stop.store(true, Ordering::SeqCst);
            let _ = triggers.send(Trigger::Shutdown);
        }
    });
    Ok(())
}

impl Agent {
    fn log_start(&self) {
        tracing::info!(
            event = "started",
            zones = self.zones.len(),
            remediate = self.options.remediate,
            "agent started: {} zone file(s), {}",
            self.zones.len(),
            if self.options.remediate {
                "remediating drift"
            } else {
                "reporting drift (read-only)"
            }
        );
    }

    /// Until a shutdown signal.
    async fn run_loop(&mut self, wake: &mut mpsc::UnboundedReceiver<Trigger>) {
        loop {
            // the zone under remediation is read again once its apply ends
            let applying = self.applying;
            let next = self
                .zones
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != applying)
                .filter_map(|(_, z)| z.due)
                .chain(self.files_due)
                .fold(self.next_resync, Instant::min);
            tokio::select! {
                trigger = wake.recv() => match trigger {
                    Some(Trigger::Shutdown) | None => return,
                    Some(trigger) => self.on(trigger),
                },
                _ = tokio::time::sleep_until(next.into()) => {}
            }
            if self.due_rounds().await {
                return;
            }
        }
    }

    fn on(&mut self, trigger: Trigger) {
        let now = Instant::now();
        match trigger {
            Trigger::Shutdown => {}
            Trigger::Applied(applied) => self.applied(*applied),
            Trigger::Reload => {
                tracing::info!(event = "reload", "SIGHUP: reading the zone files again");
                self.check_files(true);
            }
            Trigger::FileEvent => {
                let at = now + self.options.debounce;
                self.files_due = Some(self.files_due.map_or(at, |d| d.min(at)));
            }
            Trigger::Watch {
                zone,
                generation,
                news,
            } => {
                let debounce = self.options.debounce;
                let z = &mut self.zones[zone];
                if generation != z.watch_generation {
                    return;
                }
                match news {
                    WatchNews::Opened => {
                        if z.watch_opened_before {
                            self.status
                                .metrics
                                .watch_reconnects
                                .get_or_create(&Metrics::zone(&z.metric))
                                .inc();
                            tracing::info!(event = "watch_reopened", zone = %z.label, "SPU watch open again: reading the cluster");
                        } else {
                            tracing::debug!(event = "watch_opened", zone = %z.label, "SPU watch open");
                        }
                        z.watch_opened_before = true;
                        z.watch_up = true;
                        z.mark_due(now + debounce);
                    }
                    WatchNews::Update(update) => {
                        tracing::debug!(event = "watch_update", zone = %z.label, epoch = update.epoch, changes = update.changes, all = update.all, "SPU watch update");
                        z.mark_due(now + debounce);
                    }
                    WatchNews::Lost(cause) => {
                        if z.watch_up {
                            tracing::warn!(event = "watch_lost", zone = %z.label, cause = %visible(&cause), "SPU watch lost ({}); reconnecting", visible(&cause));
                            // the SC may be gone: find out (and say so in /readyz)
                            z.disconnect();
                            z.mark_due(now + debounce);
                        }
                        z.watch_up = false;
                    }
                }
            }
        }
    }

    /// Runs every round that is due (files first). True when a shutdown signal came in
    /// meanwhile.
    async fn due_rounds(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.next_resync {
            self.next_resync = now + self.options.resync;
            self.files_due = Some(now);
            self.files_watch = zones::watch_files(&self.options.files, self.triggers.clone());
            for z in &mut self.zones {
                z.mark_due(now);
            }
        }
        if self.files_due.is_some_and(|d| d <= now) {
            self.files_due = None;
            self.check_files(false);
        }
        for z in 0..self.zones.len() {
            if self.stop.load(Ordering::SeqCst) {
                return true;
            }
            // the zone under remediation is read again once its apply ends
            if self.applying == Some(z) {
                continue;
            }
            if self.zones[z].due.is_some_and(|d| d <= Instant::now()) {
                self.zones[z].due = None;
                self.status.set_busy(true);
                self.round(z).await;
                self.status.set_busy(false);
            }
        }
        self.update_readiness();
        self.stop.load(Ordering::SeqCst)
    }

    /// Reads the zone's cluster, reports what changed, and remediates when it should.
    async fn round(&mut self, z: usize) {
        let live = match self.zones[z].read(&self.connect).await {
            Ok(live) => live,
            Err(cause) => {
                let zone = &mut self.zones[z];
                let metrics = &self.status.metrics;
                metrics
                    .sc_reachable
                    .get_or_create(&Metrics::zone(&zone.metric))
                    .set(0);
                if let Some(Event::Unreachable(cause)) = zone.tracker.unreachable(&cause) {
                    tracing::warn!(event = "sc_unreachable", zone = %zone.label, cause = %visible(&cause), "cannot read the cluster: {}", visible(&cause));
                }
                zone.read_failures += 1;
                zone.mark_due(Instant::now() + reconnect_backoff(zone.read_failures));
                return;
            }
        };
        let zone = &mut self.zones[z];
        zone.read_failures = 0;
        let metrics = &self.status.metrics;
        let label = Metrics::zone(&zone.metric);
        metrics.sc_reachable.get_or_create(&label).set(1);
        let desired = &zone.loaded.1;
        let plan = crate::plan::plan(desired, &live);
        let drift = drift_of(&plan);
        for event in zone.tracker.observe(drift.clone()) {
            log(&zone.label, &event);
        }
        metrics.set_drift(
            &zone.metric,
            desired.spus.keys(),
            &drift.spus,
            !drift.blocked.is_empty() || zone.tracker.refused().is_some(),
        );
        metrics
            .suspended
            .get_or_create(&label)
            .set(i64::from(zone.tracker.is_suspended()));
        if drift.is_none() {
            metrics.last_success.get_or_create(&label).set(unix_now());
            return;
        }
        if !self.options.remediate || !drift.blocked.is_empty() {
            return;
        }
        let now = Instant::now();
        if let Some(event) = zone.tracker.undone(now, zone.hash, &self.options.pacing) {
            tracing::warn!(event = "remediation_undone", zone = %zone.label, "the last remediation was undone within {}: another zone file, agent or script sets these SPUs too", humantime::format_duration(self.options.pacing.undone_within));
            log(&zone.label, &event);
        }
        let (decision, event) = zone.tracker.decide(now, zone.hash, live_fingerprint(&live));
        if let Some(event) = event {
            log(&zone.label, &event);
        }
        metrics
            .suspended
            .get_or_create(&label)
            .set(i64::from(zone.tracker.is_suspended()));
        self.decided(z, decision, now);
    }

    /// Carries out what the tracker decided for a drifting zone.
    fn decided(&mut self, z: usize, decision: Decision, now: Instant) {
        let zone = &mut self.zones[z];
        match decision {
            Decision::Suspended => {}
            Decision::NotBefore(at) => {
                if zone.deferred_to != Some(at) {
                    zone.deferred_to = Some(at);
                    let wait = round_secs(at.saturating_duration_since(now));
                    tracing::info!(
                        event = "remediation_deferred",
                        zone = %zone.label,
                        "remediation waits {} (at most one apply per --min-interval {}; longer after failures)",
                        humantime::format_duration(wait),
                        humantime::format_duration(self.options.pacing.min_interval)
                    );
                }
                zone.mark_due(at)
            }
            Decision::Apply if self.applying.is_some() => {
                // one remediation at a time: this zone's round comes again after it
                zone.waiting_to_apply = true;
            }
            Decision::Apply => self.remediate(z),
        }
    }

    /// Starts applying the zone's desired state as `apply -f FILE --auto-approve` does, on
    /// a task of its own; [`Agent::applied`] takes the result.
    fn remediate(&mut self, z: usize) {
        let zone = &self.zones[z];
        let drifting = zone.tracker.drift().spus.len();
        tracing::info!(event = "remediating", zone = %zone.label, changes = drifting, "applying the zone file ({drifting} SPU(s) drift)");
        let options = super::apply::ApplyOptions {
            source: super::apply::Source::Loaded(zone.loaded.clone()),
            auto_approve: true,
            dry_run: false,
            limit: self.options.limit,
            probe: super::probe::ProbeRequest {
                probe: false,
                force: self.options.force,
            },
            healing: self.options.healing.clone(),
            offline: None,
            targeting: crate::model::Targeting::default(),
            stop: Some(self.stop.clone()),
        };
        let connect = self.connect.clone();
        let triggers = self.triggers.clone();
        self.applying = Some(z);
        self.status.set_busy(true);
        // On a thread of its own, with a runtime of its own (the apply's future is not
        // `Send`): the loop goes on reading and reporting the other zones meanwhile.
        let spawned = std::thread::Builder::new()
            .name("remediation".into())
            .spawn(move || {
                let result = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| Error::Internal(format!("the remediation's runtime: {e}")));
                let (result, out, err) = match result {
                    Err(e) => (Err(e), String::new(), String::new()),
                    Ok(runtime) => {
                        let printer = crate::output::Printer {
                            format: crate::output::Format::Json,
                            style: crate::output::Style { color: false },
                            annotations: false,
                            quiet: true,
                            ..crate::output::Printer::default()
                        };
                        let work = super::apply::run(&connect, &options, &printer);
                        // a bug below must not leave the agent waiting for this apply
                        let run = std::panic::AssertUnwindSafe(|| {
                            runtime.block_on(crate::output::captured(work))
                        });
                        match std::panic::catch_unwind(run) {
                            Ok((result, out, err)) => (result.map(|_| ()), out, err),
                            Err(panic) => {
                                let what = panic
                                    .downcast_ref::<&str>()
                                    .map(|s| s.to_string())
                                    .or_else(|| panic.downcast_ref::<String>().cloned())
                                    .unwrap_or_default();
                                let error =
                                    Error::Internal(format!("the remediation panicked: {what}"));
                                (Err(error), String::new(), String::new())
                            }
                        }
                    }
                };
                let applied = Applied {
                    zone: z,
                    result,
                    out,
                    err,
                };
                let _ = triggers.send(Trigger::Applied(Box::new(applied)));
            });
        if let Err(e) = spawned {
            let applied = Applied {
                zone: z,
                result: Err(Error::Internal(format!("the remediation's thread: {e}"))),
                out: String::new(),
                err: String::new(),
            };
            let _ = self.triggers.send(Trigger::Applied(Box::new(applied)));
        }
    }

    /// A remediation ended: report it, pace the next, and read the zone again.
    fn applied(&mut self, applied: Applied) {
        let Applied {
            zone: z,
            result,
            out,
            err,
        } = applied;
        self.applying = None;
        self.status.set_busy(false);
        let now = Instant::now();
        // zones that waited for this one's apply take their turn
        for other in &mut self.zones {
            if std::mem::take(&mut other.waiting_to_apply) {
                other.mark_due(now);
            }
        }
        let zone = &mut self.zones[z];
        for line in err.lines().filter(|l| !l.trim().is_empty()) {
            tracing::info!(event = "apply_output", zone = %zone.label, "apply: {}", visible(line));
        }
        let summary = serde_json::from_str::<serde_json::Value>(&out)
            .ok()
            .and_then(|doc| doc.get("summary").cloned());
        let count = |field: &str| {
            summary
                .as_ref()
                .and_then(|s| s.get(field))
                .and_then(|n| n.as_u64())
                .unwrap_or(0)
        };
        let applied = count("applied");
        let interrupted = self.stop.load(Ordering::SeqCst);
        let outcome = match &result {
            Ok(()) => "applied",
            Err(Error::Refused { .. }) => "refused",
            Err(_) => "failed",
        };
        let metrics = &self.status.metrics;
        metrics
            .applies
            .get_or_create(&Metrics::outcome(&zone.metric, outcome))
            .inc();
        let mut suspended = None;
        match &result {
            Ok(()) => {
                zone.tracker
                    .applied(now, true, zone.hash, &self.options.pacing);
                tracing::info!(event = "remediated", zone = %zone.label, applied, "applied {applied} change(s); reading the cluster again");
            }
            Err(_) if interrupted => {
                tracing::warn!(event = "remediation_interrupted", zone = %zone.label, applied, skipped = count("skipped"), "stopping: the SPU in flight was finished, {} change(s) skipped", count("skipped"));
            }
            Err(err) => {
                suspended = failed(zone, err, outcome, now, &self.options.pacing, metrics);
            }
        }
        if let Some(event) = suspended {
            log(&zone.label, &event);
        }
        metrics
            .suspended
            .get_or_create(&Metrics::zone(&zone.metric))
            .set(i64::from(zone.tracker.is_suspended()));
        // read again to see what the apply left (the watch will also say so)
        zone.mark_due(now + self.options.debounce);
    }

    /// Looks at every zone file; loads the ones that changed. `always`: report an invalid
    /// file again even when it is the same invalid text (SIGHUP).
    fn check_files(&mut self, always: bool) {
        let now = Instant::now();
        for z in 0..self.zones.len() {
            let others: Vec<_> = self
                .zones
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != z)
                .map(|(_, o)| o.loaded.clone())
                .collect();
            let zone = &mut self.zones[z];
            match zone.reload(&self.connect, &others, always) {
                zones::Reload::Same => {}
                zones::Reload::Restored => {
                    tracing::info!(event = "zone_valid", zone = %zone.label, "the zone file is valid again, as loaded before");
                }
                zones::Reload::Invalid(problems) => {
                    self.status
                        .metrics
                        .reloads
                        .get_or_create(&Metrics::outcome(&zone.metric, "invalid"))
                        .inc();
                    // the report quotes the file: escaped, on one line
                    let problems = visible(&problems);
                    tracing::error!(event = "zone_invalid", zone = %zone.label, problems = %problems, "the zone file is invalid; keeping the desired state loaded before (problems: see the field)");
                }
                zones::Reload::Loaded {
                    removed,
                    cluster_changed,
                } => {
                    let metrics = &self.status.metrics;
                    metrics
                        .reloads
                        .get_or_create(&Metrics::outcome(&zone.metric, "applied"))
                        .inc();
                    metrics.forget_spus(&zone.metric, removed.into_iter());
                    tracing::info!(event = "zone_reloaded", zone = %zone.label, spus = zone.size(), "zone file changed: {} SPU(s) declared", zone.size());
                    zone.mark_due(now);
                    if cluster_changed {
                        self.start_watch(z);
                    }
                }
            }
        }
    }

    /// (Re)starts a zone's SPU watch on a connection of its own; a metadata directory has
    /// no watch (its zone is read every `--resync`).
    fn start_watch(&mut self, z: usize) {
        if self.connect.flags.metadata_dir.is_some() {
            return;
        }
        let zone = &mut self.zones[z];
        zone.watch_generation += 1;
        zone.watch_up = false;
        if let Some(task) = zone.watch.take() {
            task.abort();
        }
        let generation = zone.watch_generation;
        let connect = self.connect.clone();
        let cluster_table = zone.loaded.1.cluster.clone();
        let triggers = self.triggers.clone();
        zone.watch = Some(tokio::spawn(async move {
            let send = |news| {
                triggers.send(Trigger::Watch {
                    zone: z,
                    generation,
                    news,
                })
            };
            let mut attempt = 0;
            loop {
                let opened = connect
                    .open_once(&cluster_table, None, super::session::Access::Read)
                    .await
                    .map_err(|e| crate::causes::one_line(&e));
                let watched = match opened {
                    Ok(crate::cluster::AnyCluster::Sc(sc)) => {
                        sc.watch_spus().await.map_err(|e| e.to_string())
                    }
                    Ok(crate::cluster::AnyCluster::MetadataDir(_)) => return,
                    Err(e) => Err(e),
                };
                match watched {
                    Ok(mut watch) => {
                        if send(WatchNews::Opened).is_err() {
                            return;
                        }
                        loop {
                            match watch.next().await {
                                Ok(update) => {
                                    attempt = 0;
                                    if send(WatchNews::Update(update)).is_err() {
                                        return;
                                    }
                                }
                                Err(e) => {
                                    let _ = send(WatchNews::Lost(e.to_string()));
                                    break;
                                }
                            }
                        }
                    }
                    Err(cause) => {
                        if send(WatchNews::Lost(cause)).is_err() {
                            return;
                        }
                    }
                }
                tokio::time::sleep(reconnect_backoff(attempt)).await;
                attempt += 1;
            }
        }));
    }

    fn update_readiness(&self) {
        let not_ready = self.zones.iter().find_map(|z| {
            (!z.tracker.is_reachable()).then(|| format!("the cluster of {} was not read", z.label))
        });
        self.status.set_ready(not_ready);
    }
}

/// A remediation failed (or was refused): count it, mark a refused zone blocked, and say
/// when the next attempt comes. Returns the suspension when this failure was the last
/// allowed.
fn failed(
    zone: &mut Zone,
    err: &Error,
    outcome: &'static str,
    now: Instant,
    pacing: &Pacing,
    metrics: &Metrics,
) -> Option<Event> {
    let suspended = zone.tracker.applied(now, false, zone.hash, pacing);
    let cause = visible(&crate::causes::one_line(err)).into_owned();
    if outcome == "refused" {
        zone.tracker.set_refused(cause.clone());
        metrics
            .blocked
            .get_or_create(&Metrics::zone(&zone.metric))
            .set(1);
    }
    let retry = zone
        .tracker
        .not_before()
        .map(|t| t.saturating_duration_since(now));
    tracing::error!(
        event = "remediation_failed",
        zone = %zone.label,
        outcome,
        failures = zone.tracker.failures(),
        error = %cause,
        "remediation {outcome}: {cause}{}",
        match (&suspended, retry) {
            (Some(_), _) => String::new(),
            (None, Some(d)) => format!("; next attempt in {}", humantime::format_duration(round_secs(d))),
            (None, None) => String::new(),
        }
    );
    suspended
}

/// Whole seconds (at least one), for messages.
fn round_secs(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs_f64().ceil().max(1.0) as u64)
}

/// A fingerprint of the cluster's SPU specs (not their status): a suspended remediation
/// goes on when it changes.
fn live_fingerprint(live: &crate::model::Live) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for (id, spu) in &live.spus {
        id.hash(&mut hasher);
        spu.spec.hash(&mut hasher);
    }
    hasher.finish()
}

/// An endpoint as plans describe it (`none`, `host:port`, `host:port (SSL)`), escaped.
fn endpoint(e: &Option<crate::model::Endpoint>) -> String {
    visible(&crate::plan::describe_endpoint(e)).into_owned()
}

/// What a plan says of a zone's drift, escaped for logs.
fn drift_of(plan: &crate::plan::Plan) -> Drift {
    Drift {
        spus: plan
            .changes
            .iter()
            .map(|c| {
                (
                    c.id,
                    format!(
                        "SPU {} ({}): local {} -> {}",
                        c.id,
                        visible(&c.name),
                        endpoint(&c.before),
                        endpoint(&c.after)
                    ),
                )
            })
            .collect(),
        blocked: plan
            .blockers
            .iter()
            .map(|b| visible(&b.message()).into_owned())
            .collect(),
    }
}

fn log(zone: &str, event: &Event) {
    match event {
        Event::Appeared(drift) | Event::Changed(drift) => {
            let (name, what) = match event {
                Event::Appeared(_) => ("drift_appeared", "drift"),
                _ => ("drift_changed", "drift changed"),
            };
            let spus = drift.spus.keys().map(|id| id.to_string()).collect::<Vec<_>>().join(",");
            let mut lines: Vec<&str> = drift.spus.values().map(String::as_str).collect();
            lines.extend(drift.blocked.iter().map(|b| b.as_str()));
            tracing::warn!(event = name, zone, spus = %spus, blocked = !drift.blocked.is_empty(), "{what}: {}", lines.join("; "));
        }
        Event::Cleared => tracing::info!(event = "drift_cleared", zone, "converged: every SPU matches the zone file"),
        Event::Unreachable(_) | Event::Reachable => {
            if matches!(event, Event::Reachable) {
                tracing::info!(event = "sc_reachable", zone, "the cluster answers again");
            }
        }
        Event::Suspended { failures } => tracing::error!(
            event = "remediation_suspended",
            zone,
            failures,
            "remediation suspended after {failures} failures in a row, until the zone file or the cluster's SPUs change (drift is still reported)"
        ),
        Event::Resumed(why) => tracing::info!(event = "remediation_resumed", zone, "remediation resumed: {why}"),
    }
}
