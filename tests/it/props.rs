//! Properties over generated cluster states (proptest, a bounded number of cases so the
//! suite stays fast): an export plans back to nothing, a saved plan reads back as written,
//! and rendering shows hostile cluster text without raw control characters.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use fluvio_endpoints::config::{self, SourceFile};
use fluvio_endpoints::model::{
    ClusterId, Desired, DesiredSpu, Encryption, Endpoint, Ingress, IngressAddr, Live, LiveSpu,
    LocalDecl, SpuId, SpuKind, SpuSpans, SpuSpec, SpuState,
};
use fluvio_endpoints::ops::saved;
use fluvio_endpoints::output::Style;
use fluvio_endpoints::report::PlanDoc;
use proptest::prelude::*;

/// Cases per property: enough to meet each shape of state, few enough for a few seconds.
const CASES: u32 = 48;

/// `PROPTEST_CASES=N` runs more (or fewer) cases.
fn config() -> ProptestConfig {
    let default = ProptestConfig::default();
    ProptestConfig {
        cases: match std::env::var_os("PROPTEST_CASES") {
            Some(_) => default.cases,
            None => CASES,
        },
        // Failures are reported with their shrunk case; nothing is written to the tree.
        failure_persistence: None,
        ..default
    }
}

/// A host in the form the tool stores: DNS name, IPv4, or bracketed IPv6.
fn host() -> BoxedStrategy<String> {
    prop_oneof![
        "[a-z]([a-z0-9_-]{0,8}[a-z0-9])?(\\.[a-z]([a-z0-9-]{0,8}[a-z0-9])?){0,3}",
        any::<[u8; 4]>().prop_map(|o| Ipv4Addr::from(o).to_string()),
        any::<u128>().prop_map(|a| format!("[{}]", Ipv6Addr::from(a))),
        Just("localhost".to_string()),
    ]
    .boxed()
}

/// Text as a cluster may hold it: anything, with control characters, escape sequences,
/// table and Markdown separators, and workflow-command prefixes made likely.
fn hostile() -> BoxedStrategy<String> {
    let piece = prop_oneof![
        any::<char>().prop_map(String::from),
        "[a-z0-9 ]{1,4}",
        Just("\u{1b}[2J".to_string()),
        Just("\u{1b}]8;;x\u{7}".to_string()),
        Just("\n::error file=x::pwned\n".to_string()),
        Just("\r".to_string()),
        Just("\t".to_string()),
        Just("|".to_string()),
        Just("\u{0}".to_string()),
        Just("\u{7f}".to_string()),
        Just("\u{9b}".to_string()),
        // line and paragraph separators, bidi marks and overrides
        Just("\u{2028}".to_string()),
        Just("\u{2029}".to_string()),
        Just("\u{200e}\u{200f}\u{61c}".to_string()),
        Just("\u{202e}\u{2066}".to_string()),
    ];
    proptest::collection::vec(piece, 0..6)
        .prop_map(|p| p.concat())
        .boxed()
}

fn encryption() -> impl Strategy<Value = Encryption> {
    prop_oneof![Just(Encryption::Plaintext), Just(Encryption::Ssl)]
}

fn endpoint(host: impl Strategy<Value = String>) -> impl Strategy<Value = Endpoint> {
    (host, 1..=u16::MAX, encryption()).prop_map(|(host, port, encryption)| Endpoint {
        host,
        port,
        encryption,
    })
}

fn ingress(host: impl Strategy<Value = String> + Clone) -> impl Strategy<Value = Ingress> {
    let addr = prop_oneof![
        host.clone().prop_map(|h| IngressAddr {
            hostname: Some(h),
            ip: None
        }),
        host.prop_map(|h| IngressAddr {
            hostname: None,
            ip: Some(h)
        }),
    ];
    (
        1..=u16::MAX,
        proptest::collection::vec(addr, 0..3),
        encryption(),
    )
        .prop_map(|(port, addrs, encryption)| Ingress {
            port,
            addrs,
            encryption,
        })
}

/// Every field but the id; `text` for names and racks, `host` for every host.
fn spec_without_id<T, H>(text: T, host: H) -> impl Strategy<Value = (SpuSpec, SpuState)>
where
    T: Strategy<Value = String> + Clone,
    H: Strategy<Value = String> + Clone,
{
    (
        text.clone(),
        prop_oneof![4 => Just(SpuKind::Custom), 1 => Just(SpuKind::Managed)],
        ingress(host.clone()),
        endpoint(host.clone()),
        proptest::option::of(text),
        proptest::option::of(endpoint(host)),
        prop_oneof![
            Just(SpuState::Online),
            Just(SpuState::Offline),
            Just(SpuState::Init)
        ],
    )
        .prop_map(|(name, kind, public, private, rack, local, status)| {
            let spec = SpuSpec {
                name,
                id: 0,
                kind,
                public,
                private,
                rack,
                local,
            };
            (spec, status)
        })
}

fn live<T, H>(text: T, host: H) -> impl Strategy<Value = Live>
where
    T: Strategy<Value = String> + Clone,
    H: Strategy<Value = String> + Clone,
{
    proptest::collection::btree_map(1..20_000 as SpuId, spec_without_id(text, host), 0..6).prop_map(
        |spus| {
            Live::from_specs(spus.into_iter().map(|(id, (spec, status))| LiveSpu {
                spec: SpuSpec { id, ..spec }.into(),
                status,
            }))
        },
    )
}

/// A name or rack as an SC keeps one registered by hand: printable, any script, not blank.
/// (What a zone file cannot state, such as a control-character name or one holding a line
/// or paragraph separator, U+2028 / U+2029, which the tool escapes like a control
/// character, `export` leaves out: see the export unit tests.)
fn name() -> BoxedStrategy<String> {
    "[a-zA-Z0-9._:/-][a-zA-Z0-9 ._:/-]{0,11}|[^\\s\\p{C}][^\\p{C}\\x{2028}\\x{2029}]{0,7}".boxed()
}

/// A zone file's declaration for one SPU, with no assertions and no spans.
fn declare(id: SpuId, local: Option<Endpoint>) -> DesiredSpu {
    DesiredSpu {
        id,
        local: match local {
            None => LocalDecl::None,
            Some(e) => LocalDecl::Set {
                host: e.host,
                port: Some(e.port),
                encryption: Some(e.encryption),
            },
        },
        name: None,
        public: None,
        private: None,
        rack: None,
        spans: SpuSpans::default(),
    }
}

proptest! {
    #![proptest_config(config())]

    /// `export` writes a file that validates and plans as no change against the cluster it
    /// came from.
    #[test]
    fn planning_its_own_export_is_empty(live in live(name(), host())) {
        let (zone, omitted) = fluvio_endpoints::ops::export::zone_file(&live, None);
        prop_assert!(omitted.is_empty(), "a state a zone file can state: {omitted:?}");
        let text = toml::to_string(&zone).expect("zone files serialize");
        let file = SourceFile::new("export.toml", text.clone());
        let desired = match config::load(&file) {
            Ok(desired) => desired,
            Err(errors) => {
                let problems: Vec<_> = errors.located.iter().map(|(p, ..)| &p.message).collect();
                return Err(TestCaseError::fail(format!("{problems:?} in\n{text}")));
            }
        };
        let plan = fluvio_endpoints::plan::plan(&desired, &live);
        prop_assert!(plan.changes.is_empty(), "{:?}\n{text}", plan.changes);
        prop_assert!(plan.drift.is_empty(), "{:?}\n{text}", plan.drift);
        prop_assert!(plan.blockers.is_empty(), "{:?}\n{text}", plan.blockers);
        let custom = live.spus.values().filter(|s| s.spec.kind == SpuKind::Custom).count();
        prop_assert_eq!(plan.unchanged.len(), custom);
    }

    /// A saved plan (`plan --out`) is read back by `apply PLAN` exactly as it was written,
    /// whatever names and racks the cluster holds.
    #[test]
    fn a_saved_plan_round_trips(
        live in live(hostile(), host()),
        wanted in proptest::collection::vec(proptest::option::of(endpoint(host())), 6),
    ) {
        let spus = live
            .spus
            .values()
            .filter(|s| s.spec.kind == SpuKind::Custom)
            .zip(wanted)
            .map(|(s, local)| (s.spec.id, declare(s.spec.id, local)))
            .collect();
        let desired = Desired { spus, ..Desired::default() };
        let plan = fluvio_endpoints::plan::plan(&desired, &live);
        let doc = PlanDoc::new(plan, &ClusterId::Sc("127.0.0.1:9003".into()), Some("0.11.12".into()), None)
            .fingerprinted();
        let saved = fluvio_endpoints::render::json(&doc);
        let read = saved::parse(&saved);
        prop_assert!(read.is_ok(), "{:?}\n{saved}", read.err());
        prop_assert_eq!(read.unwrap(), doc);
    }

    /// Text, Markdown and the `list` table show what a cluster holds without a raw control
    /// character, and a hostile value adds no line: the same state with every control
    /// character replaced renders to as many lines.
    #[test]
    fn rendering_never_emits_a_raw_control_character(
        live in live(hostile(), hostile()),
        wanted in proptest::collection::vec(endpoint(host()), 6),
        missing in 20_000..30_000 as SpuId,
    ) {
        let tame = tamed(&live);
        for (state, label) in [(&live, "hostile"), (&tame, "tame")] {
            for (name, out) in renders(state, &wanted, missing) {
                if let Some(c) = out.chars().find(|&c| raw(c) && c != '\n') {
                    return Err(TestCaseError::fail(format!(
                        "{name} ({label}) emits {c:?}:\n{out}"
                    )));
                }
            }
        }
        for ((name, hostile), (_, tame)) in renders(&live, &wanted, missing)
            .into_iter()
            .zip(renders(&tame, &wanted, missing))
        {
            prop_assert_eq!(
                hostile.lines().count(),
                tame.lines().count(),
                "{} adds lines:\n{}\n--- with control characters replaced:\n{}",
                name,
                hostile,
                tame
            );
        }
    }
}

/// A character that must never reach a terminal as it is: a control character, a line or
/// paragraph separator, or a bidirectional mark, override or isolate.
fn raw(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{61c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// The same state with every control character in its text replaced by `?`.
fn tamed(live: &Live) -> Live {
    let tame = |s: &str| -> String { s.chars().map(|c| if raw(c) { '?' } else { c }).collect() };
    let endpoint = |e: &Endpoint| Endpoint {
        host: tame(&e.host),
        ..e.clone()
    };
    Live::from_specs(live.spus.values().map(|s| {
        LiveSpu {
            spec: SpuSpec {
                name: tame(&s.spec.name),
                public: Ingress {
                    addrs: s
                        .spec
                        .public
                        .addrs
                        .iter()
                        .map(|a| IngressAddr {
                            hostname: a.hostname.as_deref().map(tame),
                            ip: a.ip.as_deref().map(tame),
                        })
                        .collect(),
                    ..s.spec.public.clone()
                },
                private: endpoint(&s.spec.private),
                rack: s.spec.rack.as_deref().map(tame),
                local: s.spec.local.as_ref().map(endpoint),
                ..(*s.spec).clone()
            }
            .into(),
            status: s.status,
        }
    }))
}

/// Every rendering of a plan over `live` that meets each kind of finding: changes, drift
/// (every field asserted, so the live value is shown), a blocker for a managed SPU and for
/// an unknown id, unmanaged SPUs (every other one is left out of the file).
fn renders(live: &Live, wanted: &[Endpoint], missing: SpuId) -> Vec<(&'static str, String)> {
    let mut spus: BTreeMap<SpuId, DesiredSpu> = live
        .spus
        .values()
        .step_by(2)
        .zip(wanted)
        .map(|(s, local)| {
            let mut want = declare(s.spec.id, Some(local.clone()));
            want.name = Some("expected".into());
            want.public = Some("expected:1".into());
            want.private = Some("expected:2".into());
            want.rack = Some("expected".into());
            (s.spec.id, want)
        })
        .collect();
    spus.insert(missing, declare(missing, None));
    let desired = Desired {
        spus,
        ..Desired::default()
    };
    let plan = fluvio_endpoints::plan::plan(&desired, live);
    let doc =
        PlanDoc::new(plan, &ClusterId::Sc("127.0.0.1:9003".into()), None, None).fingerprinted();
    vec![
        (
            "text plan",
            fluvio_endpoints::render::text::plan(&doc, &Style { color: false }),
        ),
        (
            "markdown plan",
            fluvio_endpoints::render::markdown::plan(&doc),
        ),
        ("list table", fluvio_endpoints::render::table::table(live)),
    ]
}
