//! Reading a whole cluster once, for `list` and `export`.

use super::session::{Access, Connect};
use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::model::{ClusterId, ClusterTable, Live};
use crate::output::Printer;

/// Reads every SPU of the cluster the flags (or the current profile) pick, warning when
/// an earlier apply left it unfinished.
pub async fn read(connect: &Connect, printer: &Printer) -> Result<(ClusterId, Live)> {
    let mut cluster = connect
        .open(&ClusterTable::default(), Access::Read, printer)
        .await?;
    connect.warn_pending(&cluster.identity(), printer);
    let live = cluster.read().await.map_err(Error::from_cluster)?;
    super::session::warn_if_empty(&cluster, &live, printer);
    Ok((cluster.identity(), live))
}
