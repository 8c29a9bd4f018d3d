//! Tests of the test SC, driven only by the unmodified fluvio 0.50.1 client (its admin
//! client, or its serial socket where a test must see each reply before end of stream).

use std::future::Future;
use std::time::{Duration, Instant};

use fluvio::metadata::spu::SpuSpec;
use fluvio::{Fluvio, FluvioAdmin, FluvioClusterConfig};
use fluvio_controlplane_metadata::spu::{CustomSpuKey, CustomSpuSpec, SpuStatusResolution};
use fluvio_sc_schema::objects::Metadata;
use fluvio_sc_schema::ApiError;
use futures_util::StreamExt;

use crate::support::test_sc::{
    local_custom_spu, ApiKind, EncryptionEnum, Endpoint, ErrorCode, Health, PartitionResolution,
    PartitionSpec, ReplicaStatus, TestSc, TestScConfig, TopicResolution,
};

const DEADLINE: Duration = Duration::from_secs(60);

fn config(sc: &TestSc) -> FluvioClusterConfig {
    FluvioClusterConfig::new(sc.endpoint())
}

async fn admin(sc: &TestSc) -> FluvioAdmin {
    FluvioAdmin::connect_with_config(&config(sc))
        .await
        .expect("admin connect")
}

async fn started(custom: usize, managed: usize) -> TestSc {
    let sc = TestSc::start(TestScConfig::default()).await.unwrap();
    sc.seed_local_cluster(custom, managed).await.unwrap();
    sc
}

/// The (ErrorCode, message) of an admin error.
fn api_error(err: &anyhow::Error) -> (ErrorCode, Option<String>) {
    match err.downcast_ref::<ApiError>() {
        Some(ApiError::Code(code, msg)) => (code.clone(), msg.clone()),
        _ => panic!("not an ApiError::Code: {err:#}"),
    }
}

/// Poll `check` until it returns true, failing after DEADLINE.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn names<S>(list: &[Metadata<S>]) -> Vec<String>
where
    S: fluvio_sc_schema::AdminSpec,
    S::Status: fluvio_protocol::Encoder + fluvio_protocol::Decoder,
{
    let mut names: Vec<String> = list.iter().map(|m| m.name.clone()).collect();
    names.sort();
    names
}

fn local(host: &str, port: u16) -> Option<Endpoint> {
    Some(Endpoint {
        host: host.to_owned(),
        port,
        encryption: EncryptionEnum::PLAINTEXT,
    })
}

async fn resolution(admin: &FluvioAdmin, name: &str) -> Option<SpuStatusResolution> {
    admin
        .list::<SpuSpec, _>(vec![name.to_owned()])
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.name == name)
        .map(|m| m.status.resolution)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_and_list_with_filters() {
    let sc = started(3, 2).await;
    // both client kinds connect (Fluvio opens SPU/partition/topic watches)
    let fluvio = Fluvio::connect_with_config(&config(&sc)).await.unwrap();
    assert_eq!(fluvio.platform_version().to_string(), "0.18.1");
    let admin = admin(&sc).await;

    let all = admin.all::<SpuSpec>().await.unwrap();
    assert_eq!(
        names(&all),
        vec![
            "custom-spu-5001",
            "custom-spu-5002",
            "custom-spu-5003",
            "main-0",
            "main-1"
        ]
    );
    assert!(all
        .iter()
        .all(|m| m.status.resolution == SpuStatusResolution::Online));
    let main0 = all.iter().find(|m| m.name == "main-0").unwrap();
    assert!(!main0.spec.is_custom());
    assert_eq!(
        main0
            .spec
            .public_endpoint_local
            .as_ref()
            .unwrap()
            .to_string(),
        "fluvio-spu-main-0.default.svc.cluster.local:9005"
    );
    let c2 = all.iter().find(|m| m.name == "custom-spu-5002").unwrap();
    assert_eq!(c2.spec.public_endpoint.to_string(), "localhost:9020");
    assert_eq!(c2.spec.private_endpoint.to_string(), "localhost:9021");

    // custom list: custom SPUs only
    let custom = admin.all::<CustomSpuSpec>().await.unwrap();
    assert_eq!(custom.len(), 3);
    assert!(custom.iter().all(|m| m.name.starts_with("custom-spu-")));

    // name filters are substring matches; any filter may match
    let f = admin
        .list::<SpuSpec, _>(vec!["5002".to_owned()])
        .await
        .unwrap();
    assert_eq!(names(&f), vec!["custom-spu-5002"]);
    let f = admin
        .list::<SpuSpec, _>(vec!["main".to_owned(), "5003".to_owned()])
        .await
        .unwrap();
    assert_eq!(names(&f), vec!["custom-spu-5003", "main-0", "main-1"]);
    let f = admin
        .list::<CustomSpuSpec, _>(vec!["main".to_owned()])
        .await
        .unwrap();
    assert!(f.is_empty());

    // other kinds answer, empty
    let topics = admin
        .all::<fluvio::metadata::topic::TopicSpec>()
        .await
        .unwrap();
    assert!(topics.is_empty());
    let partitions = admin
        .all::<fluvio::metadata::partition::PartitionSpec>()
        .await
        .unwrap();
    assert!(partitions.is_empty());

    assert!(sc.faults().requests(ApiKind::List) >= 7);
    assert!(sc.faults().requests(ApiKind::Watch) >= 3);
    sc.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_keeps_local_endpoint_and_status_follows_health() {
    let sc = started(1, 0).await;
    let admin = admin(&sc).await;

    let mut spec = local_custom_spu(1); // id 5002
    spec.public_endpoint_local = local("host.docker.internal", 9020);
    admin
        .create("custom-spu-5002".to_owned(), false, spec.clone())
        .await
        .unwrap();

    // stored as a Custom SpuSpec with the local endpoint; no SPU process yet => Init
    let spus = sc.spus().await;
    let (_, stored, status) = spus
        .iter()
        .find(|(n, _, _)| n == "custom-spu-5002")
        .unwrap();
    assert!(stored.is_custom());
    assert_eq!(stored.public_endpoint_local, spec.public_endpoint_local);
    sc.wait_status_pass().await.unwrap();
    assert_eq!(
        resolution(&admin, "custom-spu-5002").await,
        Some(SpuStatusResolution::Init)
    );
    assert_eq!(status.resolution, SpuStatusResolution::Init);

    // its SPU process connects => Online on the next status pass
    sc.set_health(5002, Health::Online);
    eventually("custom-spu-5002 online", || async {
        resolution(&admin, "custom-spu-5002").await == Some(SpuStatusResolution::Online)
    })
    .await;

    // ... and goes away => Offline
    sc.set_health(5002, Health::Offline);
    eventually("custom-spu-5002 offline", || async {
        resolution(&admin, "custom-spu-5002").await == Some(SpuStatusResolution::Offline)
    })
    .await;

    // delete + create of a live SPU: comes back Init, then Online again (health kept by id)
    admin
        .delete::<CustomSpuSpec>(CustomSpuKey::Id(5001))
        .await
        .unwrap();
    admin
        .create("custom-spu-5001".to_owned(), false, local_custom_spu(0))
        .await
        .unwrap();
    eventually("custom-spu-5001 back online", || async {
        resolution(&admin, "custom-spu-5001").await == Some(SpuStatusResolution::Online)
    })
    .await;
    sc.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_create_by_name_and_by_id_also_dry_run() {
    let sc = started(2, 0).await;
    let admin = admin(&sc).await;

    for dry_run in [false, true] {
        // same name, new id
        let mut spec = local_custom_spu(0);
        spec.id = 7001;
        let err = admin
            .create("custom-spu-5001".to_owned(), dry_run, spec)
            .await
            .unwrap_err();
        assert_eq!(
            api_error(&err),
            (
                ErrorCode::SpuAlreadyExists,
                Some("spu 'custom-spu-5001(7001)' already defined".to_owned())
            )
        );
        // new name, same id
        let err = admin
            .create("other".to_owned(), dry_run, local_custom_spu(1))
            .await
            .unwrap_err();
        assert_eq!(
            api_error(&err),
            (
                ErrorCode::SpuAlreadyExists,
                Some("spu 'other(5002)' already defined".to_owned())
            )
        );
        assert_eq!(err.to_string(), "spu 'other(5002)' already defined");
    }

    // a dry run of a new SPU succeeds and stores nothing
    admin
        .create("custom-spu-5003".to_owned(), true, local_custom_spu(2))
        .await
        .unwrap();
    assert_eq!(sc.spus().await.len(), 2);
    assert!(!sc.metadata_dir().join("SPU/custom-spu-5003.yaml").exists());
    sc.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_by_name_id_unknown_and_managed() {
    let sc = started(3, 1).await;
    let admin = admin(&sc).await;
    let dir = sc.metadata_dir().join("SPU");
    assert!(dir.join("custom-spu-5001.yaml").exists());

    admin
        .delete::<CustomSpuSpec>(CustomSpuKey::Name("custom-spu-5001".to_owned()))
        .await
        .unwrap();
    // the answer comes once the object is gone from the store (and from disk)
    assert!(!sc
        .spus()
        .await
        .iter()
        .any(|(n, _, _)| n == "custom-spu-5001"));
    assert!(!dir.join("custom-spu-5001.yaml").exists());

    admin
        .delete::<CustomSpuSpec>(CustomSpuKey::Id(5002))
        .await
        .unwrap();
    assert!(!sc.spus().await.iter().any(|(_, s, _)| s.id == 5002));

    let err = admin
        .delete::<CustomSpuSpec>(CustomSpuKey::Name("nope".to_owned()))
        .await
        .unwrap_err();
    assert_eq!(
        api_error(&err),
        (ErrorCode::SpuNotFound, Some("not found".to_owned()))
    );
    assert_eq!(err.to_string(), "not found");
    let err = admin
        .delete::<CustomSpuSpec>(CustomSpuKey::Id(9999))
        .await
        .unwrap_err();
    assert_eq!(api_error(&err).0, ErrorCode::SpuNotFound);

    // managed SPUs cannot be unregistered, by name or id
    for key in [CustomSpuKey::Name("main-0".to_owned()), CustomSpuKey::Id(0)] {
        let err = admin.delete::<CustomSpuSpec>(key).await.unwrap_err();
        assert_eq!(
            api_error(&err),
            (
                ErrorCode::SpuError,
                Some("expected 'Custom' spu, found 'Managed' spu".to_owned())
            )
        );
    }
    assert_eq!(sc.spus().await.len(), 2);
    sc.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_of_custom_spu_is_refused() {
    let sc = started(1, 0).await;
    let admin = admin(&sc).await;
    let err = admin
        .update::<CustomSpuSpec>(CustomSpuKey::Id(5001), "x".to_owned())
        .await
        .unwrap_err();
    assert_eq!(
        api_error(&err),
        (
            ErrorCode::Other("unknown admin object type".to_owned()),
            None
        )
    );
    assert!(
        err.to_string().contains("unknown admin object type"),
        "{err}"
    );
    sc.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_sees_delete_then_create() {
    let sc = started(2, 0).await;
    let admin = admin(&sc).await;
    let mut watch = admin.watch::<SpuSpec>().await.unwrap();

    // initial sync: everything
    let first = tokio::time::timeout(DEADLINE, watch.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .inner();
    assert_eq!(first.all.len(), 2);

    let mut spec = local_custom_spu(1);
    spec.public_endpoint_local = local("10.0.0.7", 9020);
    admin
        .delete::<CustomSpuSpec>(CustomSpuKey::Id(5002))
        .await
        .unwrap();
    admin
        .create("custom-spu-5002".to_owned(), false, spec)
        .await
        .unwrap();

    let (mut deleted, mut created) = (false, false);
    let start = Instant::now();
    while !(deleted && created) {
        assert!(start.elapsed() < DEADLINE, "watch missed delete/create");
        let update = tokio::time::timeout(DEADLINE, watch.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
            .inner();
        for change in update.changes {
            let is_delete = matches!(
                change.header,
                fluvio_controlplane_metadata::message::MsgType::DELETE
            );
            if change.content.name != "custom-spu-5002" {
                continue;
            }
            if is_delete {
                deleted = true;
            } else if deleted
                && change.content.spec.public_endpoint_local == local("10.0.0.7", 9020)
            {
                created = true;
            }
        }
    }
    sc.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_everything_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let mut sc = TestSc::start(TestScConfig {
        metadata_dir: Some(tmp.path().to_path_buf()),
        ..Default::default()
    })
    .await
    .unwrap();
    sc.seed_local_cluster(2, 1).await.unwrap();
    let addr = sc.addr();
    {
        let admin = admin(&sc).await;
        admin
            .delete::<CustomSpuSpec>(CustomSpuKey::Id(5002))
            .await
            .unwrap();
        let mut spec = local_custom_spu(1);
        spec.public_endpoint_local = local("host.docker.internal", 9020);
        admin
            .create("custom-spu-5002".to_owned(), false, spec)
            .await
            .unwrap();
    }
    // the status pass rewrites the file (Init -> Online; LocalMetadataStorage truncates and
    // rewrites in place), so let it settle before reading
    eventually("custom-spu-5002 online again", || async {
        sc.spus().await.iter().any(|(n, _, st)| {
            n == "custom-spu-5002" && st.resolution == SpuStatusResolution::Online
        })
    })
    .await;
    sc.wait_status_pass().await.unwrap();
    let yaml = tmp.path().join("SPU/custom-spu-5002.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    assert!(text.contains("resolution: Online"), "{text}");
    assert!(text.contains("publicEndpointLocal"), "{text}");
    assert!(text.contains("host.docker.internal"), "{text}");
    // a real local SC's folder set
    for kind in [
        "SPU",
        "Topic",
        "Partition",
        "SpuGroup",
        "SmartModule",
        "TableFormat",
    ] {
        assert!(tmp.path().join(kind).is_dir(), "{kind} folder missing");
    }

    sc.restart().await.unwrap();
    assert_eq!(sc.addr(), addr, "restart re-binds the same address");
    let admin = admin(&sc).await;
    let all = admin.all::<SpuSpec>().await.unwrap();
    assert_eq!(
        names(&all),
        vec!["custom-spu-5001", "custom-spu-5002", "main-0"]
    );
    let c2 = all.iter().find(|m| m.name == "custom-spu-5002").unwrap();
    assert_eq!(
        c2.spec.public_endpoint_local,
        local("host.docker.internal", 9020)
    );
    sc.shutdown().await.unwrap();

    // a fresh SC over the same dir loads it too
    let sc = TestSc::start(TestScConfig {
        metadata_dir: Some(tmp.path().to_path_buf()),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(sc.spus().await.len(), 3);
    let yaml_value: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&yaml).unwrap()).unwrap();
    let spec = &yaml_value["spec"];
    assert_eq!(
        spec["publicEndpointLocal"]["host"].as_str(),
        Some("host.docker.internal")
    );
    sc.shutdown().await.unwrap();
}

/// current-thread runtime: the SC must not depend on the test's runtime
#[tokio::test]
async fn old_platform_refused_by_client_check() {
    let sc = TestSc::start(TestScConfig {
        platform_version: "0.11.9".to_owned(),
        ..Default::default()
    })
    .await
    .unwrap();
    let err = FluvioAdmin::connect_with_config(&config(&sc))
        .await
        .err()
        .expect("0.11.9 must be refused");
    assert!(err.to_string().contains("not compatible"), "{err}");
    let err = Fluvio::connect_with_config(&config(&sc))
        .await
        .err()
        .expect("0.11.9 must be refused");
    assert!(err.to_string().contains("not compatible"), "{err}");
    sc.shutdown().await.unwrap();

    // 0.11.10 is the oldest SC the 0.50.1 client accepts
    let sc = TestSc::start(TestScConfig {
        platform_version: "0.11.10".to_owned(),
        ..Default::default()
    })
    .await
    .unwrap();
    sc.seed_local_cluster(1, 0).await.unwrap();
    let fluvio = Fluvio::connect_with_config(&config(&sc)).await.unwrap();
    assert_eq!(fluvio.platform_version().to_string(), "0.11.10");
    let admin = admin(&sc).await;
    assert_eq!(admin.all::<SpuSpec>().await.unwrap().len(), 1);
    sc.shutdown().await.unwrap();
}

/// A plain std test that blocks its thread while the SC serves.
#[test]
fn serves_while_test_thread_blocks() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sc = rt.block_on(started(2, 0));
    let endpoint = sc.endpoint();
    // a separate thread with its own runtime plays the "child process"
    let child = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let admin = FluvioAdmin::connect_with_config(&FluvioClusterConfig::new(endpoint))
                .await
                .unwrap();
            admin.all::<SpuSpec>().await.unwrap().len()
        })
    });
    assert_eq!(child.join().unwrap(), 2);
    rt.block_on(sc.shutdown()).unwrap();
}

/// One request on a serial socket (fluvio-socket's `FluvioSocket`: each reply is taken
/// before anything more is read), at the version the SC offers.
async fn serial_request<R, I>(
    socket: &mut fluvio_socket::FluvioSocket,
    versions: &fluvio_socket::Versions,
    input: I,
) -> Result<R::Response, fluvio_socket::SocketError>
where
    R: fluvio_protocol::api::Request + fluvio_sc_schema::TryEncodableFrom<I>,
{
    let version = versions.lookup_version::<R>().expect("the SC serves it");
    let request = R::try_encode_from(input, version).expect("encodes");
    let mut message = fluvio_protocol::api::RequestMessage::new_request(request);
    message.get_mut_header().set_api_version(version);
    socket.send(&message).await.map(|answer| answer.response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_drop_connection_after_delete() {
    use fluvio_sc_schema::objects::{DeleteRequest, ListRequest, ObjectApiDeleteRequest};
    use fluvio_sc_schema::objects::{ListFilter, ObjectApiListRequest};

    let sc = started(2, 0).await;
    // A serial socket, not the admin client: the 0.50.1 admin client reads replies on a
    // background task that, at end of stream, overwrites a reply its caller has not taken
    // yet, so it can lose an answer that the close follows at once.
    let (mut socket, _, versions) = fluvio_socket::ClientConfig::with_addr(sc.endpoint())
        .connect()
        .await
        .expect("connects")
        .split();
    let lists = sc.faults().requests(ApiKind::List);
    sc.faults().drop_connection_after(ApiKind::Delete, 1);
    // the delete is applied and answered ...
    let answer = serial_request::<ObjectApiDeleteRequest, _>(
        &mut socket,
        &versions,
        DeleteRequest::<CustomSpuSpec>::new(CustomSpuKey::Id(5001)),
    )
    .await
    .expect("the delete is answered");
    answer.as_result().expect("deleted");
    assert!(!sc.spus().await.iter().any(|(_, s, _)| s.id == 5001));
    // ... then the connection is closed: the next request on it gets no answer, and the
    // SC does not serve it
    let next = serial_request::<ObjectApiListRequest, _>(
        &mut socket,
        &versions,
        ListRequest::<SpuSpec>::new(Vec::<ListFilter>::new(), false),
    )
    .await;
    let err = next.expect_err("no answer after the close");
    assert!(
        err.to_string().contains("server has terminated connection"),
        "{err}"
    );
    assert_eq!(sc.faults().requests(ApiKind::List), lists);
    // a new connection works again (only that connection was dropped)
    let admin = self::admin(&sc).await;
    assert_eq!(admin.all::<SpuSpec>().await.unwrap().len(), 1);
    sc.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_delete_applied_but_answer_lost() {
    let sc = started(2, 0).await;
    let admin = admin(&sc).await;
    sc.faults()
        .drop_connection_instead_of_answer(ApiKind::Delete, 1);
    let res = admin.delete::<CustomSpuSpec>(CustomSpuKey::Id(5001)).await;
    assert!(res.is_err(), "client must see an error");
    // yet the SPU is deleted
    assert!(!sc.spus().await.iter().any(|(_, s, _)| s.id == 5001));
    assert!(!sc.metadata_dir().join("SPU/custom-spu-5001.yaml").exists());
    sc.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_drop_before_create_fail_and_delay() {
    let sc = started(2, 0).await;
    let admin = admin(&sc).await;

    // connection closed instead of processing: nothing applied
    sc.faults().drop_connection_before(ApiKind::Delete, 2);
    admin
        .delete::<CustomSpuSpec>(CustomSpuKey::Id(5001))
        .await
        .unwrap();
    let res = admin.delete::<CustomSpuSpec>(CustomSpuKey::Id(5002)).await;
    assert!(res.is_err());
    assert!(sc.spus().await.iter().any(|(_, s, _)| s.id == 5002));

    // refused create: the chosen error code reaches the client, nothing stored
    let admin = self::admin(&sc).await;
    sc.faults()
        .fail_next_create(ErrorCode::SpuError, Some("injected".to_owned()));
    let err = admin
        .create("custom-spu-5001".to_owned(), false, local_custom_spu(0))
        .await
        .unwrap_err();
    assert_eq!(
        api_error(&err),
        (ErrorCode::SpuError, Some("injected".to_owned()))
    );
    assert!(!sc.spus().await.iter().any(|(_, s, _)| s.id == 5001));
    // only the next one
    admin
        .create("custom-spu-5001".to_owned(), false, local_custom_spu(0))
        .await
        .unwrap();

    // delayed answers still answer, and so do they once the delay is cleared (how long
    // they take is for benches/, not tests)
    sc.faults().delay(ApiKind::List, Duration::from_millis(300));
    let lists = sc.faults().requests(ApiKind::List);
    assert_eq!(admin.all::<SpuSpec>().await.unwrap().len(), 2);
    sc.faults().clear();
    assert_eq!(admin.all::<SpuSpec>().await.unwrap().len(), 2);
    assert_eq!(sc.faults().requests(ApiKind::List), lists + 2);
    assert!(sc.faults().requests(ApiKind::Create) >= 2);
    assert!(sc.faults().requests(ApiKind::Delete) >= 2);
    sc.shutdown().await.unwrap();
}

/// Wait until the admin's connection is seen closed by the client: its watch stream (which
/// shares the admin's TCP connection) ends. (A serial request on a connection the server
/// closed is not failed by the 0.50.1 client until its 60 s timeout, so we do not use one.)
async fn connection_closed<St, T, E>(watch: &mut St)
where
    St: futures_util::Stream<Item = Result<T, E>> + Unpin,
{
    loop {
        match tokio::time::timeout(DEADLINE, watch.next()).await {
            Err(_) => panic!("connection still open"),
            Ok(None) | Ok(Some(Err(_))) => return,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_client_connections() {
    let sc = started(1, 0).await;
    let admin = admin(&sc).await;
    let mut watch = admin.watch::<SpuSpec>().await.unwrap();
    assert_eq!(admin.all::<SpuSpec>().await.unwrap().len(), 1);
    assert!(sc.open_connections() >= 1);
    let endpoint = sc.endpoint();
    sc.shutdown().await.unwrap();
    connection_closed(&mut watch).await;
    assert!(
        FluvioAdmin::connect_with_config(&FluvioClusterConfig::new(endpoint))
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_spus_list() {
    // How long this takes is measured by benches/e2e.rs (the floor's list at 10,000 SPUs).
    let sc = TestSc::start(TestScConfig::default()).await.unwrap();
    sc.seed_local_cluster(9_990, 10).await.unwrap();
    let admin = admin(&sc).await;
    let all = admin.all::<SpuSpec>().await.unwrap();
    assert_eq!(all.len(), 10_000);
    assert_eq!(all.iter().filter(|m| m.spec.is_custom()).count(), 9_990);
    let custom = admin.all::<CustomSpuSpec>().await.unwrap();
    assert_eq!(custom.len(), 9_990);
    sc.shutdown().await.unwrap();
}

// ---------------------------------------------------------------- data plane

/// The partitions of topic `data` (3 partitions, replication 3) over SPUs 5001..5003.
const DATA: [&str; 3] = ["data-0", "data-1", "data-2"];

/// 3 local-cluster SPUs and topic `data` (3 partitions, replication 3).
async fn data_cluster(config: TestScConfig) -> TestSc {
    let sc = TestSc::start(config).await.unwrap();
    sc.seed_local_cluster(3, 0).await.unwrap();
    sc.create_topic("data", 3, 3).await.unwrap();
    sc
}

/// Status reports every 100 ms.
fn quick() -> TestScConfig {
    TestScConfig {
        status_interval: Duration::from_millis(100),
        ..Default::default()
    }
}

async fn produce_all(sc: &TestSc, n: u64) {
    for p in DATA {
        sc.produce(p, n).await.unwrap();
    }
}

/// Every replica holds `n` records and all are committed.
fn committed(sc: &TestSc, partition: &str, n: i64) -> bool {
    let state = sc.replica_state(partition).expect("known partition");
    state.hw == n && state.leo.values().all(|leo| *leo == n)
}

async fn all_committed(sc: &TestSc, n: i64) {
    eventually(&format!("every record committed at {n}"), || async {
        DATA.iter().all(|p| committed(sc, p, n))
    })
    .await;
}

/// Delete and re-create a custom SPU with its live spec, as a change of its local endpoint
/// does on a real cluster.
async fn recreate_spu(admin: &FluvioAdmin, id: i32) {
    let live = admin
        .all::<CustomSpuSpec>()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.spec.id == id)
        .expect("the SPU exists");
    admin
        .delete::<CustomSpuSpec>(CustomSpuKey::Id(id))
        .await
        .unwrap();
    admin.create(live.name, false, live.spec).await.unwrap();
}

async fn spu_online(sc: &TestSc, id: i32) -> bool {
    sc.spus()
        .await
        .iter()
        .any(|(_, s, st)| s.id == id && st.resolution == SpuStatusResolution::Online)
}

fn replica(spu: i32, hw: i64, leo: i64) -> ReplicaStatus {
    ReplicaStatus::new(spu, hw, leo)
}

/// The leader status the SC's store holds for `partition`.
async fn stored_leader(sc: &TestSc, partition: &str) -> ReplicaStatus {
    sc.partitions()
        .await
        .into_iter()
        .find(|(n, _, _)| n == partition)
        .map(|(_, _, status)| status.leader)
        .expect("stored partition")
}

/// The partition list through the 0.50.1 admin client, by name.
async fn listed(
    admin: &FluvioAdmin,
) -> std::collections::BTreeMap<String, Metadata<PartitionSpec>> {
    admin
        .all::<PartitionSpec>()
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.name.clone(), m))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataplane_recreated_spu_stalls_the_partitions_it_follows_until_restarted() {
    let sc = data_cluster(quick()).await;
    // assigned as upstream's scheduler does (fewest leaders, then fewest followers, ids sorted)
    let assigned: Vec<(String, i32, Vec<i32>)> = sc
        .partitions()
        .await
        .into_iter()
        .map(|(name, spec, _)| (name, spec.leader, spec.replicas))
        .collect();
    assert_eq!(
        assigned,
        vec![
            ("data-0".to_owned(), 5001, vec![5001, 5002, 5003]),
            ("data-1".to_owned(), 5002, vec![5002, 5001, 5003]),
            ("data-2".to_owned(), 5003, vec![5003, 5001, 5002]),
        ]
    );
    produce_all(&sc, 10).await;
    all_committed(&sc, 10).await;

    // delete + create of SPU 5001 through the admin API (same spec)
    let admin = admin(&sc).await;
    recreate_spu(&admin, 5001).await;
    eventually("5001 online again", || spu_online(&sc, 5001)).await;
    produce_all(&sc, 5).await;

    // the partition 5001 leads commits
    eventually("data-0 committed", || async {
        committed(&sc, "data-0", 15)
    })
    .await;
    // the partitions it follows accept records but commit none: HW frozen at 5001's LEO
    for (p, leader, other) in [("data-1", 5002, 5003), ("data-2", 5003, 5002)] {
        eventually(&format!("{p}: the other follower caught up"), || async {
            let s = sc.replica_state(p).unwrap();
            s.leo[&leader] == 15 && s.leo[&other] == 15
        })
        .await;
    }
    // and it stays so: two status reports later (which also bring it to the SC)
    sc.wait_status_report().await.unwrap();
    sc.wait_status_report().await.unwrap();
    for (p, leader) in [("data-1", 5002), ("data-2", 5003)] {
        let s = sc.replica_state(p).unwrap();
        assert_eq!(
            (s.leader, s.hw, s.leo[&5001], s.leo[&leader]),
            (leader, 10, 10, 15),
            "{p}"
        );
    }
    // the SC's partition list shows it, as upstream reports it
    let list = listed(&admin).await;
    let data1 = &list["data-1"];
    assert_eq!(data1.status.resolution, PartitionResolution::Online);
    assert_eq!(data1.status.leader, replica(5002, 10, 15));
    assert_eq!(
        data1.status.replicas,
        // the other follower has every record, but only the HW the leader has
        vec![replica(5001, 10, 10), replica(5003, 10, 15)]
    );
    assert_eq!(data1.status.lrs(), 1);
    assert_eq!(list["data-2"].status.leader, replica(5003, 10, 15));
    assert_eq!(list["data-0"].status.leader, replica(5001, 15, 15));
    assert_eq!(list["data-0"].status.lrs(), 2);

    // restarting the SPU 5001 process heals it: every record commits, none lost
    sc.restart_spu(5001).await.unwrap();
    assert!(spu_online(&sc, 5001).await);
    all_committed(&sc, 15).await;
    // the partition it led has a new leader (the first in-sync follower), and it stays there
    assert_eq!(sc.replica_state("data-0").unwrap().leader, 5002);
    assert_eq!(sc.replica_state("data-1").unwrap().leader, 5002);
    assert_eq!(sc.replica_state("data-2").unwrap().leader, 5003);
    produce_all(&sc, 1).await;
    all_committed(&sc, 16).await;
    sc.wait_status_report().await.unwrap();
    let list = listed(&admin).await;
    let data0 = &list["data-0"];
    assert_eq!(data0.spec.leader, 5002);
    assert_eq!(data0.spec.replicas, vec![5001, 5002, 5003]);
    assert_eq!(data0.status.leader, replica(5002, 16, 16));
    // upstream's merge: the old leader joins the replicas after the ones already listed
    assert_eq!(
        data0.status.replicas,
        vec![replica(5003, 16, 16), replica(5001, 16, 16)]
    );
    for p in ["data-1", "data-2"] {
        assert!(list[p]
            .status
            .replicas
            .iter()
            .all(|r| r.hw == 16 && r.leo == 16));
    }
    sc.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataplane_control_dir_restarts_and_produces() {
    let control = tempfile::tempdir().unwrap();
    let dir = control.path().to_path_buf();
    let sc = data_cluster(TestScConfig {
        control_dir: Some(dir.clone()),
        ..quick()
    })
    .await;

    // produce-<partition>-<n>: appended at the leader, the file removed once done
    std::fs::write(dir.join("produce-data-1-7"), "").unwrap();
    eventually("produce file taken", || async {
        !dir.join("produce-data-1-7").exists()
    })
    .await;
    eventually("data-1 committed", || async { committed(&sc, "data-1", 7) }).await;

    // a stall, healed by a shell command as a --restart-command would run it
    let admin = admin(&sc).await;
    recreate_spu(&admin, 5001).await;
    eventually("5001 online again", || spu_online(&sc, 5001)).await;
    sc.produce("data-1", 3).await.unwrap();
    eventually("data-1 leader ahead", || async {
        sc.replica_state("data-1").unwrap().leo[&5002] == 10
    })
    .await;
    assert_eq!(sc.replica_state("data-1").unwrap().hw, 7);
    let script = r#"touch "$D/restart-spu-$SPU_ID"; while [ -e "$D/restart-spu-$SPU_ID" ]; do sleep 0.01; done"#;
    let mut child = std::process::Command::new("sh")
        .args(["-c", script])
        .env("D", &dir)
        .env("SPU_ID", "5001")
        .spawn()
        .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    // the file went once the process was Online again
    assert!(spu_online(&sc, 5001).await);
    assert!(!dir.join("restart-spu-5001.failed").exists());
    eventually("data-1 healed", || async { committed(&sc, "data-1", 10) }).await;
    assert_eq!(sc.replica_state("data-0").unwrap().leader, 5002);

    // unknown or failed requests: <file>.failed with the reason inside
    for (file, reason) in [
        ("bogus", "unknown control file"),
        ("restart-spu-9999", "no SPU with id 9999"),
        ("restart-spu-x", "not an SPU id"),
        ("produce-nope-0-1", "unknown partition 'nope-0'"),
        ("produce-data-0-many", "not a record count"),
    ] {
        std::fs::write(dir.join(file), "").unwrap();
        let failed = dir.join(format!("{file}.failed"));
        eventually(&format!("{file} failed"), || async { failed.exists() }).await;
        assert!(!dir.join(file).exists());
        let text = std::fs::read_to_string(&failed).unwrap();
        assert!(text.contains(reason), "{file}: {text}");
    }
    sc.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataplane_partition_list_and_status_interval() {
    let meta = tempfile::tempdir().unwrap();
    let interval = Duration::from_secs(3);
    let sc = data_cluster(TestScConfig {
        metadata_dir: Some(meta.path().to_path_buf()),
        status_interval: interval,
        ..Default::default()
    })
    .await;
    let admin = admin(&sc).await;

    // as created, before any report: what the leader's first report gives
    let list = listed(&admin).await;
    assert_eq!(
        list.keys().collect::<Vec<_>>(),
        vec!["data-0", "data-1", "data-2"]
    );
    let data1 = &list["data-1"];
    assert_eq!(data1.spec.leader, 5002);
    assert_eq!(data1.spec.replicas, vec![5002, 5001, 5003]);
    assert!(!data1.spec.system);
    assert_eq!(data1.status.resolution, PartitionResolution::Online);
    assert_eq!(data1.status.leader, replica(5002, 0, 0));
    assert_eq!(
        data1.status.replicas,
        vec![replica(5001, -1, -1), replica(5003, -1, -1)]
    );
    assert_eq!(data1.status.lrs(), 0);
    // stored as a local SC stores them: a Topic (Provisioned, replica map) with its
    // partitions as children
    let topics = sc.topics().await;
    assert_eq!(topics.len(), 1);
    let (name, spec, status) = &topics[0];
    assert_eq!(name, "data");
    assert_eq!(spec.partitions(), 3);
    assert_eq!(spec.replication_factor(), Some(3));
    assert_eq!(status.resolution, TopicResolution::Provisioned);
    assert_eq!(status.replica_map[&2], vec![5003, 5001, 5002]);
    let topic_yaml = std::fs::read_to_string(meta.path().join("Topic/data.yaml")).unwrap();
    assert!(topic_yaml.contains("Provisioned"), "{topic_yaml}");
    assert!(topic_yaml.contains("data-2"), "{topic_yaml}");
    let partition_yaml = meta.path().join("Partition/data-1.yaml");
    let text = std::fs::read_to_string(&partition_yaml).unwrap();
    assert!(text.contains("resolution: Online"), "{text}");
    assert!(text.contains("parent:"), "{text}");

    // reports come every status_interval: right after one, a produce is not in the store ...
    sc.wait_status_report().await.unwrap();
    let list = listed(&admin).await;
    assert_eq!(
        list["data-1"].status.replicas,
        vec![replica(5001, 0, 0), replica(5003, 0, 0)]
    );
    assert_eq!(list["data-1"].status.lrs(), 2);
    sc.produce("data-1", 5).await.unwrap();
    assert!(committed(&sc, "data-1", 5));
    assert_eq!(stored_leader(&sc, "data-1").await, replica(5002, 0, 0));
    // ... the next one brings it, and no sooner than the interval
    let start = Instant::now();
    sc.wait_status_report().await.unwrap();
    assert!(start.elapsed() >= interval, "{:?}", start.elapsed());
    assert_eq!(stored_leader(&sc, "data-1").await, replica(5002, 5, 5));
    let text = std::fs::read_to_string(&partition_yaml).unwrap();
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(yaml["status"]["leader"]["leo"].as_i64(), Some(5), "{text}");
    assert_eq!(yaml["status"]["leader"]["hw"].as_i64(), Some(5), "{text}");
    sc.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataplane_survives_sc_restart_and_offline_edits_cause_no_stall() {
    let meta = tempfile::tempdir().unwrap();
    let mut sc = data_cluster(TestScConfig {
        metadata_dir: Some(meta.path().to_path_buf()),
        ..quick()
    })
    .await;
    produce_all(&sc, 4).await;
    all_committed(&sc, 4).await;
    sc.wait_status_report().await.unwrap();

    sc.restart().await.unwrap();
    // the new incarnation loaded the partitions from disk; the SPU processes kept their logs
    assert_eq!(sc.partitions().await.len(), 3);
    for p in DATA {
        assert!(committed(&sc, p, 4), "{p}");
    }
    // they replicate without an SC; their reports resume once they registered again
    produce_all(&sc, 2).await;
    all_committed(&sc, 6).await;
    let err = sc.wait_status_report().await.unwrap_err();
    assert!(err.to_string().contains("reconnect_spu_processes"), "{err}");
    sc.reconnect_spu_processes();
    sc.wait_status_report().await.unwrap();
    for (name, spec, status) in sc.partitions().await {
        assert_eq!(status.leader, replica(spec.leader, 6, 6), "{name}");
    }

    // an SPU re-created in the metadata dir while no SC runs: the SPU processes learn the
    // full SPU list at the next start, with 5001 in it, so nothing stalls
    sc.stop().await.unwrap();
    let file = meta.path().join("SPU/custom-spu-5001.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    std::fs::write(&file, text).unwrap();
    produce_all(&sc, 1).await;
    sc.resume().await.unwrap();
    sc.reconnect_spu_processes();
    eventually("5001 online", || spu_online(&sc, 5001)).await;
    produce_all(&sc, 1).await;
    all_committed(&sc, 8).await;
    sc.wait_status_report().await.unwrap();
    sc.shutdown().await.unwrap();

    // a new test SC over that dir (as the example started again with --run-spus): its SPU
    // processes resume every partition from the stored status
    let sc = TestSc::start(TestScConfig {
        metadata_dir: Some(meta.path().to_path_buf()),
        ..quick()
    })
    .await
    .unwrap();
    for id in [5001, 5002, 5003] {
        sc.set_health(id, Health::Online);
    }
    for p in DATA {
        eventually(
            &format!("{p} resumed and its leader registered"),
            || async { sc.produce(p, 1).await.is_ok() },
        )
        .await;
    }
    all_committed(&sc, 9).await;
    assert_eq!(sc.replica_state("data-0").unwrap().leader, 5001);
    sc.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataplane_elections_follow_upstream() {
    let sc = data_cluster(quick()).await;
    // replication 1: placed on the SPU with the fewest leaders, the first on a tie
    sc.create_topic("solo", 1, 1).await.unwrap();
    assert_eq!(sc.replica_state("solo-0").unwrap().leader, 5001);
    produce_all(&sc, 3).await;
    sc.produce("solo-0", 2).await.unwrap();
    all_committed(&sc, 3).await;
    assert!(committed(&sc, "solo-0", 2));
    sc.wait_status_report().await.unwrap();

    // the leader's process goes away: an in-sync follower takes over; a partition with no
    // other replica goes LeaderOffline
    sc.set_health(5001, Health::Offline);
    eventually("data-0 led by 5002", || async {
        sc.replica_state("data-0").unwrap().leader == 5002
    })
    .await;
    eventually("solo-0 leader offline", || async {
        sc.partitions()
            .await
            .iter()
            .any(|(n, _, st)| n == "solo-0" && st.resolution == PartitionResolution::LeaderOffline)
    })
    .await;
    let err = sc.produce("solo-0", 1).await.unwrap_err();
    assert!(err.to_string().contains("is down"), "{err}");
    // a follower that is down freezes the HW of every partition it is in
    produce_all(&sc, 1).await;
    sc.wait_status_report().await.unwrap();
    for p in DATA {
        let s = sc.replica_state(p).unwrap();
        assert_eq!((s.hw, s.leo[&s.leader]), (3, 4), "{p}");
    }
    // it comes back, follows, and everything commits; leadership does not move back
    sc.set_health(5001, Health::Online);
    all_committed(&sc, 4).await;
    assert_eq!(sc.replica_state("data-0").unwrap().leader, 5002);
    eventually("solo-0 online again", || async {
        sc.partitions().await.iter().any(|(n, spec, st)| {
            n == "solo-0" && spec.leader == 5001 && st.resolution == PartitionResolution::Online
        })
    })
    .await;
    sc.produce("solo-0", 1).await.unwrap();
    assert!(committed(&sc, "solo-0", 3));

    // what create_topic refuses
    for (name, p, r, msg) in [
        ("data", 1, 1, "already exists"),
        ("wide", 1, 4, "insufficient resources"),
        ("Bad_Name", 1, 1, "invalid topic name"),
        ("none", 0, 1, "at least 1"),
    ] {
        let err = sc.create_topic(name, p, r).await.unwrap_err();
        assert!(err.to_string().contains(msg), "{name}: {err}");
    }
    assert!(sc.produce("nope-0", 1).await.is_err());
    assert!(sc.replica_state("nope-0").is_none());
    sc.shutdown().await.unwrap();
}
