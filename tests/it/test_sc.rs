//! Tests of the test SC, driven only by the unmodified fluvio 0.50.1 client.

use crate::support::test_sc::{Health, TestSc, TestScConfig};
use fluvio::metadata::spu::SpuSpec;
use fluvio::{FluvioAdmin, FluvioClusterConfig};

async fn admin(sc: &TestSc) -> FluvioAdmin {
    FluvioAdmin::connect_with_config(&FluvioClusterConfig::new(sc.endpoint()))
        .await
        .expect("admin connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_and_list() {
    let sc = TestSc::start(TestScConfig::default()).await.unwrap();
    sc.seed_local_cluster(3, 1).await.unwrap();
    let admin = admin(&sc).await;
    let all = admin.all::<SpuSpec>().await.unwrap();
    assert_eq!(all.len(), 4);
    let _ = Health::Online;
    sc.shutdown().await.unwrap();
}
