//! A stopped local cluster's metadata directory (`DIR/SPU/*.yaml`), read and written only
//! through Fluvio's `LocalMetadataStorage`, so the files stay exactly what the SC loads.
//!
//! A change here rewrites one file: no delete, no unavailability. The store itself rewrites
//! a file in place (truncate + write, no fsync), which a crash could leave torn, and a torn
//! file stops the SC from loading the whole folder. So each write goes through the store
//! into a staging copy of that one file, is fsynced, and is renamed over the original: the
//! file is always either the old spec or the new one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fluvio_controlplane_metadata::spu::SpuSpec as FlvSpuSpec;
use fluvio_controlplane_metadata::store::NameSpace;
use fluvio_stream_dispatcher::metadata::local::{LocalMetadataItem, LocalMetadataStorage};
use fluvio_stream_dispatcher::metadata::MetadataClient;
use fluvio_stream_model::core::MetadataContext;
use fluvio_stream_model::store::MetadataStoreObject;

use super::convert::{live_from_fluvio, partition_into_model, spec_to_fluvio};
use super::{Cluster, ClusterError};
use crate::model::{ClusterId, Live, LivePartition, LiveSpu, SpuSpec};

type Item = MetadataStoreObject<FlvSpuSpec, LocalMetadataItem>;

/// Where a write is staged, inside the metadata directory so the rename stays on one
/// filesystem; the SC loads only its kind folders and never looks here.
const STAGING: &str = ".fluvio-endpoints-staging";

/// The metadata directory of a local-mode SC.
pub struct MetadataDir {
    dir: PathBuf,
    /// Every SPU as loaded at open, kept current with our own writes. No one else writes a
    /// stopped cluster's directory while we hold its lock and no SC serves it.
    items: BTreeMap<String, Item>,
}

fn store_err(what: &str, err: impl std::fmt::Display) -> ClusterError {
    ClusterError::Store(format!("{what}: {err:#}"))
}

async fn load(dir: &Path) -> Result<Vec<Item>, ClusterError> {
    crate::input::check_dir(&dir.join("SPU"), "yaml", &crate::input::METADATA_FILE)
        .map_err(|e| store_err(&format!("reading {}", dir.join("SPU").display()), e))?;
    LocalMetadataStorage::new(dir)
        .retrieve_items::<FlvSpuSpec>(&NameSpace::All)
        .await
        .map(|list| list.items)
        .map_err(|e| store_err(&format!("reading {}", dir.join("SPU").display()), e))
}

fn sync(path: &Path) -> Result<(), ClusterError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| store_err(&format!("syncing {}", path.display()), e))
}

impl MetadataDir {
    /// Opens `dir`; it must exist and hold an `SPU` folder.
    pub async fn open(dir: &Path) -> Result<Self, ClusterError> {
        let dir = dir.canonicalize().map_err(|e| {
            ClusterError::Store(format!(
                "cannot open metadata directory {}: {e}",
                dir.display()
            ))
        })?;
        if !dir.join("SPU").is_dir() {
            return Err(ClusterError::Store(format!(
                "{} is not a Fluvio metadata directory: it has no SPU folder",
                dir.display()
            )));
        }
        let loaded = load(&dir).await?;
        refuse_duplicate_ids(&dir.join("SPU"))?;
        let items = loaded.into_iter().map(|i| (i.key().clone(), i)).collect();
        Ok(MetadataDir { dir, items })
    }

    /// Refuses when a running process serves this directory: an SC keeps its own copy in
    /// memory and would overwrite or ignore the change.
    pub fn ensure_not_served(&self) -> Result<(), ClusterError> {
        match serving_process(&self.dir) {
            Some((pid, cmd)) => Err(ClusterError::Store(format!(
                "process {pid} ({cmd}) is serving {}; stop the cluster first (`fluvio cluster shutdown --local`), or change the running SC instead with --cluster/--profile",
                self.dir.display()
            ))),
            None => Ok(()),
        }
    }

    /// Writes `spec` as `SPU/<name>.yaml`: through the store into a staging copy of the
    /// file (so the revision advances as the SC's own writes do), fsync, rename, fsync.
    async fn write(&mut self, spec: &SpuSpec) -> Result<(), ClusterError> {
        self.ensure_not_served()?;
        let file = format!("{}.yaml", spec.name);
        let live = self.dir.join("SPU").join(&file);
        let staging = self.dir.join(STAGING);
        let staged = staging.join("SPU").join(&file);
        // Each failure names its path: a read-only directory is the usual cause.
        let io = |what: &str, path: &Path, e: std::io::Error| {
            store_err(&format!("{what} {}", path.display()), e)
        };
        if staging.exists() {
            std::fs::remove_dir_all(&staging)
                .map_err(|e| io("clearing the staging folder", &staging, e))?;
        }
        std::fs::create_dir_all(staging.join("SPU"))
            .map_err(|e| io("creating the staging folder", &staging, e))?;
        if live.exists() {
            std::fs::copy(&live, &staged).map_err(|e| io("staging the SPU file", &live, e))?;
        }
        let store = LocalMetadataStorage::new(&staging);
        let current = load(&staging)
            .await?
            .into_iter()
            .find(|i| *i.key() == spec.name);
        let item = match current {
            Some(mut item) => {
                item.set_spec(spec_to_fluvio(spec));
                item
            }
            None => MetadataStoreObject::new_with_context(
                spec.name.clone(),
                spec_to_fluvio(spec),
                MetadataContext::new(LocalMetadataItem::new(spec.name.clone())),
            ),
        };
        store
            .apply(item)
            .await
            .map_err(|e| store_err(&format!("writing SPU {}", spec.name), e))?;
        let written = load(&staging)
            .await?
            .into_iter()
            .find(|i| *i.key() == spec.name)
            .ok_or_else(|| {
                ClusterError::Store(format!("staged SPU {} did not read back", spec.name))
            })?;
        sync(&staged)?;
        std::fs::rename(&staged, &live).map_err(|e| io("replacing the SPU file", &live, e))?;
        // From here the file holds the new spec: the view must say so whatever follows.
        self.items.insert(spec.name.clone(), written);
        sync(&self.dir.join("SPU"))?;
        // Left over, it is cleared by the next write and never loaded by the SC.
        let _ = std::fs::remove_dir_all(&staging);
        Ok(())
    }
}

/// Refuses a directory in which two files define the same SPU id (or the same SPU): the
/// store keeps one per name and this tool one per id, so one of them would be hidden from
/// `list` and `plan`, and a change could go to the wrong file. The error names both files.
fn refuse_duplicate_ids(spu_dir: &Path) -> Result<(), ClusterError> {
    let mut by_id: BTreeMap<i64, Vec<PathBuf>> = BTreeMap::new();
    let entries = std::fs::read_dir(spu_dir)
        .map_err(|e| store_err(&format!("reading {}", spu_dir.display()), e))?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(doc) = serde_yaml::from_str::<serde_yaml::Value>(&text) else {
            continue;
        };
        let doc = match doc {
            serde_yaml::Value::Tagged(tagged) => tagged.value,
            doc => doc,
        };
        if let Some(id) = doc["spec"]["spuId"].as_i64() {
            by_id.entry(id).or_default().push(path);
        }
    }
    match by_id.into_iter().find(|(_, files)| files.len() > 1) {
        Some((id, files)) => Err(ClusterError::Store(format!(
            "SPU id {id} is defined by more than one file: {}; two SPUs cannot share an id, so remove or renumber all but one",
            files
                .iter()
                .map(|f| crate::escape::visible(&f.display().to_string()).into_owned())
                .collect::<Vec<_>>()
                .join(" and ")
        ))),
        None => Ok(()),
    }
}

/// The first process with `dir` among its arguments, as in `fluvio-run sc --local DIR` or
/// `--read-only DIR`; not this one, nor the ones that started it (a `timeout`, `time` or
/// script wrapped around this tool names the directory too).
pub fn serving_process(dir: &Path) -> Option<(u32, String)> {
    let mine = lineage();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if mine.contains(&pid) || is_this_tool(&entry.path()) {
            continue;
        }
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let cwd = std::fs::read_link(entry.path().join("cwd")).ok();
        let names_dir = args.iter().skip(1).any(|arg| {
            let value = arg.split_once('=').map_or(arg.as_str(), |(_, v)| v);
            let path = Path::new(value);
            let path = match (&cwd, path.is_relative()) {
                (Some(cwd), true) => cwd.join(path),
                _ => path.to_path_buf(),
            };
            path.canonicalize().is_ok_and(|p| p == dir)
        });
        if names_dir {
            return Some((pid, args.join(" ")));
        }
    }
    None
}

/// Another run of this tool (a reconcile agent reading the directory, a `plan`) names the
/// directory on its command line without serving it: its own runs are kept apart by the
/// journal's lock. Known by its executable, or by its name (`comm`, cut to 15 bytes).
fn is_this_tool(proc_dir: &Path) -> bool {
    let same_binary = match (
        std::fs::read_link(proc_dir.join("exe")),
        std::env::current_exe(),
    ) {
        (Ok(theirs), Ok(ours)) => theirs == ours,
        _ => false,
    };
    same_binary
        || std::fs::read_to_string(proc_dir.join("comm"))
            .is_ok_and(|comm| comm.trim_end() == "fluvio-endpoint")
}

/// This process and its ancestors, from `/proc/PID/stat` (the parent's pid follows the
/// command name, which is in parentheses and may itself hold spaces or parentheses).
fn lineage() -> Vec<u32> {
    let mut pids = vec![std::process::id()];
    while let Some(&pid) = pids.last() {
        let parent = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                let after_name = &stat[stat.rfind(')')? + 1..];
                after_name.split_whitespace().nth(1)?.parse::<u32>().ok()
            });
        match parent {
            Some(parent) if parent > 1 && !pids.contains(&parent) => pids.push(parent),
            _ => break,
        }
    }
    pids
}

impl Cluster for MetadataDir {
    fn identity(&self) -> ClusterId {
        ClusterId::MetadataDir(self.dir.clone())
    }

    async fn read(&mut self) -> Result<Live, ClusterError> {
        Ok(Live::from_specs(
            self.items
                .values()
                .map(|i| live_from_fluvio(i.key(), i.spec(), i.status())),
        ))
    }

    async fn fetch(&mut self, name: &str) -> Result<Option<LiveSpu>, ClusterError> {
        Ok(self
            .items
            .get(name)
            .map(|i| live_from_fluvio(i.key(), i.spec(), i.status())))
    }

    /// The partitions as the SC saved them (`DIR/Partition/*.yaml`; none without that
    /// folder): their status is as of the SC's last write.
    async fn partitions(&mut self) -> Result<Vec<LivePartition>, ClusterError> {
        use fluvio_controlplane_metadata::partition::PartitionSpec;
        let folder = self.dir.join("Partition");
        if !folder.is_dir() {
            return Ok(Vec::new());
        }
        let reading = || format!("reading {}", folder.display());
        crate::input::check_dir(&folder, "yaml", &crate::input::METADATA_FILE)
            .map_err(|e| store_err(&reading(), e))?;
        let items = LocalMetadataStorage::new(&self.dir)
            .retrieve_items::<PartitionSpec>(&NameSpace::All)
            .await
            .map_err(|e| store_err(&reading(), e))?
            .items;
        Ok(items
            .into_iter()
            .filter(|i| !i.spec().system)
            .map(|i| partition_into_model(i.key().to_string(), i.spec(), i.status()))
            .collect())
    }

    fn updates_in_place(&self) -> bool {
        true
    }

    async fn update(&mut self, spec: &SpuSpec) -> Result<(), ClusterError> {
        if !self.items.contains_key(&spec.name) {
            return Err(ClusterError::NotFound {
                op: format!("updating SPU {}", spec.name),
                message: "not found".to_string(),
            });
        }
        self.write(spec).await
    }

    async fn delete(&mut self, spec: &SpuSpec) -> Result<(), ClusterError> {
        Err(ClusterError::Refused {
            op: format!("deleting SPU {}", spec.name),
            message: "a metadata directory is changed in place".to_string(),
        })
    }

    async fn create(&mut self, spec: &SpuSpec) -> Result<(), ClusterError> {
        let taken = self.items.contains_key(&spec.name)
            || self.items.values().any(|i| i.spec().id == spec.id);
        if taken {
            return Err(ClusterError::AlreadyExists {
                op: format!("creating SPU {}", spec.name),
                message: format!("spu '{}({})' already defined", spec.name, spec.id),
            });
        }
        self.write(spec).await
    }

    /// A metadata directory has no permissions to check: writing it is up to the file
    /// system, which `write` reports.
    async fn may_create(&mut self, _spec: &SpuSpec) -> Result<(), ClusterError> {
        Ok(())
    }

    async fn reconnect(&mut self) -> Result<(), ClusterError> {
        Ok(())
    }
}
