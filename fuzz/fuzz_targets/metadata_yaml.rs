//! An SPU file of a metadata directory (`SPU/<name>.yaml`), read through the same path as
//! `--metadata-dir`: `MetadataDir::open` (Fluvio's `LocalMetadataStorage`) and `read`.
//! The file is written into one temporary directory per process, replaced each run.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use fluvio_endpoints::cluster::metadata_dir::MetadataDir;
use fluvio_endpoints::cluster::Cluster;
use libfuzzer_sys::fuzz_target;

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    runtime: tokio::runtime::Runtime,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // In memory where the machine has it: the file is rewritten every run.
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .expect("a temporary directory");
        let root = dir.path().to_path_buf();
        std::fs::create_dir_all(root.join("SPU")).expect("the SPU folder");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        Fixture {
            _dir: dir,
            root,
            runtime,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let fx = fixture();
    std::fs::write(fx.root.join("SPU").join("spu.yaml"), data).expect("write the SPU file");
    fx.runtime.block_on(async {
        if let Ok(mut target) = MetadataDir::open(&fx.root).await {
            let live = target.read().await.expect("reading what was opened");
            assert!(live.spus.len() <= 1);
        }
    });
});
