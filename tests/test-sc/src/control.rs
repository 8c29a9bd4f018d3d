//! The control dir (`TestScConfig::control_dir`): files a shell command can drop to act on
//! the simulated cluster, polled every `dataplane::TICK` while an SC incarnation runs.
//!
//! - `restart-spu-<id>`: restarts SPU process `<id>` (`TestSc::restart_spu`); the file is
//!   removed once the SC shows the process Online again, so
//!   `touch "$D/restart-spu-$ID"; while [ -e "$D/restart-spu-$ID" ]; do sleep 0.01; done`
//!   is a synchronous restart.
//! - `produce-<partition>-<n>` (e.g. `produce-data-0-100`): appends n records at that
//!   partition's leader; removed once done.
//! - anything else, or a request that fails, is renamed to `<file>.failed` with the reason
//!   inside.
//!
//! Names starting with '.' (write a file under such a name and rename it to make it appear
//! at once), names ending in `.failed`, and anything that is not a regular file are left
//! alone. A file is taken once; the same name may be used again once it is gone.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Context, Result};
use fluvio_future::task::spawn_task;

use super::dataplane;
use super::state::Shared;

pub(crate) struct Control {
    dir: PathBuf,
    /// names being handled
    busy: Arc<Mutex<HashSet<String>>>,
    /// the handlers running (dropping them cancels them)
    tasks: Vec<async_task::Task<()>>,
}

impl Control {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            busy: Arc::default(),
            tasks: vec![],
        }
    }

    pub fn poll(&mut self, shared: &Arc<Shared>) {
        self.tasks.retain(|t| !t.is_finished());
        if shared.running().is_none() {
            // requests wait for an SC
            return;
        }
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.ends_with(".failed") {
                continue;
            }
            if !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            if !self
                .busy
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(name.clone())
            {
                continue;
            }
            self.tasks.push(spawn_task(handle(
                shared.clone(),
                entry.path(),
                name,
                self.busy.clone(),
            )));
        }
    }
}

async fn handle(
    shared: Arc<Shared>,
    path: PathBuf,
    name: String,
    busy: Arc<Mutex<HashSet<String>>>,
) {
    match request(&shared, &name).await {
        Ok(()) => {
            if let Err(err) = std::fs::remove_file(&path) {
                tracing::warn!(%err, %name, "test sc: removing a control file");
            }
        }
        Err(err) => failed(&path, &name, &err),
    }
    busy.lock().unwrap_or_else(|e| e.into_inner()).remove(&name);
}

async fn request(shared: &Arc<Shared>, name: &str) -> Result<()> {
    if let Some(id) = name.strip_prefix("restart-spu-") {
        let id: i32 = id
            .parse()
            .with_context(|| format!("restart-spu-<id>: '{id}' is not an SPU id"))?;
        return dataplane::restart_spu(shared, id).await;
    }
    if let Some(rest) = name.strip_prefix("produce-") {
        let (partition, n) = rest
            .rsplit_once('-')
            .ok_or_else(|| anyhow!("produce-<partition>-<n>: no record count"))?;
        let n: u64 = n
            .parse()
            .with_context(|| format!("produce-<partition>-<n>: '{n}' is not a record count"))?;
        return shared.dataplane().produce(partition, n);
    }
    bail!("unknown control file '{name}' (expected restart-spu-<id> or produce-<partition>-<n>)")
}

fn failed(path: &Path, name: &str, err: &anyhow::Error) {
    tracing::warn!(%name, err = %format!("{err:#}"), "test sc: control request failed");
    let _ = std::fs::write(path, format!("{err:#}\n"));
    let _ = std::fs::rename(path, path.with_file_name(format!("{name}.failed")));
}
