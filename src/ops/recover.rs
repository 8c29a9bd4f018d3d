//! `recover`: resolve every change an interrupted apply left unfinished on a cluster.

use super::session::{Connect, Session};
use crate::apply::Recovered;
use crate::error::Result;
use crate::model::{ClusterId, ClusterTable};
use crate::output::Printer;

/// Opens a session on the cluster the flags (or the current profile) pick; opening one
/// recovers. Returns the cluster and what recovery found (empty: nothing was pending).
pub async fn run(connect: &Connect, printer: &Printer) -> Result<(ClusterId, Vec<Recovered>)> {
    let session = Session::open(connect, &ClusterTable::default(), printer).await?;
    Ok((session.id(), session.recovered_first))
}
