//! Probing: from where the tool runs, does a Fluvio SPU answer at each SPU's local
//! endpoint? For every endpoint: resolve its host (every A and AAAA address, through the
//! system resolver, or none for an IP literal), connect to each address, and complete the
//! SPU handshake (`cluster::handshake`). Bounded concurrency, a per-address timeout and a total
//! deadline: every address ends with a result or a named error, never a hang.
//!
//! ```text
//! [Subject] --probe(.., &Options)--> [SpuProbe] --report::ProbeDoc::new--> ProbeDoc --render--> text | json | markdown
//! ```
//!
//! `hints` turns the facts of one endpoint into advice (pure, table-tested).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::model::{Encryption, Endpoint, SpuId};

use crate::cluster::handshake::{self, Failure, Peer};

/// The format of `probe -o json` (bumped on incompatible changes).
pub const FORMAT_VERSION: u32 = 1;

/// How hard to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// One address's connect and handshake together.
    pub per_address: Duration,
    /// The whole probe, resolution included.
    pub deadline: Duration,
    /// Addresses (and names) worked on at once.
    pub concurrency: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            per_address: Duration::from_secs(3),
            deadline: Duration::from_secs(30),
            concurrency: 16,
        }
    }
}

/// One SPU to probe: its local endpoint, and its public one when that is probed too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub id: SpuId,
    pub name: String,
    /// The zone file's line of this SPU, when the endpoints come from a file.
    pub line: Option<usize>,
    pub local: Option<Endpoint>,
    /// Why there is nothing to probe, when `local` is `None`.
    pub skip_reason: Option<String>,
    pub public: Option<Endpoint>,
}

/// The probe of one SPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SpuProbe {
    pub id: SpuId,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub status: SpuStatus,
    /// Why the SPU was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The local endpoint, which clients with `use_spu_local_address = true` dial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<EndpointProbe>,
    /// The public endpoint (`probe --public`); informational, it does not decide the status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<EndpointProbe>,
}

/// An SPU's verdict: decided by its local endpoint alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SpuStatus {
    /// A Fluvio SPU answered the handshake on at least one address.
    Reachable,
    /// No address of the local endpoint answered as an SPU.
    Unreachable,
    /// Nothing to probe (no local endpoint).
    Skipped,
}

/// One endpoint: its resolution and every address it resolved to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EndpointProbe {
    /// `host:port` as clients dial it.
    pub endpoint: String,
    pub encryption: Encryption,
    pub reachable: bool,
    pub resolution: Resolution,
    pub addresses: Vec<AddressProbe>,
    /// Advice drawn from what was found.
    pub hints: Vec<String>,
}

/// How the host became addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Resolution {
    pub via: Resolver,
    /// Every address, in the resolver's order (clients try them in this order).
    pub addresses: Vec<String>,
    /// The resolver's error, when resolution failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Resolver {
    /// An IP literal: nothing to resolve.
    Literal,
    /// The system resolver (`getaddrinfo`: /etc/hosts, then DNS, as nsswitch says).
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

/// What answered the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeerKind {
    Spu,
    Sc,
    OtherFluvio,
}

/// Where an address's probe stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Connect,
    Handshake,
    /// The total deadline ended it (or it never started).
    Deadline,
}

/// One resolved address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AddressProbe {
    /// `ip:port` (`[ip]:port` for IPv6).
    pub address: String,
    pub family: Family,
    pub connected: bool,
    /// True when a Fluvio SPU completed the handshake.
    pub handshake: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<PeerKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<Stage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A host as written (`[::1]` stays bracketed) to an IP, when it is a literal.
fn literal(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// Resolves a host through the system resolver, under the deadline.
async fn resolve(host: String, deadline: Instant) -> (Resolution, Vec<IpAddr>) {
    if let Some(ip) = literal(&host) {
        return (
            Resolution {
                via: Resolver::Literal,
                addresses: vec![ip.to_string()],
                error: None,
            },
            vec![ip],
        );
    }
    let failed = |error: String| {
        (
            Resolution {
                via: Resolver::System,
                addresses: vec![],
                error: Some(error),
            },
            vec![],
        )
    };
    // The std resolver on a thread of its own, not the runtime's blocking pool: a resolver
    // that never answers is abandoned at the deadline and cannot delay the exit.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let name = host.clone();
    let spawned = std::thread::Builder::new()
        .name("probe-resolve".into())
        .spawn(move || {
            use std::net::ToSocketAddrs;
            let _ = tx.send((name.as_str(), 0).to_socket_addrs().map(Vec::from_iter));
        });
    if let Err(e) = spawned {
        return failed(format!("cannot start the resolver: {e}"));
    }
    match tokio::time::timeout_at(deadline, rx).await {
        Err(_) => failed("the system resolver gave no answer before the total deadline".into()),
        Ok(Err(_)) => failed("the system resolver stopped without an answer".into()),
        Ok(Ok(Err(e))) => failed(format!("the system resolver (getaddrinfo) failed: {e}")),
        Ok(Ok(Ok(found))) => {
            let mut ips: Vec<IpAddr> = Vec::new();
            for addr in found {
                if !ips.contains(&addr.ip()) {
                    ips.push(addr.ip());
                }
            }
            if ips.is_empty() {
                return failed("the system resolver returned no address".into());
            }
            (
                Resolution {
                    via: Resolver::System,
                    addresses: ips.iter().map(IpAddr::to_string).collect(),
                    error: None,
                },
                ips,
            )
        }
    }
}

/// Probes one address under the per-address timeout and the total deadline; `true` with
/// it when its failure suggests the endpoint wants TLS.
async fn probe_address(
    addr: SocketAddr,
    options: &Options,
    deadline: Instant,
) -> (AddressProbe, bool) {
    let mut report = AddressProbe::not_yet(addr);
    let now = Instant::now();
    if now >= deadline {
        report.failed_at = Some(Stage::Deadline);
        report.error = Some(format!(
            "not probed: the total deadline ({}s) had passed",
            options.deadline.as_secs_f64()
        ));
        return (report, false);
    }
    let own_limit = now + options.per_address;
    let limit = own_limit.min(deadline);
    let progress = Mutex::new(None);
    let tls = match tokio::time::timeout_at(limit, handshake::attempt(addr, &progress)).await {
        Ok(attempt) => report.attempted(attempt),
        Err(_) => {
            let connected = *progress.lock().unwrap_or_else(|e| e.into_inner());
            let by_deadline = own_limit > deadline;
            report.timed_out(connected, by_deadline, options);
            false
        }
    };
    (report, tls)
}

impl AddressProbe {
    /// An address before its probe.
    fn not_yet(addr: SocketAddr) -> Self {
        let family = if addr.is_ipv4() {
            Family::Ipv4
        } else {
            Family::Ipv6
        };
        AddressProbe {
            address: addr.to_string(),
            family,
            connected: false,
            handshake: false,
            peer: None,
            platform_version: None,
            connect_ms: None,
            handshake_ms: None,
            failed_at: None,
            error: None,
        }
    }

    /// What an attempt that ended in time found; `true` when its failure suggests TLS.
    fn attempted(&mut self, attempt: handshake::Attempt) -> bool {
        self.connect_ms = attempt.connect_ms;
        self.handshake_ms = attempt.handshake_ms;
        self.connected = attempt.connect_ms.is_some();
        match attempt.result {
            Ok(peer) => {
                let (kind, version, error) = match peer {
                    Peer::Spu { platform_version } => (PeerKind::Spu, platform_version, None),
                    Peer::Sc { platform_version } => (
                        PeerKind::Sc,
                        platform_version,
                        Some("a Fluvio SC answered, not an SPU".to_string()),
                    ),
                    Peer::OtherFluvio { api_keys } => (
                        PeerKind::OtherFluvio,
                        None,
                        Some(format!(
                            "a Fluvio peer answered, but not as an SPU (its APIs: {api_keys:?})"
                        )),
                    ),
                };
                self.peer = Some(kind);
                self.platform_version = version;
                self.handshake = kind == PeerKind::Spu;
                if let Some(error) = error {
                    self.failed_at = Some(Stage::Handshake);
                    self.error = Some(error);
                }
                false
            }
            Err(Failure::Connect(e)) => {
                self.failed_at = Some(Stage::Connect);
                self.error = Some(format!("connect failed: {e}"));
                false
            }
            Err(Failure::Handshake { reason, tls }) => {
                self.failed_at = Some(Stage::Handshake);
                self.error = Some(reason);
                tls
            }
        }
    }

    /// An attempt cut short by its own timeout or, when `by_deadline`, by the total
    /// deadline; `connected` is the connect time when the TCP connect had succeeded.
    fn timed_out(&mut self, connected: Option<f64>, by_deadline: bool, options: &Options) {
        self.connect_ms = connected;
        self.connected = connected.is_some();
        let secs = if by_deadline {
            options.deadline.as_secs_f64()
        } else {
            options.per_address.as_secs_f64()
        };
        let within = if by_deadline {
            format!("before the total deadline ({secs}s)")
        } else {
            format!("within {secs}s")
        };
        if by_deadline {
            self.failed_at = Some(Stage::Deadline);
        }
        if connected.is_some() {
            self.failed_at.get_or_insert(Stage::Handshake);
            self.error = Some(format!(
                "connected, but no answer to the Fluvio handshake {within} (a listener that is not a Fluvio SPU, or one that is stuck)"
            ));
        } else {
            self.failed_at.get_or_insert(Stage::Connect);
            self.error = Some(format!(
                "no answer to the TCP connect {within} (the address is blackholed: a firewall drops the packets, or no host has that address)"
            ));
        }
    }
}

/// Probes every subject. Each distinct host is resolved once; addresses are probed with at
/// most `options.concurrency` in flight; everything ends by `options.deadline`.
pub async fn probe(subjects: &[Subject], options: &Options) -> Vec<SpuProbe> {
    let deadline = Instant::now() + options.deadline;
    let slots = tokio::sync::Semaphore::new(options.concurrency.max(1));

    // Each distinct host once, with every port it is dialled on.
    let mut hosts: BTreeMap<&str, BTreeSet<u16>> = BTreeMap::new();
    for s in subjects {
        for e in s.local.iter().chain(s.public.iter()) {
            hosts.entry(e.host.as_str()).or_default().insert(e.port);
        }
    }
    // A host's addresses are probed as soon as it resolves: a slow name does not hold up
    // the others. Resolutions and probes share the concurrency slots (never held together).
    let slots = &slots;
    let per_host = hosts.into_iter().map(|(host, ports)| async move {
        let (resolution, ips) = {
            let _slot = slots.acquire().await.expect("the semaphore stays open");
            resolve(host.to_string(), deadline).await
        };
        let addrs: Vec<SocketAddr> = ips
            .iter()
            .flat_map(|ip| ports.iter().map(|port| SocketAddr::new(*ip, *port)))
            .collect();
        let probed = join_all(addrs.into_iter().map(|addr| async move {
            let _slot = slots.acquire().await.expect("the semaphore stays open");
            (addr, probe_address(addr, options, deadline).await)
        }))
        .await;
        (host.to_string(), (resolution, ips, probed))
    });
    let mut resolved: BTreeMap<String, (Resolution, Vec<IpAddr>)> = BTreeMap::new();
    let mut results: BTreeMap<SocketAddr, (AddressProbe, bool)> = BTreeMap::new();
    for (host, (resolution, ips, probed)) in join_all(per_host).await {
        resolved.insert(host, (resolution, ips));
        results.extend(probed);
    }

    let endpoint = |e: &Endpoint| endpoint_probe(e, &resolved, &results);
    subjects
        .iter()
        .map(|s| {
            let local = s.local.as_ref().map(endpoint);
            let status = match &local {
                None => SpuStatus::Skipped,
                Some(l) if l.reachable => SpuStatus::Reachable,
                Some(_) => SpuStatus::Unreachable,
            };
            SpuProbe {
                id: s.id,
                name: s.name.clone(),
                line: s.line,
                status,
                reason: s.skip_reason.clone(),
                local,
                public: s.public.as_ref().map(endpoint),
            }
        })
        .collect()
}

/// One endpoint's probe, from its host's resolution and the probes of its addresses.
fn endpoint_probe(
    e: &Endpoint,
    resolved: &BTreeMap<String, (Resolution, Vec<IpAddr>)>,
    results: &BTreeMap<SocketAddr, (AddressProbe, bool)>,
) -> EndpointProbe {
    let (resolution, ips) = &resolved[&e.host];
    let probed: Vec<&(AddressProbe, bool)> = ips
        .iter()
        .map(|ip| &results[&SocketAddr::new(*ip, e.port)])
        .collect();
    let addresses: Vec<AddressProbe> = probed.iter().map(|(a, _)| a.clone()).collect();
    let facts = Facts {
        resolution,
        ips,
        addresses: &addresses,
        tls: probed.iter().any(|(_, tls)| *tls),
    };
    let hints = hints(&e.host, e.encryption, &facts);
    EndpointProbe {
        endpoint: e.to_string(),
        encryption: e.encryption,
        reachable: addresses.iter().any(|a| a.handshake),
        resolution: resolution.clone(),
        addresses,
        hints,
    }
}

/// An SPU whose local endpoint did not answer, in a sentence (for blockers and warnings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable {
    pub id: SpuId,
    pub name: String,
    pub line: Option<usize>,
    pub endpoint: String,
    /// The resolver's error, else each address's, joined.
    pub why: String,
    pub hints: Vec<String>,
}

/// The unreachable SPUs of a probe, each with why.
pub fn unreachable(spus: &[SpuProbe]) -> Vec<Unreachable> {
    spus.iter()
        .filter(|s| s.status == SpuStatus::Unreachable)
        .filter_map(|s| {
            let local = s.local.as_ref()?;
            let why = match &local.resolution.error {
                Some(error) => error.clone(),
                None => local
                    .addresses
                    .iter()
                    .map(|a| {
                        format!(
                            "{}: {}",
                            a.address,
                            a.error.as_deref().unwrap_or("no answer")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            };
            Some(Unreachable {
                id: s.id,
                name: s.name.clone(),
                line: s.line,
                endpoint: local.endpoint.clone(),
                why,
                hints: local.hints.clone(),
            })
        })
        .collect()
}

const DOCKER_HOST: &str = "host.docker.internal";

/// What one endpoint's probe found, as [`hints`] reads it.
pub struct Facts<'a> {
    pub resolution: &'a Resolution,
    /// The addresses the host resolved to, in the resolver's order.
    pub ips: &'a [IpAddr],
    pub addresses: &'a [AddressProbe],
    /// Some address failed in a way that suggests the endpoint wants TLS (a TLS record
    /// for an answer, or a close without one).
    pub tls: bool,
}

/// Advice from the facts of one endpoint's probe.
pub fn hints(host: &str, encryption: Encryption, facts: &Facts<'_>) -> Vec<String> {
    let Facts {
        resolution,
        ips,
        addresses,
        tls,
    } = *facts;
    let mut out = Vec::new();
    let docker = host.eq_ignore_ascii_case(DOCKER_HOST);
    let add_host = "start the container with `--add-host=host.docker.internal:host-gateway` (Compose: `extra_hosts: [\"host.docker.internal:host-gateway\"]`); Docker Desktop provides the name by itself";
    if resolution.error.is_some() {
        if docker {
            out.push(format!(
                "{host} does not resolve here: on Linux, Docker Engine defines it only when asked: {add_host}"
            ));
        } else {
            out.push(format!(
                "{host} does not resolve here: clients in this zone cannot find it; add it to the zone's DNS or hosts file, or use a name or address this zone resolves"
            ));
        }
        return out;
    }
    let reachable = addresses.iter().any(|a| a.handshake);
    let connected = addresses.iter().any(|a| a.connected);
    if ips.iter().any(IpAddr::is_loopback) && !connected {
        if docker {
            out.push(format!(
                "{host} resolves to a loopback address here: that is this machine (in a container, the container itself), not the Docker host; on Linux map it to the host gateway: {add_host}"
            ));
        } else {
            out.push(format!(
                "{host} is a loopback address here: it names the machine the probe runs on (in a container, the container itself); only clients on the SPU's own host can use it"
            ));
        }
    }
    let v4 = addresses.iter().filter(|a| a.family == Family::Ipv4);
    let v6 = addresses.iter().filter(|a| a.family == Family::Ipv6);
    let (n4, n6) = (v4.clone().count(), v6.clone().count());
    let ok4 = v4.clone().any(|a| a.handshake);
    let ok6 = v6.clone().any(|a| a.handshake);
    if resolution.via == Resolver::System {
        if n4 == 0 && n6 > 0 {
            out.push(format!(
                "{host} resolves only to IPv6 addresses (no A record): clients without IPv6 cannot reach it"
            ));
        } else if n6 == 0 && n4 > 0 && !ok4 {
            out.push(format!(
                "{host} resolves only to IPv4 addresses (no AAAA record)"
            ));
        }
    }
    if n4 > 0 && n6 > 0 && ok4 != ok6 {
        let (good, bad) = if ok4 {
            ("IPv4", "IPv6")
        } else {
            ("IPv6", "IPv4")
        };
        out.push(format!(
            "{host}: its {good} address answers but its {bad} address does not; clients try the addresses in the resolver's order, so some will fail or wait"
        ));
    }
    if addresses.iter().any(|a| a.peer == Some(PeerKind::Sc)) {
        out.push(
            "a Fluvio SC answers at this port, not an SPU: a local endpoint names the SPU's public port (9010 and up in a local cluster), not the SC's (9003)".into(),
        );
    }
    if tls || (encryption == Encryption::Ssl && !reachable) {
        out.push(
            "this endpoint expects TLS: the probe speaks plaintext, so it shows whether the port is open and what answers, not a TLS handshake; clients take TLS settings from their profile".into(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(address: &str, ok: bool) -> AddressProbe {
        let sa: SocketAddr = address.parse().unwrap();
        AddressProbe {
            address: address.into(),
            family: if sa.is_ipv4() {
                Family::Ipv4
            } else {
                Family::Ipv6
            },
            connected: ok,
            handshake: ok,
            peer: ok.then_some(PeerKind::Spu),
            platform_version: None,
            connect_ms: None,
            handshake_ms: None,
            failed_at: (!ok).then_some(Stage::Connect),
            error: (!ok).then(|| "connect failed: connection refused".into()),
        }
    }

    fn resolved(ips: &[&str]) -> Resolution {
        Resolution {
            via: Resolver::System,
            addresses: ips.iter().map(|s| s.to_string()).collect(),
            error: None,
        }
    }

    fn ips_of(res: &Resolution) -> Vec<IpAddr> {
        res.addresses.iter().map(|a| a.parse().unwrap()).collect()
    }

    fn hints_of(facts: &Facts<'_>) -> Vec<String> {
        hints("spu.example", Encryption::Plaintext, facts)
    }

    #[test]
    fn hints_follow_the_facts() {
        let failed = Resolution {
            via: Resolver::System,
            addresses: vec![],
            error: Some(
                "the system resolver (getaddrinfo) failed: Name or service not known".into(),
            ),
        };
        let cases: Vec<(&str, Resolution, Vec<AddressProbe>, &[&str])> = vec![
            (
                "host.docker.internal",
                failed.clone(),
                vec![],
                &[
                    "--add-host=host.docker.internal:host-gateway",
                    "does not resolve here",
                ],
            ),
            (
                "spu.zone.example",
                failed,
                vec![],
                &["does not resolve here", "zone's DNS"],
            ),
            (
                "host.docker.internal",
                resolved(&["127.0.0.1"]),
                vec![addr("127.0.0.1:9010", false)],
                &["loopback", "host-gateway"],
            ),
            (
                "localhost",
                resolved(&["127.0.0.1"]),
                vec![addr("127.0.0.1:9010", false)],
                &["the container itself"],
            ),
            (
                "v6.example",
                resolved(&["fd00::1"]),
                vec![addr("[fd00::1]:9010", true)],
                &["only to IPv6"],
            ),
            (
                "both.example",
                resolved(&["10.0.0.1", "fd00::1"]),
                vec![addr("10.0.0.1:9010", true), addr("[fd00::1]:9010", false)],
                &["its IPv4 address answers but its IPv6 address does not"],
            ),
        ];
        let facts = |res: &Resolution, ips: &[IpAddr], addrs: &[AddressProbe], tls: bool| {
            let facts = Facts {
                resolution: res,
                ips,
                addresses: addrs,
                tls,
            };
            hints_of(&facts)
        };
        for (host, res, addrs, wanted) in cases {
            let ips = ips_of(&res);
            let got = hints(
                host,
                Encryption::Plaintext,
                &Facts {
                    resolution: &res,
                    ips: &ips,
                    addresses: &addrs,
                    tls: false,
                },
            )
            .join("\n");
            for w in wanted {
                assert!(got.contains(w), "{host}: {w:?} not in {got:?}");
            }
        }
        // A working endpoint gets no advice.
        let res = resolved(&["127.0.0.1"]);
        let fine = facts(&res, &ips_of(&res), &[addr("127.0.0.1:9010", true)], false);
        assert!(fine.is_empty(), "{fine:?}");
        // A failure that suggests TLS says what the probe cannot show.
        let res = resolved(&["10.0.0.1"]);
        let tls = facts(&res, &ips_of(&res), &[addr("10.0.0.1:9010", false)], true);
        assert!(tls.join("\n").contains("expects TLS"), "{tls:?}");
    }

    #[test]
    fn unreachable_says_why_per_address() {
        let probe = |addresses: Vec<AddressProbe>, error: Option<&str>| SpuProbe {
            id: 5001,
            name: "custom-spu-5001".into(),
            line: Some(7),
            status: if addresses.iter().any(|a| a.handshake) {
                SpuStatus::Reachable
            } else {
                SpuStatus::Unreachable
            },
            reason: None,
            local: Some(EndpointProbe {
                endpoint: "h:9010".into(),
                encryption: Encryption::Plaintext,
                reachable: addresses.iter().any(|a| a.handshake),
                resolution: Resolution {
                    via: Resolver::System,
                    addresses: vec![],
                    error: error.map(Into::into),
                },
                addresses,
                hints: vec![],
            }),
            public: None,
        };
        let down = unreachable(&[probe(
            vec![addr("10.0.0.1:9010", false), addr("[fd00::1]:9010", false)],
            None,
        )]);
        assert_eq!(
            down[0].why,
            "10.0.0.1:9010: connect failed: connection refused; [fd00::1]:9010: connect failed: connection refused"
        );
        assert_eq!((down[0].id, down[0].line), (5001, Some(7)));
        let unresolved = unreachable(&[probe(vec![], Some("the system resolver failed"))]);
        assert_eq!(unresolved[0].why, "the system resolver failed");
        assert!(unreachable(&[probe(vec![addr("10.0.0.1:9010", true)], None)]).is_empty());
    }

    #[test]
    fn literals_are_not_resolved() {
        assert_eq!(literal("[::1]"), Some("::1".parse().unwrap()));
        assert_eq!(literal("10.1.2.3"), Some("10.1.2.3".parse().unwrap()));
        assert_eq!(literal("host.docker.internal"), None);
    }
}
