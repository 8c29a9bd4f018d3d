//! The test SC's authorization, with the real SC's rules: reads denied answer an empty list,
//! a denied create answers PermissionDenied before anything else, deletes are never checked,
//! and a principal is the CN of its TLS client certificate. Driven by the unmodified fluvio
//! 0.50.1 client, directly and through the binary.

use fluvio::metadata::spu::SpuSpec;
use fluvio::{FluvioAdmin, FluvioClusterConfig};
use fluvio_controlplane_metadata::spu::{CustomSpuKey, CustomSpuSpec};
use fluvio_sc_schema::ApiError;

use crate::support::cli::{Env, ProfileTls};
use crate::support::test_sc::{
    local_custom_spu, local_spu_name, Authorization, ErrorCode, Pki, Policy, TestSc, TestScConfig,
};

/// Roles in the real SC's `--authorization-policy` JSON.
const POLICY: &str = r#"{
    "admin": {"Spu": ["All"], "CustomSpu": ["All"]},
    "reader": {"Spu": ["Read"], "CustomSpu": ["Read"]},
    "custom-reader": {"CustomSpu": ["Read"]},
    "creator": {"CustomSpu": ["Create"]},
    "scoped": {"Spu": ["Read"], "CustomSpu": ["Read", "Create:custom-spu-5001"]}
}"#;

async fn sc_with(authorization: Authorization, tls: bool, pki: &Pki) -> TestSc {
    let sc = TestSc::start(TestScConfig {
        authorization,
        tls: tls.then(|| pki.sc_tls(true)),
        ..Default::default()
    })
    .await
    .expect("test SC starts");
    sc.seed_local_cluster(2, 0).await.expect("seeded");
    sc
}

/// An SC where every plain-TCP connection holds `roles`.
async fn plain_sc(roles: &[&str]) -> TestSc {
    let policy = Policy::from_json(POLICY)
        .unwrap()
        .without_certificate(roles);
    sc_with(Authorization::Policy(policy), false, &Pki::new("unused")).await
}

async fn admin(sc: &TestSc) -> FluvioAdmin {
    FluvioAdmin::connect_with_config(&FluvioClusterConfig::new(sc.endpoint()))
        .await
        .expect("admin connect")
}

fn api_error(err: &anyhow::Error) -> (ErrorCode, Option<String>) {
    match err.downcast_ref::<ApiError>() {
        Some(ApiError::Code(code, msg)) => (code.clone(), msg.clone()),
        _ => panic!("not an ApiError::Code: {err:#}"),
    }
}

/// A dry-run create of SPU 5001 as it already exists.
async fn dry_run_create_existing(admin: &FluvioAdmin) -> (ErrorCode, Option<String>) {
    let err = admin
        .create(local_spu_name(5001), true, local_custom_spu(0))
        .await
        .expect_err("an existing SPU is never created");
    api_error(&err)
}

fn denied() -> (ErrorCode, Option<String>) {
    (
        ErrorCode::PermissionDenied,
        Some("permission denied".to_owned()),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_lists_everything_and_may_not_create() {
    let sc = plain_sc(&["reader"]).await;
    let admin = admin(&sc).await;
    assert_eq!(admin.all::<SpuSpec>().await.unwrap().len(), 2);
    assert_eq!(admin.all::<CustomSpuSpec>().await.unwrap().len(), 2);
    // permission is checked before existence: a reader never learns that 5001 exists
    assert_eq!(dry_run_create_existing(&admin).await, denied());
    let new = local_custom_spu(7);
    let err = admin
        .create(local_spu_name(new.id), false, new)
        .await
        .expect_err("a reader may not create");
    assert_eq!(api_error(&err), denied());
    assert_eq!(sc.spus().await.len(), 2, "nothing created");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_creator_without_read_sees_an_empty_list_and_may_create() {
    let sc = plain_sc(&["creator"]).await;
    let admin = admin(&sc).await;
    assert!(admin.all::<SpuSpec>().await.unwrap().is_empty());
    assert!(admin.all::<CustomSpuSpec>().await.unwrap().is_empty());
    // the dry run goes on to the existence check: the caller may create SPUs
    let (code, _) = dry_run_create_existing(&admin).await;
    assert_eq!(code, ErrorCode::SpuAlreadyExists);
    let new = local_custom_spu(7);
    admin
        .create(local_spu_name(new.id), false, new)
        .await
        .expect("a creator may create");
    assert_eq!(sc.spus().await.len(), 3);

    // Read on CustomSpu does not cover the SPU list (that is type Spu).
    let sc = plain_sc(&["custom-reader"]).await;
    let admin = self::admin(&sc).await;
    assert!(admin.all::<SpuSpec>().await.unwrap().is_empty());
    assert_eq!(admin.all::<CustomSpuSpec>().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn deletes_are_never_checked() {
    // a role that may only read, and a connection with no role at all, both delete
    for roles in [&["reader"][..], &[]] {
        let sc = plain_sc(roles).await;
        let admin = admin(&sc).await;
        admin
            .delete::<CustomSpuSpec>(CustomSpuKey::Name(local_spu_name(5001)))
            .await
            .expect("delete is not checked");
        admin
            .delete::<CustomSpuSpec>(CustomSpuKey::Id(5002))
            .await
            .expect("delete is not checked");
        assert!(sc.spus().await.is_empty(), "roles {roles:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_scoped_permission_allows_no_create() {
    // upstream evaluates creates without an instance: "Create:<name>" never matches one
    let sc = plain_sc(&["scoped"]).await;
    let admin = admin(&sc).await;
    assert_eq!(dry_run_create_existing(&admin).await, denied());
    assert_eq!(admin.all::<SpuSpec>().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_reads_and_allows_custom_spus_and_deletes() {
    // upstream's read-only authorization: every read, creates of custom SPUs only, and
    // (like every mode) unchecked deletes
    let sc = sc_with(Authorization::ReadOnly, false, &Pki::new("unused")).await;
    let admin = admin(&sc).await;
    assert_eq!(admin.all::<SpuSpec>().await.unwrap().len(), 2);
    let (code, _) = dry_run_create_existing(&admin).await;
    assert_eq!(code, ErrorCode::SpuAlreadyExists);
    admin
        .delete::<CustomSpuSpec>(CustomSpuKey::Id(5001))
        .await
        .expect("deletes are not checked");
    admin
        .create(local_spu_name(5001), false, local_custom_spu(0))
        .await
        .expect("custom SPUs may be created");
    assert_eq!(sc.spus().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn principals_are_client_certificate_common_names() {
    let pki = Pki::new("endpoints-test-ca");
    let policy = Policy::from_json(POLICY)
        .unwrap()
        .with_scopes_json(r#"{"alice": ["admin"], "bob": ["reader"]}"#)
        .unwrap();
    let sc = sc_with(Authorization::Policy(policy), true, &pki).await;
    let env_of = |cn: &str| {
        let client = pki.client(cn);
        let env = Env::new();
        env.write_profile(
            &sc.endpoint(),
            &ProfileTls::Files {
                domain: "localhost",
                key: &client.key,
                cert: &client.cert,
                ca_cert: pki.ca_cert(),
            },
        );
        env
    };
    let spu_rows = |stdout: &str| stdout.lines().filter(|l| l.contains("custom-spu-")).count();

    // bob reads
    let bob = env_of("bob");
    let list = bob.run(&["list"]).expect(0);
    assert_eq!(spu_rows(&list.stdout), 2, "{}", list.stdout);
    let json = bob.run(&["-o", "json", "list"]).expect(0);
    assert!(json.stdout.contains("custom-spu-5002"), "{}", json.stdout);

    // carol has a valid certificate but no role: her list is empty, without an error
    let carol = env_of("carol");
    let list = carol.run(&["list"]).expect(0);
    assert_eq!(spu_rows(&list.stdout), 0, "{}", list.stdout);
    assert!(!list.stderr.contains("error"), "{}", list.stderr);

    // alice may do everything
    let alice = env_of("alice");
    let file = alice.write(
        "zone.toml",
        "[[spu]]\nid = 5002\nlocal = \"h.example:9020\"\n",
    );
    alice
        .run(&["apply", "-f", file.to_str().unwrap(), "--auto-approve"])
        .expect(0);
    let spus = sc.spus().await;
    let (_, spec, _) = spus.iter().find(|(_, s, _)| s.id == 5002).unwrap();
    assert_eq!(
        spec.public_endpoint_local.as_ref().map(|e| e.to_string()),
        Some("h.example:9020".to_owned())
    );
}

#[tokio::test]
async fn a_policy_that_binds_an_unknown_role_is_refused_at_start() {
    let policy = Policy::from_json(POLICY).unwrap().bind("bob", &["raeder"]);
    let started = TestSc::start(TestScConfig {
        authorization: Authorization::Policy(policy),
        ..Default::default()
    })
    .await;
    let err = started.err().expect("refused").to_string();
    assert!(err.contains("raeder"), "{err}");
}

/// Every SPU as the test SC's store holds it: name -> (id, spec as debug text).
async fn store(sc: &TestSc) -> Vec<(String, String)> {
    let mut spus: Vec<(String, String)> = sc
        .spus()
        .await
        .into_iter()
        .map(|(name, spec, _)| (name, format!("{spec:?}")))
        .collect();
    spus.sort();
    spus
}

fn says_permission_denied(stderr: &str) {
    assert!(stderr.contains("permission denied"), "{stderr}");
    assert!(stderr.contains("Create on CustomSpu"), "{stderr}");
    assert!(stderr.contains("nothing was changed"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_is_refused_every_change_before_any_delete() {
    let sc = plain_sc(&["reader"]).await;
    let before = store(&sc).await;
    let env = Env::new();
    let c = sc.endpoint();
    let file = env.write(
        "zone.toml",
        "[[spu]]\nid = 5001\nlocal = \"h1.example:9010\"\n[[spu]]\nid = 5002\nlocal = \"h2.example:9020\"\n",
    );
    let file = file.to_str().unwrap();

    let run = env
        .run(&["apply", "-c", &c, "-f", file, "--auto-approve"])
        .expect(9);
    says_permission_denied(&run.stderr);
    assert!(
        run.stderr.contains("5001 (custom-spu-5001)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("and 1 more"), "{}", run.stderr);
    assert_eq!(store(&sc).await, before, "apply changed nothing");

    let dry = env
        .run(&["apply", "-c", &c, "-f", file, "--dry-run"])
        .expect(9);
    says_permission_denied(&dry.stderr);

    let update = env
        .run(&["update-local", "-c", &c, "5002", "h2.example:9020"])
        .expect(9);
    says_permission_denied(&update.stderr);
    assert!(
        update.stderr.contains("5002 (custom-spu-5002)"),
        "{}",
        update.stderr
    );
    assert_eq!(store(&sc).await, before, "update-local changed nothing");
    // nothing was begun: the journal holds no change
    let pending =
        fluvio_endpoints::journal::read_pending(&fluvio_endpoints::journal::Journal::path_for(
            &env.journal_dir(),
            &fluvio_endpoints::model::ClusterId::Sc(c.clone()),
        ))
        .map(|(p, _)| p.len())
        .unwrap_or(0);
    assert_eq!(pending, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn recover_without_create_is_refused_and_keeps_the_journal() {
    use fluvio_endpoints::cluster::convert::live_from_fluvio;
    use fluvio_endpoints::journal::Journal;
    use fluvio_endpoints::model::{ClusterId, Encryption, Endpoint};

    let sc = plain_sc(&["reader"]).await;
    let env = Env::new();
    let c = sc.endpoint();
    let (name, spec, status) = sc
        .spus()
        .await
        .into_iter()
        .find(|(_, s, _)| s.id == 5001)
        .unwrap();
    let old = std::sync::Arc::unwrap_or_clone(live_from_fluvio(&name, &spec, &status).spec);
    let mut new = old.clone();
    new.local = Some(Endpoint {
        host: "h1.example".into(),
        port: 9010,
        encryption: Encryption::Plaintext,
    });
    // An apply that stopped between its delete and its create: journal begun, SPU gone.
    {
        let mut journal = Journal::open(&env.journal_dir(), &ClusterId::Sc(c.clone())).unwrap();
        journal
            .begin(&ClusterId::Sc(c.clone()), &old, &new)
            .unwrap();
    }
    admin(&sc)
        .await
        .delete::<CustomSpuSpec>(CustomSpuKey::Name(name.clone()))
        .await
        .expect("deletes are not checked");
    let before = store(&sc).await;

    let rec = env.run(&["recover", "-c", &c]).expect(9);
    says_permission_denied(&rec.stderr);
    assert!(!rec.stderr.contains("reachable again"), "{}", rec.stderr);
    assert_eq!(store(&sc).await, before);
    let (pending, _) = fluvio_endpoints::journal::read_pending(&Journal::path_for(
        &env.journal_dir(),
        &ClusterId::Sc(c.clone()),
    ))
    .unwrap();
    assert_eq!(pending.len(), 1, "the change stays in the journal");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_with_create_and_read_only_mode_apply() {
    let file_text = "[[spu]]\nid = 5001\nlocal = \"h1.example:9010\"\n";
    let with_create = Policy::from_json(POLICY)
        .unwrap()
        .without_certificate(&["reader", "creator"]);
    for auth in [Authorization::Policy(with_create), Authorization::ReadOnly] {
        let sc = sc_with(auth, false, &Pki::new("unused")).await;
        let env = Env::new();
        let file = env.write("zone.toml", file_text);
        env.run(&[
            "apply",
            "-c",
            &sc.endpoint(),
            "-f",
            file.to_str().unwrap(),
            "--auto-approve",
        ])
        .expect(0);
        let spus = sc.spus().await;
        let (_, spec, _) = spus.iter().find(|(_, s, _)| s.id == 5001).unwrap();
        assert_eq!(
            spec.public_endpoint_local.as_ref().map(|e| e.to_string()),
            Some("h1.example:9010".to_owned())
        );
        assert_eq!(spus.len(), 2);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_list_says_it_may_mean_no_read_permission() {
    let sc = plain_sc(&["creator"]).await;
    let env = Env::new();
    let list = env.run(&["list", "-c", &sc.endpoint()]).expect(0);
    assert!(list.stdout.contains("no spu"), "{}", list.stdout);
    assert!(list.stderr.contains("Read permission"), "{}", list.stderr);
    let file = env.write(
        "zone.toml",
        "[[spu]]\nid = 5001\nlocal = \"h1.example:9010\"\n",
    );
    let plan = env
        .run(&["plan", "-c", &sc.endpoint(), "-f", file.to_str().unwrap()])
        .expect(6);
    assert!(plan.stderr.contains("Read permission"), "{}", plan.stderr);
    // a cluster with SPUs gets no such hint
    let sc = plain_sc(&["reader"]).await;
    let list = env.run(&["list", "-c", &sc.endpoint()]).expect(0);
    assert!(!list.stderr.contains("Read permission"), "{}", list.stderr);
}
