//! End-to-end benchmarks: the real `fluvio-endpoints` binary against the test SC on
//! loopback, measured against a floor written here with the same fluvio 0.50.1 client.
//!
//! Run: `cargo bench --bench e2e` (see BENCHMARKS.md). Knobs (environment):
//! - `E2E_SIZES` (default `100,1000,10000`): cluster sizes for plan (every SPU a change,
//!   then, once the file is applied, no change: the usual CI case), the floor and growth;
//! - `E2E_APPLY_SIZES` (default `100,1000`): sizes for apply (every SPU is a change);
//!   an empty value (`E2E_SIZES=`) skips that part;
//! - `E2E_ROUNDS` (default `11`): interleaved rounds per measurement (medians are reported);
//! - `E2E_STALL_PAIRS` (default `40`): delete+create pairs timed through `Fluvio::connect`
//!   (each waits out the delayed ACK, ~80 ms a pair) beside the tool's apply;
//! - `E2E_QUICK=1` (or the argument `--quick`): small sizes and one round (sizes 100,
//!   apply sizes 100, 1 round, 4 stall pairs; each knob above still overrides). Every
//!   correctness check of the full run still runs: `.ci/run` runs this mode, so a bench
//!   that no longer measures what it claims fails CI;
//! - `E2E_BASELINE` (a path to another build of `fluvio-endpoints`): its `plan` is timed
//!   in the same rounds (`RESULT plan-baseline/N`, `plan-converged-baseline/N`);
//! - `E2E_SKIP=1`: skip everything.
//!
//! Without `--bench` (i.e. under `cargo test --benches`) it runs nothing.
//!
//! The bench binary re-executes itself for the parts that must be separate processes:
//! `--floor ADDR` (the floor program: connect, list `SpuSpec` once, exit; the new floor,
//! over a connection without watch streams: fluvio-socket's `ClientConfig::connect`, whose
//! ApiVersions exchange gives the platform version, then one list), `--floor-fluvio ADDR`
//! (the old floor: the same through `Fluvio::connect_with_config` + `admin()`, which also
//! opens the client's watch streams), `--floor-fair ADDR FILE` (the fair floor: what no
//! plan can avoid, the new floor's connect and list concurrently with reading the zone
//! file and parsing it with the toml crate into its entries; no tool code) and
//! `--rss FILE N` (validate + diff of FILE against N live SPUs, no network, printing its
//! own time and peak RSS), and `--pure FILE N` (validate, diff, plan document and text
//! rendering of FILE against N live SPUs, no network, with a timing breakdown: the target
//! to run under `perf record` / `valgrind --tool=callgrind`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fluvio::metadata::customspu::CustomSpuSpec as FlvCustomSpuSpec;
use fluvio::metadata::spu::SpuSpec as FlvSpuSpec;
use fluvio::{Fluvio, FluvioClusterConfig};
use fluvio_controlplane_metadata::spu::{CustomSpuKey, EncryptionEnum, Endpoint as FlvEndpoint};
use fluvio_endpoints::apply::{apply, RetryPolicy};
use fluvio_endpoints::cluster::sc::ScCluster;
use fluvio_endpoints::cluster::{Cluster, ClusterError};
use fluvio_endpoints::config::{self, SourceFile};
use fluvio_endpoints::journal::Journal;
use fluvio_endpoints::model::{ClusterId, Live, LivePartition, LiveSpu, SpuSpec};
use fluvio_endpoints::output::Style;
use fluvio_endpoints::report::PlanDoc;
use fluvio_protocol::api::Request;
use fluvio_sc_schema::objects::{
    CommonCreateRequest, CreateRequest, DeleteRequest, ListRequest, ListResponse,
    ObjectApiCreateRequest, ObjectApiDeleteRequest, ObjectApiListRequest,
};
use fluvio_sc_schema::TryEncodableFrom;
use fluvio_socket::{ClientConfig, MultiplexerSocket, VersionedSerialSocket};
use std::sync::atomic::AtomicBool;

mod common;

use fluvio_endpoints_test_sc as test_sc;

use test_sc::{TestSc, TestScConfig};

const BIN: &str = env!("CARGO_BIN_EXE_fluvio-endpoints");

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--floor") => return floor_child(&args[2], false),
        Some("--floor-fluvio") => return floor_child(&args[2], true),
        Some("--floor-fair") => return fair_floor_child(&args[2], Path::new(&args[3])),
        Some("--rss") => return rss_child(Path::new(&args[2]), args[3].parse().expect("N")),
        Some("--noop") => return,
        Some("--pure") => return pure_child(Path::new(&args[2]), args[3].parse().expect("N")),
        _ => {}
    }
    if !args.iter().any(|a| a == "--bench") {
        println!("e2e: skipped (not run by `cargo test`; run `cargo bench --bench e2e`)");
        return;
    }
    if std::env::var("E2E_SKIP").is_ok_and(|v| v == "1") {
        println!("e2e: skipped (E2E_SKIP=1)");
        return;
    }
    let quick =
        args.iter().any(|a| a == "--quick") || std::env::var("E2E_QUICK").is_ok_and(|v| v == "1");
    if quick {
        // the knobs not set by the caller take their quick values
        for (name, value) in [
            ("E2E_SIZES", "100"),
            ("E2E_APPLY_SIZES", "100"),
            ("E2E_ROUNDS", "1"),
            ("E2E_STALL_PAIRS", "4"),
        ] {
            if std::env::var_os(name).is_none() {
                std::env::set_var(name, value);
            }
        }
        println!("e2e: quick mode (small sizes, one round): checks, not measurements");
    }
    let sizes = env_list("E2E_SIZES", &[100, 1_000, 10_000]);
    let apply_sizes = env_list("E2E_APPLY_SIZES", &[100, 1_000]);
    let rounds = env_list("E2E_ROUNDS", &[11])[0];

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    machine();
    let work = tempfile::Builder::new()
        .prefix("e2e-bench-")
        .tempdir()
        .expect("tempdir");
    startup(rounds, work.path());
    for &n in &sizes {
        rss_bench(n, work.path());
    }
    for &n in &sizes {
        runtime.block_on(plan_vs_floor(n, rounds, work.path()));
    }
    for &n in &apply_sizes {
        runtime.block_on(apply_bench(n, work.path()));
    }
}

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().parse().unwrap_or_else(|_| panic!("{name}: {v}")))
            .collect(),
        Err(_) => default.to_vec(),
    }
}

fn machine() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "machine: {} cpus, {cpu}; loadavg {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.trim()
    );
}

// ------------------------------------------------------------------ stats

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // nearest-rank
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    percentile(&v, 50.0)
}

fn summary(label: &str, values: &[f64]) {
    if values.is_empty() {
        println!("  {label:<38} (none)");
        return;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    println!(
        "  {label:<38} median {:>9.3} ms  min {:>9.3}  max {:>9.3}  (n={})",
        percentile(&v, 50.0),
        v[0],
        v[v.len() - 1],
        v.len()
    );
}

// ------------------------------------------------------------------ processes

/// An isolated environment for the binary: its own HOME, fluvio config and journal dir.
fn tool(home: &Path, args: &[&str]) -> Command {
    tool_at(Path::new(BIN), home, args)
}

/// `E2E_BASELINE`: another build of the binary (e.g. of an earlier commit), timed in the
/// same rounds as this one so that a change is measured within one run.
fn baseline() -> Option<PathBuf> {
    std::env::var_os("E2E_BASELINE").map(PathBuf::from)
}

fn tool_at(bin: &Path, home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env("HOME", home)
        .env("FLV_PROFILE_PATH", home.join("fluvio-config"))
        .env("FLUVIO_ENDPOINTS_JOURNAL_DIR", home.join("journal"))
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .stdin(Stdio::null());
    cmd
}

fn run_timed(mut cmd: Command, expect: i32) -> (Duration, String) {
    let start = Instant::now();
    let out = cmd.output().expect("spawn");
    let took = start.elapsed();
    let code = out.status.code().unwrap_or(-1);
    assert_eq!(
        code,
        expect,
        "{cmd:?}\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout)
            .chars()
            .take(2000)
            .collect::<String>(),
        String::from_utf8_lossy(&out.stderr)
            .chars()
            .take(2000)
            .collect::<String>()
    );
    (took, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Peak RSS (KiB) of the real binary. Spawned from this (large) process, a child's
/// `ru_maxrss` also counts the parent's image it was forked from before its exec, so the
/// binary runs under GNU time (a small process that forks it): the figure is then the
/// binary's own peak (plus at most time's own small image).
fn tool_rss(home: &Path, args: &[&str]) -> (Duration, u64) {
    rss_of(Path::new(BIN), tool(home, args))
}

/// Peak RSS (KiB) of `program` run with the arguments and environment of `like`, under
/// GNU time (see `tool_rss`).
fn rss_of(program: &Path, like: Command) -> (Duration, u64) {
    let (took, _, rss) = timed_rss(program, like);
    (took, rss)
}

/// [`rss_of`], also returning stdout.
fn timed_rss(program: &Path, like: Command) -> (Duration, String, u64) {
    let time = Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-f").arg("RSS %M").arg(program);
        c
    } else {
        Command::new(program)
    };
    let std_cmd = like;
    cmd.args(std_cmd.get_args())
        .envs(std_cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .stdin(Stdio::null());
    let start = Instant::now();
    let out = cmd.output().expect("spawn");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rss = stderr
        .lines()
        .find_map(|l| l.strip_prefix("RSS "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (took, String::from_utf8_lossy(&out.stdout).into_owned(), rss)
}

/// Process start-up alone: the tool (`metadata`: no runtime, no I/O) vs this bench binary
/// exiting at once (the floor program's own start-up).
fn startup(rounds: usize, work: &Path) {
    println!("\n== process start-up ==");
    let me = std::env::current_exe().unwrap();
    let (mut floor, mut tool_t) = (vec![], vec![]);
    for round in 0..rounds + 1 {
        let mut c = Command::new(&me);
        c.arg("--noop").stdin(Stdio::null());
        let (tf, _) = run_timed(c, 0);
        let (tt, _) = run_timed(tool(work, &["metadata"]), 0);
        if round > 0 {
            floor.push(ms(tf));
            tool_t.push(ms(tt));
        }
    }
    summary("bench binary, exit at once", &floor);
    summary("fluvio-endpoints metadata", &tool_t);
}

// ------------------------------------------------------------------ the floor

/// A connection without watch streams, written here from fluvio-socket alone (not the
/// tool's): `ClientConfig::connect` (TCP + ApiVersions) -> `VersionedSerialSocket`.
async fn wire_connect(addr: &str) -> VersionedSerialSocket {
    let (socket, config, versions) = ClientConfig::with_addr(addr.to_string())
        .connect()
        .await
        .expect("connect")
        .split();
    VersionedSerialSocket::new(MultiplexerSocket::shared(socket), config, versions)
}

/// One admin request on such a connection.
async fn wire_request<R, I>(socket: &VersionedSerialSocket, input: I) -> R::Response
where
    R: Request + TryEncodableFrom<I> + Send + Sync,
{
    let version = socket.lookup_version::<R>().expect("a version in common");
    let request = R::try_encode_from(input, version).expect("encode");
    socket
        .send_and_receive(socket.new_request(request, Some(version)))
        .await
        .expect("request")
}

async fn wire_list(
    socket: &VersionedSerialSocket,
) -> Vec<fluvio_sc_schema::objects::Metadata<FlvSpuSpec>> {
    let response = wire_request::<ObjectApiListRequest, _>(
        socket,
        ListRequest::<FlvSpuSpec>::new(Vec::<fluvio_sc_schema::objects::ListFilter>::new(), false),
    )
    .await;
    let list: ListResponse<FlvSpuSpec> = response.downcast().expect("decode").expect("SPUs");
    list.inner()
}

/// The floor: a minimal program that connects and lists SpuSpec once. The new floor uses a
/// connection without watches; `through_fluvio` is the old one, `Fluvio::connect` +
/// `admin()` (watch streams on the same connection).
fn floor_child(addr: &str, through_fluvio: bool) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let count = runtime.block_on(async {
        if through_fluvio {
            let client = Fluvio::connect_with_config(&FluvioClusterConfig::new(addr.to_string()))
                .await
                .expect("connect");
            let spus = client
                .admin()
                .await
                .all::<FlvSpuSpec>()
                .await
                .expect("list");
            spus.len()
        } else {
            let socket = wire_connect(addr).await;
            assert!(!socket.versions().platform_version().to_string().is_empty());
            wire_list(&socket).await.len()
        }
    });
    println!("{count}");
}

/// One `[[spu]]` entry as the fair floor parses it: the toml crate into plain types.
#[derive(serde::Deserialize)]
struct FloorEntry {
    #[allow(dead_code)]
    id: i32,
    #[allow(dead_code)]
    local: toml::Value,
}

#[derive(serde::Deserialize)]
struct FloorFile {
    spu: Vec<FloorEntry>,
}

/// The fair floor: what every plan must do, and nothing of the tool's. The file is read
/// and parsed on a blocking thread while the cluster is listed, as the tool does; prints
/// the SPUs listed and the entries parsed.
fn fair_floor_child(addr: &str, file: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let file = file.to_path_buf();
    let (spus, entries) = runtime.block_on(async {
        let parsing = tokio::task::spawn_blocking(move || {
            let text = std::fs::read_to_string(&file).expect("the zone file");
            let parsed: FloorFile = toml::from_str(&text).expect("a zone file");
            parsed.spu.len()
        });
        let listing = async {
            let socket = wire_connect(addr).await;
            assert!(!socket.versions().platform_version().to_string().is_empty());
            wire_list(&socket).await.len()
        };
        let (entries, spus) = tokio::join!(parsing, listing);
        (spus, entries.expect("parse"))
    });
    println!("{spus} {entries}");
}

// ------------------------------------------------------------------ plan vs floor

async fn seeded(n: usize) -> TestSc {
    let start = Instant::now();
    let sc = TestSc::start(TestScConfig::default())
        .await
        .expect("test SC starts");
    sc.seed_local_cluster(n, 0).await.expect("seeded");
    println!(
        "  (seeded {n} SPUs in {:.1} s)",
        start.elapsed().as_secs_f64()
    );
    sc
}

async fn plan_vs_floor(n: usize, rounds: usize, work: &Path) {
    println!("\n== plan vs floor, {n} SPUs ({rounds} interleaved rounds) ==");
    let sc = seeded(n).await;
    let addr = sc.endpoint();
    let home = work.join(format!("plan-{n}"));
    std::fs::create_dir_all(&home).unwrap();
    let file = home.join("zone.toml");
    std::fs::write(&file, common::zone_file(n, None, "host.docker.internal")).unwrap();
    let file_s = file.to_str().unwrap();
    let me = std::env::current_exe().unwrap();

    // Processes, interleaved so that both see the same machine load.
    let (mut floor, mut plan, mut plan_json, mut ratios) = (vec![], vec![], vec![], vec![]);
    let (mut old_floor, mut validate, mut fair) = (vec![], vec![], vec![]);
    let (mut list, mut list_json, mut list_yaml) = (vec![], vec![], vec![]);
    let (base_bin, mut base) = (baseline(), vec![]);
    for round in 0..rounds + 1 {
        let mut f = Command::new(&me);
        f.args(["--floor", &addr]).stdin(Stdio::null());
        let (tf, out) = tokio::task::block_in_place(|| run_timed(f, 0));
        assert_eq!(out.trim(), n.to_string());
        let mut f = Command::new(&me);
        f.args(["--floor-fluvio", &addr]).stdin(Stdio::null());
        let (to, out) = tokio::task::block_in_place(|| run_timed(f, 0));
        assert_eq!(out.trim(), n.to_string());
        let mut f = Command::new(&me);
        f.args(["--floor-fair", &addr, file_s]).stdin(Stdio::null());
        let (tfair, out) = tokio::task::block_in_place(|| run_timed(f, 0));
        assert_eq!(
            out.trim(),
            format!("{n} {n}"),
            "the fair floor lists and parses all"
        );
        let (tp, out) = tokio::task::block_in_place(|| {
            run_timed(tool(&home, &["plan", "-f", file_s, "-c", &addr]), 0)
        });
        assert!(
            out.contains(&format!("Plan: {n} to set")),
            "{}",
            &out[out.len().saturating_sub(300)..]
        );
        let (tj, _) = tokio::task::block_in_place(|| {
            run_timed(
                tool(&home, &["plan", "-f", file_s, "-c", &addr, "-o", "json"]),
                0,
            )
        });
        // E2E_BASELINE's build, the same plan
        let tb = base_bin.as_ref().map(|bin| {
            let args = ["plan", "-f", file_s, "-c", &addr];
            tokio::task::block_in_place(|| run_timed(tool_at(bin, &home, &args), 0)).0
        });
        // The file alone, no network: what any plan must add to the floor's work (exit 0:
        // the file is valid; the message goes to stderr).
        let (tv, _) =
            tokio::task::block_in_place(|| run_timed(tool(&home, &["validate", "-f", file_s]), 0));
        // `list` in its three forms: one row (or document entry) per SPU
        let (tl, out) =
            tokio::task::block_in_place(|| run_timed(tool(&home, &["list", "-c", &addr]), 0));
        assert_eq!(out.lines().count(), n + 1, "a header and one row per SPU");
        let (tlj, out) = tokio::task::block_in_place(|| {
            run_timed(tool(&home, &["list", "-c", &addr, "-O", "json"]), 0)
        });
        let listed: serde_json::Value = serde_json::from_str(&out).expect("list -O json");
        assert_eq!(listed.as_array().map(Vec::len), Some(n));
        let (tly, out) = tokio::task::block_in_place(|| {
            run_timed(tool(&home, &["list", "-c", &addr, "-O", "yaml"]), 0)
        });
        assert_eq!(
            out.matches("\n- ").count() + usize::from(out.starts_with("- ")),
            n
        );
        if round == 0 {
            continue; // warm-up: page cache, the SC's first connection
        }
        floor.push(ms(tf));
        old_floor.push(ms(to));
        fair.push(ms(tfair));
        validate.push(ms(tv));
        base.extend(tb.map(ms));
        plan.push(ms(tp));
        plan_json.push(ms(tj));
        ratios.push(ms(tp) / ms(tf));
        list.push(ms(tl));
        list_json.push(ms(tlj));
        list_yaml.push(ms(tly));
    }
    summary(
        "floor process (connect + ApiVersions + list, no watches)",
        &floor,
    );
    summary(
        "old floor process (Fluvio::connect + admin + list)",
        &old_floor,
    );
    summary(
        "fair floor process (the floor + reading and parsing the zone file, concurrently)",
        &fair,
    );
    summary("plan process (-o text)", &plan);
    summary("plan process (-o json)", &plan_json);
    summary("validate process (the file alone, no network)", &validate);
    println!(
        "  RESULT plan/{n}: floor {:.2} ms, plan {:.2} ms, ratio of medians {:.2}x, median of paired ratios {:.2}x, json {:.2}x; old floor {:.2} ms (plan / old floor {:.2}x)",
        median(&floor),
        median(&plan),
        median(&plan) / median(&floor),
        median(&ratios),
        median(&plan_json) / median(&floor),
        median(&old_floor),
        median(&plan) / median(&old_floor),
    );
    if !base.is_empty() {
        println!(
            "  RESULT plan-baseline/{n}: E2E_BASELINE's plan {:.2} ms = {:.2}x the floor; this plan / baseline {:.2}x",
            median(&base),
            median(&base) / median(&floor),
            median(&plan) / median(&base),
        );
    }
    println!(
        "  RESULT plan-fair/{n}: fair floor {:.2} ms, plan {:.2} ms = {:.2}x, plan -o json {:.2} ms = {:.2}x the fair floor",
        median(&fair),
        median(&plan),
        median(&plan) / median(&fair),
        median(&plan_json),
        median(&plan_json) / median(&fair),
    );
    println!(
        "  RESULT validate/{n}: validate process {:.2} ms = {:.2}x the floor",
        median(&validate),
        median(&validate) / median(&floor),
    );
    summary("list process (table)", &list);
    summary("list process (-O json)", &list_json);
    summary("list process (-O yaml)", &list_yaml);
    println!(
        "  RESULT list/{n}: table {:.2} ms = {:.2}x, -O json {:.2} ms = {:.2}x, -O yaml {:.2} ms = {:.2}x the floor",
        median(&list),
        median(&list) / median(&floor),
        median(&list_json),
        median(&list_json) / median(&floor),
        median(&list_yaml),
        median(&list_yaml) / median(&floor),
    );
    // peak RSS, one run each: the fair floor (this binary) and the tool's forms
    let mut fair_cmd = Command::new(&me);
    fair_cmd.args(["--floor-fair", &addr, file_s]);
    let (_, fair_rss) = tokio::task::block_in_place(|| rss_of(&me, fair_cmd));
    let rss = |args: &[&str]| tokio::task::block_in_place(|| tool_rss(&home, args)).1;
    let plan_rss = rss(&["plan", "-f", file_s, "-c", &addr]);
    let plan_json_rss = rss(&["plan", "-f", file_s, "-c", &addr, "-o", "json"]);
    let list_rss = rss(&["list", "-c", &addr]);
    let list_json_rss = rss(&["list", "-c", &addr, "-O", "json"]);
    let list_yaml_rss = rss(&["list", "-c", &addr, "-O", "yaml"]);
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "  RESULT rss-peak/{n}: fair floor {:.1} MiB; plan {:.1} MiB ({:.2}x), plan -o json {:.1} MiB ({:.2}x); list {:.1} MiB ({:.2}x), -O json {:.1} MiB ({:.2}x), -O yaml {:.1} MiB ({:.2}x) the fair floor's",
        mib(fair_rss),
        mib(plan_rss),
        plan_rss as f64 / fair_rss as f64,
        mib(plan_json_rss),
        plan_json_rss as f64 / fair_rss as f64,
        mib(list_rss),
        list_rss as f64 / fair_rss as f64,
        mib(list_json_rss),
        list_json_rss as f64 / fair_rss as f64,
        mib(list_yaml_rss),
        list_yaml_rss as f64 / fair_rss as f64,
    );

    // In process: where the time goes.
    let source = SourceFile::read(&file).unwrap();
    let config = || FluvioClusterConfig::new(addr.clone());
    let (mut f_conn, mut f_list) = (vec![], vec![]);
    let (mut w_conn, mut w_list) = (vec![], vec![]);
    let (mut load, mut conn, mut read, mut diff, mut doc_t, mut render) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut toml_parse = vec![];
    for round in 0..rounds + 1 {
        let t = Instant::now();
        let client = Fluvio::connect_with_config(&config()).await.unwrap();
        let admin = client.admin().await;
        let t_conn = t.elapsed();
        let t = Instant::now();
        let spus = admin.all::<FlvSpuSpec>().await.unwrap();
        let t_list = t.elapsed();
        assert_eq!(spus.len(), n);
        drop((spus, admin, client));
        let t = Instant::now();
        let socket = wire_connect(&addr).await;
        let t_wconn = t.elapsed();
        let t = Instant::now();
        assert_eq!(wire_list(&socket).await.len(), n);
        let t_wlist = t.elapsed();
        drop(socket);

        let t = Instant::now();
        let parsed = toml::de::DeTable::parse(&source.text).expect("TOML");
        let t_toml = t.elapsed();
        drop(parsed);
        let t = Instant::now();
        let desired = config::load(&source).unwrap();
        let t_load = t.elapsed();
        let t = Instant::now();
        let mut target = ScCluster::connect(config(), Duration::from_secs(15))
            .await
            .unwrap();
        let t_conn2 = t.elapsed();
        let t = Instant::now();
        let live = target.read().await.unwrap();
        let t_read = t.elapsed();
        let t = Instant::now();
        let p = fluvio_endpoints::plan::plan(&desired, &live);
        let t_diff = t.elapsed();
        let t = Instant::now();
        let doc = PlanDoc::new(
            p,
            &target.identity(),
            live.platform_version.clone(),
            Some((&source, &desired)),
        );
        let t_doc = t.elapsed();
        let t = Instant::now();
        let text = fluvio_endpoints::render::text::plan(&doc, &Style { color: false });
        let t_render = t.elapsed();
        assert!(text.len() > n);
        if round == 0 {
            continue;
        }
        f_conn.push(ms(t_conn));
        f_list.push(ms(t_list));
        w_conn.push(ms(t_wconn));
        w_list.push(ms(t_wlist));
        toml_parse.push(ms(t_toml));
        load.push(ms(t_load));
        conn.push(ms(t_conn2));
        read.push(ms(t_read));
        diff.push(ms(t_diff));
        doc_t.push(ms(t_doc));
        render.push(ms(t_render));
    }
    println!("  in process:");
    summary("floor: connect + ApiVersions (no watches)", &w_conn);
    summary("floor: list SpuSpec (no watches)", &w_list);
    summary("old floor: Fluvio::connect + admin", &f_conn);
    summary("old floor: list SpuSpec", &f_list);
    summary("toml crate: parse the file alone (DeTable)", &toml_parse);
    summary("tool: read + validate file", &load);
    summary("tool: ScCluster::connect", &conn);
    summary("tool: Cluster::read (list + convert)", &read);
    summary("tool: plan::plan (diff)", &diff);
    summary("tool: PlanDoc::new", &doc_t);
    summary("tool: render::text::plan", &render);
    plan_converged(n, rounds, &home, file_s, &addr);
    sc.shutdown().await.ok();
}

/// The usual case of a `plan` in CI: the cluster is already as the file declares (the
/// same file, applied once), so the plan finds no change. Timed against the new floor,
/// interleaved as above.
fn plan_converged(n: usize, rounds: usize, home: &Path, file: &str, addr: &str) {
    tokio::task::block_in_place(|| {
        run_timed(
            tool(home, &["apply", "-f", file, "-c", addr, "--auto-approve"]),
            0,
        )
    });
    let me = std::env::current_exe().unwrap();
    let (mut floor, mut plan, mut ratios, mut fair) = (vec![], vec![], vec![], vec![]);
    let (base_bin, mut base) = (baseline(), vec![]);
    let args = ["plan", "-f", file, "-c", addr, "--detailed-exitcode"];
    for round in 0..rounds + 1 {
        let mut f = Command::new(&me);
        f.args(["--floor", addr]).stdin(Stdio::null());
        let (tf, out) = tokio::task::block_in_place(|| run_timed(f, 0));
        assert_eq!(out.trim(), n.to_string());
        let mut f = Command::new(&me);
        f.args(["--floor-fair", addr, file]).stdin(Stdio::null());
        let (tfair, out) = tokio::task::block_in_place(|| run_timed(f, 0));
        assert_eq!(out.trim(), format!("{n} {n}"));
        let (tp, out) = tokio::task::block_in_place(|| run_timed(tool(home, &args), 0));
        let tb = base_bin
            .as_ref()
            .map(|bin| tokio::task::block_in_place(|| run_timed(tool_at(bin, home, &args), 0)).0);
        assert!(
            out.contains(&format!("No changes. {n} unchanged.")),
            "{}",
            &out[out.len().saturating_sub(300)..]
        );
        if round == 0 {
            continue;
        }
        floor.push(ms(tf));
        fair.push(ms(tfair));
        plan.push(ms(tp));
        ratios.push(ms(tp) / ms(tf));
        base.extend(tb.map(ms));
    }
    summary("plan process, no changes (-o text)", &plan);
    println!(
        "  RESULT plan-converged-fair/{n}: fair floor {:.2} ms, plan {:.2} ms = {:.2}x the fair floor",
        median(&fair),
        median(&plan),
        median(&plan) / median(&fair),
    );
    println!(
        "  RESULT plan-converged/{n}: floor {:.2} ms, plan {:.2} ms, ratio of medians {:.2}x, median of paired ratios {:.2}x",
        median(&floor),
        median(&plan),
        median(&plan) / median(&floor),
        median(&ratios),
    );
    if !base.is_empty() {
        println!(
            "  RESULT plan-converged-baseline/{n}: E2E_BASELINE's plan {:.2} ms = {:.2}x the floor; this plan / baseline {:.2}x",
            median(&base),
            median(&base) / median(&floor),
            median(&plan) / median(&base),
        );
    }
}

// ------------------------------------------------------------------ apply

#[derive(serde::Deserialize)]
struct ApplyOut {
    report: Report,
    summary: serde_json::Value,
}

#[derive(serde::Deserialize)]
struct Report {
    results: Vec<ResultLine>,
}

#[derive(serde::Deserialize)]
struct ResultLine {
    outcome: String,
    unavailable_ms: Option<f64>,
}

fn window_line(label: &str, windows: &mut [f64], total: Duration, n: usize) {
    windows.sort_by(f64::total_cmp);
    println!(
        "  RESULT {label}: {n} changes, total {:.2} s ({:.2} ms/change), window p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        total.as_secs_f64(),
        ms(total) / n as f64,
        percentile(windows, 50.0),
        percentile(windows, 99.0),
        windows[windows.len() - 1],
    );
}

async fn apply_bench(n: usize, work: &Path) {
    println!("\n== apply, {n} changes ==");
    let sc = seeded(n).await;
    let addr = sc.endpoint();
    let home = work.join(format!("apply-{n}"));
    std::fs::create_dir_all(&home).unwrap();

    // Two tool runs (set, then change) and the floor before, between and after them: the
    // same replaces done directly with the client (delete ack -> create ack, spec built
    // before), so each tool run has a floor measured right before it and right after it.
    let mut floors = vec![wire_replaces(n, &addr, "floor0.example").await];
    let mut tools = Vec::new();
    for (run, host) in ["a.example", "b.example"].iter().enumerate() {
        let file: PathBuf = home.join(format!("zone-{run}.toml"));
        std::fs::write(&file, common::zone_file(n, None, host)).unwrap();
        let file_s = file.to_str().unwrap();
        // The plan of the same file, for its peak RSS (nothing changes).
        let (_, plan_rss) =
            tokio::task::block_in_place(|| tool_rss(&home, &["plan", "-f", file_s, "-c", &addr]));
        let args = [
            "apply",
            "-f",
            file_s,
            "-c",
            &addr,
            "--auto-approve",
            "-o",
            "json",
        ];
        let (took, out, apply_rss) =
            tokio::task::block_in_place(|| timed_rss(Path::new(BIN), tool(&home, &args)));
        println!(
            "  RESULT apply-rss/{n}/run{}: apply peak RSS {:.1} MiB, plan of the same file {:.1} MiB = {:.2}x",
            run + 1,
            apply_rss as f64 / 1024.0,
            plan_rss as f64 / 1024.0,
            apply_rss as f64 / plan_rss as f64
        );
        let doc: ApplyOut = serde_json::from_str(&out).expect("apply JSON");
        let applied = doc
            .report
            .results
            .iter()
            .filter(|r| r.outcome == "applied")
            .count();
        assert_eq!(applied, n, "summary: {}", doc.summary);
        let mut windows: Vec<f64> = doc
            .report
            .results
            .iter()
            .filter_map(|r| r.unavailable_ms)
            .collect();
        assert_eq!(windows.len(), n);
        // the SC holds what the report claims: read back with the floor's own client
        let live = wire_list(&wire_connect(&addr).await).await;
        let set = live
            .iter()
            .filter(|m| {
                m.spec
                    .public_endpoint_local
                    .as_ref()
                    .is_some_and(|e| e.host == *host)
            })
            .count();
        assert_eq!(
            (live.len(), set),
            (n, n),
            "read back: every SPU exists and has the local endpoint the apply reported"
        );
        println!(
            "  summary.max_unavailable_ms = {}",
            doc.summary["max_unavailable_ms"]
        );
        window_line(
            &format!("apply/{n}/tool-run{}", run + 1),
            &mut windows,
            took,
            n,
        );

        tools.push(took);
        floors.push(wire_replaces(n, &addr, &format!("floor{}.example", run + 1)).await);
        if run == 0 && env_list("E2E_STALL_PAIRS", &[40])[0] > 0 {
            fluvio_replaces(n, &addr, "stall.example").await;
        }
    }
    for (run, took) in tools.iter().enumerate() {
        let around = (floors[run] + floors[run + 1]).as_secs_f64() / 2.0;
        println!(
            "  RESULT apply/{n}/ratio-run{}: tool {:.2} s / floor {:.2} s (mean of the floors before and after it: {:.2}, {:.2} s) = {:.2}x",
            run + 1,
            took.as_secs_f64(),
            around,
            floors[run].as_secs_f64(),
            floors[run + 1].as_secs_f64(),
            took.as_secs_f64() / around
        );
    }
    apply_breakdown(n, &addr, &home).await;
    sc.shutdown().await.ok();
}

/// A target that times every call the apply engine makes, and the engine's own time
/// between a delete's answer and the create's request (its share of the window).
struct Timed<T> {
    inner: T,
    fetch: Vec<f64>,
    delete: Vec<f64>,
    create: Vec<f64>,
    read: Vec<f64>,
    gap: Vec<f64>,
    deleted: Option<Instant>,
}

impl<T: Cluster> Cluster for Timed<T> {
    fn identity(&self) -> ClusterId {
        self.inner.identity()
    }
    async fn read(&mut self) -> Result<Live, ClusterError> {
        let t = Instant::now();
        let r = self.inner.read().await;
        self.read.push(ms(t.elapsed()));
        r
    }
    async fn fetch(&mut self, name: &str) -> Result<Option<LiveSpu>, ClusterError> {
        let t = Instant::now();
        let r = self.inner.fetch(name).await;
        self.fetch.push(ms(t.elapsed()));
        r
    }
    async fn partitions(&mut self) -> Result<Vec<LivePartition>, ClusterError> {
        self.inner.partitions().await
    }
    fn updates_in_place(&self) -> bool {
        self.inner.updates_in_place()
    }
    async fn update(&mut self, spec: &SpuSpec) -> Result<(), ClusterError> {
        self.inner.update(spec).await
    }
    async fn delete(&mut self, spec: &SpuSpec) -> Result<(), ClusterError> {
        let t = Instant::now();
        let r = self.inner.delete(spec).await;
        self.delete.push(ms(t.elapsed()));
        self.deleted = Some(Instant::now());
        r
    }
    async fn create(&mut self, spec: &SpuSpec) -> Result<(), ClusterError> {
        let t = Instant::now();
        if let Some(d) = self.deleted.take() {
            self.gap.push(ms(t - d));
        }
        let r = self.inner.create(spec).await;
        self.create.push(ms(t.elapsed()));
        r
    }
    async fn may_create(&mut self, spec: &SpuSpec) -> Result<(), ClusterError> {
        self.inner.may_create(spec).await
    }
    async fn reconnect(&mut self) -> Result<(), ClusterError> {
        self.inner.reconnect().await
    }
}

/// The apply engine in process, through a timing target: where a change's time goes.
async fn apply_breakdown(n: usize, addr: &str, home: &Path) {
    let source = SourceFile::new("breakdown.toml", common::zone_file(n, None, "c.example"));
    let desired = config::load(&source).unwrap();
    let inner = ScCluster::connect(
        FluvioClusterConfig::new(addr.to_string()),
        Duration::from_secs(15),
    )
    .await
    .unwrap();
    let mut target = Timed {
        inner,
        fetch: vec![],
        delete: vec![],
        create: vec![],
        read: vec![],
        gap: vec![],
        deleted: None,
    };
    let live = target.inner.read().await.unwrap();
    let plan = fluvio_endpoints::plan::plan(&desired, &live);
    assert_eq!(plan.changes.len(), n);
    let mut journal = Journal::open(&home.join("journal-breakdown"), &target.identity()).unwrap();
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let report = apply(
        &plan.changes,
        &mut target,
        &mut journal,
        &RetryPolicy::default(),
        &stop,
        &mut |_| {},
        None,
    )
    .await
    .unwrap();
    let total = ms(start.elapsed());
    assert!(report.all_applied());
    // What the engine sends does not depend on timing: per SPU one re-read, one delete and
    // one create, then one read of the whole cluster to verify.
    assert_eq!(
        (
            target.fetch.len(),
            target.delete.len(),
            target.create.len(),
            target.read.len()
        ),
        (n, n, n, 1),
        "requests of the apply"
    );
    let sum = |v: &[f64]| v.iter().sum::<f64>();
    let io = sum(&target.fetch) + sum(&target.delete) + sum(&target.create) + sum(&target.read);
    println!(
        "  apply engine in process ({n} changes, total {:.0} ms):",
        total
    );
    summary(
        "per change: re-read right before its delete (list by name)",
        &target.fetch,
    );
    summary("per change: delete", &target.delete);
    summary("per change: create", &target.create);
    summary(
        "per change: engine between delete ack and create",
        &target.gap,
    );
    summary("read all (the final verify)", &target.read);
    println!(
        "  RESULT apply-breakdown/{n}: fetch {:.0} ms ({:.0}%, {} SPUs), delete {:.0} ms, create {:.0} ms, reads {:.0} ms ({} reads), engine+journal (rest) {:.0} ms ({:.0}%)",
        sum(&target.fetch),
        100.0 * sum(&target.fetch) / total,
        target.fetch.len(),
        sum(&target.delete),
        sum(&target.create),
        sum(&target.read),
        target.read.len(),
        total - io,
        100.0 * (total - io) / total
    );
}

/// The new spec of a replace: the live one with a local endpoint on `host`.
fn replaced(m: &fluvio_sc_schema::objects::Metadata<FlvSpuSpec>, host: &str) -> FlvCustomSpuSpec {
    let mut spec: FlvCustomSpuSpec = m.spec.clone().into();
    spec.public_endpoint_local = Some(FlvEndpoint {
        host: host.to_string(),
        port: spec.public_endpoint.port,
        encryption: EncryptionEnum::PLAINTEXT,
    });
    spec
}

/// The floor for apply: bare delete + create of each SPU on one connection without watch
/// streams (fluvio-socket and fluvio-sc-schema only), the new spec built before the delete.
async fn wire_replaces(n: usize, addr: &str, host: &str) -> Duration {
    let socket = wire_connect(addr).await;
    let live = wire_list(&socket).await;
    let start = Instant::now();
    let (mut windows, mut deletes) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for m in &live {
        let spec = replaced(m, host);
        let create = CreateRequest::new(
            CommonCreateRequest {
                name: m.name.clone(),
                dry_run: false,
                ..Default::default()
            },
            spec,
        );
        let t = Instant::now();
        wire_request::<ObjectApiDeleteRequest, _>(
            &socket,
            DeleteRequest::<FlvCustomSpuSpec>::new(CustomSpuKey::Name(m.name.clone())),
        )
        .await
        .as_result()
        .expect("deleted");
        let deleted = Instant::now();
        wire_request::<ObjectApiCreateRequest, _>(&socket, create)
            .await
            .as_result()
            .expect("created");
        windows.push(ms(deleted.elapsed()));
        deletes.push(ms(deleted - t));
    }
    let took = start.elapsed();
    summary("floor: delete round trip (no watches)", &deletes);
    window_line(
        &format!("apply/{n}/floor(bare delete+create, no watches)"),
        &mut windows,
        took,
        n,
    );
    took
}

/// Beside it, the `Fluvio::connect` path (watch streams on the admin connection): its
/// replies wait for the client's delayed ACK of the watch update sent before them. Timed
/// on the first `E2E_STALL_PAIRS` SPUs only (each pair takes ~80 ms).
async fn fluvio_replaces(n: usize, addr: &str, host: &str) {
    let pairs = env_list("E2E_STALL_PAIRS", &[40])[0].min(n);
    let client = Fluvio::connect_with_config(&FluvioClusterConfig::new(addr.to_string()))
        .await
        .unwrap();
    let admin = client.admin().await;
    let live = admin.all::<FlvSpuSpec>().await.unwrap();
    let start = Instant::now();
    let (mut windows, mut deletes) = (Vec::with_capacity(pairs), Vec::with_capacity(pairs));
    for m in live.iter().take(pairs) {
        let spec = replaced(m, host);
        let t = Instant::now();
        admin
            .delete::<FlvCustomSpuSpec>(CustomSpuKey::Name(m.name.clone()))
            .await
            .unwrap();
        let deleted = Instant::now();
        deletes.push(ms(deleted - t));
        admin.create(m.name.clone(), false, spec).await.unwrap();
        windows.push(ms(deleted.elapsed()));
    }
    let took = start.elapsed();
    summary("Fluvio::connect path: delete round trip", &deletes);
    window_line(
        &format!("apply/{n}/Fluvio::connect path (delete+create, {pairs} SPUs)"),
        &mut windows,
        took,
        pairs,
    );
}

// ------------------------------------------------------------------ validate + diff, RSS

/// Child: validate FILE and diff it against N live SPUs; prints `ms peak_kib baseline_kib`.
fn rss_child(file: &Path, n: usize) {
    let baseline = vm_hwm();
    let live = common::live(n);
    let t = Instant::now();
    let source = SourceFile::read(file).unwrap();
    let desired = config::load(&source).unwrap();
    let plan = fluvio_endpoints::plan::plan(&desired, &live);
    let took = t.elapsed();
    assert_eq!(plan.changes.len(), n);
    println!("{:.3} {} {}", ms(took), vm_hwm(), baseline);
}

/// Child: every pure stage of `plan` once, timed, for profilers.
fn pure_child(file: &Path, n: usize) {
    let live = common::live(n);
    let t = Instant::now();
    let source = SourceFile::read(file).unwrap();
    let desired = config::load(&source).unwrap();
    let t_load = t.elapsed();
    let t = Instant::now();
    let plan = fluvio_endpoints::plan::plan(&desired, &live);
    let t_diff = t.elapsed();
    let t = Instant::now();
    let doc = PlanDoc::new(
        plan,
        &ClusterId::Sc("127.0.0.1:9003".into()),
        live.platform_version.clone(),
        Some((&source, &desired)),
    );
    let t_doc = t.elapsed();
    let t = Instant::now();
    let text = fluvio_endpoints::render::text::plan(&doc, &Style { color: false });
    let t_render = t.elapsed();
    let t = Instant::now();
    let json = fluvio_endpoints::render::json(&doc);
    let t_json = t.elapsed();
    println!(
        "validate {:.2} ms, diff {:.2} ms, PlanDoc::new {:.2} ms, render text {:.2} ms ({} B), render json {:.2} ms ({} B)",
        ms(t_load),
        ms(t_diff),
        ms(t_doc),
        ms(t_render),
        text.len(),
        ms(t_json),
        json.len()
    );
}

fn vm_hwm() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn rss_bench(n: usize, work: &Path) {
    println!("\n== validate + diff, {n} SPUs, no network ==");
    let home = work.join(format!("rss-{n}"));
    std::fs::create_dir_all(&home).unwrap();
    let file = home.join("zone.toml");
    std::fs::write(
        &file,
        common::zone_file(n, Some("127.0.0.1:9003"), "host.docker.internal"),
    )
    .unwrap();
    let me = std::env::current_exe().unwrap();
    let (mut times, mut peaks, mut validate_t, mut validate_rss) = (vec![], vec![], vec![], vec![]);
    let mut baseline = 0;
    for _ in 0..5 {
        let mut c = Command::new(&me);
        c.args(["--rss", file.to_str().unwrap(), &n.to_string()]);
        c.stdin(Stdio::null());
        let (_, out) = run_timed(c, 0);
        let f: Vec<f64> = out.split_whitespace().map(|x| x.parse().unwrap()).collect();
        times.push(f[0]);
        peaks.push(f[1] / 1024.0);
        baseline = f[2] as u64;
        let (took, maxrss) = tool_rss(&home, &["validate", "-f", file.to_str().unwrap()]);
        validate_t.push(ms(took));
        validate_rss.push(maxrss as f64 / 1024.0);
    }
    summary("validate+diff in a child (no startup)", &times);
    println!(
        "  RESULT rss/{n}: validate+diff {:.2} ms, peak RSS {:.1} MiB (child baseline {:.1} MiB); `fluvio-endpoints validate` process {:.2} ms, peak RSS {:.1} MiB",
        median(&times),
        median(&peaks),
        baseline as f64 / 1024.0,
        median(&validate_t),
        median(&validate_rss)
    );
}
