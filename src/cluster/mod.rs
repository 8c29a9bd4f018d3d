//! What the tool talks to: a running SC (`sc`, through the real `fluvio` client) or a
//! stopped local cluster's metadata directory (`metadata_dir`, through Fluvio's own store).
//! `Cluster` is the one interface the apply engine reads and writes through; `convert`
//! maps Fluvio's types to the model. The only modules that import Fluvio crates.

pub mod connection;
pub mod convert;
pub mod frame_guard;
pub mod handshake;
pub mod metadata_dir;
pub mod metadata_files;
pub mod sc;
pub mod watch;

use crate::model::{ClusterId, Live, LivePartition, LiveSpu, SpuSpec};

/// A failure talking to a cluster, classified so the apply engine can decide what is safe.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClusterError {
    /// Could not connect at all.
    #[error("cannot reach the SC at {endpoint}: {cause}")]
    Unreachable { endpoint: String, cause: String },
    /// The SC is too old for this client.
    #[error("the SC at {endpoint} is not compatible: {cause}")]
    Incompatible { endpoint: String, cause: String },
    /// The connection failed mid-request (reset, refused, timed out): the request may or
    /// may not have taken effect.
    #[error("{op} failed: {cause}")]
    Transient { op: String, cause: String },
    /// Create refused: an SPU with that name or id exists.
    #[error("{op} refused: {message}")]
    AlreadyExists { op: String, message: String },
    /// Delete refused: no such SPU.
    #[error("{op} refused: {message}")]
    NotFound { op: String, message: String },
    /// The SC refused the request for lack of permission (`PermissionDenied`). Never
    /// transient: asking again gets the same answer.
    #[error("{op} refused: {message}")]
    Denied { op: String, message: String },
    /// Any other answer from the SC or the store.
    #[error("{op} refused: {message}")]
    Refused { op: String, message: String },
    /// The metadata directory cannot be used.
    #[error("{0}")]
    Store(String),
}

impl ClusterError {
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClusterError::Transient { .. } | ClusterError::Unreachable { .. }
        )
    }
}

/// What every cluster offers. Writes are whole-spec and keyed by SPU name.
#[allow(async_fn_in_trait)]
pub trait Cluster {
    /// A stable identity for journals, locks and saved plans (`sc://host:port`, `dir:/path`).
    fn identity(&self) -> ClusterId;
    /// Reads every SPU.
    async fn read(&mut self) -> Result<Live, ClusterError>;
    /// Reads one SPU by exact name (name filters on the SC are substring matches).
    async fn fetch(&mut self, name: &str) -> Result<Option<LiveSpu>, ClusterError>;
    /// Reads every partition of the cluster's (non-system) topics, with its replicas and
    /// their replication status. (The SC's one system topic, `consumer-offset`, has one
    /// replica: it cannot stall.)
    async fn partitions(&mut self) -> Result<Vec<LivePartition>, ClusterError>;
    /// True when `update` rewrites a spec in place; otherwise a change is delete + create.
    fn updates_in_place(&self) -> bool;
    /// Rewrites a spec in place (only when `updates_in_place`).
    async fn update(&mut self, spec: &SpuSpec) -> Result<(), ClusterError>;
    /// Deletes a custom SPU by name.
    async fn delete(&mut self, spec: &SpuSpec) -> Result<(), ClusterError>;
    /// Creates a custom SPU with exactly this spec.
    async fn create(&mut self, spec: &SpuSpec) -> Result<(), ClusterError>;
    /// Proves, without writing, that the caller may create `spec` (a dry-run create):
    /// `Ok` when the cluster got past its permission check (the SPU may or may not exist),
    /// `Denied` when it may not.
    async fn may_create(&mut self, spec: &SpuSpec) -> Result<(), ClusterError>;
    /// Drops and re-opens the connection, after a transient failure.
    async fn reconnect(&mut self) -> Result<(), ClusterError>;
}

/// The cluster chosen at run time.
pub enum AnyCluster {
    Sc(Box<sc::ScCluster>),
    MetadataDir(metadata_dir::MetadataDir),
}

macro_rules! delegate {
    ($self:ident, $t:ident => $e:expr) => {
        match $self {
            AnyCluster::Sc($t) => $e,
            AnyCluster::MetadataDir($t) => $e,
        }
    };
}

impl Cluster for AnyCluster {
    fn identity(&self) -> ClusterId {
        delegate!(self, t => t.identity())
    }
    async fn read(&mut self) -> Result<Live, ClusterError> {
        delegate!(self, t => t.read().await)
    }
    async fn fetch(&mut self, name: &str) -> Result<Option<LiveSpu>, ClusterError> {
        delegate!(self, t => t.fetch(name).await)
    }
    async fn partitions(&mut self) -> Result<Vec<LivePartition>, ClusterError> {
        delegate!(self, t => t.partitions().await)
    }
    fn updates_in_place(&self) -> bool {
        delegate!(self, t => t.updates_in_place())
    }
    async fn update(&mut self, spec: &SpuSpec) -> Result<(), ClusterError> {
        delegate!(self, t => t.update(spec).await)
    }
    async fn delete(&mut self, spec: &SpuSpec) -> Result<(), ClusterError> {
        delegate!(self, t => t.delete(spec).await)
    }
    async fn create(&mut self, spec: &SpuSpec) -> Result<(), ClusterError> {
        delegate!(self, t => t.create(spec).await)
    }
    async fn may_create(&mut self, spec: &SpuSpec) -> Result<(), ClusterError> {
        delegate!(self, t => t.may_create(spec).await)
    }
    async fn reconnect(&mut self) -> Result<(), ClusterError> {
        delegate!(self, t => t.reconnect().await)
    }
}

#[cfg(test)]
mod tests {
    use super::ClusterError;

    #[test]
    fn a_denied_request_is_not_transient() {
        let denied = ClusterError::Denied {
            op: "deleting SPU 5001 (custom-spu-5001)".into(),
            message: "permission denied".into(),
        };
        assert!(!denied.is_transient());
        assert_eq!(
            denied.to_string(),
            "deleting SPU 5001 (custom-spu-5001) refused: permission denied"
        );
    }
}
