//! The SC's metadata: one `StoreContext` per object kind, each fed by Fluvio's own
//! `MetadataDispatcher` over a `LocalMetadataStorage` (exactly what `fluvio-run sc --local`
//! uses), plus the SPU status controller.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use fluvio_controlplane_metadata::mirror::MirrorSpec;
use fluvio_controlplane_metadata::partition::PartitionSpec;
use fluvio_controlplane_metadata::smartmodule::SmartModuleSpec;
use fluvio_controlplane_metadata::spg::SpuGroupSpec;
use fluvio_controlplane_metadata::spu::{SpuSpec, SpuStatus, SpuStatusResolution};
use fluvio_controlplane_metadata::tableformat::TableFormatSpec;
use fluvio_controlplane_metadata::topic::TopicSpec;
use fluvio_future::net::TcpStream;
use fluvio_future::rust_tls::TlsAcceptor;
use fluvio_future::timer::sleep;
use fluvio_stream_dispatcher::dispatcher::MetadataDispatcher;
use fluvio_stream_dispatcher::metadata::local::{LocalMetadataItem, LocalMetadataStorage};
use fluvio_stream_dispatcher::metadata::MetadataClient;
use fluvio_stream_dispatcher::store::k8::K8ExtendedSpec;
use fluvio_stream_dispatcher::store::{MetadataStoreObject, NameSpace, StoreContext};
use fluvio_stream_model::core::{MetadataContext, Spec};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::auth::Authorization;
use super::dataplane::DataPlane;
use super::faults::Faults;
use super::Health;

pub(crate) type Ctx<S> = StoreContext<S, LocalMetadataItem>;
pub(crate) type SpuObj = MetadataStoreObject<SpuSpec, LocalMetadataItem>;

/// A simulated SPU process. It lives outside the SC, so it outlives the SC's restarts; it
/// registers with an SC incarnation (upstream: the private API's `RegisterSpuRequest`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Process {
    pub health: Health,
    /// it has (re)connected and not yet registered with the running incarnation
    pub registering: bool,
}

/// State shared by every incarnation of one `TestSc` (survives restarts).
#[derive(Default)]
pub(crate) struct Shared {
    pub faults: Faults,
    /// simulated SPU processes by SPU id
    pub processes: Mutex<HashMap<i32, Process>>,
    pub health_version: AtomicU64,
    /// number of completed status passes
    pub status_passes: AtomicU64,
    /// TLS acceptor when the SC serves TLS
    pub tls: Option<TlsAcceptor>,
    /// the authorization every new connection gets its context from
    pub authorization: Arc<Authorization>,
    /// registrations refused because no SPU had the process's id: id -> count
    pub refused: Mutex<HashMap<i32, usize>>,
    /// client connections in accept order (over restarts): watch requests received on each
    pub watch_requests: Mutex<Vec<usize>>,
    /// the simulated SPU processes' data plane (logs, connections, entries)
    pub dataplane: Mutex<DataPlane>,
    /// the running incarnation, if any
    pub current: Mutex<Weak<ScState>>,
    /// number of completed partition status report passes (over restarts)
    pub status_reports: AtomicU64,
    /// leaders that could not report in the last pass (up, not registered with the SC)
    pub silent_leaders: Mutex<std::collections::BTreeSet<i32>>,
}

impl Shared {
    fn processes(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Process>> {
        self.processes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The SPU process `id` is up (`Online`) or gone (`Offline`). One that is up and not
    /// registered with the running SC connects and registers on the next status pass; one
    /// that is gone only matters to an SC it was registered with.
    pub fn set_health(&self, id: i32, health: Health) {
        let mut processes = self.processes();
        // a process that was down (or unknown) and is up has started: fresh connections
        self.dataplane().health_changed(id, health);
        processes.insert(
            id,
            Process {
                health,
                registering: health == Health::Online,
            },
        );
        drop(processes);
        self.health_version.fetch_add(1, Ordering::SeqCst);
    }

    /// SPU processes that are up and waiting to register with the running SC.
    pub fn registering(&self) -> std::collections::BTreeSet<i32> {
        self.processes()
            .iter()
            .filter(|(_, p)| p.registering)
            .map(|(id, _)| *id)
            .collect()
    }

    pub fn dataplane(&self) -> MutexGuard<'_, DataPlane> {
        self.dataplane.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The running SC incarnation (not stopped), if any.
    pub fn running(&self) -> Option<Arc<ScState>> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .upgrade()
            .filter(|s| !s.is_stopped())
    }

    /// Every SPU process that is up connects again (after an SC restart) and registers.
    pub fn reconnect_processes(&self) {
        for process in self.processes().values_mut() {
            process.registering = process.health == Health::Online;
        }
        self.health_version.fetch_add(1, Ordering::SeqCst);
    }

    pub fn refused_registrations(&self, id: i32) -> usize {
        self.refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .copied()
            .unwrap_or(0)
    }

    /// A new client connection; returns its index in `watch_requests`.
    pub fn new_connection(&self) -> usize {
        let mut log = self
            .watch_requests
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        log.push(0);
        log.len() - 1
    }

    pub fn count_watch_request(&self, connection: usize) {
        let mut log = self
            .watch_requests
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(count) = log.get_mut(connection) {
            *count += 1;
        }
    }
}

/// One running SC's metadata.
pub(crate) struct ScState {
    pub storage: Arc<LocalMetadataStorage>,
    pub spus: Ctx<SpuSpec>,
    pub topics: Ctx<TopicSpec>,
    pub partitions: Ctx<PartitionSpec>,
    pub spgs: Ctx<SpuGroupSpec>,
    pub smartmodules: Ctx<SmartModuleSpec>,
    pub tableformats: Ctx<TableFormatSpec>,
    pub mirrors: Ctx<MirrorSpec>,
    pub platform_version: semver::Version,
    pub shared: Arc<Shared>,
    /// open client connections (a clone of each TCP stream, to close them on demand)
    pub connections: Mutex<HashMap<u64, TcpStream>>,
    pub next_conn: AtomicU64,
    /// SPU processes registered with this incarnation (upstream keeps SPU health only in
    /// memory: after a restart every SPU shows its saved status until its process registers)
    pub registered: Mutex<HashMap<i32, Health>>,
    /// set when this incarnation stops: requests still in its hands apply nothing
    pub stopped: std::sync::atomic::AtomicBool,
    /// SPU store epoch up to which the partition controller (elections) has acted
    pub election_epoch: AtomicI64,
    /// bumped whenever `registered` changes
    pub registrations: AtomicU64,
    /// partition writes of the SC's controllers go one at a time (a status update behind a
    /// spec update would carry a stale revision)
    pub partition_writes: tokio::sync::Mutex<()>,
}

async fn start_kind<S>(
    storage: &Arc<LocalMetadataStorage>,
    store_timeout: Duration,
) -> Result<Ctx<S>>
where
    S: K8ExtendedSpec + DeserializeOwned + Serialize,
    <S as Spec>::Owner: K8ExtendedSpec,
    <S as K8ExtendedSpec>::K8Spec: DeserializeOwned + Serialize,
{
    let mut ctx: Ctx<S> = StoreContext::new();
    ctx.set_wait_time(store_timeout.as_secs().max(1));
    // As upstream, a folder the storage cannot read does not stop the SC: the dispatcher's
    // loader fails and retries every 10 s, and until then the store stays empty (lists
    // answer nothing, deletes "not found", creates wait for the store and time out).
    let readable = match storage.retrieve_items::<S>(&NameSpace::All).await {
        Ok(_) => true,
        Err(err) => {
            tracing::warn!(%err, kind = S::LABEL, "test sc: metadata folder unreadable, serving an empty store");
            false
        }
    };
    MetadataDispatcher::<S, LocalMetadataStorage, LocalMetadataItem>::start(
        NameSpace::All,
        storage.clone(),
        ctx.clone(),
    );
    if readable {
        // wait for the dispatcher's initial sync_all (epoch > 0)
        let deadline = Instant::now() + Duration::from_secs(60);
        while ctx.store().epoch().await <= 0 {
            if Instant::now() > deadline {
                return Err(anyhow!("{} store did not sync", S::LABEL));
            }
            sleep(Duration::from_millis(2)).await;
        }
    }
    Ok(ctx)
}

impl ScState {
    pub async fn start(
        dir: &Path,
        platform_version: semver::Version,
        shared: Arc<Shared>,
        store_timeout: Duration,
    ) -> Result<Arc<Self>> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating metadata dir {}", dir.display()))?;
        let storage = Arc::new(LocalMetadataStorage::new(dir));
        Ok(Arc::new(Self {
            spus: start_kind::<SpuSpec>(&storage, store_timeout).await?,
            topics: start_kind::<TopicSpec>(&storage, store_timeout).await?,
            partitions: start_kind::<PartitionSpec>(&storage, store_timeout).await?,
            spgs: start_kind::<SpuGroupSpec>(&storage, store_timeout).await?,
            smartmodules: start_kind::<SmartModuleSpec>(&storage, store_timeout).await?,
            tableformats: start_kind::<TableFormatSpec>(&storage, store_timeout).await?,
            mirrors: start_kind::<MirrorSpec>(&storage, store_timeout).await?,
            storage,
            platform_version,
            shared,
            connections: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            registered: Mutex::new(HashMap::new()),
            stopped: std::sync::atomic::AtomicBool::new(false),
            election_epoch: AtomicI64::new(0),
            registrations: AtomicU64::new(0),
            partition_writes: tokio::sync::Mutex::new(()),
        }))
    }

    /// Look an SPU up by id (what upstream's `SpuLocalStorePolicy::get_by_id` does).
    pub async fn spu_by_id(&self, id: i32) -> Option<SpuObj> {
        let read = self.spus.store().read().await;
        read.values()
            .find(|spu| spu.spec.id == id)
            .map(|spu| spu.inner().clone())
    }

    /// Write SPUs straight through the local storage (like files left by an earlier SC run),
    /// then wait until the dispatcher has loaded them all into the store.
    pub async fn seed(&self, spus: Vec<(String, SpuSpec, Health)>) -> Result<()> {
        {
            let read = self.spus.store().read().await;
            let mut names = std::collections::HashSet::new();
            let mut ids = std::collections::HashSet::new();
            for spu in read.values() {
                names.insert(spu.key().clone());
                ids.insert(spu.spec.id);
            }
            for (name, spec, _) in &spus {
                if !names.insert(name.clone()) || !ids.insert(spec.id) {
                    return Err(anyhow!("seed: spu '{name}({})' already defined", spec.id));
                }
            }
        }
        let names: Vec<String> = spus.iter().map(|(n, _, _)| n.clone()).collect();
        let mut processes = Vec::with_capacity(spus.len());
        for (name, spec, health) in spus {
            processes.push((spec.id, health));
            let mut status = SpuStatus::default();
            match health {
                Health::Online => status.set_online(),
                Health::Offline => status.set_offline(),
            }
            let mut obj: SpuObj = MetadataStoreObject::new_with_context(
                name.clone(),
                spec,
                MetadataContext::new(LocalMetadataItem::new(name.clone())),
            );
            obj.set_status(status);
            self.storage
                .apply(obj)
                .await
                .with_context(|| format!("seeding spu {name}"))?;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        for name in names {
            while !self.spus.store().contains_key(&name).await {
                if Instant::now() > deadline {
                    return Err(anyhow!("seeded spu {name} never reached the store"));
                }
                sleep(Duration::from_millis(2)).await;
            }
        }
        // their SPU processes run and have registered (a status pass has run) on return
        let passes = self.shared.status_passes.load(Ordering::SeqCst);
        for (id, health) in processes {
            self.shared.set_health(id, health);
        }
        while self.shared.status_passes.load(Ordering::SeqCst) < passes + 2 {
            if Instant::now() > deadline {
                return Err(anyhow!("seeded SPU processes never registered"));
            }
            sleep(Duration::from_millis(2)).await;
        }
        Ok(())
    }

    pub async fn spus(&self) -> Vec<(String, SpuSpec, SpuStatus)> {
        let mut all: Vec<_> = self
            .spus
            .store()
            .clone_values()
            .await
            .into_iter()
            .map(|spu| (spu.key, spu.spec, spu.status))
            .collect();
        all.sort_by_key(|(_, spec, _)| spec.id);
        all
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// This incarnation stops: it applies no request from now on, and the requests held
    /// at a fault point are cut.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.shared.faults.cut_held();
    }

    /// Close every open client connection.
    pub fn close_connections(&self) {
        let conns: Vec<TcpStream> = self
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .map(|(_, s)| s)
            .collect();
        for conn in conns {
            let _ = conn.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// The SPU status controller. Registers the SPU processes that (re)connected: upstream's
/// private API accepts a registration only for an id that has an SPU and refuses it
/// otherwise (the process keeps no health). Then, as upstream's
/// `controllers/spus/controller.rs`, it moves an SPU whose registered process reported health
/// from `Init` to Online/Offline and follows health changes; SPUs with no registered process
/// are left as they are. A pass runs on every SPU store change, every health change, and
/// is re-checked every 50 ms.
pub(crate) async fn status_controller(state: Arc<ScState>) {
    let mut listener = state.spus.change_listener();
    let mut seen_health = u64::MAX;
    loop {
        let health_version = state.shared.health_version.load(Ordering::SeqCst);
        if listener.has_change() || health_version != seen_health {
            listener.load_last();
            seen_health = health_version;
            status_pass(&state).await;
        }
        state.shared.status_passes.fetch_add(1, Ordering::SeqCst);
        tokio::select! {
            _ = listener.listen() => {},
            _ = sleep(Duration::from_millis(50)) => {},
        }
    }
}

async fn status_pass(state: &ScState) {
    let spus: HashMap<i32, (String, SpuStatus)> = {
        let read = state.spus.store().read().await;
        read.values()
            .map(|spu| (spu.spec.id, (spu.key().clone(), spu.status.clone())))
            .collect()
    };
    let health = {
        let mut processes = state.shared.processes();
        let mut registered = state.registered.lock().unwrap_or_else(|e| e.into_inner());
        let mut changed = false;
        for (id, process) in processes.iter_mut() {
            if let Some(health) = registered.get_mut(id) {
                // connected to this incarnation: a health report
                changed |= *health != process.health;
                *health = process.health;
                process.registering = false;
            } else if process.registering {
                process.registering = false;
                if spus.contains_key(id) {
                    registered.insert(*id, process.health);
                    changed = true;
                } else {
                    *state
                        .shared
                        .refused
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .entry(*id)
                        .or_default() += 1;
                }
            }
        }
        if changed {
            state.registrations.fetch_add(1, Ordering::SeqCst);
        }
        registered.clone()
    };
    let mut changes = vec![];
    for (id, h) in &health {
        let Some((name, status)) = spus.get(id) else {
            continue;
        };
        let want_online = matches!(h, Health::Online);
        if status.is_init() || status.is_online() != want_online {
            let mut next = status.clone();
            next.resolution = if want_online {
                SpuStatusResolution::Online
            } else {
                SpuStatusResolution::Offline
            };
            changes.push((name.clone(), next));
        }
    }
    for (name, status) in changes {
        if let Err(err) = state.spus.update_status(name.clone(), status).await {
            tracing::warn!(%name, %err, "test sc: status update failed");
        }
    }
}
