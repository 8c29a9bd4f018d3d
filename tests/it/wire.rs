//! The wire between the tool and the SC: no watch streams on the tool's connections; the
//! test SC's wire behaviour (a change's watch updates before its reply, Nagle kept) and the
//! SC rules around SPU health and an unreadable metadata folder.

use std::time::{Duration, Instant};

use fluvio::{FluvioAdmin, FluvioClusterConfig};
use fluvio_controlplane_metadata::spu::{
    CustomSpuKey, CustomSpuSpec, SpuSpec, SpuStatusResolution,
};
use fluvio_protocol::api::RequestMessage;
use fluvio_protocol::link::versions::ApiVersionsRequest;
use fluvio_protocol::Decoder;
use fluvio_sc_schema::objects::{
    DeleteRequest, ObjectApiDeleteRequest, ObjectApiWatchRequest, WatchRequest,
};
use fluvio_sc_schema::{ApiError, TryEncodableFrom};
use fluvio_socket::FluvioSocket;
use futures_util::StreamExt;

use crate::support::cli::Env;
use crate::support::fixtures::sc_with;
use crate::support::test_sc::{
    local_custom_spu, ApiKind, ErrorCode, Health, Point, TestSc, TestScConfig,
};

const DEADLINE: Duration = Duration::from_secs(60);

async fn admin(sc: &TestSc) -> FluvioAdmin {
    FluvioAdmin::connect_with_config(&FluvioClusterConfig::new(sc.endpoint()))
        .await
        .expect("admin connect")
}

async fn status_of(sc: &TestSc, id: i32) -> Option<SpuStatusResolution> {
    sc.spus()
        .await
        .into_iter()
        .find(|(_, spec, _)| spec.id == id)
        .map(|(_, _, status)| status.resolution)
}

/// Waits until SPU `id` has `want` (a store event, polled; fails after DEADLINE).
async fn wait_status(sc: &TestSc, id: i32, want: SpuStatusResolution) {
    let start = Instant::now();
    while status_of(sc, id).await.as_ref() != Some(&want) {
        assert!(
            start.elapsed() < DEADLINE,
            "SPU {id} never became {want:?}: {:?}",
            status_of(sc, id).await
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until the connection at `index` has sent a watch request (fails after DEADLINE).
async fn wait_watches(sc: &TestSc, index: usize) {
    let start = Instant::now();
    while sc
        .watch_requests_per_connection()
        .get(index)
        .copied()
        .unwrap_or(0)
        == 0
    {
        assert!(
            start.elapsed() < DEADLINE,
            "no watch request on connection {index}: {:?}",
            sc.watch_requests_per_connection()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ------------------------------------------------------------------- no watch streams

/// Every command that talks to an SC opens connections that carry no watch request. The
/// count is the test SC's, per connection; a `Fluvio::connect` client at the end shows that
/// the count sees watches when there are some.
#[tokio::test(flavor = "multi_thread")]
async fn the_tool_opens_no_watch_stream_on_any_command() {
    let sc = sc_with(3).await;
    let env = Env::new();
    let endpoint = sc.endpoint();
    let zone = env.write(
        "zone.toml",
        &format!(
            "[cluster]\nendpoint = \"{endpoint}\"\n\n[policy]\nunmanaged = \"ignore\"\n\n[[spu]]\nid = 5001\nlocal = \"h5001.example:9010\"\n"
        ),
    );
    let zone = zone.to_str().unwrap();
    let export = env.home().join("exported.toml");
    let export = export.to_str().unwrap();
    let commands: Vec<(&str, Vec<&str>, i32)> = vec![
        ("plan", vec!["plan", "-f", zone], 0),
        ("apply", vec!["apply", "-f", zone, "--auto-approve"], 0),
        ("drift", vec!["drift", "-f", zone], 0),
        ("list", vec!["list", "-c", &endpoint], 0),
        (
            "export",
            vec!["export", "-c", &endpoint, "--out", export],
            0,
        ),
        (
            "update-local",
            vec!["update-local", "5002", "h5002.example", "-c", &endpoint],
            0,
        ),
        ("recover", vec!["recover", "-c", &endpoint], 0),
    ];
    for (name, args, code) in commands {
        let before = sc.watch_requests_per_connection().len();
        env.run(&args).expect(code);
        let log = sc.watch_requests_per_connection();
        let opened = &log[before..];
        assert!(!opened.is_empty(), "`{name}` talked to the SC");
        assert!(
            opened.iter().all(|watches| *watches == 0),
            "`{name}` opened a watch stream: watch requests per connection {opened:?}"
        );
    }

    // the count is real: the fluvio client's own connect opens its watches
    let before = sc.watch_requests_per_connection().len();
    let client = fluvio::Fluvio::connect_with_config(&FluvioClusterConfig::new(sc.endpoint()))
        .await
        .expect("fluvio connect");
    wait_watches(&sc, before).await;
    assert_eq!(sc.watch_requests_per_connection().len(), before + 1);
    drop(client);
}

/// A client that shares watch streams with its admin requests (`Fluvio::connect` +
/// `admin()`) still gets every answer right from the Nagle-faithful test SC.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_sharing_watches_still_gets_its_answers() {
    let sc = sc_with(2).await;
    let client = fluvio::Fluvio::connect_with_config(&FluvioClusterConfig::new(sc.endpoint()))
        .await
        .expect("fluvio connect");
    let admin = client.admin().await;
    wait_watches(&sc, 0).await;

    for round in 0..3 {
        admin
            .delete::<CustomSpuSpec>(CustomSpuKey::Id(5001))
            .await
            .unwrap_or_else(|e| panic!("delete, round {round}: {e:#}"));
        let err = admin
            .delete::<CustomSpuSpec>(CustomSpuKey::Id(5001))
            .await
            .expect_err("a second delete finds nothing");
        assert!(
            matches!(
                err.downcast_ref::<ApiError>(),
                Some(ApiError::Code(ErrorCode::SpuNotFound, _))
            ),
            "{err:#}"
        );
        let mut spec = local_custom_spu(0);
        spec.rack = Some(format!("r{round}"));
        admin
            .create("custom-spu-5001".to_string(), false, spec)
            .await
            .unwrap_or_else(|e| panic!("create, round {round}: {e:#}"));
        let all = admin.all::<SpuSpec>().await.expect("list");
        let mut names: Vec<_> = all.iter().map(|m| m.name.clone()).collect();
        names.sort();
        assert_eq!(names, vec!["custom-spu-5001", "custom-spu-5002"]);
        let created = all.iter().find(|m| m.name == "custom-spu-5001").unwrap();
        assert_eq!(created.spec.rack, Some(format!("r{round}")));
    }
}

/// On the wire: the SPU watch update of a delete reaches the client before the delete's
/// reply, on the same connection (read frame by frame with a plain socket).
#[tokio::test(flavor = "multi_thread")]
async fn a_changes_watch_update_goes_out_before_its_reply() {
    let sc = sc_with(2).await;
    let mut socket = FluvioSocket::connect(&sc.endpoint())
        .await
        .expect("connect");
    let versions = RequestMessage::new_request(ApiVersionsRequest {
        client_version: "0.50.1".into(),
        ..Default::default()
    });
    socket.send(&versions).await.expect("api versions");

    let version = <ObjectApiWatchRequest as fluvio_protocol::api::Request>::MAX_API_VERSION;
    let watch = ObjectApiWatchRequest::try_encode_from(WatchRequest::<SpuSpec>::default(), version)
        .expect("watch request");
    let mut watch = RequestMessage::new_request(watch);
    watch.get_mut_header().set_api_version(version);
    watch.get_mut_header().set_correlation_id(7);
    socket.get_mut_sink().send_request(&watch).await.unwrap();

    async fn next_id(socket: &mut FluvioSocket) -> i32 {
        let frame = tokio::time::timeout(
            DEADLINE,
            socket.get_mut_stream().get_mut_tcp_stream().next(),
        )
        .await
        .expect("a frame in time")
        .expect("open")
        .expect("a frame");
        let mut id = 0i32;
        id.decode(&mut std::io::Cursor::new(&frame), 0).unwrap();
        id
    }
    assert_eq!(next_id(&mut socket).await, 7, "the watch's initial sync");
    // the watch push is held: the reply must wait for it, so once released the push
    // still comes first
    let push = sc
        .faults()
        .hold(ApiKind::Watch, Point::BeforeWatchUpdate, 1);

    let delete = ObjectApiDeleteRequest::try_encode_from(
        DeleteRequest::<CustomSpuSpec>::new(CustomSpuKey::Id(5001)),
        version,
    )
    .expect("delete request");
    let mut delete = RequestMessage::new_request(delete);
    delete.get_mut_header().set_api_version(version);
    delete.get_mut_header().set_correlation_id(8);
    socket.get_mut_sink().send_request(&delete).await.unwrap();
    push.reached().await;
    push.release();
    assert_eq!(
        next_id(&mut socket).await,
        7,
        "the watch update comes first"
    );
    assert_eq!(next_id(&mut socket).await, 8, "then the delete's reply");
    assert_eq!(status_of(&sc, 5001).await, None);
}

// ------------------------------------------------------------------- SPU health

/// SPU health lives in the SC's memory: after a restart each SPU shows the status saved on
/// disk until its SPU process registers again.
#[tokio::test(flavor = "multi_thread")]
async fn after_a_restart_spus_show_their_saved_status_until_their_process_registers() {
    let mut sc = sc_with(2).await;
    sc.restart().await.expect("restart");
    // SPU 5001's process stops while it is not registered with the new SC: nothing changes
    sc.set_health(5001, Health::Offline);
    sc.wait_status_pass().await.unwrap();
    assert_eq!(
        status_of(&sc, 5001).await,
        Some(SpuStatusResolution::Online)
    );

    // 5002's process registers again, then stops: the SC follows it
    sc.set_health(5002, Health::Online);
    sc.wait_status_pass().await.unwrap();
    sc.set_health(5002, Health::Offline);
    wait_status(&sc, 5002, SpuStatusResolution::Offline).await;

    // 5001's process starts again and registers
    sc.set_health(5001, Health::Online);
    sc.wait_status_pass().await.unwrap();
    sc.set_health(5001, Health::Offline);
    wait_status(&sc, 5001, SpuStatusResolution::Offline).await;
    assert_eq!(sc.refused_registrations(5001), 0);
}

/// An SPU process that registers before its SPU exists is refused and no health is kept
/// for it: the SPU, created afterwards, stays `Init` until the process registers again.
#[tokio::test(flavor = "multi_thread")]
async fn a_spu_process_registering_before_its_spu_exists_is_refused() {
    let sc = sc_with(1).await;
    sc.set_health(5002, Health::Online);
    sc.wait_status_pass().await.unwrap();
    assert_eq!(sc.refused_registrations(5002), 1);

    let admin = admin(&sc).await;
    admin
        .create("custom-spu-5002".to_string(), false, local_custom_spu(1))
        .await
        .expect("create");
    sc.wait_status_pass().await.unwrap();
    assert_eq!(status_of(&sc, 5002).await, Some(SpuStatusResolution::Init));

    sc.set_health(5002, Health::Online);
    wait_status(&sc, 5002, SpuStatusResolution::Online).await;
    assert_eq!(sc.refused_registrations(5002), 1);
}

// ------------------------------------------------------------------- unreadable SPU file

/// An SPU file the store cannot read does not stop the SC: it serves no SPUs, a delete
/// answers "not found", and a create waits for the store and times out (the wait is
/// shortened here; upstream's is 10 s).
#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_spu_file_leaves_an_sc_that_serves_no_spus_and_times_creates_out() {
    let dir = crate::support::fixtures::stopped_cluster_dir(2).await;
    std::fs::write(
        dir.path().join("SPU/custom-spu-5002.yaml"),
        "this: [is not an SPU\n",
    )
    .unwrap();

    let sc = TestSc::start(TestScConfig {
        metadata_dir: Some(dir.path().to_path_buf()),
        store_timeout: Duration::from_secs(1),
        ..Default::default()
    })
    .await
    .expect("the SC starts anyway");
    let admin = admin(&sc).await;
    assert!(admin.all::<SpuSpec>().await.expect("list").is_empty());
    let err = admin
        .delete::<CustomSpuSpec>(CustomSpuKey::Id(5001))
        .await
        .expect_err("nothing to delete");
    assert!(
        matches!(
            err.downcast_ref::<ApiError>(),
            Some(ApiError::Code(ErrorCode::SpuNotFound, _))
        ),
        "{err:#}"
    );
    let err = admin
        .create("custom-spu-5003".to_string(), false, local_custom_spu(2))
        .await
        .expect_err("the store takes no change");
    assert!(format!("{err:#}").contains("store timed out"), "{err:#}");

    // the tool sees an SC with no SPUs
    let env = Env::new();
    let list = env
        .run(&["list", "-c", &sc.endpoint(), "-o", "json"])
        .expect(0);
    assert!(!list.stdout.contains("custom-spu-5001"), "{}", list.stdout);
}
