//! Planning files: validate each, read its cluster, diff (`plan::plan`), and make the plan
//! document. Several files are planned concurrently, each against its own cluster.

use std::path::{Path, PathBuf};

use super::session::{Access, Connect};
use super::{load_file, ChangeLimit};
use crate::cluster::{AnyCluster, Cluster};
use crate::config::SourceFile;
use crate::error::{Error, Result};
use crate::model::{ClusterTable, Desired, Live};
use crate::output::Printer;
use crate::plan::Plan;
use crate::replication::Route;
use crate::report::PlanDoc;

/// How to plan.
#[derive(Debug, Clone, Copy)]
pub struct PlanOptions<'a> {
    /// Which of the file's SPUs the plan covers (`--spu`, `--exclude-spu`).
    pub targeting: &'a crate::model::Targeting,
    /// Whether the run would heal or avoid replication stalls (`--restart-command`,
    /// `--sc-offline`, `--accept-stalls`), with the file's `[policy]`.
    pub route: super::route::RouteRequest,
    pub limit: ChangeLimit,
    /// Fill in each change's live fingerprint (documents a machine keeps: JSON, YAML and
    /// saved plans).
    pub fingerprints: bool,
    /// `--probe` / `--force`, with the file's `[policy] probe`.
    pub probe: super::probe::ProbeRequest,
    /// Keep what each file wants of each SPU, resolved, to find conflicts between files
    /// of one cluster (runs of several files).
    pub ownership: bool,
}

/// Adds the `max_changes` blocker when the limit asks for it (a percentage counts the
/// cluster's custom SPUs in `live`).
pub fn limit(plan: &mut Plan, limit: ChangeLimit, desired: &Desired, live: &Live) {
    if let ChangeLimit::Enforce(max) = limit {
        let custom = live
            .spus
            .values()
            .filter(|s| s.spec.kind == crate::model::SpuKind::Custom)
            .count();
        plan.enforce_max_changes(max.or(desired.policy.max_changes), custom);
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

/// Validates a file and reads its cluster's SPUs. When flags pick the cluster, the file does not
/// have to be read first, so validation runs on a blocking thread while the cluster is
/// read: the slower of the two, not their sum. A problem in the file wins over one with
/// the cluster, as it would sequentially.
async fn load_and_read(
    connect: &Connect,
    path: &Path,
    printer: &Printer,
) -> Result<(SourceFile, Desired, AnyCluster, Live)> {
    if !connect.flags.pick_the_cluster() {
        let (file, desired) = load_file(path)?;
        let mut cluster = connect
            .open(&desired.cluster, Access::Read, printer)
            .await?;
        let live = cluster.read().await.map_err(Error::from_cluster)?;
        return Ok((file, desired, cluster, live));
    }
    // The file is read on that thread too: the connect does not wait for the read.
    let path = path.to_path_buf();
    let mut validating = tokio::task::spawn_blocking(move || load_file(&path));
    let reading = async {
        let mut cluster = connect
            .open(&ClusterTable::default(), Access::Read, printer)
            .await?;
        let live = cluster.read().await.map_err(Error::from_cluster)?;
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
    options: PlanOptions<'_>,
    printer: &Printer,
) -> Result<(PlanDoc, Option<super::ownership::Owned>)> {
    let (file, desired, mut cluster, live) = load_and_read(connect, path, printer).await?;
    check_targets(options.targeting, &desired, path)?;
    let named: Vec<_> = desired
        .spus
        .keys()
        .filter(|id| options.targeting.covers(**id))
        .copied()
        .collect();
    let live = connect
        .until_registered(&mut cluster, live, &named, printer)
        .await?;
    check_excluded(options.targeting, &desired, &live, path)?;
    connect.warn_pending(&cluster.identity(), printer);
    super::session::warn_if_empty(&cluster, &live, printer);
    connect.warn_local_off(&desired.cluster, None, printer);
    let owned = options.ownership.then(|| super::ownership::Owned {
        cluster: cluster.identity(),
        wanted: desired
            .spus
            .iter()
            .filter(|(id, _)| options.targeting.covers(**id))
            .filter_map(|(id, want)| {
                let spec = &live.spus.get(id)?.spec;
                Some((
                    *id,
                    crate::ownership::Wanted::Resolved(want.local.resolve(spec)),
                ))
            })
            .collect(),
        file: file.clone(),
        desired: desired.clone(),
    });
    let mut plan = crate::plan::plan(&desired, &live);
    plan.retain_targeted(options.targeting);
    // The partitions matter only to changes (which replicas a re-registration stalls): a
    // plan without any does not read them (10,000 partitions cost a plan of 10,000 SPUs
    // about as much as the SPUs themselves, see BENCHMARKS.md).
    let mut live = live;
    if !plan.changes.is_empty() {
        live.partitions = Some(cluster.partitions().await.map_err(Error::from_cluster)?);
    }
    let route = options.route.route(&cluster, &desired.policy);
    crate::replication::assess(
        &mut plan,
        &live,
        route,
        options.route.stalls(&desired.policy),
    );
    limit(&mut plan, options.limit, &desired, &live);
    let mut doc = document(
        plan,
        &live,
        &cluster,
        Some((&file, &desired)),
        options.fingerprints,
        route,
    );
    doc.target(options.targeting, &desired);
    let mode = options.probe.mode(desired.policy.probe);
    super::probe::check_plan(&mut doc, mode, printer).await;
    super::leave_for_exit((file, desired, live));
    Ok((doc, owned))
}

/// Refuses `--spu` ids the file does not declare: a typo would otherwise plan nothing.
pub fn check_targets(
    targeting: &crate::model::Targeting,
    desired: &Desired,
    path: &Path,
) -> Result<()> {
    if let Some(&id) = targeting.spus.intersection(&targeting.exclude).next() {
        return Err(Error::Usage(crate::error::Usage::TargetedAndExcluded(id)));
    }
    match targeting
        .spus
        .iter()
        .find(|id| !desired.spus.contains_key(id))
    {
        Some(&id) => Err(Error::Usage(crate::error::Usage::NotDeclared {
            id,
            file: crate::escape::visible(&path.display().to_string()).into_owned(),
        })),
        None => Ok(()),
    }
}

/// Refuses `--exclude-spu` ids that neither the file nor the cluster has: a typo would
/// leave out nothing, and the SPU meant to be left out would be changed.
pub fn check_excluded(
    targeting: &crate::model::Targeting,
    desired: &Desired,
    live: &Live,
    path: &Path,
) -> Result<()> {
    let nowhere = targeting
        .exclude
        .iter()
        .find(|id| !desired.spus.contains_key(id) && !live.spus.contains_key(id));
    match nowhere {
        Some(&id) => Err(Error::Usage(crate::error::Usage::ExcludedNowhere {
            id,
            file: crate::escape::visible(&path.display().to_string()).into_owned(),
        })),
        None => Ok(()),
    }
}

/// Plans every file concurrently; the results in the order given. A command's end, as
/// [`plan_file`].
pub async fn plan_files(
    connect: &Connect,
    files: &[PathBuf],
    options: PlanOptions<'_>,
    printer: &Printer,
) -> Vec<Result<(PlanDoc, Option<super::ownership::Owned>)>> {
    futures_util::future::join_all(
        files
            .iter()
            .map(|f| plan_file(connect, f, options, printer)),
    )
    .await
}
