//! The reconcile agent, measured: the real `fluvio-endpoints reconcile --remediate` against
//! the test SC on loopback, an SPU re-registered without its local endpoint again and again
//! (a delete and a create of its spec without it, as `fluvio cluster spu unregister` +
//! `register` do, back to back on a connection without watch streams, as a script would),
//! timed from the create's answer to the agent's report and to the endpoint back in the
//! SC's store; then the agent left idle, its CPU time counted; its
//! resident memory sampled through the cycles (a soak: it should stay flat).
//!
//! Run: `cargo bench --bench agent` (see BENCHMARKS.md). Knobs (environment):
//! - `AGENT_CYCLES` (default `300`): break-and-restore cycles;
//! - `AGENT_IDLE_SECS` (default `30`): the idle window whose CPU time is counted;
//! - `AGENT_DEBOUNCE` (default `100ms`): the agent's `--debounce`;
//! - `AGENT_QUICK=1` (or `--quick`): 5 cycles, 2 s idle: checks, not measurements (every
//!   cycle must be reported and restored, or the bench fails);
//! - `AGENT_SKIP=1`: skip.
//!
//! Without `--bench` (under `cargo test --benches`) it runs nothing.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fluvio::FluvioClusterConfig;
use fluvio_endpoints::cluster::sc::ScCluster;
use fluvio_endpoints::cluster::Cluster;

use fluvio_endpoints_test_sc as test_sc;

use test_sc::{TestSc, TestScConfig};

const BIN: &str = env!("CARGO_BIN_EXE_fluvio-endpoints");

/// How long a cycle may take before the bench fails (a broken agent, not a slow one).
const CYCLE_LIMIT: Duration = Duration::from_secs(30);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn line(name: &str, values: &mut [f64]) {
    values.sort_by(f64::total_cmp);
    println!(
        "  {name}: p50 {:.1} ms, p99 {:.1} ms, min {:.1} ms, max {:.1} ms ({} cycles)",
        percentile(values, 0.5),
        percentile(values, 0.99),
        values[0],
        values[values.len() - 1],
        values.len()
    );
}

/// The agent's CPU time so far (user + system), in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // after the command name in parentheses: fields 14 and 15 (utime, stime)
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        return;
    }
    if std::env::var("AGENT_SKIP").is_ok_and(|v| v == "1") {
        println!("agent: skipped (AGENT_SKIP=1)");
        return;
    }
    let quick =
        args.iter().any(|a| a == "--quick") || std::env::var("AGENT_QUICK").is_ok_and(|v| v == "1");
    let cycles: usize = env_or("AGENT_CYCLES", if quick { 5 } else { 300 });
    let idle: u64 = env_or("AGENT_IDLE_SECS", if quick { 2 } else { 30 });
    let debounce = std::env::var("AGENT_DEBOUNCE").unwrap_or_else(|_| "100ms".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(cycles, idle, &debounce));
}

/// One line of the agent's JSON log, as it arrived.
struct Logged {
    at: Instant,
    event: String,
}

async fn run(cycles: usize, idle: u64, debounce: &str) {
    let sc = TestSc::start(TestScConfig::default())
        .await
        .expect("test SC starts");
    sc.seed_local_cluster(3, 0).await.expect("seeded");
    let home = tempfile::tempdir().expect("temp dir");
    let zone = home.path().join("zone.toml");
    std::fs::write(
        &zone,
        format!(
            "[cluster]\nendpoint = \"{}\"\n\n[[spu]]\nid = 5001\nlocal = \"restored.example:9010\"\n",
            sc.endpoint()
        ),
    )
    .expect("zone file");
    let mut agent = Command::new(BIN)
        .args(["reconcile", "-f"])
        .arg(&zone)
        .args([
            "--remediate",
            "--min-interval",
            "0s",
            // every cycle undoes the last remediation at once: not a fight here
            "--undone-within",
            "0s",
            "--debounce",
            debounce,
            "--log-format",
            "json",
        ])
        .env("HOME", home.path())
        .env("FLUVIO_ENDPOINTS_JOURNAL_DIR", home.path().join("journal"))
        .env("FLV_PROFILE_PATH", home.path().join("fluvio-config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the agent starts");
    let pid = agent.id();
    let (sender, log) = mpsc::channel::<Logged>();
    let stderr = agent.stderr.take().expect("piped");
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let at = Instant::now();
            let value: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
            let event = value["event"].as_str().unwrap_or_default().to_string();
            if sender.send(Logged { at, event }).is_err() {
                break;
            }
        }
    });
    let wait_for = |event: &str| -> Instant {
        let deadline = Instant::now() + CYCLE_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match log.recv_timeout(left) {
                Ok(l) if l.event == event => return l.at,
                Ok(_) => {}
                Err(_) => panic!("no {event} from the agent within {CYCLE_LIMIT:?}"),
            }
        }
    };
    // the file's endpoint set at start
    wait_for("drift_cleared");

    let mut sc_conn = ScCluster::connect(
        FluvioClusterConfig::new(sc.endpoint()),
        Duration::from_secs(15),
    )
    .await
    .expect("connects to the SC");
    let (mut reported, mut restored, mut cleared) = (Vec::new(), Vec::new(), Vec::new());
    let mut rss = vec![rss_kib(pid)];
    let sample_every = (cycles / 10).max(1);
    let soak = Instant::now();
    for cycle in 0..cycles {
        let live = sc_conn.read().await.expect("list");
        let mut spec = (*live.spus[&5001].spec).clone();
        spec.local = None;
        sc_conn.delete(&spec).await.expect("unregister");
        sc_conn.create(&spec).await.expect("register");
        let changed = Instant::now();
        // the endpoint back in the SC's store
        let deadline = changed + CYCLE_LIMIT;
        loop {
            let back = sc.spus().await.into_iter().any(|(_, s, _)| {
                s.id == 5001
                    && s.public_endpoint_local
                        .as_ref()
                        .is_some_and(|e| e.host == "restored.example")
            });
            if back {
                restored.push(ms(changed.elapsed()));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "cycle {cycle}: the endpoint was not restored"
            );
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        let appeared = wait_for("drift_appeared");
        reported.push(ms(appeared.saturating_duration_since(changed)));
        let clear = wait_for("drift_cleared");
        cleared.push(ms(clear.saturating_duration_since(changed)));
        if (cycle + 1) % sample_every == 0 {
            rss.push(rss_kib(pid));
        }
    }
    let soak = soak.elapsed();
    println!(
        "agent: {cycles} re-registrations of one SPU, --debounce {debounce}, --min-interval 0s ({:.1} s)",
        soak.as_secs_f64()
    );
    line("change -> drift reported", &mut reported);
    line("change -> endpoint restored in the SC", &mut restored);
    line("change -> converged again (drift_cleared)", &mut cleared);
    let ticks = clock_ticks();
    let before = cpu_ticks(pid);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(idle)).await;
    let spent = (cpu_ticks(pid) - before) as f64 / ticks;
    let window = started.elapsed().as_secs_f64();
    println!(
        "  idle: {:.3} s of CPU in {window:.1} s ({:.3}% of one core)",
        spent,
        100.0 * spent / window
    );
    rss.push(rss_kib(pid));
    let first = rss[1.min(rss.len() - 1)] as f64;
    let last = *rss.last().unwrap() as f64;
    println!(
        "  RSS through the soak (KiB, every {sample_every} cycles): {}",
        rss.iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "  RESULT agent-soak: RSS after {cycles} cycles / after the first {sample_every}: {:.2}x",
        last / first
    );
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let status = agent.wait().expect("the agent ends");
    assert_eq!(status.code(), Some(0), "the agent's exit on SIGTERM");
}
