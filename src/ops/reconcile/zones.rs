//! The agent's zones: each file's desired state as last loaded, its read connection, and
//! its watch; loading, reloading and watching the files on disk.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use super::tracker::Tracker;
use super::Trigger;
use crate::cluster::{AnyCluster, Cluster};
use crate::config::SourceFile;
use crate::error::{Error, Result};
use crate::escape::visible;
use crate::model::{Desired, Live, SpuId};
use crate::ops::session::{Access, Connect};

pub struct Zone {
    pub path: PathBuf,
    /// The path as logged (escaped).
    pub label: String,
    /// The path as the metrics' `zone` label (the exposition format escapes it itself, so
    /// two paths never share a series).
    pub metric: String,
    /// The desired state in force (an invalid edit does not replace it).
    pub loaded: Arc<(SourceFile, Desired)>,
    /// Hash of the bytes `loaded` was read from.
    pub hash: u64,
    /// Hash of the last bytes (or read error) refused, reported once.
    rejected: Option<u64>,
    /// The read connection, kept between rounds (dropped after a failure).
    cluster: Option<AnyCluster>,
    pub tracker: Tracker,
    /// When the next round of this zone is due.
    pub due: Option<Instant>,
    pub read_failures: u32,
    /// The time a deferred remediation was last logged as waiting for.
    pub deferred_to: Option<Instant>,
    /// Its remediation waits for another zone's to end.
    pub waiting_to_apply: bool,
    pub watch: Option<tokio::task::JoinHandle<()>>,
    pub watch_generation: u64,
    pub watch_up: bool,
    pub watch_opened_before: bool,
}

impl Drop for Zone {
    fn drop(&mut self) {
        if let Some(task) = self.watch.take() {
            task.abort();
        }
    }
}

/// What looking at a zone file found.
pub enum Reload {
    Same,
    /// The file is again what is loaded, after it was invalid.
    Restored,
    /// The problems, rendered with their places in the file.
    Invalid(String),
    Loaded {
        /// SPUs the file no longer declares.
        removed: Vec<SpuId>,
        /// The file names another cluster.
        cluster_changed: bool,
    },
}

fn hash_of(bytes: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// A zone file as the agent reads it: a regular file only (a named pipe swapped in would
/// block the agent's loop), bounded like every zone file.
const AGENT_ZONE_FILE: crate::input::Limit = crate::input::Limit {
    regular_only: true,
    ..crate::input::ZONE_FILE
};

/// Reads a zone file's text, with its hash (what tells a changed file from the same one).
fn read_text(path: &Path) -> Result<(String, u64)> {
    let text = crate::input::read_to_string(path, &AGENT_ZONE_FILE)
        .map_err(|source| super::super::read_error(path, source))?;
    let hash = hash_of(text.as_bytes());
    Ok((text, hash))
}

/// Validates a zone file's text.
fn validated(path: &Path, text: String) -> Result<(SourceFile, Desired)> {
    super::super::validated(SourceFile::new(path.display().to_string(), text))
}

/// Loads every file (a path given twice counts once), refusing the lot (as `apply` would)
/// when one is invalid or two give one SPU different endpoints on one cluster.
pub fn load_all(connect: &Connect, paths: &[PathBuf]) -> Result<Vec<Zone>> {
    let mut zones: Vec<Zone> = Vec::new();
    for path in paths {
        if zones.iter().any(|z| &z.path == path) {
            continue;
        }
        let (text, hash) = read_text(path)?;
        let (file, desired) = validated(path, text)?;
        zones.push(Zone {
            path: path.clone(),
            label: visible(&path.display().to_string()).into_owned(),
            metric: path.to_string_lossy().into_owned(),
            loaded: Arc::new((file, desired)),
            hash,
            rejected: None,
            cluster: None,
            tracker: Tracker::default(),
            due: None,
            read_failures: 0,
            deferred_to: None,
            waiting_to_apply: false,
            watch: None,
            watch_generation: 0,
            watch_up: false,
            watch_opened_before: false,
        });
    }
    let all: Vec<_> = zones.iter().map(|z| (&z.loaded.0, &z.loaded.1)).collect();
    crate::ops::ownership::check_as_written(&connect.flags, &all)?;
    Ok(zones)
}

impl Zone {
    /// SPUs the zone declares.
    pub fn size(&self) -> usize {
        self.loaded.1.spus.len()
    }

    /// A round is due at `at` (or earlier, if one already is).
    pub fn mark_due(&mut self, at: Instant) {
        self.due = Some(self.due.map_or(at, |d| d.min(at)));
    }

    /// Reads the cluster over the zone's request connection, opening it when needed. A
    /// kept connection that fails (the SC restarted since) is replaced once at once.
    pub async fn read(&mut self, connect: &Connect) -> std::result::Result<Live, String> {
        let kept = self.cluster.is_some();
        match self.read_once(connect).await {
            Err(_) if kept => self.read_once(connect).await,
            read => read,
        }
    }

    async fn read_once(&mut self, connect: &Connect) -> std::result::Result<Live, String> {
        let mut cluster = match self.cluster.take() {
            Some(cluster) => cluster,
            None => connect
                .open_once(&self.loaded.1.cluster, None, Access::Read)
                .await
                .map_err(|e| crate::causes::one_line(&e))?,
        };
        let live = cluster
            .read()
            .await
            .map_err(|e| crate::causes::one_line(&Error::from_cluster(e)))?;
        // A metadata directory is read from disk when opened: kept, it would answer the
        // same every round. An SC connection is kept.
        if matches!(cluster, AnyCluster::Sc(_)) {
            self.cluster = Some(cluster);
        }
        Ok(live)
    }

    /// Forgets the read connection (the watch on the same SC was lost).
    pub fn disconnect(&mut self) {
        self.cluster = None;
    }

    /// Loads the file again if its bytes changed; an invalid file (or one that now
    /// contradicts another zone) keeps the loaded state.
    pub fn reload(
        &mut self,
        connect: &Connect,
        others: &[Arc<(SourceFile, Desired)>],
        always: bool,
    ) -> Reload {
        // the text is validated only when it changed (every resync reads every file)
        let read = read_text(&self.path);
        let hash = match &read {
            Ok((_, hash)) => *hash,
            // the same failure is reported once
            Err(e) => hash_of(crate::causes::one_line(e).as_bytes()),
        };
        if hash == self.hash {
            // back to what is loaded, after an invalid edit: said once
            return match self.rejected.take() {
                Some(_) => Reload::Restored,
                None => Reload::Same,
            };
        }
        if !always && self.rejected == Some(hash) {
            return Reload::Same;
        }
        let loaded = read.and_then(|(text, _)| validated(&self.path, text));
        let checked = loaded.and_then(|(file, desired)| {
            let mut all: Vec<_> = others.iter().map(|o| (&o.0, &o.1)).collect();
            all.push((&file, &desired));
            crate::ops::ownership::check_as_written(&connect.flags, &all)?;
            Ok((file, desired))
        });
        match checked {
            Err(err) => {
                self.rejected = Some(hash);
                let style = crate::output::Style { color: false };
                Reload::Invalid(crate::output::rendered(&err, &style))
            }
            Ok((file, desired)) => {
                let before: BTreeSet<SpuId> = self.loaded.1.spus.keys().copied().collect();
                let removed = before
                    .into_iter()
                    .filter(|id| !desired.spus.contains_key(id))
                    .collect();
                let cluster_changed = desired.cluster != self.loaded.1.cluster;
                if cluster_changed {
                    self.cluster = None;
                }
                self.loaded = Arc::new((file, desired));
                self.hash = hash;
                self.rejected = None;
                Reload::Loaded {
                    removed,
                    cluster_changed,
                }
            }
        }
    }
}

/// Watches the directories of the zone files (not the files: editors and Kubernetes
/// ConfigMaps replace a file by renaming another over it). An event about a zone file's
/// name (or a ConfigMap's `..` entries) wakes the loop, which compares the files' bytes. Without a watcher (inotify limits) the files are still
/// read every `--resync` and on SIGHUP.
pub fn watch_files(
    paths: &[PathBuf],
    triggers: mpsc::UnboundedSender<Trigger>,
) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    // only events about a zone file's name, or about a Kubernetes ConfigMap volume's
    // `..data` link and `..<timestamp>` directories (a directory such as /tmp sees many
    // other files come and go)
    let names: BTreeSet<std::ffi::OsString> = paths
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_os_string()))
        .collect();
    let handler = move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        let ours = event.paths.iter().any(|p| {
            p.file_name()
                .is_some_and(|n| names.contains(n) || n.to_string_lossy().starts_with(".."))
        });
        if ours {
            let _ = triggers.send(Trigger::FileEvent);
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(event = "files_unwatched", cause = %visible(&e.to_string()), "cannot watch the zone files for changes ({}); they are read again every --resync and on SIGHUP", visible(&e.to_string()));
            return None;
        }
    };
    let dirs: BTreeSet<PathBuf> = paths
        .iter()
        .map(|p| {
            let parent = p.parent().unwrap_or(Path::new("."));
            if parent.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                parent.to_path_buf()
            }
        })
        .collect();
    for dir in dirs {
        if let Err(e) = watcher.watch(&dir, notify::RecursiveMode::NonRecursive) {
            tracing::warn!(event = "files_unwatched", dir = %visible(&dir.display().to_string()), "cannot watch {} for changes ({}); read again every --resync and on SIGHUP", visible(&dir.display().to_string()), visible(&e.to_string()));
        }
    }
    Some(watcher)
}
