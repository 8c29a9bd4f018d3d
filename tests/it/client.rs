//! The zone's clients, from the zone file's `[client]` table: `probe` reads the SPUs
//! through the SC address the clients dial. Every run of the binary has a watchdog
//! (`within`): a hang fails the test instead of stalling the suite.

use std::net::SocketAddr;

use crate::support::cli::{one_line, within, Env, ProfileTls};
use crate::support::spu_responder::{Behaviour, SpuResponder};
use crate::support::test_sc::{
    local_custom_spu, local_spu_name, Health, Pki, TestSc, TestScConfig,
};

/// How long one run of the binary may take before the watchdog kills it.
const WATCHDOG_SECS: u64 = 60;

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
