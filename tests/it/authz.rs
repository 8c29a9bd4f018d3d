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
