//! The reconcile agent's SPU watch: the SC's watch stream, on a connection of its own.
//!
//! `plan` and `apply` never open a watch (see `connection`): a change's watch update would
//! queue their replies. The agent wants exactly that update, as a wake-up: the SC pushes a
//! full sync when the watch opens, then one update per change of the SPU store (specs and
//! status). What an update says is not trusted for the state; the agent reads the SPUs
//! again over its request connection. An update is decoded all the same: a stream that
//! does not decode is not an SC's, and the watch ends with an error.

use fluvio_controlplane_metadata::spu::SpuSpec as FlvSpuSpec;
use fluvio_sc_schema::objects::{ObjectApiWatchRequest, WatchRequest, WatchResponse};
use fluvio_sc_schema::TryEncodableFrom;

use super::connection::{ScConnection, Sent};
use super::sc::ScCluster;
use super::ClusterError;

/// An open SPU watch.
pub struct SpuWatch {
    conn: ScConnection,
    sent: Sent,
    endpoint: String,
}

/// One update of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchUpdate {
    /// The SC's store epoch after the change.
    pub epoch: i64,
    /// SPUs changed or deleted in this update.
    pub changes: usize,
    /// SPUs in a full sync (the first update of a stream, or a resync by the SC).
    pub all: usize,
}

impl ScCluster {
    /// Turns this connection into a watch of the SC's SPUs (as the `fluvio` client's
    /// `FluvioAdmin::watch`: a summary watch).
    pub async fn watch_spus(self) -> Result<SpuWatch, ClusterError> {
        let endpoint = self.endpoint().to_string();
        let mut conn = self.into_connection();
        let request: WatchRequest<FlvSpuSpec> = WatchRequest::summary();
        let sent = conn
            .open_stream::<ObjectApiWatchRequest, _>(request)
            .await
            .map_err(|e| ClusterError::Transient {
                op: "watching SPUs".to_string(),
                cause: e.to_string(),
            })?;
        Ok(SpuWatch {
            conn,
            sent,
            endpoint,
        })
    }
}

impl SpuWatch {
    /// The SC's address.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Waits for the next update. An error ends the watch (the connection closed, or a
    /// frame that is not an SPU update).
    pub async fn next(&mut self) -> Result<WatchUpdate, ClusterError> {
        let op = || "watching SPUs".to_string();
        let response = self
            .conn
            .reply::<ObjectApiWatchRequest>(self.sent)
            .await
            .map_err(|e| ClusterError::Transient {
                op: op(),
                cause: e.to_string(),
            })?;
        let update: WatchResponse<FlvSpuSpec> =
            <fluvio_sc_schema::objects::ObjectApiWatchResponse as TryEncodableFrom<
                WatchResponse<FlvSpuSpec>,
            >>::downcast(&response)
            .ok()
            .flatten()
            .ok_or_else(|| ClusterError::Transient {
                op: op(),
                cause: "the SC's watch update is not an SPU update".to_string(),
            })?;
        let update = update.inner();
        Ok(WatchUpdate {
            epoch: update.epoch,
            changes: update.changes.len(),
            all: update.all.len(),
        })
    }
}
