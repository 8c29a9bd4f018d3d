//! How a run changes SPUs, as the command line and the file's `[policy]` choose it, and the
//! commands it runs on the way (see `crate::replication` for why it matters).

use std::path::PathBuf;
use std::time::Duration;

use crate::cluster::{AnyCluster, Cluster, ClusterError};
use crate::hook::Hook;
use crate::model::{Live, Policy};
use crate::replication::{Route, StallPolicy};

/// What the command line asks of a run's route; the file's `[policy]` adds to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteRequest {
    /// A restart command was given (`--restart-command`).
    pub restart: bool,
    /// The SC-offline route (`--sc-offline`).
    pub offline: bool,
    /// `--accept-stalls`.
    pub accept_stalls: bool,
}

impl RouteRequest {
    /// The route a run on `cluster` takes under `policy`.
    pub fn route(self, cluster: &AnyCluster, policy: &Policy) -> Route {
        if matches!(cluster, AnyCluster::MetadataDir(_)) {
            Route::MetadataDir
        } else if self.offline {
            Route::Offline
        } else if self.restart || policy.restart_command.is_some() {
            Route::Rolling
        } else {
            Route::Online
        }
    }

    /// Whether stalls are accepted: `--accept-stalls`, else the file's policy.
    pub fn stalls(self, policy: &Policy) -> StallPolicy {
        if self.accept_stalls {
            StallPolicy::Accept
        } else {
            policy.replication_stalls
        }
    }
}

/// The commands and limits of a rolling apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healing {
    /// `--restart-command` (else the file's `[policy] restart_command`).
    pub restart_command: Option<String>,
    /// How long one restart command may run.
    pub restart_timeout: Duration,
    /// How long to wait for a restarted SPU's partitions (or the SC, offline) .
    pub gate_timeout: Duration,
    pub accept_stalls: bool,
}

impl Default for Healing {
    fn default() -> Self {
        Healing {
            restart_command: None,
            restart_timeout: Duration::from_secs(120),
            gate_timeout: Duration::from_secs(120),
            accept_stalls: false,
        }
    }
}

impl Healing {
    /// The restart command to run: the flag's, else the file's.
    pub fn restart_hook(&self, policy: &Policy) -> Option<Hook> {
        self.restart_command
            .clone()
            .or_else(|| policy.restart_command.clone())
            .map(|command| Hook {
                command,
                timeout: self.restart_timeout,
            })
    }
}

/// The SC-offline route: stop the SC, change its metadata directory, start it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offline {
    /// The SC's local metadata directory (`fluvio-run sc --local DIR`).
    pub dir: PathBuf,
    pub stop: Hook,
    pub start: Hook,
}

/// Reads the cluster for a plan: every SPU, then every partition.
pub async fn read_live(cluster: &mut AnyCluster) -> Result<Live, ClusterError> {
    let mut live = cluster.read().await?;
    live.partitions = Some(cluster.partitions().await?);
    Ok(live)
}
