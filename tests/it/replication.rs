//! Replication and the data plane, end to end: the real binary against the test SC, whose
//! simulated SPU processes replicate, stall when a follower's SPU is re-registered, and heal
//! when that SPU's process restarts (tests/test-sc/FIDELITY.md).
//!
//! The restart commands act on the simulated cluster through the test SC's control
//! directory: `restart-spu-<id>` restarts that SPU's process, and the test SC removes the
//! file once the process is Online again, so a command that waits for the file to go is a
//! synchronous restart, as `docker restart` is.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::cli::{free_port, json, locals, one_line, within, Env, Run};
use crate::support::test_sc::{ApiKind, TestSc, TestScConfig};

/// A test SC with three local-cluster SPUs (5001-5003) and topic `data`: 3 partitions,
/// replication 3 (each SPU leads one and follows two), leaders reporting every 20 ms.
pub(crate) async fn replicated(control: &Path) -> TestSc {
    let sc = TestSc::start(TestScConfig {
        status_interval: Duration::from_millis(20),
        control_dir: Some(control.to_path_buf()),
        ..TestScConfig::default()
    })
    .await
    .expect("test SC starts");
    sc.seed_local_cluster(3, 0).await.expect("seeded");
    sc.create_topic("data", 3, 3).await.expect("topic");
    for p in 0..3 {
        sc.produce(&format!("data-{p}"), 10).await.expect("produce");
    }
    committed(&sc).await;
    sc
}

/// Every partition of `data`, in the data plane's truth: (leader, hw, leader's leo).
fn truth(sc: &TestSc) -> Vec<(i32, i64, i64)> {
    (0..3)
        .map(|p| {
            let s = sc.replica_state(&format!("data-{p}")).expect("partition");
            (s.leader, s.hw, s.leo[&s.leader])
        })
        .collect()
}

/// Waits until every partition has committed all its records (a safety deadline only).
pub(crate) async fn committed(sc: &TestSc) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while truth(sc).iter().any(|(_, hw, leo)| hw < leo) {
        assert!(
            Instant::now() < deadline,
            "never committed: {:?}",
            truth(sc)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sc.wait_status_report().await.expect("a status report");
}

pub(crate) fn zone(sc: &TestSc, policy: &str) -> String {
    let mut text = format!("[cluster]\nendpoint = \"{}\"\n\n{policy}\n", sc.endpoint());
    for id in 5001..=5003 {
        text.push_str(&format!(
            "[[spu]]\nid = {id}\nlocal = \"zone-{id}.example\"\n\n"
        ));
    }
    text
}

/// A restart command: restart the simulated SPU process through the control directory and
/// wait until it is Online again.
pub(crate) fn restart_command(control: &Path) -> String {
    format!(
        "f='{}'/restart-spu-$SPU_ID; touch \"$f\"; while [ -e \"$f\" ]; do sleep 0.01; done",
        control.display()
    )
}

/// Produces a record to every partition every few milliseconds until stopped: traffic
/// through an apply. Returns how many records each partition got.
fn traffic(sc: Arc<TestSc>, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut sent = 0;
        while !stop.load(Ordering::SeqCst) {
            for p in 0..3 {
                // a partition whose leader is restarting refuses for a moment: not counted
                if sc.produce(&format!("data-{p}"), 1).await.is_ok() {
                    sent += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        sent
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_that_would_stall_replication_is_refused_and_nothing_is_written() {
    let control = tempfile::tempdir().unwrap();
    let sc = replicated(control.path()).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(&sc, ""));
    let file = file.to_str().unwrap();

    let plan = within(&env, &["plan", "-f", file], 60).await.expect(6);
    assert!(
        plan.stdout.contains("replicas: follows data-"),
        "each change names its partitions: {}",
        plan.stdout
    );
    assert!(
        plan.stderr.contains("follows 2 replicated partitions"),
        "{}",
        plan.stderr
    );
    let doc = json(
        &within(&env, &["plan", "-f", file, "-o", "json"], 60)
            .await
            .expect(6),
    );
    let kinds: Vec<(&str, i64)> = doc["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["kind"].as_str().unwrap(), b["spu"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("replication_stall", 5001),
            ("replication_stall", 5002),
            ("replication_stall", 5003)
        ]
    );
    assert_eq!(doc["route"], "online");
    let roles = &doc["changes"][0]["partitions"];
    assert_eq!(roles.as_array().unwrap().len(), 3, "{roles}");
    // annotations put the blocker at the SPU's entry
    let annotated = within(&env, &["plan", "-f", file, "--annotations", "github"], 60)
        .await
        .expect(6);
    assert!(
        annotated
            .stdout
            .lines()
            .any(|l| l.starts_with("::error file=") && l.contains("replicated partitions")),
        "{}",
        annotated.stdout
    );

    let before = sc.faults().log().len();
    let apply = within(&env, &["apply", "-f", file, "--auto-approve"], 60)
        .await
        .expect(6);
    assert!(
        apply.stderr.contains("the plan is refused"),
        "{}",
        apply.stderr
    );
    let log = sc.faults().log();
    assert!(
        !log[before..]
            .iter()
            .any(|k| matches!(k, ApiKind::Delete | ApiKind::Create)),
        "a refused plan writes nothing: {:?}",
        &log[before..]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn accepted_stalls_are_applied_and_reported_at_risk_and_they_do_stall() {
    let control = tempfile::tempdir().unwrap();
    let sc = replicated(control.path()).await;
    let env = Env::new();
    let file = env.write(
        "zone.toml",
        &zone(&sc, "[policy]\nreplication_stalls = \"accept\"\n"),
    );
    let run = within(
        &env,
        &[
            "apply",
            "-f",
            file.to_str().unwrap(),
            "--auto-approve",
            "-o",
            "json",
        ],
        60,
    )
    .await
    .expect(0);
    let doc = json(&run);
    assert_eq!(doc["summary"]["verified"], true);
    assert_eq!(doc["summary"]["data_plane"], "not_proven");
    for r in doc["report"]["results"].as_array().unwrap() {
        assert_eq!(r["data_plane"]["at_risk"], true, "{r}");
        assert!(r["data_plane"].get("restart").is_none());
    }
    // what accepting means: new records are accepted by the leaders and never committed
    for p in 0..3 {
        sc.produce(&format!("data-{p}"), 5).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (leader, hw, leo) in truth(&sc) {
        assert!(hw < leo, "leader {leader}: hw {hw}, leo {leo}: not stalled");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rolling_apply_restarts_each_spu_and_proves_every_partition_under_traffic() {
    let control = tempfile::tempdir().unwrap();
    let sc = Arc::new(replicated(control.path()).await);
    let env = Env::new();
    let file = env.write("zone.toml", &zone(&sc, ""));
    let stop = Arc::new(AtomicBool::new(false));
    let producer = traffic(sc.clone(), stop.clone());
    let command = restart_command(control.path());
    let run = within(
        &env,
        &[
            "apply",
            "-f",
            file.to_str().unwrap(),
            "--auto-approve",
            "--restart-command",
            &command,
            "-o",
            "json",
        ],
        120,
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    let sent = producer.await.unwrap();
    let run = run.expect(0);
    let doc = json(&run);
    assert_eq!(doc["plan"]["route"], "rolling");
    assert_eq!(doc["summary"]["verified"], true);
    assert_eq!(doc["summary"]["data_plane"], "proven", "{}", run.stdout);
    for r in doc["report"]["results"].as_array().unwrap() {
        let d = &r["data_plane"];
        assert_eq!(d["at_risk"], true);
        assert!(d["restart"]["ms"].as_f64().is_some(), "{d}");
        assert!(d["gate_ms"].as_f64().is_some(), "{d}");
        let partitions = d["partitions"].as_array().unwrap();
        assert_eq!(partitions.len(), 3);
        for p in partitions {
            assert_eq!(p["state"], "caught_up", "{d}");
            assert_eq!(p["lag"], 0);
        }
    }
    assert!(sent > 0, "traffic ran through the apply");
    // the data plane's truth: nothing stays stalled, every record is committed
    for p in 0..3 {
        sc.produce(&format!("data-{p}"), 1).await.unwrap();
    }
    committed(&sc).await;
    // and the restarts went one SPU at a time, through the control directory
    assert_eq!(std::fs::read_dir(control.path()).unwrap().count(), 0);
    assert!(run.stderr.contains("Restarting SPU 5001"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_command_from_the_file_is_used_and_a_failing_one_halts_with_exit_11() {
    let control = tempfile::tempdir().unwrap();
    let sc = replicated(control.path()).await;
    let env = Env::new();
    let marks = env.home().join("restarted");
    let file = env.write(
        "zone.toml",
        &zone(
            &sc,
            &format!(
                "[policy]\nrestart_command = \"echo $SPU_ID >> '{}'; exit 3\"\n",
                marks.display()
            ),
        ),
    );
    let run = within(
        &env,
        &[
            "apply",
            "-f",
            file.to_str().unwrap(),
            "--auto-approve",
            "-o",
            "json",
        ],
        60,
    )
    .await
    .expect(11);
    assert_eq!(std::fs::read_to_string(&marks).unwrap(), "5001\n");
    assert!(
        run.stderr
            .contains("SPU 5001 (custom-spu-5001): the restart failed"),
        "{}",
        run.stderr
    );
    let doc = json(&run);
    let results = doc["report"]["results"].as_array().unwrap();
    assert_eq!(results[0]["outcome"], "applied", "the change itself stands");
    for r in &results[1..] {
        assert_eq!(r["outcome"], "skipped");
        assert!(r["reason"]
            .as_str()
            .unwrap()
            .contains("restart or replication gate failed"));
    }
    assert_eq!(doc["summary"]["data_plane"], "not_proven");
    // journal semantics unchanged: the change verified, nothing left open
    let journal = env.journal_dir();
    let open: Vec<PathBuf> = std::fs::read_dir(&journal)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        open.iter()
            .all(|p| p.extension().is_some_and(|e| e == "lock")),
        "{open:?}"
    );
    // the flag overrides the file's command
    let command = restart_command(control.path());
    within(
        &env,
        &[
            "apply",
            "-f",
            file.to_str().unwrap(),
            "--auto-approve",
            "--restart-command",
            &command,
        ],
        120,
    )
    .await
    .expect(0);
    assert_eq!(std::fs::read_to_string(&marks).unwrap(), "5001\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gate_that_times_out_halts_with_exit_11_and_reports_the_lag() {
    let control = tempfile::tempdir().unwrap();
    let sc = Arc::new(replicated(control.path()).await);
    let env = Env::new();
    let file = env.write("zone.toml", &zone(&sc, ""));
    let stop = Arc::new(AtomicBool::new(false));
    let producer = traffic(sc.clone(), stop.clone());
    // a "restart" that restarts nothing: the changed SPU stays stalled under traffic
    let run = within(
        &env,
        &[
            "apply",
            "-f",
            file.to_str().unwrap(),
            "--auto-approve",
            "--restart-command",
            "true",
            "--gate-timeout",
            "2",
            "-o",
            "json",
        ],
        60,
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    producer.await.unwrap();
    let run = run.expect(11);
    assert!(run.stderr.contains("the gate timed out"), "{}", run.stderr);
    let doc = json(&run);
    let first = &doc["report"]["results"][0]["data_plane"];
    let lagging: Vec<&serde_json::Value> = first["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["state"] == "lagging")
        .collect();
    assert!(!lagging.is_empty(), "{first}");
    assert!(lagging
        .iter()
        .all(|p| p["lag"].as_i64().unwrap() > 0 && p["role"] == "follower"));
    assert_eq!(doc["report"]["results"][1]["outcome"], "skipped");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_is_checked_against_the_route_of_the_run_that_applies_it() {
    let control = tempfile::tempdir().unwrap();
    let sc = replicated(control.path()).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(&sc, ""));
    let file = file.to_str().unwrap();
    let saved = env.home().join("rolling.plan");
    let saved = saved.to_str().unwrap();
    let command = restart_command(control.path());
    within(
        &env,
        &[
            "plan",
            "-f",
            file,
            "--restart-command",
            &command,
            "--out",
            saved,
        ],
        60,
    )
    .await
    .expect(0);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(saved).unwrap()).unwrap();
    assert_eq!(doc["route"], "rolling");
    // applied without a restart command, it would stall: refused
    let refused = within(&env, &["apply", saved], 60).await.expect(6);
    assert!(
        refused.stderr.contains("replicated partitions"),
        "{}",
        refused.stderr
    );
    within(&env, &["apply", saved, "--restart-command", &command], 120)
        .await
        .expect(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn update_local_takes_the_restart_command_too() {
    let control = tempfile::tempdir().unwrap();
    let sc = replicated(control.path()).await;
    let env = Env::new();
    let endpoint = sc.endpoint();
    within(
        &env,
        &["-c", &endpoint, "update-local", "5002", "zone.example"],
        60,
    )
    .await
    .expect(6);
    let command = restart_command(control.path());
    let run = within(
        &env,
        &[
            "-c",
            &endpoint,
            "update-local",
            "5002",
            "zone.example",
            "--restart-command",
            &command,
        ],
        60,
    )
    .await
    .expect(0);
    assert!(
        run.stdout.contains("data plane: restarted in"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("data plane proven"), "{}", run.stdout);
}

/// The project's test SC as a program (`examples/test-sc.rs`). `cargo test` builds the
/// examples; a run of this target alone (`--test it`) builds it here, once.
fn test_sc_program() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("the test binary's path");
            let profile = exe
                .parent()
                .and_then(Path::parent)
                .expect("target/<profile>/deps/<test>");
            let program = profile.join("examples").join("test-sc");
            if !program.exists() {
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
                let built = Command::new(cargo)
                    .args(["build", "--example", "test-sc"])
                    .current_dir(env!("CARGO_MANIFEST_DIR"))
                    .status()
                    .expect("run cargo build --example test-sc");
                assert!(built.success(), "cargo build --example test-sc failed");
            }
            assert!(program.exists(), "{} is missing", program.display());
            program
        })
        .clone()
}

/// The shell command that starts the test SC program in the background over `dir`, at
/// `addr`, its pid in `pidfile`, and returns once it listens.
fn start_command(dir: &Path, control: &Path, addr: &str, pidfile: &Path, first: bool) -> String {
    let seed = if first {
        "--seed-custom 3 --topic data:3:3"
    } else {
        ""
    };
    format!(
        "'{program}' --metadata-dir '{dir}' --bind {addr} --control-dir '{control}' --status-interval-ms 20 --run-spus {seed} > '{log}' 2>&1 & echo $! > '{pid}'; \
         for i in $(seq 1 600); do grep -q 'listening on' '{log}' && exit 0; sleep 0.05; done; exit 1",
        program = test_sc_program().display(),
        dir = dir.display(),
        control = control.display(),
        log = dir.with_extension("log").display(),
        pid = pidfile.display(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sc_offline_route_stops_the_sc_changes_its_directory_and_starts_it() {
    let sc = ProgramSc::start();
    let (dir, control, pidfile, addr) = (&sc.dir, &sc.control, &sc.pidfile, &sc.addr);
    // traffic through the control directory before the run
    std::fs::write(control.join("produce-data-0-25"), "").unwrap();

    let env = Env::new();
    let file = env.write("zone.toml", &program_zone(addr));
    let stop = format!("kill $(cat '{}')", pidfile.display());
    let start = start_command(dir, control, addr, pidfile, false);
    let run = offline_apply(
        &env,
        file.to_str().unwrap(),
        dir.to_str().unwrap(),
        &stop,
        &start,
        &["-o", "json"],
        120,
    )
    .await
    .expect(0);
    let doc = json(&run);
    assert_eq!(doc["plan"]["route"], "offline");
    assert_eq!(doc["summary"]["verified"], true);
    assert_eq!(doc["summary"]["data_plane"], "proven", "{}", run.stdout);
    let offline = &doc["report"]["offline"];
    assert!(offline["sc_outage_ms"].as_f64().unwrap() > 0.0, "{offline}");
    for r in doc["report"]["results"].as_array().unwrap() {
        assert!(
            r.get("unavailable_ms").is_none(),
            "no SPU was re-registered: {r}"
        );
        for p in r["data_plane"]["partitions"].as_array().unwrap() {
            assert_eq!(p["state"], "caught_up", "{r}");
            assert_eq!(p["leader_moved"], false, "{r}");
        }
    }
    // through the SC that runs again: both SPUs have their new local endpoint
    let list = within(&env, &["-c", addr, "list", "-o", "json"], 60)
        .await
        .expect(0);
    assert_eq!(
        locals(&json(&list)),
        ["offline.example", "offline.example", "-"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sc_offline_route_writes_nothing_while_the_sc_still_answers() {
    let sc = ProgramSc::start();
    let env = Env::new();
    let file = env.write("zone.toml", &program_zone(&sc.addr));
    let marks = env.home().join("started");
    let start = format!("touch '{}'", marks.display());
    let before = std::fs::read_dir(sc.dir.join("SPU")).unwrap().count();
    let run = offline_apply(
        &env,
        file.to_str().unwrap(),
        sc.dir.to_str().unwrap(),
        "true",
        &start,
        &["--gate-timeout", "1"],
        60,
    )
    .await
    .expect(11);
    let said = one_line(&run.stderr);
    assert!(said.contains("still serves"), "{said}");
    assert!(said.contains("nothing was written"), "{said}");
    assert!(
        said.contains("the start command was not run (the SC still answers)"),
        "{said}"
    );
    assert!(said.contains("endpoints::apply::sc_offline"), "{said}");
    assert!(
        !marks.exists(),
        "the start command is not run while the SC runs"
    );
    assert_eq!(
        std::fs::read_dir(sc.dir.join("SPU")).unwrap().count(),
        before
    );
    let list = json(
        &within(&env, &["-c", &sc.addr, "list", "-o", "json"], 60)
            .await
            .expect(0),
    );
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["spec"]["publicEndpointLocal"].is_null()));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sc_offline_route_refuses_a_directory_that_is_not_the_scs_before_stopping_it() {
    let sc = ProgramSc::start();
    let env = Env::new();
    let file = env.write("zone.toml", &program_zone(&sc.addr));
    let marks = env.home().join("stopped");
    let stop = format!("touch '{}'", marks.display());
    // a copy of the SC's directory: no process serves it
    let copy = env.home().join("copy");
    let copied = Command::new("cp")
        .args(["-r", sc.dir.to_str().unwrap(), copy.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(copied.success());
    let run = offline_apply(
        &env,
        file.to_str().unwrap(),
        copy.to_str().unwrap(),
        &stop,
        "true",
        &[],
        60,
    )
    .await
    .expect(11);
    let said = one_line(&run.stderr);
    assert!(said.contains("no process on this machine serves"), "{said}");
    // a typo in --exclude-spu is refused before the SC is stopped, as on any route
    let typo = offline_apply(
        &env,
        file.to_str().unwrap(),
        sc.dir.to_str().unwrap(),
        &stop,
        "true",
        &["--exclude-spu", "50001"],
        60,
    )
    .await
    .expect(64);
    assert!(
        one_line(&typo.stderr).contains("--exclude-spu 50001"),
        "{}",
        typo.stderr
    );
    assert!(!marks.exists(), "the stop command was not run");
    assert!(said.contains("Nothing was stopped or written"), "{said}");
    assert!(!marks.exists(), "the stop command was not run");
    // another SC's directory, which its own process serves: its SPUs are not these
    let other = ProgramSc::start_with("--seed-custom 2");
    let run = offline_apply(
        &env,
        file.to_str().unwrap(),
        other.dir.to_str().unwrap(),
        &stop,
        "true",
        &[],
        60,
    )
    .await
    .expect(11);
    let said = one_line(&run.stderr);
    assert!(
        said.contains("does not hold the SPUs the SC serves"),
        "{said}"
    );
    assert!(!marks.exists(), "the stop command was not run");
}

/// The test SC program in its own process (as a real SC runs), over a directory of its
/// own, killed when dropped.
struct ProgramSc {
    _work: tempfile::TempDir,
    dir: PathBuf,
    control: PathBuf,
    pidfile: PathBuf,
    addr: String,
}

impl ProgramSc {
    fn start() -> ProgramSc {
        Self::start_with("")
    }

    /// `seed`: the program's seeding flags instead of three SPUs and topic `data`.
    fn start_with(seed: &str) -> ProgramSc {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join("metadata");
        let control = work.path().join("control");
        std::fs::create_dir_all(&control).unwrap();
        let pidfile = work.path().join("sc.pid");
        let addr = format!("127.0.0.1:{}", free_port());
        let mut first = start_command(&dir, &control, &addr, &pidfile, true);
        if !seed.is_empty() {
            first = first.replace("--seed-custom 3 --topic data:3:3", seed);
        }
        let status = Command::new("sh").arg("-c").arg(&first).status().unwrap();
        assert!(status.success(), "the test SC program started");
        ProgramSc {
            _work: work,
            dir,
            control,
            pidfile,
            addr,
        }
    }
}

impl Drop for ProgramSc {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.pidfile) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// `apply -f FILE --auto-approve` on the SC-offline route over `dir`, with `extra`
/// arguments, bounded by `secs`.
async fn offline_apply(
    env: &Env,
    file: &str,
    dir: &str,
    stop: &str,
    start: &str,
    extra: &[&str],
    secs: u64,
) -> Run {
    let mut args = vec![
        "apply",
        "-f",
        file,
        "--auto-approve",
        "--sc-offline",
        dir,
        "--sc-stop",
        stop,
        "--sc-start",
        start,
    ];
    args.extend_from_slice(extra);
    within(env, &args, secs).await
}

/// SPUs 5001 and 5002 of a program SC get a local endpoint.
fn program_zone(addr: &str) -> String {
    format!(
        "[cluster]\nendpoint = \"{addr}\"\n\n[[spu]]\nid = 5001\nlocal = \"offline.example\"\n\n[[spu]]\nid = 5002\nlocal = \"offline.example\"\n"
    )
}
