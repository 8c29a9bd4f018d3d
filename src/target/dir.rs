//! A stopped local cluster's metadata directory (`DIR/SPU/*.yaml`), read and written only
//! through Fluvio's `LocalMetadataStorage`, so the files stay exactly what the SC loads.
//!
//! A change here rewrites one file in place: no delete, no unavailability. The store
//! writes without fsync, so each write is followed by an fsync of the file and the folder;
//! the journal (written first) is what makes a torn write recoverable.

use std::path::{Path, PathBuf};

use fluvio_controlplane_metadata::spu::SpuSpec as FlvSpuSpec;
use fluvio_controlplane_metadata::store::NameSpace;
use fluvio_stream_dispatcher::metadata::local::{LocalMetadataItem, LocalMetadataStorage};
use fluvio_stream_dispatcher::metadata::MetadataClient;
use fluvio_stream_model::store::MetadataStoreObject;
use futures_util::{FutureExt, StreamExt};

use super::convert::{live_from_fluvio, spec_to_fluvio};
use super::{Target, TargetError};
use crate::model::{Live, LiveSpu, SpuSpec};

/// The metadata directory of a local-mode SC.
pub struct DirTarget {
    dir: PathBuf,
    /// Leaked once per process: the watch stream below borrows it for as long as we live.
    store: &'static LocalMetadataStorage,
    /// The store queues one update per write on a bounded channel that only a watcher
    /// drains; this stream is that watcher, drained after each write.
    updates: futures_util::stream::BoxStream<'static, ()>,
}

fn store_err(what: &str, err: anyhow::Error) -> TargetError {
    TargetError::Store(format!("{what}: {err:#}"))
}

impl DirTarget {
    /// Opens `dir`; it must exist and hold an `SPU` folder.
    pub fn open(dir: &Path) -> Result<Self, TargetError> {
        let dir = dir.canonicalize().map_err(|e| {
            TargetError::Store(format!(
                "cannot open metadata directory {}: {e}",
                dir.display()
            ))
        })?;
        if !dir.join("SPU").is_dir() {
            return Err(TargetError::Store(format!(
                "{} is not a Fluvio metadata directory: it has no SPU folder",
                dir.display()
            )));
        }
        let store: &'static LocalMetadataStorage =
            Box::leak(Box::new(LocalMetadataStorage::new(&dir)));
        let updates = store
            .watch_stream_since::<FlvSpuSpec>(&NameSpace::All, None)
            .map(|_| ())
            .boxed();
        Ok(DirTarget {
            store,
            dir,
            updates,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Refuses when a running process serves this directory: an SC keeps its own copy in
    /// memory and would overwrite or ignore the change.
    pub fn ensure_not_served(&self) -> Result<(), TargetError> {
        match serving_process(&self.dir) {
            Some((pid, cmd)) => Err(TargetError::Store(format!(
                "process {pid} ({cmd}) is serving {}; stop the cluster first (`fluvio cluster shutdown --local`), or change the running SC instead with --cluster/--profile",
                self.dir.display()
            ))),
            None => Ok(()),
        }
    }

    async fn items(
        &self,
    ) -> Result<Vec<MetadataStoreObject<FlvSpuSpec, LocalMetadataItem>>, TargetError> {
        let list = self
            .store
            .retrieve_items::<FlvSpuSpec>(&NameSpace::All)
            .await
            .map_err(|e| store_err(&format!("reading {}", self.dir.join("SPU").display()), e))?;
        Ok(list.items)
    }

    fn drain(&mut self) {
        while let Some(Some(())) = self.updates.next().now_or_never() {}
    }

    fn sync(&self, name: &str) -> Result<(), TargetError> {
        let folder = self.dir.join("SPU");
        let sync = |path: &Path| std::fs::File::open(path).and_then(|f| f.sync_all());
        sync(&folder.join(format!("{name}.yaml")))
            .and_then(|()| sync(&folder))
            .map_err(|e| TargetError::Store(format!("syncing {}: {e}", folder.display())))
    }
}

/// The first process (other than this one) with `dir` among its arguments, as in
/// `fluvio-run sc --local DIR` or `--read-only DIR`.
pub fn serving_process(dir: &Path) -> Option<(u32, String)> {
    let me = std::process::id();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
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

impl Target for DirTarget {
    fn identity(&self) -> String {
        format!("dir:{}", self.dir.display())
    }

    async fn read(&mut self) -> Result<Live, TargetError> {
        let items = self.items().await?;
        Ok(Live::from_specs(
            items
                .iter()
                .map(|i| live_from_fluvio(i.key(), i.spec(), i.status())),
        ))
    }

    async fn fetch(&mut self, name: &str) -> Result<Option<LiveSpu>, TargetError> {
        // The store loaded the folder when opened and sees every write since; no one else
        // writes a stopped cluster's directory while we hold its lock and no SC serves it.
        Ok(self
            .items()
            .await?
            .iter()
            .find(|i| i.key() == name)
            .map(|i| live_from_fluvio(i.key(), i.spec(), i.status())))
    }

    fn updates_in_place(&self) -> bool {
        true
    }

    async fn update(&mut self, spec: &SpuSpec) -> Result<(), TargetError> {
        self.ensure_not_served()?;
        let mut item = self
            .items()
            .await?
            .into_iter()
            .find(|i| *i.key() == spec.name)
            .ok_or_else(|| TargetError::NotFound {
                op: format!("updating SPU {}", spec.name),
                message: "not found".to_string(),
            })?;
        item.set_spec(spec_to_fluvio(spec));
        self.store
            .apply(item)
            .await
            .map_err(|e| store_err(&format!("writing SPU {}", spec.name), e))?;
        self.drain();
        self.sync(&spec.name)
    }

    async fn delete(&mut self, spec: &SpuSpec) -> Result<(), TargetError> {
        Err(TargetError::Refused {
            op: format!("deleting SPU {}", spec.name),
            message: "a metadata directory is changed in place".to_string(),
        })
    }

    async fn create(&mut self, spec: &SpuSpec) -> Result<(), TargetError> {
        self.ensure_not_served()?;
        let item = MetadataStoreObject::new_with_context(
            spec.name.clone(),
            spec_to_fluvio(spec),
            fluvio_stream_model::core::MetadataContext::new(LocalMetadataItem::new(
                spec.name.clone(),
            )),
        );
        self.store
            .apply(item)
            .await
            .map_err(|e| store_err(&format!("writing SPU {}", spec.name), e))?;
        self.drain();
        self.sync(&spec.name)
    }

    async fn reconnect(&mut self) -> Result<(), TargetError> {
        Ok(())
    }
}
