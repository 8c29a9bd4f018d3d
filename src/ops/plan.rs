//! Planning files: validate each, read its cluster, diff (`plan::plan`), and make the plan
//! document. Several files are planned concurrently, each against its own cluster.

use std::path::{Path, PathBuf};

use super::route::read_live;
use super::session::{Access, Connect};
use super::{load_file, ChangeLimit};
use crate::cluster::{AnyCluster, Cluster};
use crate::config::SourceFile;
use crate::error::{Error, Result};
use crate::model::{ClusterSel, Desired, Live};
use crate::output::Printer;
use crate::plan::Plan;
use crate::replication::Route;
use crate::report::PlanDoc;

/// How to plan.
#[derive(Debug, Clone, Copy)]
pub struct PlanOptions {
    /// Whether the run would heal or avoid replication stalls (`--restart-command`,
    /// `--sc-offline`, `--accept-stalls`), with the file's `[policy]`.
    pub route: super::route::RouteRequest,
    pub limit: ChangeLimit,
    /// Fill in each change's live fingerprint (documents a machine keeps: JSON, YAML and
    /// saved plans).
    pub fingerprints: bool,
    /// `--probe` / `--force`, with the file's `[policy] probe`.
    pub probe: super::probe::ProbeRequest,
}

/// Adds the `max_changes` blocker when the limit asks for it.
pub fn limit(plan: &mut Plan, limit: ChangeLimit, desired: &Desired) {
    if let ChangeLimit::Enforce(max) = limit {
        plan.enforce_max_changes(max.or(desired.policy.max_changes));
    }
}

/// The document of a plan taking `route`, fingerprinted when asked.
pub fn document(
    plan: Plan,
    live: &Live,
    cluster: &AnyCluster,
    file: Option<(&SourceFile, &Desired)>,
    fingerprints: bool,
    route: Route,
) -> PlanDoc {
    let mut doc = PlanDoc::new(
        plan,
        &cluster.identity(),
        live.platform_version.clone(),
        file,
    );
    doc.route = route;
    if fingerprints {
        doc.fingerprinted()
    } else {
        doc
    }
}

/// Validates a file and reads its cluster. When flags pick the cluster, the file does not
/// have to be read first, so validation runs on a blocking thread while the cluster is
/// read: the slower of the two, not their sum. A problem in the file wins over one with
/// the cluster, as it would sequentially.
async fn load_and_read(
    connect: &Connect,
    path: &Path,
) -> Result<(SourceFile, Desired, AnyCluster, Live)> {
    if !connect.flags.pick() {
        let (file, desired) = load_file(path)?;
        let mut cluster = connect.open(&desired.cluster, Access::Read).await?;
        let live = read_live(&mut cluster).await.map_err(Error::from_cluster)?;
        return Ok((file, desired, cluster, live));
    }
    // The file is read on that thread too: the connect does not wait for the read.
    let path = path.to_path_buf();
    let mut validating = tokio::task::spawn_blocking(move || load_file(&path));
    let reading = async {
        let mut cluster = connect.open(&ClusterSel::default(), Access::Read).await?;
        let live = read_live(&mut cluster).await.map_err(Error::from_cluster)?;
        Ok::<_, Error>((cluster, live))
    };
    tokio::pin!(reading);
    let joined = |v: Result<_, tokio::task::JoinError>| {
        v.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    };
    // A bad file is reported at once, without waiting for a slow or unreachable cluster.
    let (file, desired, read) = tokio::select! {
        validated = &mut validating => {
            let (file, desired) = joined(validated)?;
            (file, desired, reading.await)
        }
        read = &mut reading => {
            let (file, desired) = joined(validating.await)?;
            (file, desired, read)
        }
    };
    let (cluster, live) = read?;
    Ok((file, desired, cluster, live))
}

/// Plans one file against its cluster (warning through `printer` when an earlier apply
/// left that cluster unfinished). Made for a command's end: the file, its validated entries
/// and the cluster read are left to the process's exit, not freed (`leave_for_exit`).
pub async fn plan_file(
    connect: &Connect,
    path: &Path,
    options: PlanOptions,
    printer: &Printer,
) -> Result<PlanDoc> {
    let (file, desired, cluster, live) = load_and_read(connect, path).await?;
    connect.warn_pending(&cluster.identity(), printer);
    super::session::warn_if_empty(&cluster, &live, printer);
    connect.warn_local_off(&desired.cluster, None, printer);
    let mut plan = crate::plan::plan(&desired, &live);
    let route = options.route.route(&cluster, &desired.policy);
    crate::replication::assess(
        &mut plan,
        &live,
        route,
        options.route.stalls(&desired.policy),
    );
    limit(&mut plan, options.limit, &desired);
    let mut doc = document(
        plan,
        &live,
        &cluster,
        Some((&file, &desired)),
        options.fingerprints,
        route,
    );
    let mode = options.probe.mode(desired.policy.probe);
    super::probe::check_plan(&mut doc, mode, printer).await;
    super::leave_for_exit((file, desired, live));
    Ok(doc)
}

/// Plans every file concurrently; the results in the order given. A command's end, as
/// [`plan_file`].
pub async fn plan_files(
    connect: &Connect,
    files: &[PathBuf],
    options: PlanOptions,
    printer: &Printer,
) -> Vec<Result<PlanDoc>> {
    futures_util::future::join_all(
        files
            .iter()
            .map(|f| plan_file(connect, f, options, printer)),
    )
    .await
}
