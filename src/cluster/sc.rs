//! A running SC, through Fluvio's published client crates: profiles from `fluvio`, the
//! wire through `connection` (no watch streams).

use std::path::PathBuf;
use std::time::Duration;

use fluvio::config::{ConfigFile, TlsConfig, TlsPaths, TlsPolicy};
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
use super::convert::{custom_spec, live_into_model, partition_into_model};
use super::{Cluster, ClusterError};
use crate::causes::one_line as causes;
use crate::model::{ClusterChoice, ClusterId, Live, LivePartition, LiveSpu, SpuSpec};
use crate::profile::without_quoted_lines;

pub use crate::model::EndpointTls;

impl From<EndpointTls> for TlsPolicy {
    fn from(tls: EndpointTls) -> TlsPolicy {
        match tls {
            EndpointTls::Disabled => TlsPolicy::Disabled,
            EndpointTls::Anonymous => TlsPolicy::Anonymous,
            EndpointTls::Verified {
                domain,
                ca_cert,
                cert,
                key,
            } => TlsPolicy::from(TlsPaths {
                domain,
                ca_cert,
                cert,
                key,
            }),
        }
    }
}

/// Why a cluster choice could not be turned into a client configuration.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read the fluvio config: {0}")]
    ConfigFile(String),
    #[error("profile `{0}` is not in the fluvio config")]
    UnknownProfile(String),
    #[error("profile `{profile}` names cluster `{cluster}`, which is missing from the fluvio config (no [cluster.{cluster}])")]
    MissingCluster { profile: String, cluster: String },
    #[error("the fluvio config has no current profile: {0}")]
    NoCurrent(String),
    #[error("cannot read the TLS {what} {}: {cause}", path.display())]
    TlsFile {
        what: &'static str,
        path: PathBuf,
        cause: String,
    },
}

/// Checks that the TLS files a configuration names can be read, so that a wrong path is
/// named as such (the client's own error does not say which file). The contents are left
/// to the client: they are never read into an error.
fn check_tls_files(config: &FluvioClusterConfig) -> Result<(), ProfileError> {
    let TlsPolicy::Verified(TlsConfig::Files(paths)) = &config.tls else {
        return Ok(());
    };
    let files = [
        ("CA certificate (--ca-cert, ca_cert)", &paths.ca_cert),
        ("client certificate (--client-cert, cert)", &paths.cert),
        ("client key (--client-key, key)", &paths.key),
    ];
    for (what, path) in files {
        if let Err(e) = std::fs::File::open(path) {
            return Err(ProfileError::TlsFile {
                what,
                path: path.clone(),
                cause: e.to_string(),
            });
        }
    }
    Ok(())
}

/// Resolves a choice into the client's cluster config.
pub fn cluster_config(choice: &ClusterChoice) -> Result<FluvioClusterConfig, ProfileError> {
    let config = chosen_config(choice)?;
    check_tls_files(&config)?;
    Ok(config)
}

fn chosen_config(choice: &ClusterChoice) -> Result<FluvioClusterConfig, ProfileError> {
    let load = || {
        // The client reads the file whole, blocking: a pipe or a device never ends.
        if let Ok(path) = crate::profile::config_path() {
            crate::input::check_file(&path, &crate::input::FLUVIO_CONFIG)
                .map_err(|e| ProfileError::ConfigFile(e.to_string()))?;
        }
        ConfigFile::load(None)
            .map_err(|e| ProfileError::ConfigFile(without_quoted_lines(&causes(&e))))
    };
    match choice {
        ClusterChoice::Endpoint(addr, tls) => {
            Ok(FluvioClusterConfig::new(addr.to_string()).with_tls(tls.clone()))
        }
        ClusterChoice::Profile(name) => profile_cluster(load()?.config(), name),
        ClusterChoice::Client { endpoint, tls_from } => match tls_from {
            None => Ok(FluvioClusterConfig::new(endpoint.to_string())),
            Some(name) => {
                let mut config = profile_cluster(load()?.config(), name)?;
                config.endpoint = endpoint.to_string();
                Ok(config)
            }
        },
        ClusterChoice::Current => {
            let file = load()?;
            let config = file.config();
            match config.current_profile_name() {
                Some(name) if config.profile(name).is_some() => profile_cluster(config, name),
                _ => config
                    .current_cluster()
                    .cloned()
                    .map_err(|e| ProfileError::NoCurrent(e.to_string())),
            }
        }
    }
}

/// A profile's TLS settings, as another fluvio config can name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSettings {
    /// Plain TCP, anonymous TLS, or certificates in files (named by their paths).
    ByReference(EndpointTls),
    /// `tls_source = "inline"`: the profile holds the certificates and the key themselves.
    Inline,
}

/// The TLS settings of profile `name` of the fluvio config, read as the fluvio client
/// reads them (its aliases included). The certificate files are not opened.
pub fn profile_tls(name: &str) -> Result<TlsSettings, ProfileError> {
    let config = chosen_config(&ClusterChoice::Profile(name.to_string()))?;
    Ok(match config.tls {
        TlsPolicy::Disabled => TlsSettings::ByReference(EndpointTls::Disabled),
        TlsPolicy::Anonymous => TlsSettings::ByReference(EndpointTls::Anonymous),
        TlsPolicy::Verified(TlsConfig::Files(paths)) => {
            TlsSettings::ByReference(EndpointTls::Verified {
                domain: paths.domain,
                ca_cert: paths.ca_cert,
                cert: paths.cert,
                key: paths.key,
            })
        }
        TlsPolicy::Verified(TlsConfig::Inline(_)) => TlsSettings::Inline,
    })
}

/// The cluster of profile `name`: an unknown profile and a profile whose cluster is
/// missing are told apart.
fn profile_cluster(
    config: &fluvio::config::Config,
    name: &str,
) -> Result<FluvioClusterConfig, ProfileError> {
    let profile = config
        .profile(name)
        .ok_or_else(|| ProfileError::UnknownProfile(name.to_string()))?;
    config
        .cluster(&profile.cluster)
        .cloned()
        .ok_or_else(|| ProfileError::MissingCluster {
            profile: name.to_string(),
            cluster: profile.cluster.clone(),
        })
}

/// Says in the profile's terms what a TLS failure of the fluvio client means; `None` when
/// `cause` (the client's own words) is not one. The client's words follow in parentheses.
fn tls_problem(cause: &str, tls: &TlsPolicy) -> Option<String> {
    let says = |text: &str| cause.contains(text);
    let uses_tls = !matches!(tls, TlsPolicy::Disabled);
    let problem = if says("UnknownIssuer") {
        "TLS: the SC's certificate is not signed by the CA given (--ca-cert, or ca_cert in the profile)"
    } else if says("certificate expired") || says("Expired") {
        "TLS: the SC's certificate has expired (or is not valid yet)"
    } else if says("not valid for name") || says("NotValidForName") {
        "TLS: the SC's certificate is not valid for the TLS domain given (--domain, or domain in the profile)"
    } else if says("fatal alert: UnknownCA")
        || says("fatal alert: BadCertificate")
        || says("fatal alert: CertificateRequired")
    {
        "TLS: the SC refused the client certificate (--client-cert, or cert in the profile): it needs one signed by a CA that the SC trusts"
    } else if !uses_tls && (says("bytes remaining on stream") || says("starts like a TLS record")) {
        "the SC's answer is not a Fluvio reply: does it expect TLS? (--tls, or [cluster.<name>.tls] in the fluvio profile)"
    } else if uses_tls && says("no answer within") {
        "no answer to the TLS connection: an SC that does not serve TLS never answers one (check --tls, or the profile's [cluster.<name>.tls])"
    } else {
        return None;
    };
    Some(format!("{problem} ({cause})"))
}

/// The TLS policy's name, for traces (never its certificates).
fn tls_name(tls: &TlsPolicy) -> &'static str {
    match tls {
        TlsPolicy::Disabled => "disabled",
        TlsPolicy::Anonymous => "anonymous",
        TlsPolicy::Verified(_) => "verified",
    }
}

/// A connected SC.
pub struct ScCluster {
    config: FluvioClusterConfig,
    timeout: Duration,
    conn: ScConnection,
    /// The last request got no answer in time, on a connection that is still open: the SC
    /// may still be working on it. See `reconnect`.
    unanswered: bool,
}

/// Sorts an SC's error answer by code.
fn classify_api(op: String, err: ApiError) -> ClusterError {
    match err {
        ApiError::Code(code, message) => {
            let message = message
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| code.to_sentence());
            match code {
                ErrorCode::SpuAlreadyExists => ClusterError::AlreadyExists { op, message },
                ErrorCode::SpuNotFound => ClusterError::NotFound { op, message },
                ErrorCode::PermissionDenied => ClusterError::Denied { op, message },
                _ => ClusterError::Refused { op, message },
            }
        }
        other => ClusterError::Refused {
            op,
            message: other.to_string(),
        },
    }
}

/// Sorts a request's failure: SC answers by code, anything else as a connection problem.
fn classify(op: String, err: RequestError) -> ClusterError {
    match err {
        RequestError::Api(err) => classify_api(op, err),
        RequestError::Unsupported(message) => ClusterError::Refused { op, message },
        RequestError::Connection(cause) | RequestError::Unreadable(cause) => {
            ClusterError::Transient { op, cause }
        }
    }
}

impl ScCluster {
    /// Connects, checking the client's own version compatibility.
    pub async fn connect(
        config: FluvioClusterConfig,
        timeout: Duration,
    ) -> Result<Self, ClusterError> {
        let endpoint = config.endpoint.clone();
        let started = std::time::Instant::now();
        let connected = tokio::time::timeout(timeout, ScConnection::connect(&config)).await;
        tracing::debug!(
            endpoint = %endpoint,
            tls = tls_name(&config.tls),
            latency_ms = format_args!("{:.1}", started.elapsed().as_secs_f64() * 1e3),
            connected = matches!(connected, Ok(Ok(_))),
            "connecting to the SC"
        );
        let conn = match connected {
            Err(_) => {
                let cause = format!("no answer within {}s", timeout.as_secs_f32());
                return Err(ClusterError::Unreachable {
                    endpoint,
                    cause: tls_problem(&cause, &config.tls).unwrap_or(cause),
                });
            }
            Ok(Err(ConnectError::Incompatible(cause))) => {
                return Err(ClusterError::Incompatible { endpoint, cause })
            }
            Ok(Err(ConnectError::Failed(err))) => {
                let cause = causes(err.as_ref());
                return Err(ClusterError::Unreachable {
                    endpoint,
                    cause: tls_problem(&cause, &config.tls).unwrap_or(cause),
                });
            }
            Ok(Ok(conn)) => conn,
        };
        Ok(ScCluster {
            config,
            timeout,
            conn,
            unanswered: false,
        })
    }

    pub fn platform_version(&self) -> String {
        self.conn.platform_version().to_string()
    }

    /// The SC's address, as connected to.
    pub fn endpoint(&self) -> &str {
        &self.config.endpoint
    }

    /// The connection, for a stream of its own (`watch`).
    pub(super) fn into_connection(self) -> ScConnection {
        self.conn
    }

    /// One request and its reply, within the timeout.
    async fn exchange<R, I>(
        &mut self,
        op: impl Fn() -> String,
        input: I,
    ) -> Result<R::Response, ClusterError>
    where
        R: Request + TryEncodableFrom<I>,
    {
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(self.timeout, self.conn.request::<R, I>(input)).await;
        self.unanswered = result.is_err();
        tracing::debug!(
            endpoint = %self.config.endpoint,
            api = R::API_KEY,
            latency_ms = format_args!("{:.1}", started.elapsed().as_secs_f64() * 1e3),
            outcome = match &result {
                Err(_) => "no answer",
                Ok(Ok(_)) => "answered",
                Ok(Err(_)) => "failed",
            },
            "{}",
            op()
        );
        match result {
            Err(_) => Err(ClusterError::Transient {
                op: op(),
                cause: format!("no answer within {}s", self.timeout.as_secs_f32()),
            }),
            Ok(result) => result.map_err(|err| classify(op(), err)),
        }
    }

    /// A create of `spec`, for real or as a dry run.
    async fn create_request(
        &mut self,
        spec: &SpuSpec,
        dry_run: bool,
        op: impl Fn() -> String,
    ) -> Result<(), ClusterError> {
        let common = CommonCreateRequest {
            name: spec.name.clone(),
            dry_run,
            ..Default::default()
        };
        let request = CreateRequest::new(common, custom_spec(spec));
        self.exchange::<ObjectApiCreateRequest, _>(&op, request)
            .await?
            .as_result()
            .map_err(|err| classify_api(op(), err))
    }

    /// Lists SPUs whose name contains one of `filters` (all with none).
    async fn list(
        &mut self,
        op: impl Fn() -> String,
        filters: Vec<ListFilter>,
    ) -> Result<Vec<LiveSpu>, ClusterError> {
        let request = ListRequest::<FlvSpuSpec>::new(filters, false);
        let response = self
            .exchange::<ObjectApiListRequest, _>(&op, request)
            .await?;
        let spus: ListResponse<FlvSpuSpec> =
            response
                .downcast()
                .ok()
                .flatten()
                .ok_or_else(|| ClusterError::Transient {
                    op: op(),
                    cause: "the SC's reply is not an SPU list".to_string(),
                })?;
        Ok(spus
            .inner()
            .into_iter()
            .map(|m| live_into_model(m.name, m.spec, &m.status))
            .collect())
    }
}

impl ScCluster {
    /// Lists the partitions of non-system topics (the SC lists system and other topics'
    /// partitions apart, and ignores name filters for partitions).
    async fn list_partitions(&mut self) -> Result<Vec<LivePartition>, ClusterError> {
        use fluvio_controlplane_metadata::partition::PartitionSpec;
        let op = || "listing partitions".to_string();
        let request = ListRequest::<PartitionSpec>::new(vec![], false);
        let response = self
            .exchange::<ObjectApiListRequest, _>(op, request)
            .await?;
        let partitions: ListResponse<PartitionSpec> = response
            .downcast()
            .ok()
            .flatten()
            .ok_or_else(|| ClusterError::Transient {
                op: op(),
                cause: "the SC's reply is not a partition list".to_string(),
            })?;
        Ok(partitions
            .inner()
            .into_iter()
            .map(|m| partition_into_model(m.name, &m.spec, &m.status))
            .collect())
    }
}

impl Cluster for ScCluster {
    fn identity(&self) -> ClusterId {
        ClusterId::Sc(self.config.endpoint.clone())
    }

    async fn read(&mut self) -> Result<Live, ClusterError> {
        let spus = self.list(|| "listing SPUs".to_string(), vec![]).await?;
        let mut live = Live::from_specs(spus);
        live.platform_version = Some(self.platform_version());
        Ok(live)
    }

    async fn fetch(&mut self, name: &str) -> Result<Option<LiveSpu>, ClusterError> {
        let spus = self
            .list(
                || format!("reading SPU {name}"),
                vec![name.to_string().into()],
            )
            .await?;
        Ok(spus.into_iter().find(|spu| spu.spec.name == name))
    }

    async fn partitions(&mut self) -> Result<Vec<LivePartition>, ClusterError> {
        self.list_partitions().await
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
        let op = || format!("deleting SPU {} ({})", spec.id, spec.name);
        let request = DeleteRequest::<CustomSpuSpec>::new(CustomSpuKey::Name(spec.name.clone()));
        self.exchange::<ObjectApiDeleteRequest, _>(op, request)
            .await?
            .as_result()
            .map_err(|err| classify_api(op(), err))
    }

    async fn create(&mut self, spec: &SpuSpec) -> Result<(), ClusterError> {
        let op = || format!("creating SPU {} ({})", spec.id, spec.name);
        self.create_request(spec, false, op).await
    }

    /// The SC checks the Create permission on the CustomSpu type before anything else, then
    /// whether the name or id exists, then returns for a dry run: so an existing SPU answers
    /// `SpuAlreadyExists` exactly when the caller may create, and a missing one answers OK.
    async fn may_create(&mut self, spec: &SpuSpec) -> Result<(), ClusterError> {
        let op = || {
            format!(
                "checking that SPU {} ({}) may be created",
                spec.id, spec.name
            )
        };
        match self.create_request(spec, true, op).await {
            Ok(()) | Err(ClusterError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Re-opens the connection, unless the last request timed out on a connection that is
    /// still open. The SC serves one connection's requests in order and finishes the one in
    /// hand even when the client goes away; so a request abandoned with its connection can
    /// still land later, after a retry on a new connection: a late delete would remove the
    /// SPU just re-created. Staying on the same connection keeps every retry and look
    /// ordered after the abandoned request (its late reply is skipped). If the connection
    /// is dead instead, the next request fails with a connection error, and the reconnect
    /// after that happens.
    async fn reconnect(&mut self) -> Result<(), ClusterError> {
        if self.unanswered {
            return Ok(());
        }
        *self = ScCluster::connect(self.config.clone(), self.timeout).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_keep_the_position_and_drop_the_quoted_line() {
        let error = "Failed to deserialize Fluvio config /p: TOML parse error at line 16, column 9\n   |\n16 | key = \"-----BEGIN PRIVATE KEY-----\\nMIGH\n   |         ^\ninvalid basic string\n";
        assert_eq!(
            without_quoted_lines(error),
            "Failed to deserialize Fluvio config /p: TOML parse error at line 16, column 9: invalid basic string"
        );
        assert_eq!(without_quoted_lines("no such file"), "no such file");
    }

    #[test]
    fn tls_problems_are_named_only_for_tls_failures() {
        let tls = TlsPolicy::Anonymous;
        assert!(tls_problem("connection refused (os error 111)", &tls).is_none());
        assert!(tls_problem("no answer within 15s", &TlsPolicy::Disabled).is_none());
        let named = tls_problem("invalid peer certificate: UnknownIssuer", &tls).unwrap();
        assert!(
            named.starts_with("TLS: the SC's certificate is not signed"),
            "{named}"
        );
        assert!(
            named.ends_with("(invalid peer certificate: UnknownIssuer)"),
            "{named}"
        );
    }
}
