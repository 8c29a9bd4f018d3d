//! A protocol-faithful test Fluvio Streaming Controller (SC).
//!
//! Built only from Fluvio's published 0.50.1 crates: requests are framed by `fluvio-socket`
//! and decoded by `fluvio_sc_schema::AdminPublicDecodedRequest`, answers use the schema's
//! own response types, and the metadata lives in a
//! `fluvio_stream_dispatcher::metadata::local::LocalMetadataStorage` (so the files on disk
//! are exactly a local SC's `<dir>/SPU/<name>.yaml`), fed into the stores by Fluvio's own
//! `MetadataDispatcher`. It can serve TLS (`tls.rs`, fluvio-future's rustls acceptor, as the
//! real SC) and enforce the real SC's authorization rules (`auth.rs`). Behind it runs a
//! simulated SPU data plane (`dataplane.rs`: topics, replication, leader status reports,
//! elections; `control.rs`: a control dir for shell commands). See `FIDELITY.md` at this
//! crate's root for the rules it reproduces; `spu_responder` is the public side of an SPU.
//!
//! The server runs on Fluvio's executor threads (`fluvio_future::task`, async-io based), not
//! on the caller's runtime: a test may block its own thread (e.g. waiting for a child
//! process) while the SC keeps serving.

#![allow(dead_code, unused_imports)]

mod api;
mod auth;
mod control;
mod dataplane;
mod faults;
mod server;
pub mod spu_responder;
mod state;
mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use fluvio_future::net::TcpListener;
use fluvio_future::task::spawn_task;
use fluvio_future::timer::sleep;
use fluvio_types::event::StickyEvent;

pub use fluvio_controlplane_metadata::partition::{
    PartitionResolution, PartitionSpec, PartitionStatus, ReplicaStatus,
};
pub use fluvio_controlplane_metadata::spu::{
    CustomSpuSpec, EncryptionEnum, Endpoint, IngressAddr, IngressPort, SpuSpec, SpuStatus,
    SpuStatusResolution, SpuType,
};
pub use fluvio_controlplane_metadata::topic::{TopicResolution, TopicSpec, TopicStatus};
pub use fluvio_protocol::link::ErrorCode;

pub use auth::{Authorization, Policy};
pub use dataplane::ReplicaState;
pub use faults::{ApiKind, Faults, Hold, Point};
pub use tls::{CertFiles, Pki, ScTls, Validity};

use state::{ScState, Shared};

/// Health of the simulated SPU process behind an SPU id: running and connected, or gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Online,
    Offline,
}

#[derive(Debug, Clone)]
pub struct TestScConfig {
    /// address to bind; default `127.0.0.1:0` (ephemeral port)
    pub bind: SocketAddr,
    /// metadata dir; `None` => a temp dir owned (and kept alive) by the `TestSc`
    pub metadata_dir: Option<PathBuf>,
    /// platform version reported by ApiVersions; default "0.18.1"
    pub platform_version: String,
    /// serve TLS (`None`: plain TCP, the default)
    pub tls: Option<ScTls>,
    /// who may do what (default: everything allowed, an SC without a policy)
    pub authorization: Authorization,
    /// how long a create or delete waits for the store before it fails with "store timed
    /// out" (whole seconds, at least 1); default 10 s, upstream's wait. Only reached when
    /// the store does not take changes (an unreadable metadata folder).
    pub store_timeout: Duration,
    /// how often partition leaders report their status to the SC; default 400 ms, upstream's
    /// `MIN_SC_SINK_TIME`
    pub status_interval: Duration,
    /// a directory polled every ~10 ms for control files (`restart-spu-<id>`,
    /// `produce-<partition>-<n>`; see `control.rs`); created if missing. `None`: no polling
    pub control_dir: Option<PathBuf>,
}

impl Default for TestScConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            metadata_dir: None,
            platform_version: "0.18.1".to_owned(),
            tls: None,
            authorization: Authorization::Root,
            store_timeout: Duration::from_secs(10),
            status_interval: Duration::from_millis(400),
            control_dir: None,
        }
    }
}

struct Running {
    state: Arc<ScState>,
    stop: Arc<StickyEvent>,
    server: async_task::Task<()>,
    status: async_task::Task<()>,
    /// the leaders' partition status reports to this incarnation
    reports: async_task::Task<()>,
    /// this incarnation's partition controller (leader election)
    election: async_task::Task<()>,
}

pub struct TestSc {
    addr: SocketAddr,
    dir: PathBuf,
    _tempdir: Option<tempfile::TempDir>,
    platform_version: semver::Version,
    store_timeout: Duration,
    status_interval: Duration,
    shared: Arc<Shared>,
    running: Option<Running>,
    /// the data plane's loop (replication, control dir), over restarts
    dataplane: Option<async_task::Task<()>>,
}

/// Name of a `fluvio cluster start --local` SPU.
pub fn local_spu_name(id: i32) -> String {
    format!("custom-spu-{id}")
}

/// The custom SPU `fluvio cluster start --local` registers as the `index`-th (0-based):
/// id 5001 + i, public `localhost:9010+10*i`, private public+1, no local endpoint.
/// (Past ~5,650 SPUs the ports would overflow u16; they wrap within 9010..=65521.)
pub fn local_custom_spu(index: usize) -> CustomSpuSpec {
    let id = 5001 + index as i32;
    let public = 9010 + ((10 * index) % 56_520) as u16;
    CustomSpuSpec {
        id,
        public_endpoint: IngressPort {
            port: public,
            ingress: vec![IngressAddr::from_host("localhost".to_owned())],
            encryption: EncryptionEnum::PLAINTEXT,
        },
        private_endpoint: Endpoint {
            port: public + 1,
            host: "localhost".to_owned(),
            encryption: EncryptionEnum::PLAINTEXT,
        },
        rack: None,
        public_endpoint_local: None,
    }
}

/// A managed SPU as the SC's SPU-group controller generates it for group `main` in
/// namespace `default` (upstream `k8/objects/spg_group.rs`): name `main-<i>`, id min_id(0)+i,
/// public port 9005 (no ingress yet), private `fluvio-spg-main-<i>.fluvio-spg-main...:9006`,
/// local endpoint `fluvio-spu-main-<i>.default.svc.cluster.local:9005`.
pub fn managed_spu(index: usize) -> (String, SpuSpec) {
    let name = format!("main-{index}");
    let spec = SpuSpec {
        id: index as i32,
        spu_type: SpuType::Managed,
        public_endpoint: IngressPort {
            port: 9005,
            ingress: vec![],
            encryption: EncryptionEnum::PLAINTEXT,
        },
        private_endpoint: Endpoint {
            host: format!("fluvio-spg-main-{index}.fluvio-spg-main.default.svc.cluster.local"),
            port: 9006,
            encryption: EncryptionEnum::PLAINTEXT,
        },
        rack: None,
        public_endpoint_local: Some(Endpoint {
            host: format!("fluvio-spu-{name}.default.svc.cluster.local"),
            port: 9005,
            encryption: EncryptionEnum::PLAINTEXT,
        }),
    };
    (name, spec)
}

impl TestSc {
    /// Bind, load the metadata dir (creating it if needed) and serve.
    pub async fn start(config: TestScConfig) -> Result<TestSc> {
        let platform_version = semver::Version::parse(&config.platform_version)
            .with_context(|| format!("platform version {}", config.platform_version))?;
        let (dir, tempdir) = match config.metadata_dir {
            Some(dir) => (dir, None),
            None => {
                let tmp = tempfile::Builder::new().prefix("test-sc-").tempdir()?;
                (tmp.path().to_path_buf(), Some(tmp))
            }
        };
        config.authorization.check()?;
        if config.status_interval.is_zero() {
            return Err(anyhow!("status_interval must not be zero"));
        }
        if let Some(control) = &config.control_dir {
            std::fs::create_dir_all(control)
                .with_context(|| format!("creating control dir {}", control.display()))?;
        }
        let tls = config.tls.as_ref().map(ScTls::acceptor).transpose()?;
        let mut sc = TestSc {
            addr: config.bind,
            dir,
            _tempdir: tempdir,
            platform_version,
            shared: Arc::new(Shared {
                tls,
                authorization: Arc::new(config.authorization),
                ..Shared::default()
            }),
            store_timeout: config.store_timeout,
            status_interval: config.status_interval,
            running: None,
            dataplane: None,
        };
        sc.launch(Duration::ZERO).await?;
        sc.dataplane = Some(spawn_task(dataplane::run(
            sc.shared.clone(),
            config.control_dir,
        )));
        Ok(sc)
    }

    async fn launch(&mut self, bind_retry: Duration) -> Result<()> {
        let deadline = Instant::now() + bind_retry;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(err) if Instant::now() < deadline => {
                    tracing::debug!(%err, "test sc: re-bind, retrying");
                    sleep(Duration::from_millis(20)).await;
                }
                Err(err) => return Err(err).context(format!("binding {}", self.addr)),
            }
        };
        self.addr = listener.local_addr()?;
        let state = ScState::start(
            &self.dir,
            self.platform_version.clone(),
            self.shared.clone(),
            self.store_timeout,
        )
        .await?;
        let stop = StickyEvent::shared();
        let status = spawn_task(state::status_controller(state.clone()));
        let reports = spawn_task(dataplane::status_reporter(
            state.clone(),
            self.status_interval,
        ));
        let election = spawn_task(dataplane::election_controller(state.clone()));
        let server = spawn_task(server::accept_loop(listener, state.clone(), stop.clone()));
        *self
            .shared
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Arc::downgrade(&state);
        self.running = Some(Running {
            state,
            stop,
            server,
            status,
            reports,
            election,
        });
        Ok(())
    }

    async fn halt(&mut self) -> Result<()> {
        if let Some(running) = self.running.take() {
            running.state.stop();
            running.stop.notify();
            running.server.await;
            running.state.close_connections();
            // cancels the status controller, the status reports and the partition controller
            drop(running.status);
            drop(running.reports);
            drop(running.election);
        }
        Ok(())
    }

    fn state(&self) -> Result<&Arc<ScState>> {
        self.running
            .as_ref()
            .map(|r| &r.state)
            .ok_or_else(|| anyhow!("test sc is not running"))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`, what a Fluvio profile's `endpoint` takes.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    pub fn metadata_dir(&self) -> &Path {
        &self.dir
    }

    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Register a custom SPU named `custom-spu-<id>` whose SPU process has `health`.
    pub async fn seed_custom(&self, spec: CustomSpuSpec, health: Health) -> Result<()> {
        let name = local_spu_name(spec.id);
        self.seed_spus(vec![(name, spec.into(), health)]).await
    }

    /// Register a managed SPU (type forced to Managed) named `main-<id>`.
    pub async fn seed_managed(&self, mut spec: SpuSpec, health: Health) -> Result<()> {
        spec.spu_type = SpuType::Managed;
        let name = format!("main-{}", spec.id);
        self.seed_spus(vec![(name, spec, health)]).await
    }

    /// Seed SPUs with explicit names, in bulk: they are written through the local storage
    /// with their status already matching `health` (as an SC that ran before would have
    /// persisted them), and this returns once all are in the store.
    pub async fn seed_spus(&self, spus: Vec<(String, SpuSpec, Health)>) -> Result<()> {
        self.state()?.seed(spus).await
    }

    /// `custom` SPUs like `fluvio cluster start --local` (custom-spu-5001.., all Online) and
    /// `managed` SPUs like a Kubernetes SPU group `main` (main-0.., all Online).
    pub async fn seed_local_cluster(&self, custom: usize, managed: usize) -> Result<()> {
        let mut spus = Vec::with_capacity(custom + managed);
        for i in 0..custom {
            let spec = local_custom_spu(i);
            spus.push((local_spu_name(spec.id), spec.into(), Health::Online));
        }
        for i in 0..managed {
            let (name, spec) = managed_spu(i);
            spus.push((name, spec, Health::Online));
        }
        self.seed_spus(spus).await
    }

    /// The simulated SPU process `id` is up (`Online`) or gone (`Offline`), applied on the
    /// next status pass. A process that is up and not registered with the running SC
    /// registers first, which the SC refuses when no SPU has that id (see
    /// `refused_registrations`): it keeps no health for it then. A process that goes away
    /// changes only the status of an SPU it was registered for (upstream: health false on
    /// disconnect). In the data plane, a process that goes away drops its connections, and
    /// one that was down and is up again is a restarted process (`restart_spu` does both
    /// and waits for the SC to see each).
    pub fn set_health(&self, id: i32, health: Health) {
        self.shared.set_health(id, health);
    }

    /// Every simulated SPU process connects to the SC again and registers, as SPU
    /// processes do some time after an SC restart. Until then each SPU shows the status
    /// saved on disk.
    pub fn reconnect_spu_processes(&self) {
        self.shared.reconnect_processes();
    }

    /// How many registrations of the SPU process `id` the SC refused (no SPU with that id).
    pub fn refused_registrations(&self, id: i32) -> usize {
        self.shared.refused_registrations(id)
    }

    /// Watch requests received on each client connection so far, in accept order (over
    /// restarts).
    pub fn watch_requests_per_connection(&self) -> Vec<usize> {
        self.shared
            .watch_requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Wait until a complete status pass has run after this call.
    pub async fn wait_status_pass(&self) -> Result<()> {
        let start = self.shared.status_passes.load(Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.shared.status_passes.load(Ordering::SeqCst) < start + 2 {
            if Instant::now() > deadline {
                return Err(anyhow!("no status pass within 60s"));
            }
            sleep(Duration::from_millis(2)).await;
        }
        Ok(())
    }

    /// Direct view of the SC's SPU store, sorted by id.
    pub async fn spus(&self) -> Vec<(String, SpuSpec, SpuStatus)> {
        match self.state() {
            Ok(state) => state.spus().await,
            Err(_) => vec![],
        }
    }

    /// Number of client connections currently open.
    pub fn open_connections(&self) -> usize {
        self.state()
            .map(|s| {
                s.connections
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .len()
            })
            .unwrap_or(0)
    }

    /// Topic `name` with `partitions` partitions of `replication` replicas each, assigned as
    /// upstream's scheduler does for a computed topic (each replica on the online SPU, ids
    /// sorted, with the fewest leaders for the first replica or followers for the others, the
    /// partitions already stored counted, the first on a tie); leader = first replica. Stored
    /// through the metadata storage as a Topic object (Provisioned, with its replica map) and
    /// Partition objects `<name>-<i>` (children of the topic), each with the status its
    /// leader's first report gives: Online, leader `{spu, hw 0, leo 0}`, followers
    /// `{spu, -1, -1}` in id order. The SPU processes start with empty logs.
    ///
    /// Fails (nothing stored) when the SC is not running, the name is not a valid topic name
    /// or exists, or there are fewer SPUs (or online SPUs) than `replication`; upstream keeps
    /// such a topic pending instead.
    pub async fn create_topic(&self, name: &str, partitions: u32, replication: u32) -> Result<()> {
        dataplane::create_topic(self.state()?, name, partitions, replication).await
    }

    /// Appends `n` records (offsets; records have no content here) at the partition's
    /// current leader, and replicates at once. Fails when the name is unknown, or its leader
    /// process is down or has not registered with an SC since it started.
    pub async fn produce(&self, partition: &str, n: u64) -> Result<()> {
        self.shared.dataplane().produce(partition, n)
    }

    /// The data plane's truth for one partition: current leader, committed HW, and each
    /// replica's LEO as that SPU holds it.
    pub fn replica_state(&self, partition: &str) -> Option<ReplicaState> {
        self.shared.dataplane().replica_state(partition)
    }

    /// What the SC's partition store holds (what a partition list answers), sorted by name.
    pub async fn partitions(&self) -> Vec<(String, PartitionSpec, PartitionStatus)> {
        match self.state() {
            Ok(state) => dataplane::stored_partitions(state)
                .await
                .into_iter()
                .map(|(key, spec, status)| (key.to_string(), spec, status))
                .collect(),
            Err(_) => vec![],
        }
    }

    /// What the SC's topic store holds, sorted by name.
    pub async fn topics(&self) -> Vec<(String, TopicSpec, TopicStatus)> {
        let Ok(state) = self.state() else {
            return vec![];
        };
        let mut all: Vec<_> = state
            .topics
            .store()
            .clone_values()
            .await
            .into_iter()
            .map(|t| (t.key, t.spec, t.status))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Restarts the simulated SPU process `id`: it goes down (the SC sees it Offline, and
    /// partitions it leads elect a new leader as upstream does), then comes back with fresh
    /// follower connections to every leader (this heals a stall), registers, and this returns
    /// once the SC shows it Online again. A process that was not registered with the running
    /// SC (after `restart`, before `reconnect_spu_processes`) goes down unseen by the SC.
    /// Fails when the SC is not running, no SPU has that id, or no process does.
    pub async fn restart_spu(&self, id: i32) -> Result<()> {
        self.state()?;
        dataplane::restart_spu(&self.shared, id).await
    }

    /// Returns once the SC's stored partition status reflects the data plane as of this call:
    /// a whole status report pass that started after this call has ended, with a report
    /// from every leader that is up. Reports come from SPU processes registered with the
    /// running SC: a registration still pending (`reconnect_spu_processes` after `restart`) is
    /// waited for; a leader that is up and not registered is an error. Takes one to two
    /// `status_interval`s.
    pub async fn wait_status_report(&self) -> Result<()> {
        self.state()?;
        dataplane::wait_status_report(&self.shared, self.status_interval).await
    }

    /// Stop serving (as `restart`'s first half): the SPU processes keep running and
    /// replicating, nothing reaches the SC's store until `resume`. For changes made to the
    /// metadata dir while no SC runs.
    pub async fn stop(&mut self) -> Result<()> {
        self.halt().await
    }

    /// Start again after `stop`, on the same dir and address (as `restart`'s second half).
    pub async fn resume(&mut self) -> Result<()> {
        if self.running.is_some() {
            return Err(anyhow!("test sc is running"));
        }
        self.launch(Duration::from_secs(5)).await
    }

    /// Stop serving and close every client connection.
    pub async fn shutdown(mut self) -> Result<()> {
        self.halt().await
    }

    /// Stop, then start again on the same dir and the same address, reloading from disk.
    /// Fault settings, request counters and the simulated SPU processes (with their logs
    /// and connections: the data plane) survive; their registrations (SPU health, in the
    /// SC's memory) do not: each SPU shows its saved status, and leaders send no status
    /// reports, until `reconnect_spu_processes` or `set_health`.
    pub async fn restart(&mut self) -> Result<()> {
        self.halt().await?;
        self.launch(Duration::from_secs(5)).await
    }
}

impl Drop for TestSc {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.state.stop();
            running.stop.notify();
            running.state.close_connections();
            // the accept loop ends by itself on `stop`; detach it instead of cancelling it
            // mid-poll, and cancel the status controller
            running.server.detach();
        }
    }
}
