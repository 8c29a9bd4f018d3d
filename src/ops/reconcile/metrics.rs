//! The agent's metrics, in the Prometheus project's own client (`prometheus-client`),
//! exposed at `/metrics` in the OpenMetrics text format, which Prometheus scrapes.
//!
//! Every series is bounded: zones are the files given, SPUs the ids they declare.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ZoneLabel {
    pub zone: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SpuLabel {
    pub zone: String,
    pub spu: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub zone: String,
    pub outcome: &'static str,
}

/// The agent's series.
pub struct Metrics {
    registry: Registry,
    /// 1 while the SPU's local endpoint differs from its zone file's, else 0.
    pub drift: Family<SpuLabel, Gauge>,
    /// SPUs of the zone that drift.
    pub drifted: Family<ZoneLabel, Gauge>,
    /// 1 while a plan of the zone would be refused (an unknown SPU, too many changes...).
    pub blocked: Family<ZoneLabel, Gauge>,
    /// Remediations, by outcome: applied, failed, refused.
    pub applies: Family<OutcomeLabel, Counter>,
    /// Unix time of the last round that found the zone converged (or made it so).
    pub last_success: Family<ZoneLabel, Gauge<f64, AtomicU64>>,
    /// Times the SPU watch was opened again after it was lost.
    pub watch_reconnects: Family<ZoneLabel, Counter>,
    /// 1 when the last read of the zone's SC succeeded.
    pub sc_reachable: Family<ZoneLabel, Gauge>,
    /// 1 while remediation of the zone is suspended after repeated failures.
    pub suspended: Family<ZoneLabel, Gauge>,
    /// Zone file reloads, by outcome: applied, invalid.
    pub reloads: Family<OutcomeLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("fluvio_endpoints");
        let drift = Family::default();
        let drifted = Family::default();
        let blocked = Family::default();
        let applies = Family::default();
        let last_success = Family::default();
        let watch_reconnects = Family::default();
        let sc_reachable = Family::default();
        let suspended = Family::default();
        let reloads = Family::default();
        registry.register(
            "drift",
            "1 while the SPU's local endpoint differs from its zone file, else 0",
            drift.clone(),
        );
        registry.register(
            "drifted_spus",
            "SPUs of the zone whose local endpoint differs from the zone file",
            drifted.clone(),
        );
        registry.register(
            "plan_blocked",
            "1 while a plan of the zone would be refused",
            blocked.clone(),
        );
        registry.register(
            "remediations",
            "Remediations (applies) by outcome: applied, failed, refused",
            applies.clone(),
        );
        registry.register(
            "last_reconcile_success_timestamp_seconds",
            "Unix time of the last round that found the zone converged or made it so",
            last_success.clone(),
        );
        registry.register(
            "watch_reconnects",
            "Times the SPU watch stream was opened again after it was lost",
            watch_reconnects.clone(),
        );
        registry.register(
            "sc_reachable",
            "1 when the last read of the zone's SC succeeded, else 0",
            sc_reachable.clone(),
        );
        registry.register(
            "remediation_suspended",
            "1 while remediation of the zone is suspended after repeated failures",
            suspended.clone(),
        );
        registry.register(
            "zone_reloads",
            "Zone file reloads by outcome: applied, invalid",
            reloads.clone(),
        );
        Metrics {
            registry,
            drift,
            drifted,
            blocked,
            applies,
            last_success,
            watch_reconnects,
            sc_reachable,
            suspended,
            reloads,
        }
    }
}

impl Metrics {
    /// The exposition text.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // writing into a String does not fail
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// The drift of a zone as a round found it: every declared SPU 0 or 1.
    pub fn set_drift<'a>(
        &self,
        zone: &str,
        declared: impl Iterator<Item = &'a crate::model::SpuId>,
        drifting: &std::collections::BTreeMap<crate::model::SpuId, String>,
        blocked: bool,
    ) {
        for id in declared {
            let label = SpuLabel {
                zone: zone.to_string(),
                spu: id.to_string(),
            };
            self.drift
                .get_or_create(&label)
                .set(i64::from(drifting.contains_key(id)));
        }
        let label = ZoneLabel {
            zone: zone.to_string(),
        };
        self.drifted
            .get_or_create(&label)
            .set(drifting.len() as i64);
        self.blocked.get_or_create(&label).set(i64::from(blocked));
    }

    /// Shows a zone's counters and flags from the start (at 0), so that a rate or an alert
    /// has a series before the first event.
    pub fn zero(&self, zone: &str) {
        for outcome in ["applied", "failed", "refused"] {
            drop(self.applies.get_or_create(&Metrics::outcome(zone, outcome)));
        }
        for outcome in ["applied", "invalid"] {
            drop(self.reloads.get_or_create(&Metrics::outcome(zone, outcome)));
        }
        let label = Metrics::zone(zone);
        drop(self.watch_reconnects.get_or_create(&label));
        self.sc_reachable.get_or_create(&label).set(0);
        self.suspended.get_or_create(&label).set(0);
    }

    /// Forgets the SPU series of a zone (its file was reloaded with other SPUs).
    pub fn forget_spus(&self, zone: &str, ids: impl Iterator<Item = crate::model::SpuId>) {
        for id in ids {
            self.drift.remove(&SpuLabel {
                zone: zone.to_string(),
                spu: id.to_string(),
            });
        }
    }

    pub fn zone(zone: &str) -> ZoneLabel {
        ZoneLabel {
            zone: zone.to_string(),
        }
    }

    pub fn outcome(zone: &str, outcome: &'static str) -> OutcomeLabel {
        OutcomeLabel {
            zone: zone.to_string(),
            outcome,
        }
    }
}
