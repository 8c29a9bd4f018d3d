//! A running SC, through the real `fluvio` client. The only module that imports `fluvio`.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fluvio::config::ConfigFile;
use fluvio::metadata::customspu::CustomSpuSpec;
use fluvio::{Fluvio, FluvioAdmin, FluvioClusterConfig};
use fluvio_controlplane_metadata::spu::{CustomSpuKey, SpuSpec as FlvSpuSpec};
use fluvio_sc_schema::errors::ErrorCode;
use fluvio_sc_schema::ApiError;

use super::convert::{custom_spec, live_from_fluvio};
use super::{Cluster, ClusterError};
use crate::error::one_line as causes;
use crate::model::{ClusterId, Live, LiveSpu, SpuSpec};

/// Set when the fluvio client panicked, as it does on some malformed replies: its
/// connection is then dead, and waiting out a request's timeout would only delay the
/// error. Cleared by the next connect.
static CLIENT_FAILED: AtomicBool = AtomicBool::new(false);

/// What a request that the failed client abandoned reports.
pub const CLIENT_FAILURE: &str = "the fluvio client stopped on an internal failure (printed above), as it does on a reply it cannot decode; is that address an SC?";

/// Wakes the requests waiting on the client when it fails.
static CLIENT_FAILED_NOTICE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Records that the client failed (called from the panic hook).
pub fn note_client_failure() {
    CLIENT_FAILED.store(true, Ordering::SeqCst);
    CLIENT_FAILED_NOTICE.notify_waiters();
}

/// Resolves once the client has failed.
async fn client_failed() {
    loop {
        let notice = CLIENT_FAILED_NOTICE.notified();
        tokio::pin!(notice);
        // Registered before the check, so a failure between the two still wakes us.
        notice.as_mut().enable();
        if CLIENT_FAILED.load(Ordering::SeqCst) {
            return;
        }
        notice.await;
    }
}

/// How the user picked the cluster; the first that is set wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterChoice {
    /// `-c/--cluster ADDR` or `[cluster] endpoint`.
    Endpoint(String),
    /// `-P/--profile NAME` or `[cluster] profile`.
    Profile(String),
    /// The current profile of the fluvio config.
    Current,
}

/// Why a cluster choice could not be turned into a client configuration.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read the fluvio config: {0}")]
    ConfigFile(String),
    #[error("profile `{0}` is not in the fluvio config")]
    UnknownProfile(String),
    #[error("the fluvio config has no current profile: {0}")]
    NoCurrent(String),
}

/// Resolves a choice into the client's cluster config.
pub fn cluster_config(choice: &ClusterChoice) -> Result<FluvioClusterConfig, ProfileError> {
    let load = || ConfigFile::load(None).map_err(|e| ProfileError::ConfigFile(causes(&e)));
    match choice {
        ClusterChoice::Endpoint(addr) => Ok(FluvioClusterConfig::new(addr.clone())),
        ClusterChoice::Profile(name) => load()?
            .config()
            .cluster_with_profile(name)
            .cloned()
            .ok_or_else(|| ProfileError::UnknownProfile(name.clone())),
        ClusterChoice::Current => load()?
            .config()
            .current_cluster()
            .cloned()
            .map_err(|e| ProfileError::NoCurrent(e.to_string())),
    }
}

/// A connected SC.
pub struct ScCluster {
    config: FluvioClusterConfig,
    timeout: Duration,
    client: Fluvio,
    admin: FluvioAdmin,
    /// The last request got no answer in time, on a connection that is still open: the SC
    /// may still be working on it. See `reconnect`.
    unanswered: AtomicBool,
}

/// Sorts a client error: SC answers by code, anything else as a connection problem.
fn classify(op: String, err: anyhow::Error) -> ClusterError {
    match err.downcast_ref::<ApiError>() {
        Some(ApiError::Code(code, message)) => {
            let message = message
                .clone()
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| code.to_sentence());
            match code {
                ErrorCode::SpuAlreadyExists => ClusterError::AlreadyExists { op, message },
                ErrorCode::SpuNotFound => ClusterError::NotFound { op, message },
                _ => ClusterError::Refused { op, message },
            }
        }
        Some(other) => ClusterError::Refused {
            op,
            message: other.to_string(),
        },
        None => ClusterError::Transient {
            op,
            cause: causes(err.as_ref()),
        },
    }
}

impl ScCluster {
    /// Connects, checking the client's own version compatibility.
    pub async fn connect(
        config: FluvioClusterConfig,
        timeout: Duration,
    ) -> Result<Self, ClusterError> {
        let endpoint = config.endpoint.clone();
        CLIENT_FAILED.store(false, Ordering::SeqCst);
        let client = match tokio::time::timeout(timeout, Fluvio::connect_with_config(&config)).await
        {
            Err(_) => {
                return Err(ClusterError::Unreachable {
                    endpoint,
                    cause: format!("no answer within {}s", timeout.as_secs_f32()),
                })
            }
            Ok(Err(err)) => {
                let cause = causes(err.as_ref());
                return Err(
                    if cause.contains("not compatible") || cause.contains("minimum") {
                        ClusterError::Incompatible { endpoint, cause }
                    } else {
                        ClusterError::Unreachable { endpoint, cause }
                    },
                );
            }
            Ok(Ok(client)) => client,
        };
        let admin = client.admin().await;
        Ok(ScCluster {
            config,
            timeout,
            client,
            admin,
            unanswered: AtomicBool::new(false),
        })
    }

    pub fn platform_version(&self) -> String {
        self.client.platform_version().to_string()
    }

    async fn timed<T>(
        &self,
        op: impl Fn() -> String,
        fut: impl Future<Output = anyhow::Result<T>>,
    ) -> Result<T, ClusterError> {
        let result = tokio::select! {
            result = tokio::time::timeout(self.timeout, fut) => result,
            () = client_failed() => {
                // The reply came, unreadable: nothing of this request is left to land
                // later, so the next retry may reconnect.
                self.unanswered.store(false, Ordering::SeqCst);
                return Err(ClusterError::Transient {
                    op: op(),
                    cause: CLIENT_FAILURE.into(),
                });
            }
        };
        self.unanswered.store(result.is_err(), Ordering::SeqCst);
        match result {
            Err(_) => Err(ClusterError::Transient {
                op: op(),
                cause: format!("no answer within {}s", self.timeout.as_secs_f32()),
            }),
            Ok(result) => result.map_err(|err| classify(op(), err)),
        }
    }
}

impl Cluster for ScCluster {
    fn identity(&self) -> ClusterId {
        ClusterId::Sc(self.config.endpoint.clone())
    }

    async fn read(&mut self) -> Result<Live, ClusterError> {
        let spus = self
            .timed(
                || "listing SPUs".to_string(),
                self.admin.all::<FlvSpuSpec>(),
            )
            .await?;
        let mut live = Live::from_specs(
            spus.iter()
                .map(|m| live_from_fluvio(&m.name, &m.spec, &m.status)),
        );
        live.platform_version = Some(self.platform_version());
        Ok(live)
    }

    async fn fetch(&mut self, name: &str) -> Result<Option<LiveSpu>, ClusterError> {
        let spus = self
            .timed(
                || format!("reading SPU {name}"),
                self.admin
                    .list::<FlvSpuSpec, String>(vec![name.to_string()]),
            )
            .await?;
        Ok(spus
            .iter()
            .find(|m| m.name == name)
            .map(|m| live_from_fluvio(&m.name, &m.spec, &m.status)))
    }

    fn updates_in_place(&self) -> bool {
        false
    }

    async fn update(&mut self, spec: &SpuSpec) -> Result<(), ClusterError> {
        Err(ClusterError::Refused {
            op: format!("updating SPU {}", spec.name),
            message: "the SC has no in-place update for SPUs".to_string(),
        })
    }

    async fn delete(&mut self, spec: &SpuSpec) -> Result<(), ClusterError> {
        let key = CustomSpuKey::Name(spec.name.clone());
        self.timed(
            || format!("deleting SPU {} ({})", spec.id, spec.name),
            self.admin.delete::<CustomSpuSpec>(key),
        )
        .await
    }

    async fn create(&mut self, spec: &SpuSpec) -> Result<(), ClusterError> {
        let custom = custom_spec(spec);
        self.timed(
            || format!("creating SPU {} ({})", spec.id, spec.name),
            self.admin.create(spec.name.clone(), false, custom),
        )
        .await
    }

    /// Re-opens the connection, unless the last request timed out on a connection that is
    /// still open. The SC serves one connection's requests in order and finishes the one in
    /// hand even when the client goes away; so a request abandoned with its connection can
    /// still land later, after a retry on a new connection: a late delete would remove the
    /// SPU just re-created. Staying on the same connection keeps every retry and look
    /// ordered after the abandoned request. If the connection is dead instead, the next
    /// request fails with a connection error, and the reconnect after that happens.
    async fn reconnect(&mut self) -> Result<(), ClusterError> {
        if self.unanswered.load(Ordering::SeqCst) {
            return Ok(());
        }
        *self = ScCluster::connect(self.config.clone(), self.timeout).await?;
        Ok(())
    }
}
