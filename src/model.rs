//! Plain data shared by every stage: what the file declares (`Desired`) and what the
//! cluster holds (`Live`). No I/O here; maps are `BTreeMap`s so output order is stable.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// An SPU id, as Fluvio types it.
pub type SpuId = i32;

/// Transport encryption advertised with an endpoint.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Encryption {
    #[default]
    Plaintext,
    Ssl,
}

impl Encryption {
    pub fn parse(text: &str) -> Option<Self> {
        if text.eq_ignore_ascii_case("plaintext") {
            Some(Self::Plaintext)
        } else if text.eq_ignore_ascii_case("ssl") {
            Some(Self::Ssl)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
        }
    }
}

impl fmt::Display for Encryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `host:port` endpoint with its encryption; Fluvio's `Endpoint`.
///
/// An IPv6 literal is kept in brackets (`[::1]`) because Fluvio clients dial
/// `format!("{host}:{port}")`, which only resolves for a bracketed literal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub encryption: Encryption,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl Endpoint {
    /// The address alone, as a zone file writes it.
    pub fn host_port(&self) -> HostPort {
        HostPort::new(self.host.clone(), self.port)
    }

    /// `host:port`, plus the encryption when it is not plaintext.
    pub fn describe(&self) -> String {
        match self.encryption {
            Encryption::Plaintext => self.to_string(),
            Encryption::Ssl => format!("{self} (SSL)"),
        }
    }
}

/// A `host:port` address: an SC's as `-c`, `[cluster] endpoint` and `[client] endpoint`
/// give it, or an endpoint as a zone file asserts it. Displayed the way a zone file writes
/// it: an IPv6 literal in brackets, whether or not the SC stored it with them, so
/// assertions compare what they mean, and one SC names one journal and one lock however a
/// file writes its address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl HostPort {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        HostPort {
            host: host.into(),
            port,
        }
    }

    /// `host:port` as `crate::address::parse_host_port` reads it; `None` without a port or
    /// for anything that is not an address.
    pub fn parse(text: &str) -> Option<HostPort> {
        match crate::address::parse_host_port(text) {
            Ok((host, Some(port))) => Some(HostPort::new(host, port)),
            _ => None,
        }
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = &self.host;
        if host.contains(':') && !host.starts_with('[') {
            write!(f, "[{host}]:{}", self.port)
        } else {
            write!(f, "{host}:{}", self.port)
        }
    }
}

/// Which cluster a run works on: a running SC by the address as given, or a stopped local
/// cluster's metadata directory by its canonical path. Journals, locks and saved plans are
/// keyed by its text form, `sc://ADDR` or `dir:PATH`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClusterId {
    /// The address the client dialed, verbatim: a [`HostPort`]'s text, or a profile's
    /// `endpoint` as the fluvio config spells it (which need not parse as one, and is
    /// never rewritten). A journal or a saved plan names the cluster this way.
    Sc(String),
    MetadataDir(PathBuf),
}

impl ClusterId {
    /// Reads the text form back (`sc://ADDR`, `dir:PATH`); `None` for anything else.
    pub fn parse(text: &str) -> Option<ClusterId> {
        if let Some(addr) = text.strip_prefix("sc://") {
            Some(ClusterId::Sc(addr.to_string()))
        } else {
            text.strip_prefix("dir:")
                .map(|path| ClusterId::MetadataDir(PathBuf::from(path)))
        }
    }
}

impl Serialize for ClusterId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClusterId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ClusterId::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown target `{text}` (expected sc://HOST:PORT or dir:PATH)"
            ))
        })
    }
}

/// In documents a cluster is its text form.
impl schemars::JsonSchema for ClusterId {
    fn is_referenceable() -> bool {
        false
    }
    fn schema_name() -> String {
        "ClusterId".to_string()
    }
    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        String::json_schema(gen)
    }
}

impl fmt::Display for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterId::Sc(addr) => write!(f, "sc://{addr}"),
            ClusterId::MetadataDir(path) => write!(f, "dir:{}", path.display()),
        }
    }
}

/// One address of a public ingress: a hostname, an IP, or (rarely) both.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IngressAddr {
    pub hostname: Option<String>,
    pub ip: Option<String>,
}

/// Fluvio's `IngressPort`: one port, any number of addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Ingress {
    pub port: u16,
    pub addrs: Vec<IngressAddr>,
    pub encryption: Encryption,
}

impl Ingress {
    /// The host Fluvio shows and dials: the first address's hostname, else its ip.
    pub fn host(&self) -> &str {
        self.addrs
            .first()
            .and_then(|a| a.hostname.as_deref().or(a.ip.as_deref()))
            .unwrap_or("")
    }
}

impl Ingress {
    /// The address an assertion compares with; `None` when there is no address at all.
    pub fn assertion(&self) -> Option<String> {
        let host = self.host();
        (!host.is_empty()).then(|| HostPort::new(host, self.port).to_string())
    }
}

impl fmt::Display for Ingress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host(), self.port)
    }
}

/// Who owns an SPU's registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SpuKind {
    /// Registered by an operator; the only kind this tool may change.
    Custom,
    /// Generated by a Kubernetes SPU group; its local endpoint is the SC's to set.
    Managed,
}

impl SpuKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Custom => "custom",
            Self::Managed => "managed",
        }
    }
}

/// The SC's view of an SPU process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SpuState {
    Online,
    Offline,
    Init,
}

impl SpuState {
    pub fn label(self) -> &'static str {
        match self {
            Self::Online => "Online",
            Self::Offline => "Offline",
            Self::Init => "Init",
        }
    }
}

/// Every field of a registered SPU's spec, losslessly: what a replace must copy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SpuSpec {
    pub name: String,
    pub id: SpuId,
    pub kind: SpuKind,
    pub public: Ingress,
    pub private: Endpoint,
    pub rack: Option<String>,
    pub local: Option<Endpoint>,
}

impl SpuSpec {
    /// The same spec with another local endpoint: the only change this tool makes.
    /// True when `new` is this custom SPU with another local endpoint and nothing else
    /// changed: the only change the tool ever makes.
    pub fn is_local_change(&self, new: &SpuSpec) -> bool {
        self.kind == SpuKind::Custom
            && self.local != new.local
            && *new == self.with_local(new.local.clone())
    }

    pub fn with_local(&self, local: Option<Endpoint>) -> SpuSpec {
        SpuSpec {
            local,
            ..self.clone()
        }
    }

    /// A short, stable fingerprint of the whole spec (hex SHA-256 of its JSON form), used
    /// to notice that an SPU moved between plan and apply.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        thread_local! {
            // The JSON form is written whole, then hashed at once: a digest fed token by
            // token costs several times the hash itself (10,000 specs in a plan).
            static JSON: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        JSON.with_borrow_mut(|json| {
            json.clear();
            serde_json::to_writer(&mut *json, self).expect("a spec always serializes");
            hex::encode(&Sha256::digest(json.as_slice())[..16])
        })
    }
}

/// A live SPU: its spec and its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveSpu {
    /// Shared with the plan's changes, which keep the live spec they were made from.
    pub spec: std::sync::Arc<SpuSpec>,
    pub status: SpuState,
}

/// What the cluster holds, keyed by SPU id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Live {
    pub spus: BTreeMap<SpuId, LiveSpu>,
    /// The SC's platform version, when the cluster is a running SC.
    pub platform_version: Option<String>,
    /// The cluster's (non-system) partitions, when they were read.
    pub partitions: Option<Vec<LivePartition>>,
}

impl Live {
    pub fn from_specs(specs: impl IntoIterator<Item = LiveSpu>) -> Self {
        Live {
            spus: specs.into_iter().map(|s| (s.spec.id, s)).collect(),
            platform_version: None,
            partitions: None,
        }
    }
}

/// One replica's offsets as a partition's leader reports them to the SC: its high
/// watermark and its log end offset (-1 until the leader knows them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReplicaOffsets {
    pub spu: SpuId,
    pub hw: i64,
    pub leo: i64,
}

/// A partition as the SC lists it: where its replicas are (its spec) and how far each has
/// replicated (its status, which the leader reports every few hundred milliseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivePartition {
    /// `<topic>-<index>`.
    pub name: String,
    /// `spec.leader`.
    pub leader: SpuId,
    /// `spec.replicas`: every SPU holding a replica, the leader among them.
    pub replicas: Vec<SpuId>,
    /// `status.resolution` is `Online`.
    pub online: bool,
    /// `status.leader`.
    pub leader_offsets: ReplicaOffsets,
    /// `status.replicas`: the followers as the leader sees them.
    pub follower_offsets: Vec<ReplicaOffsets>,
}

/// A zone file's `[cluster]` table: the cluster it describes, by profile or by address
/// (empty without the table).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterTable {
    pub profile: Option<String>,
    pub endpoint: Option<HostPort>,
}

/// A zone file's `[client]` table: how the zone's clients reach the SC, by the SC's
/// address as they see it (`host.docker.internal:9003`) and the profile of the fluvio
/// config on this machine whose TLS settings they share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTable {
    pub endpoint: HostPort,
    /// `tls_from`.
    pub tls_from: Option<String>,
}

/// TLS for an SC given by address, in the meaning of the fluvio CLI's flags and of a
/// profile's `[cluster.<name>.tls]` table with its certificates in files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EndpointTls {
    /// Plain TCP (no `--tls`; `tls_policy = "disabled"`, or no table).
    #[default]
    Disabled,
    /// `--tls` alone, `tls_policy = "anonymous"`: TLS without verifying the SC's
    /// certificate, no client certificate.
    Anonymous,
    /// `--tls --enable-client-cert`, `tls_policy = "verified"` with `tls_source = "files"`:
    /// the SC verified against `ca_cert` for `domain`, the client's certificate and key
    /// presented. Paths: the files are read on connect.
    Verified {
        domain: String,
        ca_cert: PathBuf,
        cert: PathBuf,
        key: PathBuf,
    },
}

/// The SC a run connects to, as the flags and the zone file pick it (the first that is
/// set wins: `ops::session::ClusterFlags::choice`); a metadata directory is picked before
/// any of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterChoice {
    /// `-c/--cluster ADDR` or `[cluster] endpoint`, with the TLS of the command line.
    Endpoint(HostPort, EndpointTls),
    /// `-P/--profile NAME` or `[cluster] profile`.
    Profile(String),
    /// The current profile of the fluvio config.
    Current,
    /// `[client] endpoint`: the SC as a zone's clients dial it, with the TLS settings of
    /// profile `tls_from` (plain TCP when `None`).
    Client {
        endpoint: HostPort,
        tls_from: Option<String>,
    },
}

/// What to do about SPUs that live in the cluster but not in the file.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Unmanaged {
    Ignore,
    #[default]
    Warn,
    Error,
}

/// Whether `plan` and `apply` probe the endpoints they would set (`[policy] probe`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ProbePolicy {
    /// Only with `--probe`.
    #[default]
    Off,
    /// Probe; an unreachable endpoint is a warning.
    Warn,
    /// Probe; an unreachable endpoint refuses the plan (unless `--force`).
    Error,
}

/// Which SPUs of a zone file a run covers (`--spu`, `--exclude-spu`): all when both sets
/// are empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Targeting {
    /// Only these (`--spu`); empty: every SPU of the file.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub spus: std::collections::BTreeSet<SpuId>,
    /// Not these (`--exclude-spu`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub exclude: std::collections::BTreeSet<SpuId>,
}

impl Targeting {
    /// True when the run covers every SPU.
    pub fn is_all(&self) -> bool {
        self.spus.is_empty() && self.exclude.is_empty()
    }

    pub fn covers(&self, id: SpuId) -> bool {
        (self.spus.is_empty() || self.spus.contains(&id)) && !self.exclude.contains(&id)
    }

    /// `only SPU 5001, 5002; excluding SPU 5003`.
    pub fn describe(&self) -> String {
        let ids = |set: &std::collections::BTreeSet<SpuId>| {
            set.iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut parts = Vec::new();
        if !self.spus.is_empty() {
            parts.push(format!("only SPU {} (--spu)", ids(&self.spus)));
        }
        if !self.exclude.is_empty() {
            parts.push(format!(
                "excluding SPU {} (--exclude-spu)",
                ids(&self.exclude)
            ));
        }
        parts.join("; ")
    }
}

/// How many changes a plan may have: a count, or a percentage of the cluster's custom
/// SPUs (`"30%"`), so that the threshold grows with the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxChanges {
    Count(usize),
    /// 0 to 100.
    Percent(u8),
}

impl MaxChanges {
    /// Parses `N` or `N%` (0 <= N <= 100 for a percentage).
    pub fn parse(text: &str) -> Result<MaxChanges, String> {
        let text = text.trim();
        match text.strip_suffix('%') {
            Some(pct) => match pct.parse::<u8>() {
                Ok(p) if p <= 100 && !pct.starts_with('+') => Ok(MaxChanges::Percent(p)),
                _ => Err(format!(
                    "`{text}` is not a percentage from 0% to 100% (whole numbers)"
                )),
            },
            None => text
                .parse::<usize>()
                .ok()
                .filter(|_| !text.starts_with('+'))
                .map(MaxChanges::Count)
                .ok_or_else(|| {
                    format!("`{text}` is not a number of changes (N) or a percentage (N%)")
                }),
        }
    }

    /// The number of changes allowed on a cluster of `custom` custom SPUs: a percentage
    /// rounds down, as a threshold does (30% of 12 is 3).
    pub fn allowed(self, custom: usize) -> usize {
        match self {
            MaxChanges::Count(n) => n,
            MaxChanges::Percent(p) => custom.saturating_mul(usize::from(p)) / 100,
        }
    }
}

impl std::fmt::Display for MaxChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaxChanges::Count(n) => write!(f, "{n}"),
            MaxChanges::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Serialize for MaxChanges {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MaxChanges::Count(n) => s.serialize_u64(*n as u64),
            MaxChanges::Percent(_) => s.collect_str(self),
        }
    }
}

/// The `[policy]` table.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Policy {
    pub unmanaged: Unmanaged,
    pub max_changes: Option<MaxChanges>,
    pub probe: ProbePolicy,
    /// Whether a change may stall the replicated partitions its SPU follows.
    pub replication_stalls: StallPolicy,
    /// The shell command that restarts one SPU's process (`SPU_ID`, `SPU_NAME` in its
    /// environment), run after each change of an SPU that follows a replicated partition.
    pub restart_command: Option<String>,
}

/// A declared local endpoint, before the live SPU fills in what was left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LocalDecl {
    /// `"none"`: the SPU must have no local endpoint.
    None,
    /// A host, with port and encryption defaulting to the SPU's public ones.
    Set {
        host: String,
        port: Option<u16>,
        encryption: Option<Encryption>,
    },
}

impl LocalDecl {
    /// The concrete endpoint for `spec`: omitted port and encryption come from its public
    /// endpoint, as the original `update-local` proposal specified.
    pub fn resolve(&self, spec: &SpuSpec) -> Option<Endpoint> {
        match self {
            LocalDecl::None => None,
            LocalDecl::Set {
                host,
                port,
                encryption,
            } => Some(Endpoint {
                host: host.clone(),
                port: port.unwrap_or(spec.public.port),
                encryption: encryption.unwrap_or(spec.public.encryption),
            }),
        }
    }
}

/// Byte ranges in the source file, kept for diagnostics and CI annotations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpuSpans {
    pub entry: Range<usize>,
    pub local: Range<usize>,
    pub name: Option<Range<usize>>,
    pub public: Option<Range<usize>>,
    pub private: Option<Range<usize>>,
    pub rack: Option<Range<usize>>,
}

/// One `[[spu]]` entry, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredSpu {
    pub id: SpuId,
    pub local: LocalDecl,
    /// Assertions: checked and reported, never applied.
    pub name: Option<String>,
    pub public: Option<String>,
    pub private: Option<String>,
    pub rack: Option<String>,
    pub spans: SpuSpans,
}

/// A validated file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Desired {
    pub cluster: ClusterTable,
    /// `[client]`, when the file has one.
    pub client: Option<ClientTable>,
    pub policy: Policy,
    pub spus: BTreeMap<SpuId, DesiredSpu>,
}

impl Desired {
    /// The profile whose TLS settings the zone's clients share: `[client] tls_from`, else
    /// the profile `[cluster]` names; `None` (plain TCP) without either, or without
    /// `[client]`.
    pub fn client_tls_profile(&self) -> Option<&str> {
        let client = self.client.as_ref()?;
        client
            .tls_from
            .as_deref()
            .or(self.cluster.profile.as_deref())
    }
}

/// An SPU's part in one replicated partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Leader,
    Follower,
}

/// A replicated partition (more than one replica) that an SPU holds a replica of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PartitionRole {
    /// `<topic>-<index>`.
    pub partition: String,
    pub role: Role,
    /// How many replicas the partition has.
    pub replicas: usize,
}

/// What a file says of stalls it would cause (`[policy] replication_stalls`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum StallPolicy {
    /// A change that would stall replication refuses the plan (the default).
    #[default]
    Refuse,
    /// The user accepts that the partitions a changed SPU follows stop committing until
    /// its process restarts.
    Accept,
}
