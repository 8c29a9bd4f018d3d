//! Ownership conflicts between the files of one run (see `crate::ownership`): which files
//! share a cluster, as written (`validate`, offline) or as the run reaches it.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use super::session::ClusterFlags;
use crate::config::SourceFile;
use crate::error::{Error, Result};
use crate::model::{ClusterId, ClusterTable, Desired, HostPort, SpuId};
use crate::ownership::{conflicts, OwnershipError, Wanted, Zone};

/// The cluster a file names as written: the same profile, or the same address but for the
/// case of its host; the flags, when they pick it, for every file.
fn as_written(flags: &ClusterFlags, sel: &ClusterTable) -> String {
    if let Some(dir) = &flags.metadata_dir {
        return format!("dir:{}", dir.display());
    }
    if let Some(addr) = &flags.cluster {
        return format!("sc://{addr}");
    }
    if let Some(profile) = &flags.profile {
        return format!("profile {profile}");
    }
    match (&sel.endpoint, &sel.profile) {
        (Some(addr), _) => format!(
            "sc://{}",
            HostPort::new(addr.host.to_ascii_lowercase(), addr.port)
        ),
        (None, Some(profile)) => format!("profile {profile}"),
        (None, None) => "the current profile".to_string(),
    }
}

/// Refuses files that give one SPU different local endpoints on the cluster they name as
/// written. Offline: `validate`.
pub fn check_as_written(flags: &ClusterFlags, files: &[(&SourceFile, &Desired)]) -> Result<()> {
    let zones: Vec<Zone<'_>> = files
        .iter()
        .map(|(file, desired)| Zone::declared(file, desired, as_written(flags, &desired.cluster)))
        .collect();
    let found = conflicts(&zones, |i, j| zones[i].cluster == zones[j].cluster);
    refuse(&zones, &found)
}

/// The error for `found`, if there is any conflict.
fn refuse(zones: &[Zone<'_>], found: &[crate::ownership::Conflict]) -> Result<()> {
    if found.is_empty() {
        Ok(())
    } else {
        Err(Error::Ownership(Box::new(OwnershipError::new(
            zones, found,
        ))))
    }
}

/// One planned file, as the run resolved it.
pub struct Owned {
    pub file: SourceFile,
    pub desired: Desired,
    pub cluster: ClusterId,
    pub wanted: Vec<(SpuId, Wanted)>,
}

/// The addresses a cluster resolves to (its canonical path for a metadata directory); an
/// IPv4-mapped IPv6 address counts as the IPv4 one.
pub async fn resolved_key(cluster: &ClusterId) -> BTreeSet<String> {
    match cluster {
        ClusterId::MetadataDir(dir) => BTreeSet::from([format!("dir:{}", dir.display())]),
        ClusterId::Sc(addr) => {
            let looked_up: Vec<SocketAddr> = match tokio::net::lookup_host(addr.as_str()).await {
                Ok(addrs) => addrs.collect(),
                Err(_) => Vec::new(),
            };
            if looked_up.is_empty() {
                BTreeSet::from([format!("sc://{}", addr.to_ascii_lowercase())])
            } else {
                looked_up
                    .iter()
                    .map(|a| format!("sc://{}", SocketAddr::new(a.ip().to_canonical(), a.port())))
                    .collect()
            }
        }
    }
}

/// Refuses files that give one SPU different local endpoints on one cluster, as the run
/// reached it: two spellings of one SC's address (`localhost:9003`, `127.0.0.1:9003`)
/// are one cluster when they resolve to a common address.
pub async fn check_resolved(owned: &[Owned]) -> Result<()> {
    if owned.len() < 2 {
        return Ok(());
    }
    let mut keys = Vec::with_capacity(owned.len());
    for o in owned {
        keys.push(resolved_key(&o.cluster).await);
    }
    let zones: Vec<Zone<'_>> = owned
        .iter()
        .map(|o| Zone {
            file: &o.file,
            desired: &o.desired,
            cluster: o.cluster.to_string(),
            wanted: o.wanted.clone(),
        })
        .collect();
    let found = conflicts(&zones, |i, j| !keys[i].is_disjoint(&keys[j]));
    refuse(&zones, &found)
}
