//! The zone's clients, from the zone file's `[client]` table: `probe` reads the SPUs
//! through the SC address the clients dial. Every run of the binary has a watchdog
//! (`within`): a hang fails the test instead of stalling the suite.

use std::net::SocketAddr;

use crate::support::cli::{one_line, within, Env, ProfileTls, Run};
use crate::support::spu_responder::{Behaviour, SpuResponder};
use crate::support::test_sc::{
    local_custom_spu, local_spu_name, Health, Pki, TestSc, TestScConfig,
};

/// How long one run of the binary may take before the watchdog kills it.
const WATCHDOG_SECS: u64 = 60;

/// `profile write -f FILE --out OUT`, bounded.
async fn profile_write(env: &Env, file: &str, out: &str) -> Run {
    within(
        env,
        &["profile", "write", "-f", file, "--out", out],
        WATCHDOG_SECS,
    )
    .await
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A loopback address with nothing listening: bound, then released.
fn refused_addr() -> String {
    let listener = std::net::TcpListener::bind(loopback()).unwrap();
    listener.local_addr().unwrap().to_string()
}

/// SPU 5001, without a local endpoint yet.
async fn seed(sc: &TestSc) {
    let spec = local_custom_spu(0);
    sc.seed_spus(vec![(local_spu_name(spec.id), spec.into(), Health::Online)])
        .await
        .expect("seeded");
}

/// A fluvio config with a profile per `(name, endpoint, tls)`, the first one current.
fn fluvio_config(env: &Env, profiles: &[(&str, &str, ProfileTls<'_>)]) {
    let mut text = format!("version = \"2\"\ncurrent_profile = \"{}\"\n", profiles[0].0);
    for (name, endpoint, tls) in profiles {
        text.push_str(&format!(
            "\n[profile.{name}]\ncluster = \"{name}\"\n\n[cluster.{name}]\nendpoint = \"{endpoint}\"\n{}",
            tls.toml(name)
        ));
    }
    env.write("fluvio-config", &text);
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_reads_the_spus_through_the_client_endpoint() {
    let spu = SpuResponder::bind(loopback(), Behaviour::Spu)
        .await
        .unwrap();
    let sc = TestSc::start(TestScConfig::default()).await.unwrap();
    seed(&sc).await;
    let env = Env::new();
    // This machine cannot reach the SC at the [cluster] address; the zone's clients
    // reach it at the [client] one.
    let gone = refused_addr();
    let spus = format!("[[spu]]\nid = 5001\nlocal = \"127.0.0.1:{}\"\n", spu.port());
    let cluster_only = env.write(
        "cluster-only.toml",
        &format!("[cluster]\nendpoint = \"{gone}\"\n\n{spus}"),
    );
    let with_client = env.write(
        "zone.toml",
        &format!(
            "[cluster]\nendpoint = \"{gone}\"\n\n[client]\nendpoint = \"{}\"\n\n{spus}",
            sc.endpoint()
        ),
    );
    let (cluster_only, with_client) = (
        cluster_only.to_str().unwrap(),
        with_client.to_str().unwrap(),
    );

    within(&env, &["probe", "-f", cluster_only], WATCHDOG_SECS)
        .await
        .expect(4);
    let probed = within(&env, &["probe", "-f", with_client], WATCHDOG_SECS)
        .await
        .expect(0);
    assert!(
        probed
            .stdout
            .contains(&format!("(SPUs from sc://{})", sc.endpoint())),
        "{}",
        probed.stdout
    );
    assert!(
        probed
            .stdout
            .contains("SPU 5001 custom-spu-5001  reachable"),
        "{}",
        probed.stdout
    );
    assert!(spu.handshakes() >= 1);
    // A flag still picks the cluster.
    within(
        &env,
        &["-c", &gone, "probe", "-f", with_client],
        WATCHDOG_SECS,
    )
    .await
    .expect(4);
    // plan is the operator's: it keeps to [cluster].
    within(&env, &["plan", "-f", with_client], WATCHDOG_SECS)
        .await
        .expect(4);
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_dials_the_client_endpoint_with_the_tls_of_its_profile() {
    let pki = Pki::new("endpoints-test-ca");
    let sc = TestSc::start(TestScConfig {
        tls: Some(pki.sc_tls(true)),
        ..Default::default()
    })
    .await
    .expect("TLS test SC starts");
    seed(&sc).await;
    let spu = SpuResponder::bind(loopback(), Behaviour::Spu)
        .await
        .unwrap();
    let client = pki.client("zone");
    let env = Env::new();
    let files = ProfileTls::Files {
        domain: "localhost",
        key: &client.key,
        cert: &client.cert,
        ca_cert: pki.ca_cert(),
    };
    fluvio_config(
        &env,
        &[
            ("host", &sc.endpoint(), files),
            ("plain", &sc.endpoint(), ProfileTls::None),
        ],
    );
    // The clients spell the SC's address their own way (a name, not the host's IP).
    let by_name = format!("localhost:{}", sc.addr().port());
    let zone = |tls_from: &str| {
        format!(
            "[cluster]\nprofile = \"host\"\n\n[client]\nendpoint = \"{by_name}\"\n{tls_from}\n\
             [[spu]]\nid = 5001\nlocal = \"127.0.0.1:{}\"\n",
            spu.port()
        )
    };
    let from_cluster = env.write("zone.toml", &zone(""));
    let probed = within(
        &env,
        &["probe", "-f", from_cluster.to_str().unwrap()],
        WATCHDOG_SECS,
    )
    .await
    .expect(0);
    assert!(
        probed
            .stdout
            .contains(&format!("(SPUs from sc://{by_name})")),
        "{}",
        probed.stdout
    );
    assert!(
        !probed.stderr.contains("use_spu_local_address"),
        "the clients' own profile is not the [cluster] one: {}",
        probed.stderr
    );
    // tls_from names a profile without TLS: plain TCP to a TLS SC fails as such.
    let plain = env.write("plain.toml", &zone("tls_from = \"plain\""));
    let refused = within(
        &env,
        &["probe", "-f", plain.to_str().unwrap()],
        WATCHDOG_SECS,
    )
    .await
    .expect(4);
    assert!(
        one_line(&refused.stderr).contains("does it expect TLS?"),
        "{}",
        refused.stderr
    );
}

// ------------------------------------------------------------------ profile write

/// The config at `path`, read by the fluvio client crate itself; its current profile's
/// name and cluster.
fn read_by_fluvio(path: &std::path::Path) -> (String, fluvio::FluvioClusterConfig) {
    let file = fluvio::config::ConfigFile::load(Some(path.to_str().unwrap().to_string()))
        .expect("the fluvio client reads the written config");
    let config = file.config();
    assert_eq!(config.version(), "2.0");
    let name = config
        .current_profile_name()
        .expect("a current profile")
        .to_string();
    let cluster = config.current_cluster().expect("its cluster").clone();
    (name, cluster)
}

/// The SPU names the fluvio client's admin API lists through `cluster`, within the
/// watchdog's time.
async fn spus_listed(cluster: &fluvio::FluvioClusterConfig) -> Vec<String> {
    let list = async {
        let admin = fluvio::FluvioAdmin::connect_with_config(cluster)
            .await
            .expect("the fluvio client connects with the written config");
        admin
            .all::<fluvio::metadata::spu::SpuSpec>()
            .await
            .expect("admin list")
    };
    let spus = tokio::time::timeout(std::time::Duration::from_secs(WATCHDOG_SECS), list)
        .await
        .expect("the fluvio client answered before the watchdog");
    spus.into_iter().map(|m| m.name).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_write_makes_a_config_the_fluvio_client_and_the_tool_read() {
    let sc = TestSc::start(TestScConfig::default()).await.unwrap();
    seed(&sc).await;
    let env = Env::new();
    let zone = env.write(
        "docker.toml",
        &format!(
            "[cluster]\nendpoint = \"{}\"\n\n[client]\nendpoint = \"{}\"\n\n[[spu]]\nid = 5001\nlocal = \"none\"\n",
            refused_addr(),
            sc.endpoint()
        ),
    );
    let zone = zone.to_str().unwrap();
    // Written where the tool's own runs look for the fluvio config (FLV_PROFILE_PATH).
    let out = env.home().join("fluvio-config");
    let out_arg = out.to_str().unwrap();
    let written = profile_write(&env, zone, out_arg).await.expect(0);
    assert!(
        one_line(&written.stderr).contains("profile `docker` at ")
            && written.stderr.contains("TLS: none, plain TCP"),
        "{}",
        written.stderr
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("[cluster.docker.tls]"), "{text}");

    let (name, cluster) = read_by_fluvio(&out);
    assert_eq!(name, "docker");
    assert_eq!(cluster.endpoint, sc.endpoint());
    assert!(cluster.use_spu_local_address);
    assert_eq!(cluster.tls, fluvio::config::TlsPolicy::Disabled);
    assert!(spus_listed(&cluster)
        .await
        .contains(&"custom-spu-5001".to_string()));

    let shown = within(&env, &["profile", "show", "-o", "json"], WATCHDOG_SECS)
        .await
        .expect(0);
    let views: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(views.as_array().unwrap().len(), 1, "{}", shown.stdout);
    assert_eq!(views[0]["profile"], "docker");
    assert_eq!(views[0]["cluster"], "docker");
    assert_eq!(views[0]["endpoint"], sc.endpoint());
    assert_eq!(views[0]["use_spu_local_address"], true);
    assert_eq!(views[0]["current"], true);
    let listed = within(&env, &["-P", "docker", "list"], WATCHDOG_SECS)
        .await
        .expect(0);
    assert!(
        listed.stdout.contains("custom-spu-5001"),
        "{}",
        listed.stdout
    );

    // An existing config is left as it is without --force, and replaced with it.
    let again = within(
        &env,
        &[
            "profile", "write", "-f", zone, "--out", out_arg, "--name", "ci",
        ],
        WATCHDOG_SECS,
    )
    .await
    .expect(1);
    assert!(
        one_line(&again.stderr).contains("exists; it was left as it is"),
        "{}",
        again.stderr
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text, "untouched");
    within(
        &env,
        &[
            "profile", "write", "-f", zone, "--out", out_arg, "--name", "ci", "--force",
        ],
        WATCHDOG_SECS,
    )
    .await
    .expect(0);
    assert_eq!(read_by_fluvio(&out).0, "ci");
    let names: Vec<String> = std::fs::read_dir(env.home())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("fluvio-config"))
        .collect();
    assert_eq!(names, ["fluvio-config"], "no temp file is left");
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_write_copies_tls_by_reference_and_refuses_inline_keys() {
    let pki = Pki::new("endpoints-test-ca");
    let sc = TestSc::start(TestScConfig {
        tls: Some(pki.sc_tls(true)),
        ..Default::default()
    })
    .await
    .expect("TLS test SC starts");
    seed(&sc).await;
    let client = pki.client("zone");
    let (key_pem, cert_pem, ca_pem) = (client.key_pem(), client.cert_pem(), pki.ca_pem());
    let env = Env::new();
    fluvio_config(
        &env,
        &[
            (
                "host",
                &sc.endpoint(),
                ProfileTls::Files {
                    domain: "localhost",
                    key: &client.key,
                    cert: &client.cert,
                    ca_cert: pki.ca_cert(),
                },
            ),
            (
                "inline",
                &sc.endpoint(),
                ProfileTls::Inline {
                    domain: "localhost",
                    key: &key_pem,
                    cert: &cert_pem,
                    ca_cert: &ca_pem,
                },
            ),
        ],
    );
    let by_name = format!("localhost:{}", sc.addr().port());
    let zone = |name: &str, tls_from: &str| {
        env.write(
            name,
            &format!(
                "[cluster]\nprofile = \"host\"\n\n[client]\nendpoint = \"{by_name}\"\n{tls_from}\n\
                 [[spu]]\nid = 5001\nlocal = \"none\"\n"
            ),
        )
    };
    let out = env.home().join("zone-config");
    let out_arg = out.to_str().unwrap();
    let file = zone("zone.toml", "");
    profile_write(&env, file.to_str().unwrap(), out_arg)
        .await
        .expect(0);
    let text = std::fs::read_to_string(&out).unwrap();
    for pem in [&key_pem, &cert_pem, &ca_pem] {
        for line in pem.lines().filter(|l| l.len() >= 16) {
            assert!(!text.contains(line), "key material copied: {text}");
        }
    }
    let (name, cluster) = read_by_fluvio(&out);
    assert_eq!(name, "zone");
    assert_eq!(cluster.endpoint, by_name);
    assert!(cluster.use_spu_local_address);
    assert_eq!(
        cluster.tls,
        fluvio::config::TlsPolicy::Verified(fluvio::config::TlsConfig::Files(
            fluvio::config::TlsPaths {
                domain: "localhost".into(),
                key: client.key.clone(),
                cert: client.cert.clone(),
                ca_cert: pki.ca_cert().to_path_buf(),
            }
        )),
        "the same files, by path"
    );
    assert!(spus_listed(&cluster)
        .await
        .contains(&"custom-spu-5001".to_string()));
    // The tool reads it too, as the zone's clients would: FLV_PROFILE_PATH=<it>.
    let listed = env
        .command(&["list"])
        .env("FLV_PROFILE_PATH", &out)
        .output()
        .unwrap();
    assert_eq!(
        listed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(String::from_utf8_lossy(&listed.stdout).contains("custom-spu-5001"));

    // A profile that holds its key inline is refused, and nothing is written.
    let inline_out = env.home().join("inline-config");
    let inline = zone("inline.toml", "tls_from = \"inline\"");
    let refused = profile_write(&env, inline.to_str().unwrap(), inline_out.to_str().unwrap())
        .await
        .expect(3);
    assert!(
        one_line(&refused.stderr)
            .contains("profile `inline` keeps its TLS certificates and key inline"),
        "{}",
        refused.stderr
    );
    assert!(!inline_out.exists());
    for pem in [&key_pem, &cert_pem, &ca_pem] {
        for line in pem.lines().filter(|l| l.len() >= 16) {
            assert!(!refused.stderr.contains(line), "{}", refused.stderr);
        }
    }
    // A tls_from that names no profile is a configuration error too.
    let unknown = zone("unknown.toml", "tls_from = \"nope\"");
    let missing = profile_write(
        &env,
        unknown.to_str().unwrap(),
        inline_out.to_str().unwrap(),
    )
    .await
    .expect(3);
    assert!(
        one_line(&missing.stderr).contains("profile `nope` is not in the fluvio config"),
        "{}",
        missing.stderr
    );
    assert!(!inline_out.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_write_refuses_a_file_without_client_and_reports_unknown_keys_at_their_line() {
    let env = Env::new();
    let out = env.home().join("zone-config");
    let out_arg = out.to_str().unwrap();
    let without = env.write(
        "zone.toml",
        "[cluster]\nendpoint = \"127.0.0.1:9003\"\n\n[[spu]]\nid = 5001\nlocal = \"none\"\n",
    );
    let refused = profile_write(&env, without.to_str().unwrap(), out_arg)
        .await
        .expect(3);
    let said = one_line(&refused.stderr);
    assert!(
        said.contains(&format!("{} has no [client] table", without.display()))
            && said.contains("endpoint = \"host.docker.internal:9003\""),
        "{}",
        refused.stderr
    );
    assert!(!out.exists());

    let typo = env.write(
        "typo.toml",
        "[client]\nendpoint = \"h:9003\"\ntls = \"ci\"\n",
    );
    for args in [
        vec!["validate", "-f", typo.to_str().unwrap()],
        vec![
            "profile",
            "write",
            "-f",
            typo.to_str().unwrap(),
            "--out",
            out_arg,
        ],
    ] {
        let run = within(&env, &args, WATCHDOG_SECS).await.expect(3);
        assert!(
            run.stderr.contains("unknown key `tls` in [client]")
                && run.stderr.contains("typo.toml:3:1]")
                && run.stderr.contains("expected one of: endpoint, tls_from"),
            "{args:?}: {}",
            run.stderr
        );
    }
    assert!(!out.exists());
}

/// `export` describes the cluster, which does not know where its clients are: it leaves
/// `[client]` out. The file's `[client]` table carries over to an export unchanged.
#[tokio::test(flavor = "multi_thread")]
async fn export_leaves_client_out_and_the_table_carries_over() {
    let sc = TestSc::start(TestScConfig::default()).await.unwrap();
    seed(&sc).await;
    let env = Env::new();
    let client = "\n[client]\nendpoint = \"host.docker.internal:9003\"\n";
    let zone = env.write(
        "docker.toml",
        &format!(
            "[cluster]\nendpoint = \"{}\"\n{client}\n[[spu]]\nid = 5001\nlocal = \"host.docker.internal\"\n",
            sc.endpoint()
        ),
    );
    let zone = zone.to_str().unwrap();
    within(
        &env,
        &["apply", "-f", zone, "--auto-approve"],
        WATCHDOG_SECS,
    )
    .await
    .expect(0);
    let exported = within(&env, &["export", "-c", &sc.endpoint()], WATCHDOG_SECS)
        .await
        .expect(0);
    assert!(!exported.stdout.contains("[client]"), "{}", exported.stdout);
    let carried = env.write("carried.toml", &format!("{}{client}", exported.stdout));
    let carried = carried.to_str().unwrap();
    let planned = within(
        &env,
        &["plan", "-f", carried, "--detailed-exitcode"],
        WATCHDOG_SECS,
    )
    .await
    .expect(0);
    assert!(planned.stdout.contains("No changes."), "{}", planned.stdout);
    let out = env.home().join("zone-config");
    profile_write(&env, carried, out.to_str().unwrap())
        .await
        .expect(0);
    assert_eq!(read_by_fluvio(&out).1.endpoint, "host.docker.internal:9003");
}
