//! `probe` over loopback: the real binary against the test SC, with the test SPU responder
//! and misbehaving listeners at the SPUs' local endpoints. Every failure is a named line
//! and exit 10; a probe that cannot run keeps the existing codes.

use std::net::SocketAddr;

use crate::support::cli::Env;
use crate::support::spu_responder::{Behaviour, SpuResponder};
use crate::support::test_sc::{
    local_custom_spu, local_spu_name, EncryptionEnum, Endpoint, Health, TestSc, TestScConfig,
};

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A loopback port with nothing listening: bound, then released.
fn refused_port() -> u16 {
    let listener = std::net::TcpListener::bind(loopback()).unwrap();
    listener.local_addr().unwrap().port()
}

fn local(port: u16) -> Option<Endpoint> {
    Some(Endpoint {
        host: "127.0.0.1".into(),
        port,
        encryption: EncryptionEnum::PLAINTEXT,
    })
}

/// SPUs 5001.. with these local endpoints (as `fluvio cluster spu register -l` leaves them).
async fn sc_with_locals(locals: Vec<Option<Endpoint>>) -> TestSc {
    let sc = TestSc::start(TestScConfig::default())
        .await
        .expect("test SC starts");
    let spus = locals
        .into_iter()
        .enumerate()
        .map(|(i, local)| {
            let mut spec = local_custom_spu(i);
            spec.public_endpoint_local = local;
            (local_spu_name(spec.id), spec.into(), Health::Online)
        })
        .collect();
    sc.seed_spus(spus).await.expect("seeded");
    sc
}

/// Asserts that a report matches the checked-in `schemas/probe.schema.json`.
#[track_caller]
pub fn assert_matches_schema(doc: &serde_json::Value) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/probe.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "probe.schema.json: {errors:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_names_each_failure_and_exits_10() {
    let spu = SpuResponder::bind(loopback(), Behaviour::Spu)
        .await
        .unwrap();
    let silent = SpuResponder::bind(loopback(), Behaviour::Silent)
        .await
        .unwrap();
    let http = SpuResponder::bind(loopback(), Behaviour::Http)
        .await
        .unwrap();
    let tls = SpuResponder::bind(loopback(), Behaviour::TlsAlert)
        .await
        .unwrap();
    let garbage = SpuResponder::bind(loopback(), Behaviour::Garbage)
        .await
        .unwrap();
    let refused = refused_port();
    let sc = sc_with_locals(vec![
        local(spu.port()),
        local(refused),
        local(silent.port()),
        local(http.port()),
        None,
    ])
    .await;
    // The SC's own port as an SPU's local endpoint: a Fluvio peer, but not an SPU.
    let mut wrong = local_custom_spu(5);
    wrong.public_endpoint_local = local(sc.addr().port());
    sc.seed_custom(wrong, Health::Online).await.unwrap();
    let mut tls_only = local_custom_spu(6);
    tls_only.public_endpoint_local = local(tls.port());
    sc.seed_custom(tls_only, Health::Online).await.unwrap();
    let mut undecodable = local_custom_spu(7);
    undecodable.public_endpoint_local = local(garbage.port());
    sc.seed_custom(undecodable, Health::Online).await.unwrap();

    let env = Env::new();
    let args = ["-c", &sc.endpoint(), "probe", "--probe-timeout", "1"];
    let text = env.run(&args).expect(10);
    let block = |id: i32| {
        let start = text
            .stdout
            .find(&format!("SPU {id} "))
            .unwrap_or_else(|| panic!("SPU {id} in {}", text.stdout));
        let rest = &text.stdout[start..];
        let end = rest[1..].find("\nSPU ").map_or(rest.len(), |e| e + 1);
        rest[..end].to_string()
    };
    assert!(block(5001).contains("reachable"), "{}", block(5001));
    assert!(block(5001).contains("Fluvio SPU"), "{}", block(5001));
    assert!(block(5002).contains("UNREACHABLE"));
    assert!(
        block(5002).contains("connection refused"),
        "{}",
        block(5002)
    );
    assert!(
        block(5003).contains("connected, but no answer to the Fluvio handshake within 1s"),
        "{}",
        block(5003)
    );
    assert!(block(5004).contains("it speaks HTTP"), "{}", block(5004));
    assert!(block(5004).contains("\"HTTP\""), "{}", block(5004));
    assert!(block(5005).contains("skipped"), "{}", block(5005));
    assert!(block(5006).contains("a Fluvio SC answered, not an SPU"));
    assert!(block(5006).contains("hint: a Fluvio SC answers at this port"));
    assert!(block(5007).contains("it speaks TLS"), "{}", block(5007));
    assert!(block(5007).contains("hint: this endpoint expects TLS"));
    assert!(
        block(5008).contains("the Fluvio handshake failed"),
        "{}",
        block(5008)
    );
    assert!(
        text.stdout.contains(
            "Probe: 1 of 7 SPUs reachable at their local endpoint, 6 unreachable, 1 without one."
        ),
        "{}",
        text.stdout
    );
    assert!(
        text.stderr
            .contains("6 of 7 SPUs are unreachable at their local endpoint"),
        "{}",
        text.stderr
    );
    assert_eq!(spu.handshakes(), 1, "the SPU answered one handshake");
    assert!(silent.accepted() >= 1 && http.accepted() >= 1);

    let mut json_args = args.to_vec();
    json_args.extend(["-o", "json"]);
    let json = env.run(&json_args).expect(10);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON on stdout");
    assert_matches_schema(&doc);
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["summary"]["reachable"], 1);
    assert_eq!(doc["summary"]["unreachable"], 6);
    assert_eq!(doc["summary"]["skipped"], 1);
    let spus = doc["spus"].as_array().unwrap();
    let addr = |i: usize| &spus[i]["local"]["addresses"][0];
    assert_eq!(addr(0)["handshake"], true);
    assert_eq!(addr(0)["peer"], "spu");
    assert_eq!(addr(1)["failed_at"], "connect");
    assert_eq!(addr(1)["connected"], false);
    assert_eq!(addr(2)["failed_at"], "handshake");
    assert_eq!(addr(2)["connected"], true);
    assert_eq!(addr(3)["failed_at"], "handshake");
    assert_eq!(spus[4]["status"], "skipped");
    assert_eq!(addr(5)["peer"], "sc");
    assert_eq!(spus[0]["local"]["resolution"]["via"], "literal");

    let md = env
        .run(&[&args[..], &["-o", "markdown"]].concat())
        .expect(10);
    assert!(
        md.stdout
            .contains("| 5002 | custom-spu-5002 | local `127.0.0.1:"),
        "{}",
        md.stdout
    );
    let notes = env
        .run(&[&args[..], &["--annotations", "github"]].concat())
        .expect(10);
    assert!(
        notes
            .stdout
            .contains("::error title=SPU 5002 local endpoint unreachable::127.0.0.1:"),
        "{}",
        notes.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_of_a_file_checks_what_a_plan_would_set() {
    let spu = SpuResponder::bind(loopback(), Behaviour::Spu)
        .await
        .unwrap();
    let sc = sc_with_locals(vec![None, None]).await;
    let env = Env::new();
    let zone = |body: &str| format!("[cluster]\nendpoint = \"{}\"\n{body}", sc.endpoint());
    let good = env.write(
        "good.toml",
        &zone(&format!(
            "[[spu]]\nid = 5001\nlocal = \"127.0.0.1:{}\"\n\n[[spu]]\nid = 5002\nlocal = \"none\"\n",
            spu.port()
        )),
    );
    let run = env.run(&["probe", "-f", good.to_str().unwrap()]).expect(0);
    assert!(
        run.stdout.contains("SPU 5001 custom-spu-5001  reachable"),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("the file declares no local endpoint (`none`)"));
    assert!(
        sc.spus()
            .await
            .iter()
            .all(|(_, s, _)| s.public_endpoint_local.is_none()),
        "probe writes nothing"
    );

    // The port defaults to the SPU's public port (9010 here, where nothing listens), as a
    // plan would set it; the failure is reported at the file's line.
    let default_port = env.write(
        "default.toml",
        &zone("[[spu]]\nid = 5001\nlocal = \"127.0.0.1\"\n"),
    );
    let json = env
        .run(&[
            "probe",
            "-f",
            default_port.to_str().unwrap(),
            "-o",
            "json",
            "--probe-timeout",
            "1",
        ])
        .expect(10);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["spus"][0]["local"]["endpoint"], "127.0.0.1:9010");
    assert_eq!(doc["spus"][0]["line"], 5);
    assert!(doc["config"]["path"]
        .as_str()
        .unwrap()
        .ends_with("default.toml"));

    let none = env.write("none.toml", &zone("[[spu]]\nid = 5001\nlocal = \"none\"\n"));
    let nothing = env.run(&["probe", "-f", none.to_str().unwrap()]).expect(3);
    assert!(
        nothing
            .stderr
            .contains("declares no local endpoint to probe"),
        "{}",
        nothing.stderr
    );
    let cluster_nothing = env.run(&["-c", &sc.endpoint(), "probe"]).expect(1);
    assert!(
        cluster_nothing.stderr.contains("no SPU of sc://"),
        "{}",
        cluster_nothing.stderr
    );

    // A probe that cannot run keeps the existing codes.
    let bad = env.write("bad.toml", "[[spu]]\nid = 5001\n");
    env.run(&["probe", "-f", bad.to_str().unwrap()]).expect(3);
    let gone = format!("127.0.0.1:{}", refused_port());
    env.run(&["-c", &gone, "probe"]).expect(4);
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_probe_refuses_before_any_write() {
    let spu = SpuResponder::bind(loopback(), Behaviour::Spu)
        .await
        .unwrap();
    let sc = sc_with_locals(vec![None, None]).await;
    let env = Env::new();
    let refused = refused_port();
    let file = env.write(
        "zone.toml",
        &format!(
            "[cluster]\nendpoint = \"{}\"\n\n[[spu]]\nid = 5001\nlocal = \"127.0.0.1:{}\"\n\n[[spu]]\nid = 5002\nlocal = \"127.0.0.1:{refused}\"\n",
            sc.endpoint(),
            spu.port()
        ),
    );
    let file = file.to_str().unwrap();
    let run = env
        .run(&[
            "apply",
            "-f",
            file,
            "--auto-approve",
            "--probe",
            "-o",
            "json",
        ])
        .expect(6);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        doc["plan"]["blockers"][0]["kind"], "unreachable",
        "{}",
        run.stdout
    );
    assert_eq!(doc["plan"]["blockers"][0]["spu"], 5002);
    assert!(
        sc.spus()
            .await
            .iter()
            .all(|(_, s, _)| s.public_endpoint_local.is_none()),
        "nothing was written"
    );
    // With --force the unreachable endpoint is a warning, and the apply goes ahead.
    let forced = env
        .run(&["apply", "-f", file, "--auto-approve", "--probe", "--force"])
        .expect(0);
    assert!(
        forced.stderr.contains("warning: SPU 5002"),
        "{}",
        forced.stderr
    );
    let locals: Vec<_> = sc
        .spus()
        .await
        .into_iter()
        .map(|(_, s, _)| s.public_endpoint_local.map(|e| e.port))
        .collect();
    assert_eq!(locals, [Some(spu.port()), Some(refused)]);
}

#[test]
fn the_probe_schema_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/probe.schema.json");
    let checked_in = std::fs::read_to_string(path).unwrap();
    assert!(
        checked_in == fluvio_endpoints::report::probe_schema(),
        "regenerate with `cargo run -- schema probe > schemas/probe.schema.json`"
    );
}

/// Loopback listeners that accept and then say nothing (a silent SPU), counting the
/// connections open at once over all of them.
struct Counting {
    ports: Vec<u16>,
    max_open: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

fn counting_listeners(n: usize) -> Counting {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let open = Arc::new(AtomicUsize::new(0));
    let max_open = Arc::new(AtomicUsize::new(0));
    let mut ports = Vec::new();
    for _ in 0..n {
        let listener = std::net::TcpListener::bind(loopback()).unwrap();
        ports.push(listener.local_addr().unwrap().port());
        let (open, max_open) = (open.clone(), max_open.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().take(64) {
                let Ok(mut stream) = stream else { continue };
                let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                max_open.fetch_max(now, Ordering::SeqCst);
                let open = open.clone();
                std::thread::spawn(move || {
                    // until the prober gives up and closes
                    let mut sink = Vec::new();
                    let _ = std::io::Read::read_to_end(&mut stream, &mut sink);
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
    }
    Counting { ports, max_open }
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_concurrency_bounds_the_addresses_probed_at_once() {
    let env = Env::new();
    // The listener sees a connection the prober closed a moment after it is closed, and
    // the prober opens the next at once: one more than the bound can show for that moment.
    for (concurrency, at_most, at_least) in [(2, 3, 1), (6, 6, 4)] {
        let silent = counting_listeners(6);
        let sc = sc_with_locals(silent.ports.iter().map(|p| local(*p)).collect()).await;
        let concurrency_arg = concurrency.to_string();
        let run = env
            .run(&[
                "-c",
                &sc.endpoint(),
                "probe",
                "--probe-timeout",
                "0.5",
                "--concurrency",
                &concurrency_arg,
                "-o",
                "json",
            ])
            .expect(10);
        let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(doc["settings"]["concurrency"], concurrency);
        assert_eq!(doc["summary"]["unreachable"], 6, "{}", run.stdout);
        let max = silent.max_open.load(std::sync::atomic::Ordering::SeqCst);
        assert!(
            (at_least..=at_most).contains(&max),
            "--concurrency {concurrency}: {max} addresses were probed at once"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_deadline_ends_the_run_with_each_address_named() {
    let silent = counting_listeners(3);
    let sc = sc_with_locals(silent.ports.iter().map(|p| local(*p)).collect()).await;
    let env = Env::new();
    // each address may take 60 s, the whole probe 1 s: the deadline decides
    let run = env
        .run_within(
            &[
                "-c",
                &sc.endpoint(),
                "probe",
                "--probe-timeout",
                "60",
                "--deadline",
                "1",
                "-o",
                "json",
            ],
            std::time::Duration::from_secs(30),
        )
        .expect(10);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["settings"]["deadline_ms"], 1000);
    let spus = doc["spus"].as_array().unwrap();
    assert_eq!(spus.len(), 3, "{}", run.stdout);
    for spu in spus {
        let text = spu.to_string();
        assert!(
            text.contains("\"deadline\""),
            "not ended by the deadline: {text}"
        );
    }
}
