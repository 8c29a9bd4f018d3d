//! The zone file's serde mirror: the source of its JSON Schema (`schemas/`) and the form
//! `export` writes. Reading a file goes through `raw` instead, which keeps spans and
//! reports every problem at once; a test keeps the two in step on the bundled examples.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A fluvio-endpoints zone file: the local endpoints one environment or network zone
/// declares for a Fluvio cluster's SPUs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "fluvio-endpoints zone file")]
pub struct ZoneFile {
    /// Which SC this file describes: a profile of the fluvio config, or an SC address.
    /// Command-line `--profile`/`--cluster` override it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterTable>,
    /// How the zone's clients reach the SC (`probe` dials it, `profile write` writes their
    /// fluvio config from it). Not part of the cluster: `export` leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientTable>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyTable>,
    /// One entry per SPU this file manages.
    #[serde(default)]
    pub spu: Vec<SpuEntry>,
}

/// `[cluster]`: set at most one of `profile` and `endpoint`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterTable {
    /// A profile in ~/.fluvio/config (or $FLV_PROFILE_PATH).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The SC's public address, `host:port` (e.g. "127.0.0.1:9003").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// `max_changes`: a count or a percentage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum MaxChangesValue {
    Count(u32),
    Percent(#[schemars(regex(pattern = r"^(100|[1-9]?[0-9])%$"))] String),
}

/// `[client]`: the SC as the zone's clients see it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientTable {
    /// The SC's public address as the zone's clients dial it, `host:port`
    /// (e.g. "host.docker.internal:9003").
    pub endpoint: String,
    /// The profile of the fluvio config on this machine whose TLS settings the zone's
    /// clients share (certificate files by path, never inline ones); default: the profile
    /// `[cluster]` names, else plain TCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_from: Option<String>,
}

/// `[policy]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyTable {
    /// SPUs in the cluster but not in this file: ignore, warn (default) or error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmanaged: Option<crate::model::Unmanaged>,
    /// Refuse plans with more local-endpoint changes than this, unless `--force`: a number,
    /// or a percentage of the cluster's custom SPUs ("30%", rounded down).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_changes: Option<MaxChangesValue>,
    /// Whether plan and apply first probe the endpoints they would set, from where they run:
    /// off (default: only with `--probe`), warn, or error (an unreachable one refuses the
    /// plan unless `--force`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<crate::model::ProbePolicy>,
    /// Whether a change may stall replication: refuse (default: a change of an SPU that
    /// follows a replicated partition refuses the plan, unless the run restarts it or
    /// applies with the SC offline) or accept (the partitions it follows stop committing
    /// until its SPU process restarts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_stalls: Option<crate::replication::StallPolicy>,
    /// A shell command (run with `sh -c`) that restarts one SPU's process, with `SPU_ID`
    /// and `SPU_NAME` in its environment (e.g. "docker restart fluvio-spu-$SPU_ID"); run
    /// after each change of an SPU that follows a replicated partition, before the run
    /// waits for its partitions to commit. `--restart-command` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_command: Option<String>,
}

/// `[[spu]]`: one SPU's local endpoint, plus optional assertions that are checked, never applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpuEntry {
    /// The SPU id.
    #[schemars(range(min = 0))]
    pub id: i32,
    /// The local endpoint: "host", "host:port", "[v6]:port", "none", or a table.
    /// An omitted port or encryption is the SPU's public one.
    pub local: LocalValue,
    /// Asserted SPU name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Asserted public endpoint, as Fluvio shows it ("host:port").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<String>,
    /// Asserted private endpoint ("host:port").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private: Option<String>,
    /// Asserted rack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rack: Option<String>,
}

/// A local endpoint as text ("host[:port]" or "none") or as a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum LocalValue {
    Text(String),
    Table(LocalTable),
}

/// `local = { host, port, encryption }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalTable {
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<EncryptionName>,
}

/// Encryption names as Fluvio spells them (any case is accepted when reading).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub enum EncryptionName {
    #[serde(rename = "PLAINTEXT", alias = "plaintext")]
    Plaintext,
    #[serde(rename = "SSL", alias = "ssl")]
    Ssl,
}

/// The JSON Schema of the zone file, pretty-printed, as checked in under `schemas/`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(ZoneFile);
    let mut text = serde_json::to_string_pretty(&schema).expect("schema serializes");
    text.push('\n');
    text
}
