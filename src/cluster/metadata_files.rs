//! Every metadata file of a local SC's directory, of every kind, as the SC's store reads
//! them: a copy taken while the SC runs, and the repair of a file its stop left torn.
//!
//! A local SC rewrites a metadata file in place (`File::create`, then write; no rename, no
//! fsync) and has no graceful shutdown, and its SPUs make it write partition status every
//! 400 ms. So a stop can kill it between the truncate and the write: on a real SC the
//! SC-offline route's stop (a SIGTERM) once left `Partition/data-2.yaml` empty, and the SC
//! then loaded no partition at all ("EOF while parsing a value", retried every 10 s). The
//! route therefore copies every file that reads back whole right before the stop, and
//! after it puts back each file that no longer reads. A file the SC was writing at its
//! stop holds derived state (a status the SPUs report again) or a change made in the last
//! moment before the stop; the copy is at most that moment old.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use fluvio_controlplane_metadata::mirror::MirrorSpec;
use fluvio_controlplane_metadata::partition::PartitionSpec;
use fluvio_controlplane_metadata::smartmodule::SmartModuleSpec;
use fluvio_controlplane_metadata::spg::SpuGroupSpec;
use fluvio_controlplane_metadata::spu::SpuSpec;
use fluvio_controlplane_metadata::store::NameSpace;
use fluvio_controlplane_metadata::tableformat::TableFormatSpec;
use fluvio_controlplane_metadata::topic::TopicSpec;
use fluvio_stream_dispatcher::metadata::local::LocalMetadataStorage;
use fluvio_stream_dispatcher::metadata::MetadataClient;
use fluvio_stream_dispatcher::store::k8::K8ExtendedSpec;

/// The kind folders a local SC keeps (upstream: one per spec, named by its label).
const KINDS: [&str; 7] = [
    "SPU",
    "Topic",
    "Partition",
    "SpuGroup",
    "SmartModule",
    "TableFormat",
    "Mirror",
];

/// How often a file that does not read back is read again while the SC runs (it may be
/// in the middle of writing it), and the pause between.
const REREADS: usize = 5;
const REREAD_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// The files of one kind folder: file name -> bytes.
type Folder = BTreeMap<OsString, Vec<u8>>;

/// Loads `files` as the store loads a folder of kind `S`, from a scratch directory.
async fn loads_as<S: K8ExtendedSpec>(
    kind: &str,
    files: &[(&OsString, &Vec<u8>)],
) -> Result<(), String> {
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let folder = scratch.path().join(kind);
    std::fs::create_dir_all(&folder).map_err(|e| e.to_string())?;
    for (name, bytes) in files {
        std::fs::write(folder.join(name), bytes).map_err(|e| e.to_string())?;
    }
    LocalMetadataStorage::new(scratch.path())
        .retrieve_items::<S>(&NameSpace::All)
        .await
        .map(|_| ())
        .map_err(|e| {
            // the store's error names the scratch path; the cause is what matters
            e.root_cause().to_string()
        })
}

async fn loads(kind: &str, files: &[(&OsString, &Vec<u8>)]) -> Result<(), String> {
    match kind {
        "SPU" => loads_as::<SpuSpec>(kind, files).await,
        "Topic" => loads_as::<TopicSpec>(kind, files).await,
        "Partition" => loads_as::<PartitionSpec>(kind, files).await,
        "SpuGroup" => loads_as::<SpuGroupSpec>(kind, files).await,
        "SmartModule" => loads_as::<SmartModuleSpec>(kind, files).await,
        "TableFormat" => loads_as::<TableFormatSpec>(kind, files).await,
        "Mirror" => loads_as::<MirrorSpec>(kind, files).await,
        _ => Ok(()),
    }
}

/// The files of `files` that do not load, each with the store's reason: one load of the
/// whole folder when all is well, halves of it to find the few that are not.
async fn unloadable(kind: &str, files: &[(&OsString, &Vec<u8>)]) -> Vec<(OsString, String)> {
    match loads(kind, files).await {
        Ok(()) => Vec::new(),
        Err(why) if files.len() == 1 => vec![(files[0].0.clone(), why)],
        Err(_) => {
            let (left, right) = files.split_at(files.len() / 2);
            let mut bad = Box::pin(unloadable(kind, left)).await;
            bad.extend(Box::pin(unloadable(kind, right)).await);
            bad
        }
    }
}

/// Reads the `.yaml` files of one kind folder (none when it does not exist).
fn read_folder(folder: &Path) -> std::io::Result<Folder> {
    let mut files = Folder::new();
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yaml") && path.is_file() {
            // a file over the cap is left out: the SC's own load would refuse it too
            if let Ok(bytes) = crate::input::read(&path, &crate::input::METADATA_FILE) {
                files.insert(path.file_name().unwrap_or_default().to_owned(), bytes);
            }
        }
    }
    Ok(files)
}

/// A file of the directory that does not load, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Torn {
    pub path: PathBuf,
    pub why: String,
}

/// Every metadata file that loaded, as read while the SC ran.
#[derive(Debug, Default)]
pub struct Snapshot {
    folders: BTreeMap<&'static str, Folder>,
}

impl Snapshot {
    /// Copies every file of every kind folder of `dir` that loads; a file that does not is
    /// read again a few times (the SC may be writing it), then left out.
    pub async fn take(dir: &Path) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for kind in KINDS {
            let folder = dir.join(kind);
            let Ok(mut files) = read_folder(&folder) else {
                continue;
            };
            for _ in 0..REREADS {
                let listed: Vec<_> = files.iter().collect();
                let bad = unloadable(kind, &listed).await;
                if bad.is_empty() {
                    break;
                }
                tokio::time::sleep(REREAD_PAUSE).await;
                for (name, _) in bad {
                    match std::fs::read(folder.join(&name)) {
                        Ok(bytes) => files.insert(name, bytes),
                        Err(_) => files.remove(&name),
                    };
                }
            }
            let listed: Vec<_> = files.iter().collect();
            for (name, _) in unloadable(kind, &listed).await {
                files.remove(&name);
            }
            snapshot.folders.insert(kind, files);
        }
        snapshot
    }

    /// How many files it holds.
    pub fn len(&self) -> usize {
        self.folders.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Puts back, from this copy, each of `torn` (whole: a scratch file beside it, fsynced,
    /// renamed over it). `Err` names a torn file it has no copy of, or a write that failed;
    /// the files before it are restored.
    pub fn restore(&self, dir: &Path, torn: &[Torn]) -> Result<Vec<PathBuf>, String> {
        let mut restored = Vec::new();
        for t in torn {
            let kind = t
                .path
                .parent()
                .and_then(Path::file_name)
                .and_then(|k| k.to_str())
                .unwrap_or_default();
            let name = t.path.file_name().unwrap_or_default();
            let Some(bytes) = self.folders.get(kind).and_then(|f| f.get(name)) else {
                return Err(format!(
                    "{} does not load ({}) and no whole copy of it was read before the stop",
                    t.path.display(),
                    t.why
                ));
            };
            let scratch = t.path.with_extension("yaml.fluvio-endpoints-restore");
            let write = || -> std::io::Result<()> {
                std::fs::write(&scratch, bytes)?;
                std::fs::File::open(&scratch)?.sync_all()?;
                std::fs::rename(&scratch, &t.path)?;
                std::fs::File::open(dir.join(kind))?.sync_all()
            };
            write().map_err(|e| format!("restoring {}: {e}", t.path.display()))?;
            restored.push(t.path.clone());
        }
        Ok(restored)
    }
}

/// The files of `dir`, of every kind, that the SC's store would not load now.
pub async fn torn(dir: &Path) -> Vec<Torn> {
    let mut torn = Vec::new();
    for kind in KINDS {
        let folder = dir.join(kind);
        let files = match read_folder(&folder) {
            Ok(files) => files,
            Err(e) => {
                torn.push(Torn {
                    path: folder,
                    why: e.to_string(),
                });
                continue;
            }
        };
        let listed: Vec<_> = files.iter().collect();
        for (name, why) in unloadable(kind, &listed).await {
            torn.push(Torn {
                path: folder.join(name),
                why,
            });
        }
    }
    torn
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundled metadata directory, copied.
    fn bundled() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/local-cluster/metadata");
        for kind in std::fs::read_dir(&from).unwrap().flatten() {
            let target = dir.path().join(kind.file_name());
            std::fs::create_dir_all(&target).unwrap();
            for file in std::fs::read_dir(kind.path()).unwrap().flatten() {
                std::fs::copy(file.path(), target.join(file.file_name())).unwrap();
            }
        }
        dir
    }

    #[tokio::test]
    async fn a_torn_file_is_found_and_put_back_from_the_copy() {
        let dir = bundled();
        let snapshot = Snapshot::take(dir.path()).await;
        assert!(!snapshot.is_empty());
        assert!(torn(dir.path()).await.is_empty(), "the bundled files load");
        let spu = std::fs::read_dir(dir.path().join("SPU"))
            .unwrap()
            .flatten()
            .next()
            .unwrap()
            .path();
        let whole = std::fs::read(&spu).unwrap();
        // what a kill between the truncate and the write leaves: nothing, or a part
        for cut in [0, whole.len() / 2] {
            std::fs::write(&spu, &whole[..cut]).unwrap();
            let found = torn(dir.path()).await;
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!(found[0].path, spu);
            assert_eq!(snapshot.restore(dir.path(), &found), Ok(vec![spu.clone()]));
            assert_eq!(std::fs::read(&spu).unwrap(), whole);
            assert!(torn(dir.path()).await.is_empty());
        }
    }

    #[tokio::test]
    async fn a_file_torn_before_the_copy_cannot_be_put_back() {
        let dir = bundled();
        let spu = std::fs::read_dir(dir.path().join("SPU"))
            .unwrap()
            .flatten()
            .next()
            .unwrap()
            .path();
        std::fs::write(&spu, b"").unwrap();
        let snapshot = Snapshot::take(dir.path()).await;
        let found = torn(dir.path()).await;
        let err = snapshot.restore(dir.path(), &found).unwrap_err();
        assert!(err.contains("no whole copy"), "{err}");
    }
}
