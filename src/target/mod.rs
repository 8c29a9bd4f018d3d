//! Where SPU metadata lives: a running SC (`sc`), or a stopped local cluster's metadata
//! directory (`dir`). `Target` is the one interface the apply engine writes through.

pub mod connection;
pub mod convert;
pub mod dir;
pub mod sc;

use crate::model::{Live, LiveSpu, SpuSpec};

/// A failure talking to a target, classified so the apply engine can decide what is safe.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TargetError {
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
    /// Any other answer from the SC or the store.
    #[error("{op} refused: {message}")]
    Refused { op: String, message: String },
    /// The metadata directory cannot be used.
    #[error("{0}")]
    Store(String),
}

impl TargetError {
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            TargetError::Transient { .. } | TargetError::Unreachable { .. }
        )
    }
}

/// What every target offers. Writes are whole-spec and keyed by SPU name.
#[allow(async_fn_in_trait)]
pub trait Target {
    /// A stable identity for journals, locks and saved plans (`sc://host:port`, `dir:/path`).
    fn identity(&self) -> String;
    /// Reads every SPU.
    async fn read(&mut self) -> Result<Live, TargetError>;
    /// Reads one SPU by exact name (name filters on the SC are substring matches).
    async fn fetch(&mut self, name: &str) -> Result<Option<LiveSpu>, TargetError>;
    /// True when `update` rewrites a spec in place; otherwise a change is delete + create.
    fn updates_in_place(&self) -> bool;
    /// Rewrites a spec in place (only when `updates_in_place`).
    async fn update(&mut self, spec: &SpuSpec) -> Result<(), TargetError>;
    /// Deletes a custom SPU by name.
    async fn delete(&mut self, spec: &SpuSpec) -> Result<(), TargetError>;
    /// Creates a custom SPU with exactly this spec.
    async fn create(&mut self, spec: &SpuSpec) -> Result<(), TargetError>;
    /// Drops and re-opens the connection, after a transient failure.
    async fn reconnect(&mut self) -> Result<(), TargetError>;
}

/// The target chosen at run time.
pub enum AnyTarget {
    Sc(Box<sc::ScTarget>),
    Dir(dir::DirTarget),
}

macro_rules! delegate {
    ($self:ident, $t:ident => $e:expr) => {
        match $self {
            AnyTarget::Sc($t) => $e,
            AnyTarget::Dir($t) => $e,
        }
    };
}

impl Target for AnyTarget {
    fn identity(&self) -> String {
        delegate!(self, t => t.identity())
    }
    async fn read(&mut self) -> Result<Live, TargetError> {
        delegate!(self, t => t.read().await)
    }
    async fn fetch(&mut self, name: &str) -> Result<Option<LiveSpu>, TargetError> {
        delegate!(self, t => t.fetch(name).await)
    }
    fn updates_in_place(&self) -> bool {
        delegate!(self, t => t.updates_in_place())
    }
    async fn update(&mut self, spec: &SpuSpec) -> Result<(), TargetError> {
        delegate!(self, t => t.update(spec).await)
    }
    async fn delete(&mut self, spec: &SpuSpec) -> Result<(), TargetError> {
        delegate!(self, t => t.delete(spec).await)
    }
    async fn create(&mut self, spec: &SpuSpec) -> Result<(), TargetError> {
        delegate!(self, t => t.create(spec).await)
    }
    async fn reconnect(&mut self) -> Result<(), TargetError> {
        delegate!(self, t => t.reconnect().await)
    }
}
