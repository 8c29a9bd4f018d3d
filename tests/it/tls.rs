//! TLS end to end: the real binary, configured through a fluvio profile file
//! (`FLV_PROFILE_PATH`) or the fluvio CLI's TLS flags, against the test SC serving TLS with
//! certificates made here.

use std::path::Path;

use crate::support::cli::{finish, Env, ProfileTls, Run};
use crate::support::test_sc::{
    ApiKind, CertFiles, Pki, Point, ScTls, SpuSpec, TestSc, TestScConfig, Validity,
};

/// A TLS SC with two local-cluster SPUs.
async fn tls_sc(tls: ScTls) -> TestSc {
    let sc = TestSc::start(TestScConfig {
        tls: Some(tls),
        ..Default::default()
    })
    .await
    .expect("TLS test SC starts");
    sc.seed_local_cluster(2, 0).await.expect("seeded");
    sc
}

fn files<'a>(domain: &'a str, client: &'a CertFiles, ca_cert: &'a Path) -> ProfileTls<'a> {
    ProfileTls::Files {
        domain,
        key: &client.key,
        cert: &client.cert,
        ca_cert,
    }
}

const ZONE: &str = "[[spu]]\nid = 5001\nlocal = \"host.docker.internal:9010\"\n";

async fn local_of(sc: &TestSc, id: i32) -> Option<String> {
    let spus: Vec<(String, SpuSpec)> = sc
        .spus()
        .await
        .into_iter()
        .map(|(name, spec, _)| (name, spec))
        .collect();
    let (_, spec) = spus
        .iter()
        .find(|(_, spec)| spec.id == id)
        .unwrap_or_else(|| panic!("SPU {id} missing"));
    spec.public_endpoint_local.as_ref().map(|e| e.to_string())
}

/// Byte strings that would betray key or certificate content: PEM markers, every base64
/// line of the PEM files, and slices of the DER bytes (raw and hex).
fn secrets(certs: &[&CertFiles], pems: &[String]) -> Vec<Vec<u8>> {
    let mut needles: Vec<Vec<u8>> = ["-----BEGIN", "-----END", "PRIVATE KEY"]
        .iter()
        .map(|m| m.as_bytes().to_vec())
        .collect();
    let mut texts: Vec<String> = pems.to_vec();
    for c in certs {
        texts.push(c.cert_pem());
        texts.push(c.key_pem());
        for der in [&c.cert_der, &c.key_der] {
            let tail = &der[der.len() - 24..];
            needles.push(tail.to_vec());
            needles.push(hex::encode(tail).into_bytes());
        }
    }
    for text in texts {
        for line in text
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        {
            needles.push(line.as_bytes().to_vec());
        }
    }
    needles
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// No run printed, and no journal file holds, any key or certificate content.
fn assert_no_secrets(env: &Env, runs: &[&Run], needles: &[Vec<u8>]) {
    let mut places: Vec<(String, Vec<u8>)> = vec![];
    for (i, run) in runs.iter().enumerate() {
        places.push((format!("run {i} stdout"), run.stdout.as_bytes().to_vec()));
        places.push((format!("run {i} stderr"), run.stderr.as_bytes().to_vec()));
    }
    if let Ok(dir) = std::fs::read_dir(env.journal_dir()) {
        for entry in dir.flatten() {
            let bytes = std::fs::read(entry.path()).expect("read journal file");
            places.push((entry.path().display().to_string(), bytes));
        }
    }
    for (place, bytes) in &places {
        for needle in needles {
            assert!(
                !contains(bytes, needle),
                "{place} holds key or certificate content ({})",
                String::from_utf8_lossy(needle)
            );
        }
    }
}

fn rows(run: &Run) -> Vec<&str> {
    run.stdout
        .lines()
        .filter(|l| l.contains("custom-spu-"))
        .collect()
}

/// list, plan, apply, plan again: the whole flow over a profile whose TLS is `tls`.
async fn list_plan_apply(sc: &TestSc, env: &Env, tls: &ProfileTls<'_>) -> Vec<Run> {
    env.write_profile(&sc.endpoint(), tls);
    list_plan_apply_with(sc, env, &[]).await
}

/// The whole flow with cluster `flags`: after the subcommand for list and plan, before
/// it for apply and the last plan (the fluvio CLI takes them either way).
async fn list_plan_apply_with(sc: &TestSc, env: &Env, flags: &[&str]) -> Vec<Run> {
    let after = |args: &[&str]| -> Vec<String> {
        args.iter().chain(flags).map(|a| a.to_string()).collect()
    };
    let before = |args: &[&str]| -> Vec<String> {
        flags.iter().chain(args).map(|a| a.to_string()).collect()
    };
    let run = |args: Vec<String>| env.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let list = run(after(&["list"])).expect(0);
    assert_eq!(rows(&list).len(), 2, "{}", list.stdout);
    let file = env.write("zone.toml", ZONE);
    let file = file.to_str().unwrap();
    let plan = run(after(&["plan", "-f", file, "--detailed-exitcode"])).expect(2);
    assert!(
        plan.stdout.contains("host.docker.internal:9010"),
        "{}",
        plan.stdout
    );
    let apply = run(before(&["apply", "-f", file, "--auto-approve"])).expect(0);
    assert_eq!(
        local_of(sc, 5001).await.as_deref(),
        Some("host.docker.internal:9010")
    );
    let again = run(before(&["plan", "-f", file, "--detailed-exitcode"])).expect(0);
    vec![list, plan, apply, again]
}

/// The fluvio CLI's flags for verified TLS with a client certificate.
fn verified_flags<'a>(
    endpoint: &'a str,
    domain: &'a str,
    client: &'a CertFiles,
    ca_cert: &'a Path,
) -> Vec<&'a str> {
    vec![
        "-c",
        endpoint,
        "--tls",
        "--enable-client-cert",
        "--domain",
        domain,
        "--ca-cert",
        ca_cert.to_str().unwrap(),
        "--client-cert",
        client.cert.to_str().unwrap(),
        "--client-key",
        client.key.to_str().unwrap(),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn verified_tls_with_a_client_certificate_from_files() {
    let pki = Pki::new("endpoints-test-ca");
    let server = pki.server(&["localhost"], Validity::Current);
    let sc = tls_sc(pki.sc_tls_with(&server, true)).await;
    let client = pki.client("alice");
    let env = Env::new();
    let runs = list_plan_apply(&sc, &env, &files("localhost", &client, pki.ca_cert())).await;
    let runs: Vec<&Run> = runs.iter().collect();
    assert_no_secrets(&env, &runs, &secrets(&[&client, &server], &[pki.ca_pem()]));
}

#[tokio::test(flavor = "multi_thread")]
async fn verified_tls_with_inline_certificates() {
    let pki = Pki::new("endpoints-test-ca");
    let server = pki.server(&["localhost"], Validity::Current);
    let sc = tls_sc(pki.sc_tls_with(&server, true)).await;
    let client = pki.client("alice");
    let (key, cert, ca) = (client.key_pem(), client.cert_pem(), pki.ca_pem());
    let env = Env::new();
    let runs = list_plan_apply(
        &sc,
        &env,
        &ProfileTls::Inline {
            domain: "localhost",
            key: &key,
            cert: &cert,
            ca_cert: &ca,
        },
    )
    .await;
    let runs: Vec<&Run> = runs.iter().collect();
    assert_no_secrets(&env, &runs, &secrets(&[&client, &server], &[ca]));
}

#[tokio::test(flavor = "multi_thread")]
async fn verified_tls_without_client_authentication() {
    // An SC that does not ask for a client certificate: the profile's is simply not sent.
    let pki = Pki::new("endpoints-test-ca");
    let sc = tls_sc(pki.sc_tls(false)).await;
    let client = pki.client("alice");
    let env = Env::new();
    list_plan_apply(&sc, &env, &files("localhost", &client, pki.ca_cert())).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_tls_through_a_profile() {
    // `tls_policy = "anonymous"`: TLS, the SC's certificate not verified (here it is not
    // even valid for the address), no client certificate.
    let pki = Pki::new("endpoints-test-ca");
    let sc = tls_sc(pki.sc_tls(false)).await;
    let env = Env::new();
    list_plan_apply(&sc, &env, &ProfileTls::Anonymous).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_tls_with_the_tls_flag() {
    let pki = Pki::new("endpoints-test-ca");
    let sc = tls_sc(pki.sc_tls(false)).await;
    let env = Env::new();
    let endpoint = sc.endpoint();
    list_plan_apply_with(&sc, &env, &["-c", &endpoint, "--tls"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_tls_is_refused_by_an_sc_that_requires_a_client_certificate() {
    let pki = Pki::new("endpoints-test-ca");
    let sc = tls_sc(pki.sc_tls(true)).await;
    let env = Env::new();
    let endpoint = sc.endpoint();
    fails_at(
        &env,
        &endpoint,
        &["-c", &endpoint, "--tls"],
        "refused the client certificate",
        &secrets(&[], &[pki.ca_pem()]),
    );
    assert_eq!(local_of(&sc, 5001).await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn verified_tls_with_a_client_certificate_from_the_flags() {
    let pki = Pki::new("endpoints-test-ca");
    let server = pki.server(&["localhost"], Validity::Current);
    let sc = tls_sc(pki.sc_tls_with(&server, true)).await;
    let client = pki.client("alice");
    // no profile file at all: the flags are the whole cluster configuration
    let env = Env::new();
    let endpoint = sc.endpoint();
    let flags = verified_flags(&endpoint, "localhost", &client, pki.ca_cert());
    let mut runs = list_plan_apply_with(&sc, &env, &flags).await;
    // the client's own traces (-vv) name the policy and paths, never their content
    let mut traced = vec!["-vv", "list"];
    traced.extend_from_slice(&flags);
    let run = env.run(&traced).expect(0);
    assert!(run.stderr.contains("tls=\"verified\""), "{}", run.stderr);
    runs.push(run);
    let runs: Vec<&Run> = runs.iter().collect();
    assert_no_secrets(&env, &runs, &secrets(&[&client, &server], &[pki.ca_pem()]));
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_flags_go_with_the_zone_files_endpoint() {
    // `[cluster] endpoint` in the file is an address too: the flags add its TLS.
    let pki = Pki::new("endpoints-test-ca");
    let server = pki.server(&["localhost"], Validity::Current);
    let sc = tls_sc(pki.sc_tls_with(&server, true)).await;
    let client = pki.client("alice");
    let env = Env::new();
    let text = format!("[cluster]\nendpoint = \"{}\"\n\n{ZONE}", sc.endpoint());
    let file = env.write("zone.toml", &text);
    let mut args = vec!["apply", "-f", file.to_str().unwrap(), "--auto-approve"];
    let flags = verified_flags("", "localhost", &client, pki.ca_cert());
    args.extend_from_slice(&flags[2..]);
    env.run(&args).expect(0);
    assert_eq!(
        local_of(&sc, 5001).await.as_deref(),
        Some("host.docker.internal:9010")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_flag_failures() {
    let pki = Pki::new("endpoints-test-ca");
    let server = pki.server(&["localhost"], Validity::Current);
    let sc = tls_sc(pki.sc_tls_with(&server, true)).await;
    let client = pki.client("alice");
    let other = Pki::new("someone-elses-ca");
    let needles = secrets(&[&client, &server], &[pki.ca_pem(), other.ca_pem()]);
    let env = Env::new();
    let endpoint = sc.endpoint();

    // Each set of flags against the TLS SC, and what its failure says.
    let cases = [
        // a CA that did not sign the SC's certificate
        (
            verified_flags(&endpoint, "localhost", &client, other.ca_cert()),
            "not signed by the CA given",
        ),
        // a domain the SC's certificate is not valid for
        (
            verified_flags(&endpoint, "sc.example.com", &client, pki.ca_cert()),
            "not valid for the TLS domain given",
        ),
        // no TLS against the TLS SC
        (vec!["-c", &endpoint], "does it expect TLS?"),
    ];
    for (flags, says) in &cases {
        fails_at(&env, &endpoint, flags, says, &needles);
    }
    // a CA file that is not there: an invalid configuration (exit 3), the file named
    let missing = env.home().join("no-such-ca.crt");
    let mut args = vec!["list"];
    args.extend(verified_flags(&endpoint, "localhost", &client, &missing));
    let run = env.run(&args).expect(3);
    assert!(
        run.stderr.contains("cannot read the TLS CA certificate")
            && run.stderr.contains("no-such-ca.crt")
            && run.stderr.contains("(os error 2)"),
        "{}",
        run.stderr
    );
    assert_no_secrets(&env, &[&run], &needles);

    // Usage errors (exit 64), before anything is sent.
    let usage = |args: &[&str], says: &str| {
        let run = env.run(args).expect(64);
        assert!(run.stderr.contains(says), "{says:?} in:\n{}", run.stderr);
        assert_no_secrets(&env, &[&run], &needles);
    };
    // --enable-client-cert without the files it needs
    usage(
        &["list", "-c", &endpoint, "--tls", "--enable-client-cert"],
        "--ca-cert",
    );
    // a CA without --enable-client-cert would silently not be used: refused
    usage(
        &["list", "-c", &endpoint, "--tls", "--ca-cert", "ca.crt"],
        "--enable-client-cert",
    );
    usage(&["list", "--enable-client-cert"], "--tls");
    // TLS flags with a profile (it has its own TLS settings)
    usage(&["list", "-P", "test", "--tls"], "cannot be used with");
    // TLS flags without an address
    env.write_profile(&endpoint, &ProfileTls::None);
    usage(&["list", "--tls"], "--tls needs an SC address");

    // Nothing changed on the SC.
    assert_eq!(local_of(&sc, 5001).await, None);
}

/// Runs `list` (with `args`) and checks that it failed as unreachable (exit 4) with one
/// error message that says `says`, nothing on stdout, and no secret anywhere.
fn fails_with(env: &Env, args: &[&str], says: &str, needles: &[Vec<u8>]) -> Run {
    fails_at(env, &endpoint_in(env), args, says, needles)
}

/// `fails_with` for an SC at `endpoint` (given by the flags in `args`).
fn fails_at(env: &Env, endpoint: &str, args: &[&str], says: &str, needles: &[Vec<u8>]) -> Run {
    let mut all = vec!["list"];
    all.extend_from_slice(args);
    let run = env.run(&all).expect(4);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    // the report wraps one message over several lines: join them back
    let message: Vec<&str> = run
        .stderr
        .lines()
        .skip_while(|l| !l.trim_start().starts_with('×'))
        .take_while(|l| !l.trim_start().starts_with("help:"))
        .collect();
    let message = message
        .iter()
        .map(|l| l.trim_start_matches([' ', '×', '│']).trim_end())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        message.starts_with(&format!("cannot reach the SC at {endpoint}")),
        "{}",
        run.stderr
    );
    assert!(
        message.contains(says),
        "{says:?} in {message:?}:\n{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches('×').count(),
        1,
        "one error:\n{}",
        run.stderr
    );
    assert_no_secrets(env, &[&run], needles);
    run
}

/// The endpoint of the profile `Env::write_profile` last wrote.
fn endpoint_in(env: &Env) -> String {
    let text = std::fs::read_to_string(env.home().join("fluvio-config")).unwrap();
    let line = text.lines().find(|l| l.starts_with("endpoint = ")).unwrap();
    line.trim_start_matches("endpoint = ")
        .trim_matches('"')
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_failures_exit_4_with_one_clear_line() {
    let pki = Pki::new("endpoints-test-ca");
    let server = pki.server(&["localhost"], Validity::Current);
    let sc = tls_sc(pki.sc_tls_with(&server, true)).await;
    let client = pki.client("alice");
    let other = Pki::new("someone-elses-ca");
    let stranger = other.client("alice");
    let needles = secrets(
        &[&client, &server, &stranger],
        &[pki.ca_pem(), other.ca_pem()],
    );
    let env = Env::new();

    // Each profile against the TLS SC, and what its failure says.
    let cases = [
        // trusts another CA than the one that signed the SC's certificate
        (
            files("localhost", &client, other.ca_cert()),
            "not signed by the CA given",
        ),
        // names another domain than the SC's certificate
        (
            files("sc.example.com", &client, pki.ca_cert()),
            "not valid for the TLS domain given",
        ),
        // a plaintext client (no [cluster.X.tls], or TLS disabled)
        (ProfileTls::None, "does it expect TLS?"),
        (ProfileTls::Disabled, "does it expect TLS?"),
        // a client certificate the SC does not trust
        (
            files("localhost", &stranger, pki.ca_cert()),
            "refused the client certificate",
        ),
    ];
    for (tls, says) in &cases {
        env.write_profile(&sc.endpoint(), tls);
        fails_with(&env, &[], says, &needles);
    }

    // The SC's certificate has expired.
    let expired = pki.server(&["localhost"], Validity::Expired);
    let old = tls_sc(pki.sc_tls_with(&expired, true)).await;
    env.write_profile(&old.endpoint(), &files("localhost", &client, pki.ca_cert()));
    fails_with(&env, &[], "has expired", &secrets(&[&expired], &[]));

    // A TLS client against a plaintext SC.
    let plain = TestSc::start(TestScConfig::default()).await.unwrap();
    plain.seed_local_cluster(1, 0).await.unwrap();
    env.write_profile(
        &plain.endpoint(),
        &files("localhost", &client, pki.ca_cert()),
    );
    // (the SC reads the TLS hello as the length of a request and waits for the rest)
    fails_with(
        &env,
        &["--timeout", "2"],
        "does not serve TLS never answers",
        &needles,
    );

    // Nothing changed on the SC.
    assert_eq!(local_of(&sc, 5001).await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn journal_of_an_unverified_apply_over_tls_holds_no_secret() {
    let pki = Pki::new("endpoints-test-ca");
    let server = pki.server(&["localhost"], Validity::Current);
    let sc = tls_sc(pki.sc_tls_with(&server, true)).await;
    let client = pki.client("alice");
    let env = Env::new();
    env.write_profile(&sc.endpoint(), &files("localhost", &client, pki.ca_cert()));
    let file = env.write("zone.toml", ZONE);
    let file = file.to_str().unwrap();

    // The create is held once applied; meanwhile every list is armed to lose its
    // connection: the apply cannot re-read the cluster to verify, and its change stays in
    // the journal.
    let create = sc.faults().hold(ApiKind::Create, Point::AfterApply, 1);
    let child = env
        .command(&["apply", "-f", file, "--auto-approve", "--timeout", "3600"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the binary");
    create.reached().await;
    sc.faults()
        .hold_every(ApiKind::List, Point::BeforeApply)
        .cut();
    create.release();
    let run = finish(child).await;
    sc.faults().clear();
    let run = run.expect(8);
    let journal: Vec<_> = std::fs::read_dir(env.journal_dir())
        .expect("journal dir")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x != "lock"))
        .collect();
    assert!(!journal.is_empty(), "the change stays in the journal");
    assert_no_secrets(
        &env,
        &[&run],
        &secrets(&[&client, &server], &[pki.ca_pem()]),
    );
    // recover over the same profile resolves it
    let recovered = env.run(&["recover"]).expect(0);
    assert_no_secrets(
        &env,
        &[&recovered],
        &secrets(&[&client, &server], &[pki.ca_pem()]),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_profile_is_reported_without_the_key_it_holds() {
    // A TOML error quotes the line it is on: here the inline key, pasted on one line and
    // left unterminated. The tool names the line, never its text.
    let pki = Pki::new("endpoints-test-ca");
    let client = pki.client("alice");
    let env = Env::new();
    let key = client.key_pem().replace('\n', "\\n");
    let text = format!(
        "version = \"2\"\ncurrent_profile = \"test\"\n\n[profile.test]\ncluster = \"test\"\n\n\
         [cluster.test]\nendpoint = \"127.0.0.1:9\"\n\n[cluster.test.tls]\n\
         tls_policy = \"verified\"\ntls_source = \"inline\"\n\n[cluster.test.tls.certs]\n\
         domain = \"localhost\"\nkey = \"{key}\ncert = \"c\"\nca_cert = \"a\"\n"
    );
    env.write("fluvio-config", &text);
    let run = env.run(&["list"]).expect(3);
    assert!(
        run.stderr.contains("cannot read the fluvio config")
            && run.stderr.contains("line 16, column"),
        "{}",
        run.stderr
    );
    assert_no_secrets(&env, &[&run], &secrets(&[&client], &[]));
}
