//! `probe -o json`: the probe document, over the probe's results (`crate::probe`).

use serde::{Deserialize, Serialize};

use super::{pretty_schema, ConfigRef};
use crate::probe::{Options, SpuProbe, SpuStatus};

/// The version of the probe document (its own, apart from the plan's and apply's).
const FORMAT_VERSION: u32 = 1;

/// Counts of SPUs by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProbeSummary {
    pub spus: usize,
    pub reachable: usize,
    pub unreachable: usize,
    pub skipped: usize,
}

/// The limits the probe ran with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Settings {
    pub per_address_timeout_ms: u64,
    pub deadline_ms: u64,
    pub concurrency: usize,
}

/// `probe -o json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProbeDoc {
    pub format_version: u32,
    pub tool_version: String,
    /// Where the SPUs were read (`sc://host:port` or `dir:/path`).
    pub cluster: String,
    /// The zone file whose endpoints were probed; none for the cluster's live ones.
    #[serde(default)]
    pub config: Option<ConfigRef>,
    pub settings: Settings,
    pub summary: ProbeSummary,
    pub spus: Vec<SpuProbe>,
    /// Things that make the result mean less than it says (e.g. a profile that ignores
    /// local endpoints).
    pub warnings: Vec<String>,
}

impl ProbeDoc {
    pub fn new(
        cluster: &str,
        config: Option<ConfigRef>,
        options: &Options,
        spus: Vec<SpuProbe>,
        warnings: Vec<String>,
    ) -> Self {
        let count = |s: SpuStatus| spus.iter().filter(|p| p.status == s).count();
        ProbeDoc {
            format_version: FORMAT_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").into(),
            cluster: cluster.into(),
            config,
            settings: Settings {
                per_address_timeout_ms: options.per_address.as_millis() as u64,
                deadline_ms: options.deadline.as_millis() as u64,
                concurrency: options.concurrency,
            },
            summary: ProbeSummary {
                spus: spus.len(),
                reachable: count(SpuStatus::Reachable),
                unreachable: count(SpuStatus::Unreachable),
                skipped: count(SpuStatus::Skipped),
            },
            spus,
            warnings,
        }
    }
}

/// The JSON Schema of `probe -o json`, as checked in under `schemas/`.
pub fn probe_schema() -> String {
    pretty_schema(schemars::schema_for!(ProbeDoc))
}
