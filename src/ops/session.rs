//! Opening a cluster: which one the flags or the file pick, and for a run that writes,
//! a `Session` holding the cluster, its journal (and so its lock) and what recovering an
//! earlier, interrupted run found. Opened once per run.

use std::path::PathBuf;
use std::time::Duration;

use crate::apply::{Recovered, RecoveryState, RetryPolicy};
use crate::cluster::metadata_dir::MetadataDir;
use crate::cluster::sc::{cluster_config, EndpointTls, ScCluster};
use crate::cluster::{AnyCluster, Cluster};
use crate::error::{Error, Result, Usage};
use crate::journal::{self, Journal};
use crate::model::{ClientTable, ClusterChoice, ClusterId, ClusterTable, HostPort};
use crate::output::Printer;

/// The cluster options of the command line.
#[derive(Debug, Clone, Default)]
pub struct ClusterFlags {
    /// `-c/--cluster HOST:PORT`.
    pub cluster: Option<HostPort>,
    /// `-P/--profile NAME`.
    pub profile: Option<String>,
    /// `--metadata-dir DIR`.
    pub metadata_dir: Option<PathBuf>,
    /// `--tls` and the flags that go with it (for an SC given by address).
    pub tls: EndpointTls,
}

impl ClusterFlags {
    /// True when the flags pick the cluster, whatever a file's `[cluster]` says.
    pub fn pick_the_cluster(&self) -> bool {
        self.cluster.is_some() || self.profile.is_some() || self.metadata_dir.is_some()
    }

    /// The SC to connect to: --cluster, --profile, then the file's [client] when the run
    /// stands for the zone's clients (`probe`), then its [cluster], then the current
    /// fluvio profile. (`--metadata-dir` is checked before this.) The TLS flags go with an
    /// address only, as in the fluvio CLI: a profile has its own TLS settings. A [client]
    /// address takes its TLS settings from its profile (`tls_from`, else the [cluster]
    /// profile), or from the flags when they are given.
    fn choice(&self, file: &ClusterTable, client: Option<&ClientTable>) -> Result<ClusterChoice> {
        let choice = self.picked(file, client);
        if self.tls != EndpointTls::Disabled && !matches!(choice, ClusterChoice::Endpoint(..)) {
            return Err(Error::Usage(Usage::TlsNeedsAddress));
        }
        Ok(choice)
    }

    /// What `choice` picks, before the TLS flags are checked against it.
    fn picked(&self, file: &ClusterTable, client: Option<&ClientTable>) -> ClusterChoice {
        if let Some(addr) = &self.cluster {
            ClusterChoice::Endpoint(addr.clone(), self.tls.clone())
        } else if let Some(profile) = &self.profile {
            ClusterChoice::Profile(profile.clone())
        } else if let Some(client) = client {
            match self.tls {
                EndpointTls::Disabled => ClusterChoice::Client {
                    endpoint: client.endpoint.clone(),
                    tls_from: client.tls_from.clone().or_else(|| file.profile.clone()),
                },
                _ => ClusterChoice::Endpoint(client.endpoint.clone(), self.tls.clone()),
            }
        } else if let Some(addr) = &file.endpoint {
            ClusterChoice::Endpoint(addr.clone(), self.tls.clone())
        } else if let Some(profile) = &file.profile {
            ClusterChoice::Profile(profile.clone())
        } else {
            ClusterChoice::Current
        }
    }
}

/// What a run will do with the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    /// Changes it (or checks as if it would, for a dry run): a metadata directory must not
    /// be served by a running process.
    Write,
}

/// How to reach clusters and where their journals live.
#[derive(Debug, Clone)]
pub struct Connect {
    pub flags: ClusterFlags,
    pub journal_dir: PathBuf,
    /// How long one request may take.
    pub timeout: Duration,
    /// `--wait`: how long a starting cluster is waited for (see [`Wait`]).
    pub wait: Option<Wait>,
    /// `--lock-timeout`: how long the cluster's lock is waited for.
    pub lock_timeout: Duration,
}

/// `--wait DURATION [--wait-online]`: a one-shot run against a cluster that is starting.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    /// The deadline of the whole wait, from the run's start.
    pub until: std::time::Instant,
    pub limit: Duration,
    /// Also until the SPUs the file names are Online.
    pub online: bool,
}

/// How often a wait tries again: from a quarter second, doubling, to two seconds.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1 << attempt.min(3)))
}

impl Connect {
    /// Opens the cluster the flags pick, else the one `file` names, else the current
    /// profile's (announcing a wait through `printer`, see `open_for`).
    pub async fn open(
        &self,
        file: &ClusterTable,
        access: Access,
        printer: &Printer,
    ) -> Result<AnyCluster> {
        self.open_for(file, None, access, printer).await
    }

    /// As `open`, for a run that stands for a zone's clients: the file's `[client]`
    /// address, when it has one, comes before its `[cluster]`. Under `--wait`, the connect
    /// is tried again until the SC answers or the wait runs out; the first failed attempt
    /// is announced through `printer`.
    pub async fn open_for(
        &self,
        file: &ClusterTable,
        client: Option<&ClientTable>,
        access: Access,
        printer: &Printer,
    ) -> Result<AnyCluster> {
        let Some(wait) = self.wait else {
            return self.open_once(file, client, access).await;
        };
        let mut attempt = 0;
        loop {
            // each attempt within what is left of the wait (an SC that accepts and never
            // answers must not hold the run past its deadline)
            let left = wait
                .until
                .saturating_duration_since(std::time::Instant::now());
            let attempt_in_time = tokio::time::timeout(
                left.max(Duration::from_millis(200)),
                self.open_once(file, client, access),
            );
            let Ok(opened) = attempt_in_time.await else {
                return Err(Error::WaitedInVain(format!(
                    "the SC did not answer within --wait {}: a connection was still waiting for it at the deadline",
                    humantime::format_duration(wait.limit)
                )));
            };
            match opened {
                Err(Error::Unreachable(e)) if std::time::Instant::now() < wait.until => {
                    if attempt == 0 {
                        printer.note(&format!(
                            "Waiting up to {} for the SC to answer ({})...\n",
                            humantime::format_duration(wait.limit),
                            crate::causes::one_line(&e)
                        ));
                    }
                    let pause = backoff(attempt).min(wait.until - std::time::Instant::now());
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                Err(Error::Unreachable(e)) => {
                    return Err(Error::WaitedInVain(format!(
                        "the SC did not answer within --wait {}: {}",
                        humantime::format_duration(wait.limit),
                        crate::causes::one_line(&e)
                    )))
                }
                other => return other,
            }
        }
    }

    /// Waits (under `--wait`) until every SPU of `ids` is registered (and, with
    /// `--wait-online`, Online), reading the cluster again as it goes; returns the last
    /// read. At the deadline, SPUs still missing are left to the plan (an unknown SPU
    /// refuses it) with a warning naming them; SPUs not Online are an error.
    pub async fn until_registered(
        &self,
        cluster: &mut AnyCluster,
        mut live: crate::model::Live,
        ids: &[crate::model::SpuId],
        printer: &Printer,
    ) -> Result<crate::model::Live> {
        let Some(wait) = self.wait else {
            return Ok(live);
        };
        // a read that had the partitions reads them again with the SPUs
        let with_partitions = live.partitions.is_some();
        let mut attempt = 0;
        loop {
            if attempt > 0 && with_partitions {
                live.partitions = Some(cluster.partitions().await.map_err(Error::from_cluster)?);
            }
            let (missing, not_online) = not_yet(&live, ids, wait.online);
            if missing.is_empty() && not_online.is_empty() {
                return Ok(live);
            }
            if std::time::Instant::now() >= wait.until {
                return waited_in_vain(&wait, &missing, &not_online, printer).map(|()| live);
            }
            if attempt == 0 {
                printer.note(&format!(
                    "Waiting up to {} for SPU {}{}...\n",
                    humantime::format_duration(wait.limit),
                    if missing.is_empty() {
                        not_online.join(", ")
                    } else {
                        id_list(&missing)
                    },
                    if missing.is_empty() {
                        " to be Online"
                    } else {
                        " to be registered"
                    }
                ));
            }
            tokio::time::sleep(backoff(attempt).min(wait.until - std::time::Instant::now())).await;
            attempt += 1;
            live = cluster.read().await.map_err(Error::from_cluster)?;
        }
    }

    /// Opens the cluster's journal and takes its lock, waiting up to `--lock-timeout` for
    /// another run on this machine to let it go (the wait and its end announced through
    /// `printer`).
    pub async fn journal(&self, cluster: &ClusterId, printer: &Printer) -> Result<Journal> {
        let until = std::time::Instant::now() + self.lock_timeout;
        let mut announced = false;
        loop {
            match Journal::open(&self.journal_dir, cluster) {
                Err(crate::journal::JournalError::Locked { .. })
                    if std::time::Instant::now() < until =>
                {
                    if !announced {
                        printer.note(&format!(
                            "Another fluvio-endpoints run holds the lock of {cluster}; waiting up to {}...\n",
                            humantime::format_duration(self.lock_timeout)
                        ));
                        announced = true;
                    }
                    tokio::time::sleep(
                        Duration::from_millis(100).min(until - std::time::Instant::now()),
                    )
                    .await;
                }
                Err(e @ crate::journal::JournalError::Locked { .. }) if announced => {
                    printer.note(&format!(
                        "The lock of {cluster} was still held after --lock-timeout {}.\n",
                        humantime::format_duration(self.lock_timeout)
                    ));
                    return Err(Error::from(e));
                }
                other => return other.map_err(Error::from),
            }
        }
    }

    /// Opens the cluster once, without `--wait`, and so with nothing to announce: for the
    /// reconcile agent, whose `Connect` has no wait and which retries on its own terms.
    pub async fn open_once(
        &self,
        file: &ClusterTable,
        client: Option<&ClientTable>,
        access: Access,
    ) -> Result<AnyCluster> {
        if let Some(dir) = &self.flags.metadata_dir {
            let cluster = MetadataDir::open(dir).await.map_err(Error::from_cluster)?;
            if access == Access::Write {
                cluster.ensure_not_served().map_err(Error::from_cluster)?;
            }
            return Ok(AnyCluster::MetadataDir(cluster));
        }
        let config = cluster_config(&self.flags.choice(file, client)?).map_err(Error::Profile)?;
        let cluster = ScCluster::connect(config, self.timeout)
            .await
            .map_err(Error::from_cluster)?;
        Ok(AnyCluster::Sc(Box::new(cluster)))
    }

    /// Checks, without connecting, what choosing the cluster takes: the profile (and its
    /// fluvio config) or the metadata directory. A long-running caller (the reconcile
    /// agent) refuses at start what no retry can mend.
    pub async fn check_selection(&self, file: &ClusterTable) -> Result<()> {
        if let Some(dir) = &self.flags.metadata_dir {
            MetadataDir::open(dir).await.map_err(Error::from_cluster)?;
            return Ok(());
        }
        cluster_config(&self.flags.choice(file, None)?).map_err(Error::Profile)?;
        Ok(())
    }

    /// Warns when the profile whose clients this run stands for ignores local endpoints
    /// (`use_spu_local_address` off); returns the warning. No profile is in use when an
    /// address or a metadata directory picks the cluster, or the file's `[client]` does
    /// (its clients' profile is the one `profile write` makes).
    pub fn warn_local_off(
        &self,
        file: &ClusterTable,
        client: Option<&ClientTable>,
        printer: &Printer,
    ) -> Option<String> {
        if self.flags.metadata_dir.is_some() {
            return None;
        }
        let warning = crate::profile::local_off_warning(&self.flags.picked(file, client))?;
        printer.warn(&warning, None);
        Some(warning)
    }

    /// Warns when an earlier apply on `cluster` left changes unfinished (`plan`, `list`,
    /// `drift`, `export` and dry runs only read, so they do not recover it).
    pub fn warn_pending(&self, cluster: &ClusterId, printer: &Printer) {
        let path = Journal::path_for(&self.journal_dir, cluster);
        match journal::read_pending(&path) {
            Err(e) => printer.warn(&crate::causes::one_line(&e), None),
            Ok((pending, _)) if !pending.is_empty() => {
                printer.pending(cluster, pending.len(), &path)
            }
            Ok(_) => {}
        }
    }
}

/// Says, when an SC lists no SPUs at all, that this can also mean no Read permission: the
/// SC answers a caller without Read on the Spu type with an empty list, not an error.
pub fn warn_if_empty(cluster: &AnyCluster, live: &crate::model::Live, printer: &Printer) {
    if live.spus.is_empty() && matches!(cluster, AnyCluster::Sc(_)) {
        printer.warn(
            &format!("{} lists no SPUs", cluster.identity()),
            Some("this can also mean no Read permission: an SC answers a caller without Read on Spu with an empty list"),
        );
    }
}

/// A cluster opened for writing, with its journal locked and anything an earlier run left
/// unfinished resolved.
pub struct Session {
    pub cluster: AnyCluster,
    pub journal: Journal,
    /// What recovering an earlier, interrupted run found (empty when nothing was left).
    pub recovered_first: Vec<Recovered>,
}

impl Session {
    /// Opens the cluster for writing, takes its lock, and recovers what an earlier run
    /// left unfinished (reported through `printer` as it happens).
    pub async fn open(
        connect: &Connect,
        file: &ClusterTable,
        printer: &Printer,
    ) -> Result<Session> {
        let mut cluster = connect.open(file, Access::Write, printer).await?;
        let mut journal = connect.journal(&cluster.identity(), printer).await?;
        let recovered_first = recover_pending(&mut cluster, &mut journal, printer).await?;
        Ok(Session {
            cluster,
            journal,
            recovered_first,
        })
    }

    pub fn id(&self) -> ClusterId {
        self.cluster.identity()
    }
}

/// Resolves what the journal holds, if anything; an error when some of it stays open.
async fn recover_pending(
    cluster: &mut AnyCluster,
    journal: &mut Journal,
    printer: &Printer,
) -> Result<Vec<Recovered>> {
    if journal.pending().is_empty() {
        return Ok(Vec::new());
    }
    printer.note(&format!(
        "Found {} unfinished change(s) from an interrupted apply; recovering first.\n",
        journal.pending().len()
    ));
    let recovered = crate::apply::recover(
        cluster,
        journal,
        &RetryPolicy::default(),
        crate::apply::CreateCheck::First,
    )
    .await?;
    printer.recovered(&recovered);
    if recovered
        .iter()
        .any(|r| r.state == RecoveryState::Unresolved)
    {
        return Err(Error::RecoveryNeeded(format!(
            "an interrupted apply on {} could not be recovered yet",
            cluster.identity()
        )));
    }
    Ok(recovered)
}

/// Of the SPUs `ids`, those the cluster has not registered, and (when `online`) those
/// registered but not Online, with their state.
fn not_yet(
    live: &crate::model::Live,
    ids: &[crate::model::SpuId],
    online: bool,
) -> (Vec<crate::model::SpuId>, Vec<String>) {
    let missing: Vec<_> = ids
        .iter()
        .filter(|id| !live.spus.contains_key(id))
        .copied()
        .collect();
    let not_online: Vec<String> = ids
        .iter()
        .filter_map(|id| live.spus.get(id))
        .filter(|s| online && s.status != crate::model::SpuState::Online)
        .map(|s| format!("{} ({})", s.spec.id, s.status.label()))
        .collect();
    (missing, not_online)
}

/// `--wait` ran out: an error for SPUs not Online, a warning for SPUs not registered.
fn waited_in_vain(
    wait: &Wait,
    missing: &[crate::model::SpuId],
    not_online: &[String],
    printer: &Printer,
) -> Result<()> {
    if !not_online.is_empty() {
        let also = match missing.is_empty() {
            true => String::new(),
            false => format!("; SPU {} not even registered", id_list(missing)),
        };
        return Err(Error::WaitedInVain(format!(
            "SPU {} not Online within --wait {}{also}",
            not_online.join(", "),
            humantime::format_duration(wait.limit)
        )));
    }
    if !missing.is_empty() {
        printer.warn(
            &format!(
                "--wait {}: SPU {} still not registered",
                humantime::format_duration(wait.limit),
                id_list(missing)
            ),
            None,
        );
    }
    Ok(())
}

fn id_list(ids: &[crate::model::SpuId]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_address_comes_after_the_flags_and_before_the_cluster() {
        let file = ClusterTable {
            profile: Some("host".into()),
            ..ClusterTable::default()
        };
        let client = ClientTable {
            endpoint: HostPort::new("host.docker.internal", 9003),
            tls_from: None,
        };
        let client_choice = |tls_from: &str| ClusterChoice::Client {
            endpoint: HostPort::new("host.docker.internal", 9003),
            tls_from: Some(tls_from.into()),
        };
        let none = ClusterFlags::default();
        assert_eq!(
            none.choice(&file, Some(&client)).unwrap(),
            client_choice("host"),
            "the [cluster] profile's TLS"
        );
        let from_ci = ClientTable {
            tls_from: Some("ci".into()),
            ..client.clone()
        };
        assert_eq!(
            none.choice(&file, Some(&from_ci)).unwrap(),
            client_choice("ci")
        );
        assert_eq!(
            none.choice(&file, None).unwrap(),
            ClusterChoice::Profile("host".into()),
            "without [client]: [cluster]"
        );
        let by_profile = ClusterFlags {
            profile: Some("other".into()),
            ..ClusterFlags::default()
        };
        assert_eq!(
            by_profile.choice(&file, Some(&client)).unwrap(),
            ClusterChoice::Profile("other".into())
        );
        let tls = ClusterFlags {
            tls: EndpointTls::Anonymous,
            ..ClusterFlags::default()
        };
        assert_eq!(
            tls.choice(&file, Some(&client)).unwrap(),
            ClusterChoice::Endpoint(
                HostPort::new("host.docker.internal", 9003),
                EndpointTls::Anonymous
            )
        );
    }

    #[test]
    fn tls_flags_need_an_address() {
        let flags = ClusterFlags {
            tls: EndpointTls::Anonymous,
            ..ClusterFlags::default()
        };
        let by_profile = ClusterTable {
            profile: Some("prod".into()),
            ..ClusterTable::default()
        };
        assert!(matches!(
            flags.choice(&by_profile, None),
            Err(Error::Usage(Usage::TlsNeedsAddress))
        ));
        assert!(matches!(
            flags.choice(&ClusterTable::default(), None),
            Err(Error::Usage(Usage::TlsNeedsAddress))
        ));
        let by_address = ClusterTable {
            endpoint: Some(HostPort::new("127.0.0.1", 9003)),
            ..ClusterTable::default()
        };
        assert_eq!(
            flags.choice(&by_address, None).unwrap(),
            ClusterChoice::Endpoint(HostPort::new("127.0.0.1", 9003), EndpointTls::Anonymous)
        );
    }
}
