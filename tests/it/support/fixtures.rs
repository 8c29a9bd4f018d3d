//! Set-up shared by the end-to-end tests: a test SC seeded like a local cluster, and views
//! of its SPU store.

use crate::support::test_sc::{EncryptionEnum, Endpoint, SpuSpec, TestSc, TestScConfig};

/// A test SC on 127.0.0.1:0 with `custom` local-cluster SPUs (custom-spu-5001.., Online).
pub async fn sc_with(custom: usize) -> TestSc {
    let sc = TestSc::start(TestScConfig::default())
        .await
        .expect("test SC starts");
    sc.seed_local_cluster(custom, 0).await.expect("seeded");
    sc
}

/// A stopped local cluster's metadata dir with `custom` SPUs (custom-spu-5001..), written
/// by a test SC that then shut down.
pub async fn stopped_cluster_dir(custom: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let sc = TestSc::start(TestScConfig {
        metadata_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    })
    .await
    .expect("test SC starts");
    sc.seed_local_cluster(custom, 0).await.expect("seeded");
    sc.shutdown().await.expect("test SC stops");
    dir
}

/// Every SPU in the SC, by id.
pub async fn snapshot(sc: &TestSc) -> Vec<SpuSpec> {
    sc.spus()
        .await
        .into_iter()
        .map(|(_, spec, _)| spec)
        .collect()
}

/// SPU `id`'s spec, if the SC has it.
pub async fn spec_of(sc: &TestSc, id: i32) -> Option<SpuSpec> {
    snapshot(sc).await.into_iter().find(|s| s.id == id)
}

/// A plaintext local endpoint `host:port`, as the SC stores it.
pub fn local(host: &str, port: u16) -> Option<Endpoint> {
    Some(Endpoint {
        host: host.into(),
        port,
        encryption: EncryptionEnum::PLAINTEXT,
    })
}
