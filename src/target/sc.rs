//! A running SC, through Fluvio's published client crates: profiles from `fluvio`, the
//! wire through `connection` (no watch streams).

use std::time::Duration;

use fluvio::config::ConfigFile;
use fluvio::metadata::customspu::CustomSpuSpec;
use fluvio::FluvioClusterConfig;
use fluvio_controlplane_metadata::spu::{CustomSpuKey, SpuSpec as FlvSpuSpec};
use fluvio_protocol::api::Request;
use fluvio_sc_schema::errors::ErrorCode;
use fluvio_sc_schema::objects::{
    CommonCreateRequest, CreateRequest, DeleteRequest, ListFilter, ListRequest, ListResponse,
    ObjectApiCreateRequest, ObjectApiDeleteRequest, ObjectApiListRequest,
};
use fluvio_sc_schema::{ApiError, TryEncodableFrom};

use super::connection::{ConnectError, RequestError, ScConnection};
use super::convert::{custom_spec, live_from_fluvio};
use super::{Target, TargetError};
use crate::model::{Live, LiveSpu, SpuSpec};

/// What a connect that the client abandoned on an internal failure reports.
pub use super::connection::CONNECT_PANIC as CLIENT_FAILURE;

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

/// An error and its sources on one line.
fn causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        // Some errors print their source in their own message; say it once.
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        next = cause.source();
    }
    text
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
pub struct ScTarget {
    config: FluvioClusterConfig,
    timeout: Duration,
    conn: ScConnection,
    /// The last request got no answer in time, on a connection that is still open: the SC
    /// may still be working on it. See `reconnect`.
    unanswered: bool,
}

/// Sorts an SC's error answer by code.
fn classify_api(op: String, err: ApiError) -> TargetError {
    match err {
        ApiError::Code(code, message) => {
            let message = message
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| code.to_sentence());
            match code {
                ErrorCode::SpuAlreadyExists => TargetError::AlreadyExists { op, message },
                ErrorCode::SpuNotFound => TargetError::NotFound { op, message },
                _ => TargetError::Refused { op, message },
            }
        }
        other => TargetError::Refused {
            op,
            message: other.to_string(),
        },
    }
}

/// Sorts a request's failure: SC answers by code, anything else as a connection problem.
fn classify(op: String, err: RequestError) -> TargetError {
    match err {
        RequestError::Api(err) => classify_api(op, err),
        RequestError::Unsupported(message) => TargetError::Refused { op, message },
        RequestError::Connection(cause) | RequestError::Unreadable(cause) => {
            TargetError::Transient { op, cause }
        }
    }
}

impl ScTarget {
    /// Connects, checking the client's own version compatibility.
    pub async fn connect(
        config: FluvioClusterConfig,
        timeout: Duration,
    ) -> Result<Self, TargetError> {
        let endpoint = config.endpoint.clone();
        let conn = match tokio::time::timeout(timeout, ScConnection::connect(&config)).await {
            Err(_) => {
                return Err(TargetError::Unreachable {
                    endpoint,
                    cause: format!("no answer within {}s", timeout.as_secs_f32()),
                })
            }
            Ok(Err(ConnectError::Incompatible(cause))) => {
                return Err(TargetError::Incompatible { endpoint, cause })
            }
            Ok(Err(ConnectError::Failed(err))) => {
                return Err(TargetError::Unreachable {
                    endpoint,
                    cause: causes(err.as_ref()),
                })
            }
            Ok(Ok(conn)) => conn,
        };
        Ok(ScTarget {
            config,
            timeout,
            conn,
            unanswered: false,
        })
    }

    pub fn platform_version(&self) -> String {
        self.conn.platform_version().to_string()
    }

    /// One request and its reply, within the timeout.
    async fn exchange<R, I>(
        &mut self,
        op: impl Fn() -> String,
        input: I,
    ) -> Result<R::Response, TargetError>
    where
        R: Request + TryEncodableFrom<I>,
    {
        let result = tokio::time::timeout(self.timeout, self.conn.request::<R, I>(input)).await;
        self.unanswered = result.is_err();
        match result {
            Err(_) => Err(TargetError::Transient {
                op: op(),
                cause: format!("no answer within {}s", self.timeout.as_secs_f32()),
            }),
            Ok(result) => result.map_err(|err| classify(op(), err)),
        }
    }

    /// Lists SPUs whose name contains one of `filters` (all with none).
    async fn list(
        &mut self,
        op: impl Fn() -> String,
        filters: Vec<ListFilter>,
    ) -> Result<Vec<LiveSpu>, TargetError> {
        let request = ListRequest::<FlvSpuSpec>::new(filters, false);
        let response = self
            .exchange::<ObjectApiListRequest, _>(&op, request)
            .await?;
        let spus: ListResponse<FlvSpuSpec> =
            response
                .downcast()
                .ok()
                .flatten()
                .ok_or_else(|| TargetError::Transient {
                    op: op(),
                    cause: "the SC's reply is not an SPU list".to_string(),
                })?;
        Ok(spus
            .inner()
            .iter()
            .map(|m| live_from_fluvio(&m.name, &m.spec, &m.status))
            .collect())
    }
}

impl Target for ScTarget {
    fn identity(&self) -> String {
        format!("sc://{}", self.config.endpoint)
    }

    async fn read(&mut self) -> Result<Live, TargetError> {
        let spus = self.list(|| "listing SPUs".to_string(), vec![]).await?;
        let mut live = Live::from_specs(spus);
        live.platform_version = Some(self.platform_version());
        Ok(live)
    }

    async fn fetch(&mut self, name: &str) -> Result<Option<LiveSpu>, TargetError> {
        let spus = self
            .list(
                || format!("reading SPU {name}"),
                vec![name.to_string().into()],
            )
            .await?;
        Ok(spus.into_iter().find(|spu| spu.spec.name == name))
    }

    fn updates_in_place(&self) -> bool {
        false
    }

    async fn update(&mut self, spec: &SpuSpec) -> Result<(), TargetError> {
        Err(TargetError::Refused {
            op: format!("updating SPU {}", spec.name),
            message: "the SC has no in-place update for SPUs".to_string(),
        })
    }

    async fn delete(&mut self, spec: &SpuSpec) -> Result<(), TargetError> {
        let op = || format!("deleting SPU {} ({})", spec.id, spec.name);
        let request = DeleteRequest::<CustomSpuSpec>::new(CustomSpuKey::Name(spec.name.clone()));
        self.exchange::<ObjectApiDeleteRequest, _>(op, request)
            .await?
            .as_result()
            .map_err(|err| classify_api(op(), err))
    }

    async fn create(&mut self, spec: &SpuSpec) -> Result<(), TargetError> {
        let op = || format!("creating SPU {} ({})", spec.id, spec.name);
        let common = CommonCreateRequest {
            name: spec.name.clone(),
            dry_run: false,
            ..Default::default()
        };
        let request = CreateRequest::new(common, custom_spec(spec));
        self.exchange::<ObjectApiCreateRequest, _>(op, request)
            .await?
            .as_result()
            .map_err(|err| classify_api(op(), err))
    }

    /// Re-opens the connection, unless the last request timed out on a connection that is
    /// still open. The SC serves one connection's requests in order and finishes the one in
    /// hand even when the client goes away; so a request abandoned with its connection can
    /// still land later, after a retry on a new connection: a late delete would remove the
    /// SPU just re-created. Staying on the same connection keeps every retry and look
    /// ordered after the abandoned request (its late reply is skipped). If the connection
    /// is dead instead, the next request fails with a connection error, and the reconnect
    /// after that happens.
    async fn reconnect(&mut self) -> Result<(), TargetError> {
        if self.unanswered {
            return Ok(());
        }
        *self = ScTarget::connect(self.config.clone(), self.timeout).await?;
        Ok(())
    }
}
