//! The reconciler end to end: the real binary against the test SC over loopback.

use crate::support::cli::{Env, Run};
use crate::support::test_sc::{
    local_custom_spu, managed_spu, CustomSpuSpec, EncryptionEnum, Endpoint, Health, IngressAddr,
    IngressPort, SpuSpec, TestSc, TestScConfig,
};

async fn sc_with(custom: usize, managed: usize) -> TestSc {
    let sc = TestSc::start(TestScConfig::default())
        .await
        .expect("test SC starts");
    sc.seed_local_cluster(custom, managed)
        .await
        .expect("seeded");
    sc
}

async fn spec_of(sc: &TestSc, id: i32) -> SpuSpec {
    sc.spus()
        .await
        .into_iter()
        .find(|(_, spec, _)| spec.id == id)
        .map(|(_, spec, _)| spec)
        .unwrap_or_else(|| panic!("SPU {id} missing from the SC"))
}

fn local(host: &str, port: u16, encryption: EncryptionEnum) -> Option<Endpoint> {
    Some(Endpoint {
        host: host.into(),
        port,
        encryption,
    })
}

fn zone(sc: &TestSc, body: &str) -> String {
    format!("[cluster]\nendpoint = \"{}\"\n\n{body}", sc.endpoint())
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_apply_plan_converges_and_changes_only_local() {
    let sc = sc_with(3, 0).await;
    let env = Env::new();
    let before: Vec<SpuSpec> = {
        let mut v = Vec::new();
        for id in 5001..=5003 {
            v.push(spec_of(&sc, id).await);
        }
        v
    };
    let file = env.write(
        "zone.toml",
        &zone(
            &sc,
            r#"
[[spu]]
id = 5001
local = "host.docker.internal:9010"
public = "localhost:9010"
private = "localhost:9011"

[[spu]]
id = 5002
local = "none"

[[spu]]
id = 5003
local = { host = "10.0.0.3", port = 19030, encryption = "SSL" }
"#,
        ),
    );
    let file = file.to_str().unwrap();

    let plan = env
        .run(&["plan", "-f", file, "--detailed-exitcode"])
        .expect(2);
    assert!(
        plan.stdout
            .contains("+  5001 custom-spu-5001  local: none -> host.docker.internal:9010"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("+  5003 custom-spu-5003  local: none -> 10.0.0.3:19030 (SSL)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 2 to set, 0 to change, 0 to clear; 1 unchanged."),
        "{}",
        plan.stdout
    );
    // Without --detailed-exitcode, changes are a success.
    env.run(&["plan", "-f", file]).expect(0);

    let applied = env.run(&["apply", "-f", file, "--auto-approve"]).expect(0);
    assert!(
        applied
            .stdout
            .contains("2 applied, 0 skipped, 0 rolled back, 0 failed, 0 unresolved; verified"),
        "{}",
        applied.stdout
    );
    assert!(
        applied.stdout.contains("unavailable"),
        "the report gives each window: {}",
        applied.stdout
    );

    let after_5001 = spec_of(&sc, 5001).await;
    assert_eq!(
        after_5001.public_endpoint_local,
        local("host.docker.internal", 9010, EncryptionEnum::PLAINTEXT)
    );
    assert_eq!(
        SpuSpec {
            public_endpoint_local: None,
            ..after_5001
        },
        before[0]
    );
    assert_eq!(spec_of(&sc, 5002).await, before[1]);
    let after_5003 = spec_of(&sc, 5003).await;
    assert_eq!(
        after_5003.public_endpoint_local,
        local("10.0.0.3", 19030, EncryptionEnum::SSL)
    );
    assert_eq!(
        SpuSpec {
            public_endpoint_local: None,
            ..after_5003
        },
        before[2]
    );

    let again = env
        .run(&["plan", "-f", file, "--detailed-exitcode"])
        .expect(0);
    assert!(
        again.stdout.contains("No changes. 3 unchanged."),
        "{}",
        again.stdout
    );
    assert!(
        !env.journal_dir()
            .read_dir()
            .map(|d| d
                .filter_map(|e| e.ok())
                .any(|e| e.path().extension().is_some_and(|x| x == "jsonl")))
            .unwrap_or(false),
        "a verified apply leaves no journal behind"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn update_local_defaults_to_the_public_port_and_encryption() {
    let sc = TestSc::start(TestScConfig::default()).await.unwrap();
    let mut spec = local_custom_spu(0);
    spec.public_endpoint.port = 9333;
    spec.public_endpoint.encryption = EncryptionEnum::SSL;
    sc.seed_custom(spec, Health::Online).await.unwrap();
    let env = Env::new();
    let c = sc.endpoint();

    env.run(&["update-local", "5001", "host.docker.internal", "-c", &c])
        .expect(0);
    assert_eq!(
        spec_of(&sc, 5001).await.public_endpoint_local,
        local("host.docker.internal", 9333, EncryptionEnum::SSL)
    );

    env.run(&[
        "-c",
        &c,
        "update-local",
        "5001",
        "h.example",
        "--port",
        "7000",
        "--encryption",
        "PLAINTEXT",
    ])
    .expect(0);
    assert_eq!(
        spec_of(&sc, 5001).await.public_endpoint_local,
        local("h.example", 7000, EncryptionEnum::PLAINTEXT)
    );

    env.run(&["update-local", "5001", "[::1]:7001", "--cluster", &c])
        .expect(0);
    assert_eq!(
        spec_of(&sc, 5001).await.public_endpoint_local,
        local("[::1]", 7001, EncryptionEnum::SSL)
    );

    let same = env
        .run(&["update-local", "5001", "[::1]:7001", "--cluster", &c])
        .expect(0);
    assert!(
        same.stderr.contains("already has local endpoint"),
        "{}",
        same.stderr
    );
    // With -o json every outcome is the one apply document: nothing to change here...
    let same = env
        .run(&["update-local", "5001", "[::1]:7001", "-c", &c, "-o", "json"])
        .expect(0);
    let doc: serde_json::Value = serde_json::from_str(&same.stdout).unwrap();
    assert_eq!(doc["plan"]["changes"].as_array().map(Vec::len), Some(0));
    assert_eq!(doc["summary"]["verified"], true);
    // ...and a refused one.
    let unknown = env
        .run(&["update-local", "42", "h", "-c", &c, "-o", "json"])
        .expect(6);
    let doc: serde_json::Value = serde_json::from_str(&unknown.stdout).unwrap();
    assert_eq!(doc["plan"]["blockers"][0]["kind"], "unknown_spu");
    assert_eq!(doc["summary"]["verified"], false);

    env.run(&["update-local", "5001", "none", "-c", &c])
        .expect(0);
    assert_eq!(spec_of(&sc, 5001).await.public_endpoint_local, None);

    let bad = env
        .run(&["update-local", "5001", "bad host", "-c", &c])
        .expect(64);
    assert!(
        bad.stderr.contains("`bad host` is not a valid host name"),
        "{}",
        bad.stderr
    );
    let unknown = env.run(&["update-local", "42", "h", "-c", &c]).expect(6);
    assert!(
        unknown.stderr.contains("SPU 42 is not in the cluster"),
        "{}",
        unknown.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn list_prints_the_proposed_table() {
    let sc = sc_with(2, 0).await;
    sc.wait_status_pass().await.unwrap();
    let env = Env::new();
    let c = sc.endpoint();
    env.run(&["update-local", "5001", "host.docker.internal", "-c", &c])
        .expect(0);
    sc.wait_status_pass().await.unwrap();
    sc.wait_status_pass().await.unwrap();

    let out = env.run(&["list", "-c", &c]).expect(0);
    let rows: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["ID", "NAME", "STATUS", "TYPE", "RACK", "PUBLIC", "PRIVATE", "LOCAL"],
            vec![
                "5001",
                "custom-spu-5001",
                "Online",
                "custom",
                "-",
                "localhost:9010",
                "localhost:9011",
                "host.docker.internal:9010"
            ],
            vec![
                "5002",
                "custom-spu-5002",
                "Online",
                "custom",
                "-",
                "localhost:9020",
                "localhost:9021",
                "-"
            ],
        ],
        "{}",
        out.stdout
    );

    let json = env.run(&["list", "-c", &c, "-O", "json"]).expect(0);
    let value: serde_json::Value =
        serde_json::from_str(&json.stdout).expect("list -O json is JSON");
    assert_eq!(value[0]["name"], "custom-spu-5001");
    assert_eq!(value[0]["spec"]["spuId"], 5001);
    assert_eq!(
        value[0]["spec"]["publicEndpointLocal"]["host"],
        "host.docker.internal"
    );
    assert!(value[1]["spec"].get("publicEndpointLocal").is_none());

    let yaml = env.run(&["-o", "yaml", "list", "-c", &c]).expect(0);
    assert!(
        yaml.stdout.contains("publicEndpointLocal:"),
        "{}",
        yaml.stdout
    );

    let empty = TestSc::start(TestScConfig::default()).await.unwrap();
    let none = env.run(&["list", "-c", &empty.endpoint()]).expect(0);
    assert_eq!(none.stdout, "no spu\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn managed_and_unknown_spus_are_refused_without_any_write() {
    let sc = sc_with(1, 1).await;
    let env = Env::new();
    let (_, managed) = managed_spu(0);
    let file = env.write(
        "zone.toml",
        &zone(&sc, "[[spu]]\nid = 0\nlocal = \"other.example:9005\"\n\n[[spu]]\nid = 5001\nlocal = \"h\"\n\n[[spu]]\nid = 77\nlocal = \"none\"\n"),
    );
    let file = file.to_str().unwrap();
    let out = env.run(&["apply", "-f", file, "--auto-approve"]).expect(6);
    assert!(
        out.stdout
            .contains("SPU 0 (main-0) is managed by its SPU group"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("SPU 77 is not in the cluster"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("the plan is refused"), "{}", out.stderr);
    // The plan document names each blocker's kind and SPU for a pipeline to act on.
    let json = env.run(&["plan", "-f", file, "-o", "json"]).expect(6);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let blockers: Vec<(String, i64)> = doc["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["kind"].as_str().unwrap().to_string(),
                b["spu"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        blockers,
        [
            ("managed_spu".to_string(), 0),
            ("unknown_spu".to_string(), 77)
        ]
    );
    assert_eq!(spec_of(&sc, 0).await, managed);
    assert_eq!(
        spec_of(&sc, 5001).await.public_endpoint_local,
        None,
        "nothing is applied from a refused plan"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn old_scs_are_refused() {
    let env = Env::new();
    let file_body = "[[spu]]\nid = 5001\nlocal = \"h\"\n";
    // 0.11.10: the client connects, but the SC cannot store local endpoints.
    let old = TestSc::start(TestScConfig {
        platform_version: "0.11.10".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    old.seed_local_cluster(1, 0).await.unwrap();
    let file = env.write("old.toml", &zone(&old, file_body));
    let out = env.run(&["plan", "-f", file.to_str().unwrap()]).expect(6);
    assert!(out.stdout.contains("older than 0.11.11"), "{}", out.stdout);
    // 0.11.9: the client's own check refuses the connection.
    let older = TestSc::start(TestScConfig {
        platform_version: "0.11.9".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let file = env.write("older.toml", &zone(&older, file_body));
    let out = env.run(&["plan", "-f", file.to_str().unwrap()]).expect(4);
    assert!(out.stderr.contains("not compatible"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_sc_names_the_address_and_cause() {
    let env = Env::new();
    let file = env.write("zone.toml", "[[spu]]\nid = 5001\nlocal = \"h\"\n");
    // Bind then drop a listener so the port is closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let out = env
        .run(&["plan", "-f", file.to_str().unwrap(), "-c", &addr])
        .expect(4);
    assert!(
        out.stderr
            .contains(&format!("cannot reach the SC at {addr}")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.to_lowercase().contains("refused"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

/// A server that answers every request with a frame whose length prefix is absurd: the
/// fluvio client fails on it. The tool ends as for an unusable cluster, exit 4, at once.
#[test]
fn a_server_answering_garbage_is_an_unusable_cluster_not_a_crash() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || stream.write_all(&[0xff; 64]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let env = Env::new();
    // A timeout no run of this test can wait out: the run ending at all shows the failure
    // was taken at once, not waited for.
    let out = env
        .command(&["list", "-c", &addr, "--timeout", "3600"])
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let out = Run {
        code: 4,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !out.stderr.contains("no answer within"),
        "the failure, not a timeout: {}",
        out.stderr
    );
    assert!(out.stderr.contains(&addr), "{}", out.stderr);
    assert!(
        out.stderr.contains("is that address an SC?"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("panicked at") && !out.stderr.contains("stack backtrace"),
        "one error for the failure, no panic message, no stack dump: {}",
        out.stderr
    );
    assert_eq!(
        out.stderr.matches("cannot reach the SC").count(),
        1,
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_address_ingress_rack_and_encryption_survive_byte_for_byte() {
    let sc = TestSc::start(TestScConfig::default()).await.unwrap();
    let spec = CustomSpuSpec {
        id: 7,
        public_endpoint: IngressPort {
            port: 9010,
            ingress: vec![
                IngressAddr {
                    hostname: Some("spu7.example.com".into()),
                    ip: None,
                },
                IngressAddr {
                    hostname: None,
                    ip: Some("192.0.2.7".into()),
                },
                IngressAddr {
                    hostname: Some("both.example.com".into()),
                    ip: Some("192.0.2.8".into()),
                },
            ],
            encryption: EncryptionEnum::SSL,
        },
        private_endpoint: Endpoint {
            host: "spu7.internal".into(),
            port: 9011,
            encryption: EncryptionEnum::SSL,
        },
        rack: Some("rack-a".into()),
        public_endpoint_local: None,
    };
    sc.seed_custom(spec.clone(), Health::Online).await.unwrap();
    let yaml_path = sc.metadata_dir().join("SPU").join("custom-spu-7.yaml");
    // The store rewrites files in place on status changes: read them once status settled.
    sc.wait_status_pass().await.unwrap();
    sc.wait_status_pass().await.unwrap();
    let before_yaml = std::fs::read_to_string(&yaml_path).expect("the seeded SPU file");
    let env = Env::new();
    let c = sc.endpoint();
    env.run(&["update-local", "7", "host.docker.internal", "-c", &c])
        .expect(0);
    sc.wait_status_pass().await.unwrap();
    sc.wait_status_pass().await.unwrap();
    let after = spec_of(&sc, 7).await;
    let expected = SpuSpec {
        public_endpoint_local: local("host.docker.internal", 9010, EncryptionEnum::SSL),
        ..SpuSpec::from(spec)
    };
    assert_eq!(after, expected);
    let after_yaml = std::fs::read_to_string(&yaml_path).expect("the SPU file exists");
    assert!(
        after_yaml.contains("192.0.2.7") && after_yaml.contains("rack-a"),
        "{after_yaml}"
    );
    // On disk, the spec differs only by the new local endpoint: every other byte of it
    // (ingress order, ip vs hostname, encryption, rack) is what it was.
    let spec_on_disk = |text: &str| -> serde_yaml::Value {
        let text = text.trim_start_matches("!1.0.0").trim_start();
        let doc: serde_yaml::Value = serde_yaml::from_str(text).expect("SPU file is YAML");
        doc["spec"].clone()
    };
    let mut after_spec = spec_on_disk(&after_yaml);
    let local_on_disk = after_spec
        .as_mapping_mut()
        .unwrap()
        .remove("publicEndpointLocal")
        .expect("publicEndpointLocal written");
    assert_eq!(local_on_disk["host"], "host.docker.internal");
    assert_eq!(after_spec, spec_on_disk(&before_yaml));
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_files_exit_3_and_touch_nothing() {
    let sc = sc_with(1, 0).await;
    let env = Env::new();
    let file = env.write(
        "bad.toml",
        &zone(&sc, "[[spu]]\nid = 5001\nlocal = \"h:0\"\ncolour = 1\n"),
    );
    let out = env
        .run(&["apply", "-f", file.to_str().unwrap(), "--auto-approve"])
        .expect(3);
    assert!(out.stderr.contains("bad.toml"), "{}", out.stderr);
    assert!(
        out.stderr.contains("unknown key `colour`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("`0` is not a valid port"),
        "{}",
        out.stderr
    );
    assert_eq!(spec_of(&sc, 5001).await.public_endpoint_local, None);
    let missing = env.run(&["validate", "-f", "nope.toml"]).expect(3);
    assert!(
        missing.stderr.contains("cannot read nope.toml"),
        "{}",
        missing.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_without_a_terminal_needs_auto_approve() {
    let sc = sc_with(1, 0).await;
    let env = Env::new();
    let file = env.write(
        "zone.toml",
        &zone(&sc, "[[spu]]\nid = 5001\nlocal = \"h\"\n"),
    );
    let out = env.run(&["apply", "-f", file.to_str().unwrap()]).expect(1);
    assert!(out.stderr.contains("--auto-approve"), "{}", out.stderr);
    assert_eq!(spec_of(&sc, 5001).await.public_endpoint_local, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn profiles_pick_the_cluster_before_or_after_the_subcommand() {
    let a = sc_with(1, 0).await;
    let b = sc_with(2, 0).await;
    let env = Env::new();
    env.write(
        "fluvio-config",
        &format!(
            "version = \"2\"\ncurrent_profile = \"a\"\n\n[profile.a]\ncluster = \"a\"\n\n[profile.b]\ncluster = \"b\"\n\n\
             [cluster.a]\nendpoint = \"{}\"\nuse_spu_local_address = true\n\n[cluster.b]\nendpoint = \"{}\"\n",
            a.endpoint(),
            b.endpoint()
        ),
    );
    let rows = |out: &str| out.lines().count() - 1;
    // No flags: the current profile.
    assert_eq!(rows(&env.run(&["list"]).expect(0).stdout), 1);
    assert_eq!(rows(&env.run(&["-P", "b", "list"]).expect(0).stdout), 2);
    assert_eq!(
        rows(&env.run(&["list", "--profile", "b"]).expect(0).stdout),
        2
    );
    // The file's [cluster] profile, overridden by a flag.
    let file = env.write(
        "zone.toml",
        "[cluster]\nprofile = \"b\"\n\n[[spu]]\nid = 5002\nlocal = \"h\"\n",
    );
    let file = file.to_str().unwrap();
    let planned = env.run(&["plan", "-f", file]).expect(0);
    assert!(
        planned.stdout.contains(&format!("sc://{}", b.endpoint())),
        "{}",
        planned.stdout
    );
    let wrong = env.run(&["plan", "-f", file, "-P", "a"]).expect(6);
    assert!(
        wrong.stdout.contains("SPU 5002 is not in the cluster"),
        "{}",
        wrong.stdout
    );
    let missing = env.run(&["list", "-P", "nope"]).expect(3);
    assert!(
        missing
            .stderr
            .contains("profile `nope` is not in the fluvio config"),
        "{}",
        missing.stderr
    );
    // Conflicting cluster options are a usage error.
    env.run(&["list", "-P", "a", "-c", &a.endpoint()])
        .expect(64);
}
