//! Apply never loses an SPU: the real binary against the test SC with injected faults
//! (dropped connections, refused creates, SC restarts, a SIGKILLed tool, concurrent runs,
//! stale plans). Every test ends with: no SPU missing, every non-local field as before, a
//! clear report and exit code, and a re-run that converges to an empty plan.

use std::future::Future;
use std::io::{BufRead, BufReader, Read};
use std::process::Child;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::support::cli::{finish, json, Env, Run};
use crate::support::fixtures::{local, sc_with, snapshot, spec_of};
use crate::support::test_sc::{ApiKind, ErrorCode, Point, SpuSpec, TestSc, TestScConfig};

/// A safety net for a broken test (an event that never comes), never what decides an
/// outcome: every wait below is on an event.
const DEADLINE: Duration = Duration::from_secs(120);

/// A `--timeout` no request of these tests can outlast: a held request is released or cut
/// by the test, never waited out by the tool.
const NO_TIMEOUT: &str = "3600";

/// `apply -f FILE --auto-approve --timeout NO_TIMEOUT`, the run most scenarios make.
fn apply_args(file: &str) -> [&str; 6] {
    [
        "apply",
        "-f",
        file,
        "--auto-approve",
        "--timeout",
        NO_TIMEOUT,
    ]
}

/// Starts that apply in the background (`finish` waits for it).
fn spawn_apply(env: &Env, file: &str) -> Child {
    env.spawn(&apply_args(file))
}

/// Runs that apply to completion.
fn run_apply(env: &Env, file: &str) -> Run {
    env.run(&apply_args(file))
}

/// No SPU lost, and nothing but `public_endpoint_local` differs from `before`.
#[track_caller]
fn assert_intact(before: &[SpuSpec], after: &[SpuSpec]) {
    let ids = |v: &[SpuSpec]| v.iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids(before), ids(after), "an SPU was lost or added");
    for (b, a) in before.iter().zip(after) {
        let strip = |s: &SpuSpec| SpuSpec {
            public_endpoint_local: None,
            ..s.clone()
        };
        assert_eq!(
            strip(b),
            strip(a),
            "a non-local field of SPU {} changed",
            b.id
        );
    }
}

/// Polls `check` every 2 ms until it holds; fails the test after the safety `DEADLINE`.
async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn missing(sc: &TestSc, id: i32) -> bool {
    spec_of(sc, id).await.is_none()
}

fn zone(sc: &TestSc, body: &str) -> String {
    format!(
        "[cluster]\nendpoint = \"{}\"\n\n[policy]\nunmanaged = \"ignore\"\n\n{body}",
        sc.endpoint()
    )
}

/// Zone file setting SPU `id`'s local endpoint to `host:port`.
fn zone_one(sc: &TestSc, id: i32, host: &str, port: u16) -> String {
    zone(
        sc,
        &format!("[[spu]]\nid = {id}\nlocal = \"{host}:{port}\"\n"),
    )
}

/// Zone file setting 5001.. to `h<id>.example:<public port>`.
fn zone_n(sc: &TestSc, n: usize) -> String {
    let mut body = String::new();
    for i in 0..n {
        body.push_str(&format!(
            "[[spu]]\nid = {}\nlocal = \"h{}.example:{}\"\n\n",
            5001 + i,
            5001 + i,
            9010 + 10 * i
        ));
    }
    zone(sc, &body)
}

fn expect_local(after: &[SpuSpec], n: usize) {
    for (i, spec) in after.iter().take(n).enumerate() {
        let id = 5001 + i as i32;
        assert_eq!(spec.id, id);
        assert_eq!(
            spec.public_endpoint_local,
            local(&format!("h{id}.example"), 9010 + 10 * i as u16),
            "SPU {id} has the declared local endpoint"
        );
    }
}

/// `plan --detailed-exitcode` on `file` finds nothing to do.
/// The end of every scenario: no SPU lost, nothing but the first `n` local endpoints
/// changed (each to its declared value), and the file plans to nothing.
async fn assert_settled(sc: &TestSc, env: &Env, file: &str, before: &[SpuSpec], n: usize) {
    let after = snapshot(sc).await;
    assert_intact(before, &after);
    expect_local(&after, n);
    assert_converged(env, file);
}

#[track_caller]
fn assert_converged(env: &Env, file: &str) {
    let plan = env
        .run(&["plan", "-f", file, "--detailed-exitcode"])
        .expect(0);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    assert!(
        !plan.stderr.contains("unfinished"),
        "no journal left behind: {}",
        plan.stderr
    );
}

/// The changes begun and never ended in the journals under `dir`: (seq, old, new) as JSON.
fn pending_in(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let mut pending: Vec<serde_json::Value> = Vec::new();
    // every scenario here journals: a missing journal dir is a failure, not "nothing pending"
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("journal dir {}: {e}", dir.display()));
    for entry in entries.filter_map(|e| e.ok()) {
        if entry.path().extension().is_none_or(|x| x != "jsonl") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let record: serde_json::Value =
                serde_json::from_str(line).expect("journal lines are JSON");
            match record["op"].as_str() {
                Some("begin") => pending.push(record),
                Some("end") => pending.retain(|p| p["seq"] != record["seq"]),
                other => panic!("unknown journal op {other:?}"),
            }
        }
    }
    pending
}

/// A running tool whose stderr is read as it comes, so a test can wait for a line.
struct Watched {
    child: Child,
    stderr: Arc<(Mutex<(String, bool)>, Condvar)>,
    reader: std::thread::JoinHandle<()>,
}

fn spawn_watched(env: &Env, args: &[&str]) -> Watched {
    let mut child = env.spawn(args);
    let pipe = child.stderr.take().expect("piped stderr");
    let stderr = Arc::new((Mutex::new((String::new(), false)), Condvar::new()));
    let shared = stderr.clone();
    let reader = std::thread::spawn(move || {
        let mut lines = BufReader::new(pipe);
        let mut line = String::new();
        loop {
            line.clear();
            let n = lines.read_line(&mut line).unwrap_or(0);
            let (lock, cv) = &*shared;
            let mut text = lock.lock().unwrap();
            if n == 0 {
                text.1 = true;
                cv.notify_all();
                return;
            }
            text.0.push_str(&line);
            cv.notify_all();
        }
    });
    Watched {
        child,
        stderr,
        reader,
    }
}

impl Watched {
    /// Blocks until the tool has written `needle` to stderr.
    async fn stderr_line(&self, needle: &str) {
        let stderr = self.stderr.clone();
        let needle = needle.to_owned();
        tokio::task::spawn_blocking(move || {
            let (lock, cv) = &*stderr;
            let text = lock.lock().unwrap();
            let (text, _) = cv
                .wait_timeout_while(text, DEADLINE, |(t, end)| !t.contains(&needle) && !*end)
                .unwrap();
            assert!(
                text.0.contains(&needle),
                "the tool never wrote {needle:?}; stderr:\n{}",
                text.0
            );
        })
        .await
        .unwrap();
    }

    async fn finish(self) -> Run {
        let Watched {
            mut child,
            stderr,
            reader,
        } = self;
        let mut stdout = String::new();
        let mut pipe = child.stdout.take().expect("piped stdout");
        let status = tokio::task::spawn_blocking(move || {
            pipe.read_to_string(&mut stdout).unwrap();
            let status = child.wait().expect("wait for fluvio-endpoints");
            reader.join().unwrap();
            (status, stdout)
        })
        .await
        .unwrap();
        let text = stderr.0.lock().unwrap().0.clone();
        Run {
            code: status.0.code().unwrap_or(-1),
            stdout: status.1,
            stderr: text,
        }
    }
}

// ------------------------------------------------------------------------------------ 1

#[tokio::test(flavor = "multi_thread")]
async fn connection_dropped_before_the_delete_is_retried_after_a_look() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_n(&sc, 2));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;

    // The first delete never reaches the store: the SC closes the connection instead.
    sc.faults().drop_connection_before(ApiKind::Delete, 1);
    let run = env
        .run(&[
            "apply",
            "-f",
            file,
            "--auto-approve",
            "--timeout",
            "2",
            "-o",
            "json",
        ])
        .expect(0);
    let doc = json(&run);
    assert_eq!(doc["summary"]["applied"], 2, "{}", run.stdout);
    assert_eq!(doc["summary"]["verified"], true);
    for r in doc["report"]["results"].as_array().unwrap() {
        assert_eq!(r["outcome"], "applied", "{r}");
        assert!(
            r["unavailable_ms"].as_f64().is_some(),
            "each replace reports its window: {r}"
        );
    }
    // 2 SPUs, 1 dropped delete, re-sent once after seeing the SPU still there.
    assert_eq!(sc.faults().requests(ApiKind::Delete), 3);
    assert_eq!(sc.faults().requests(ApiKind::Create), 2);

    let after = snapshot(&sc).await;
    assert_intact(&before, &after);
    expect_local(&after, 2);
    assert!(pending_in(&env.journal_dir()).is_empty());
    assert_converged(&env, file);
}

// ------------------------------------------------------------------------------------ 2

#[tokio::test(flavor = "multi_thread")]
async fn connection_dropped_between_delete_and_create_still_creates_once() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_n(&sc, 2));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;

    // The delete of 5001 is answered, then the connection is closed under the create
    // (before the SC applies it): the tool looks, finds 5001 missing and creates again.
    let create = sc.faults().hold(ApiKind::Create, Point::BeforeApply, 1);
    let child = spawn_apply(&env, file);
    create.reached().await;
    assert!(missing(&sc, 5001).await, "the delete came first");
    create.cut();
    let run = finish(child).await.expect(0);
    assert_eq!(
        sc.faults().requests(ApiKind::Delete),
        2,
        "one delete per SPU"
    );
    assert_eq!(
        sc.faults().requests(ApiKind::Create),
        3,
        "the cut create was sent again once, and 5002's once"
    );
    assert!(
        run.stdout
            .contains("2 applied, 0 skipped, 0 rolled back, 0 failed, 0 unresolved; verified"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("5001 custom-spu-5001") && run.stdout.contains("unavailable"),
        "{}",
        run.stdout
    );
    assert_settled(&sc, &env, file, &before, 2).await;

    // The SC applies the delete but its answer is lost: the tool must look (SPU gone = our
    // delete landed) and go on to the create, not report a failure or delete twice.
    let sc = sc_with(1).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_n(&sc, 1));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;
    sc.faults()
        .drop_connection_instead_of_answer(ApiKind::Delete, 1);
    let run = run_apply(&env, file).expect(0);
    assert!(
        run.stdout
            .contains("1 applied, 0 skipped, 0 rolled back, 0 failed, 0 unresolved; verified"),
        "{}",
        run.stdout
    );
    assert_eq!(
        sc.faults().requests(ApiKind::Delete),
        1,
        "a delete that landed is not re-sent"
    );
    assert_eq!(sc.faults().requests(ApiKind::Create), 1);
    assert_settled(&sc, &env, file, &before, 1).await;
}

// ------------------------------------------------------------------------------------ 3

#[tokio::test(flavor = "multi_thread")]
async fn connection_dropped_after_the_create_never_creates_blindly_twice() {
    // The create of 5001 is answered, then the connection drops: the next SPU's re-check
    // and the rest of the run go through a fresh connection.
    let sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_n(&sc, 2));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;
    sc.faults().drop_connection_after(ApiKind::Create, 1);
    let run = run_apply(&env, file).expect(0);
    assert!(
        run.stdout
            .contains("2 applied, 0 skipped, 0 rolled back, 0 failed, 0 unresolved; verified"),
        "{}",
        run.stdout
    );
    assert_eq!(sc.faults().requests(ApiKind::Create), 2);
    assert_settled(&sc, &env, file, &before, 2).await;

    // The create lands but its answer is lost: the tool looks, finds its own spec, and
    // does not send the create again (which would fail with SpuAlreadyExists).
    let sc = sc_with(1).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_n(&sc, 1));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;
    sc.faults()
        .drop_connection_instead_of_answer(ApiKind::Create, 1);
    let run = env
        .run(&[
            "apply",
            "-f",
            file,
            "--auto-approve",
            "--timeout",
            "2",
            "-o",
            "json",
        ])
        .expect(0);
    let doc = json(&run);
    assert_eq!(
        doc["report"]["results"][0]["outcome"], "applied",
        "{}",
        run.stdout
    );
    assert_eq!(doc["summary"]["verified"], true);
    assert_eq!(
        sc.faults().requests(ApiKind::Create),
        1,
        "look before retrying a create"
    );
    assert_settled(&sc, &env, file, &before, 1).await;
}

// ------------------------------------------------------------------------------------ 4

#[tokio::test(flavor = "multi_thread")]
async fn connection_dropped_during_verification() {
    let sc = sc_with(1).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_n(&sc, 1));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;

    // Hold the create after it was applied, so the test can arm a drop of the very next
    // List: the re-read that verifies the result.
    let create = sc.faults().hold(ApiKind::Create, Point::AfterApply, 1);
    let child = spawn_apply(&env, file);
    create.reached().await;
    let lists = sc.faults().requests(ApiKind::List);
    sc.faults().drop_connection_before(ApiKind::List, 1);
    create.release();
    let run = finish(child).await.expect(0);
    assert_eq!(sc.faults().requests(ApiKind::Create), 1);
    assert_eq!(sc.faults().requests(ApiKind::Delete), 1);
    assert!(
        run.stdout
            .contains("1 applied, 0 skipped, 0 rolled back, 0 failed, 0 unresolved; verified"),
        "{}",
        run.stdout
    );
    assert_eq!(
        sc.faults().requests(ApiKind::List),
        lists + 2,
        "the dropped verification read was retried on a new connection"
    );
    sc.faults().clear();
    let after = snapshot(&sc).await;
    assert_intact(&before, &after);
    expect_local(&after, 1);
    assert!(
        pending_in(&env.journal_dir()).is_empty(),
        "verified: journal ended"
    );
    assert_converged(&env, file);

    // If verification cannot read the cluster at all, the apply is not reported as done and
    // the journal keeps the change: the next run resolves it (at its new spec).
    let sc = sc_with(1).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_n(&sc, 1));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;
    let create = sc.faults().hold(ApiKind::Create, Point::AfterApply, 1);
    let child = spawn_apply(&env, file);
    create.reached().await;
    // Every List from now on loses its connection before it is served.
    let lists_before = sc.faults().requests(ApiKind::List);
    let lists = sc.faults().hold_every(ApiKind::List, Point::BeforeApply);
    lists.cut();
    create.release();
    let run = finish(child).await;
    sc.faults().clear();
    assert_eq!(
        sc.faults().requests(ApiKind::List) - lists_before,
        5,
        "the verifying read: one try and 4 retries"
    );
    // Unverified changes stay in the journal: `recover` (or the next apply) confirms them.
    let run = run.expect(8);
    assert!(
        run.stdout
            .contains("Verification failed: could not re-read the cluster"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("NOT fully applied"), "{}", run.stdout);
    let pending = pending_in(&env.journal_dir());
    assert_eq!(
        pending.len(),
        1,
        "an unverified change stays in the journal"
    );
    let after = snapshot(&sc).await;
    assert_intact(&before, &after);
    expect_local(&after, 1);
    let again = env.run(&["apply", "-f", file, "--auto-approve"]).expect(0);
    assert!(
        again.stderr.contains("was already at its new spec"),
        "{}",
        again.stderr
    );
    assert!(pending_in(&env.journal_dir()).is_empty());
    assert_converged(&env, file);
}

// ------------------------------------------------------------------------------------ 5

#[tokio::test(flavor = "multi_thread")]
async fn refused_create_rolls_back_to_the_old_spec() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_n(&sc, 2));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;

    sc.faults().fail_next_create(
        ErrorCode::Other("disk full".into()),
        Some("metadata store is full".into()),
    );
    let run = env
        .run(&[
            "apply",
            "-f",
            file,
            "--auto-approve",
            "--timeout",
            "2",
            "-o",
            "json",
        ])
        .expect(7);
    let doc = json(&run);
    let results = doc["report"]["results"].as_array().unwrap();
    assert_eq!(results[0]["outcome"], "rolled_back", "{}", run.stdout);
    assert!(
        results[0]["reason"]
            .as_str()
            .unwrap()
            .contains("metadata store is full"),
        "{}",
        run.stdout
    );
    assert!(
        results[0]["reason"]
            .as_str()
            .unwrap()
            .contains("old spec was restored"),
        "{}",
        run.stdout
    );
    assert!(
        results[0]["unavailable_ms"].as_f64().is_some(),
        "{}",
        run.stdout
    );
    assert_eq!(results[1]["outcome"], "applied", "{}", run.stdout);
    assert_eq!(doc["summary"]["rolled_back"], 1);
    assert_eq!(doc["summary"]["verified"], false);
    assert!(
        run.stderr.contains("1 of 2 change(s) were not applied"),
        "{}",
        run.stderr
    );

    let after = snapshot(&sc).await;
    assert_intact(&before, &after);
    assert_eq!(after[0], before[0], "5001 is back exactly as it was");
    assert_eq!(after[1].public_endpoint_local, local("h5002.example", 9020));
    assert!(
        pending_in(&env.journal_dir()).is_empty(),
        "a rollback is a finished change"
    );

    let again = env.run(&["apply", "-f", file, "--auto-approve"]).expect(0);
    assert!(
        again.stdout.contains("1 applied, 0 skipped"),
        "{}",
        again.stdout
    );
    assert_settled(&sc, &env, file, &before, 2).await;
}

// ------------------------------------------------------------------------------------ 6

#[tokio::test(flavor = "multi_thread")]
async fn sc_restarted_between_delete_and_create() {
    let mut sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_n(&sc, 2));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;

    let create = sc.faults().hold(ApiKind::Create, Point::BeforeApply, 1);
    let child = spawn_apply(&env, file);
    create.reached().await;
    assert!(missing(&sc, 5001).await, "5001 deleted before its create");
    // The SC goes away with the create in hand (the restart cuts it: the stopped SC
    // applies nothing) and comes back from its metadata dir, where 5001 is absent.
    sc.restart().await.expect("SC restarts");
    assert!(missing(&sc, 5001).await, "the held create never landed");
    assert!(
        !sc.metadata_dir().join("SPU/custom-spu-5001.yaml").exists(),
        "nor was it written"
    );
    let run = finish(child).await.expect(0);
    assert_eq!(sc.faults().requests(ApiKind::Delete), 2);
    assert_eq!(
        sc.faults().requests(ApiKind::Create),
        3,
        "the cut create once more on the restarted SC, and 5002's"
    );
    assert!(
        run.stdout
            .contains("2 applied, 0 skipped, 0 rolled back, 0 failed, 0 unresolved; verified"),
        "{}",
        run.stdout
    );

    let after = snapshot(&sc).await;
    assert_intact(&before, &after);
    expect_local(&after, 2);
    assert!(pending_in(&env.journal_dir()).is_empty());
    assert_converged(&env, file);
    // And what the SC persisted is the same: restart again, reload from disk.
    sc.restart().await.expect("SC restarts");
    let reloaded = snapshot(&sc).await;
    assert_intact(&before, &reloaded);
    expect_local(&reloaded, 2);
    assert_converged(&env, file);
}

// ------------------------------------------------------------------------------------ 7

#[tokio::test(flavor = "multi_thread")]
async fn tool_sigkilled_between_delete_and_create_is_recovered() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_n(&sc, 2));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;

    assert_eq!(
        killed_before_its_first_create(&sc, &env, &["apply", "-f", file, "--auto-approve"]).await,
        Some(9),
        "killed by SIGKILL"
    );
    assert_eq!(sc.faults().requests(ApiKind::Create), 1);
    assert_eq!(sc.faults().requests(ApiKind::Delete), 1);
    assert!(
        missing(&sc, 5001).await,
        "the kill left 5001 missing from the SC"
    );

    let pending = pending_in(&env.journal_dir());
    assert_eq!(
        pending.len(),
        1,
        "the journal holds the change in flight: {pending:?}"
    );
    assert_eq!(pending[0]["old"]["id"], 5001);
    assert_eq!(pending[0]["new"]["id"], 5001);
    assert!(pending[0]["old"]["local"].is_null(), "{}", pending[0]);
    assert_eq!(
        pending[0]["new"]["local"]["host"], "h5001.example",
        "{}",
        pending[0]
    );

    // Every other command says so before anything else (plan refuses: 5001 is missing).
    let plan = env.run(&["plan", "-f", file]).expect(6);
    assert!(
        plan.stderr
            .contains("an interrupted apply left 1 change(s) unfinished"),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stderr.contains("run `fluvio-endpoints recover`"),
        "{}",
        plan.stderr
    );

    let c = sc.endpoint();
    let rec = env.run(&["recover", "-c", &c]).expect(0);
    assert!(
        rec.stderr
            .contains("5001 custom-spu-5001: was missing; re-created with its new spec"),
        "{}",
        rec.stderr
    );
    let restored = spec_of(&sc, 5001).await.expect("5001 exists again");
    assert_eq!(
        restored.public_endpoint_local,
        local("h5001.example", 9010),
        "recover re-created the NEW spec"
    );
    assert!(
        pending_in(&env.journal_dir()).is_empty(),
        "recovered: journal ended"
    );
    let again = env.run(&["recover", "-c", &c]).expect(0);
    assert!(
        again.stderr.contains("Nothing to recover"),
        "{}",
        again.stderr
    );

    // 5002 was never reached; a re-run finishes it.
    assert_eq!(spec_of(&sc, 5002).await.unwrap(), before[1]);
    env.run(&["apply", "-f", file, "--auto-approve"]).expect(0);
    assert_settled(&sc, &env, file, &before, 2).await;
}

// ------------------------------------------------------------------------------------ 8

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_applies_on_one_cluster_fail_fast_and_lose_nothing() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let a = env.write("a.toml", &zone_one(&sc, 5001, "a.example", 9010));
    let b = env.write("b.toml", &zone_one(&sc, 5002, "b.example", 9020));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let before = snapshot(&sc).await;

    let create = sc.faults().hold(ApiKind::Create, Point::BeforeApply, 1);
    let mut first = env.spawn(&["apply", "-f", a, "--auto-approve"]);
    create.reached().await;
    assert!(missing(&sc, 5001).await, "the first apply is mid-replace");
    let second = env.run(&["apply", "-f", b, "--auto-approve"]).expect(1);
    assert!(
        second
            .stderr
            .contains("another fluvio-endpoints run is changing"),
        "{}",
        second.stderr
    );
    assert!(
        first.try_wait().unwrap().is_none(),
        "the second run failed while the first still held the lock: it did not wait"
    );
    assert_eq!(
        spec_of(&sc, 5002).await.unwrap(),
        before[1],
        "the second run wrote nothing"
    );

    assert_eq!(
        sc.faults().requests(ApiKind::Delete),
        1,
        "the second run wrote nothing"
    );
    create.release();
    let first = finish(first).await.expect(0);
    assert!(first.stdout.contains("1 applied"), "{}", first.stdout);
    assert_eq!(sc.faults().requests(ApiKind::Create), 1);
    env.run(&["apply", "-f", b, "--auto-approve"]).expect(0);

    let after = snapshot(&sc).await;
    assert_intact(&before, &after);
    assert_eq!(after[0].public_endpoint_local, local("a.example", 9010));
    assert_eq!(after[1].public_endpoint_local, local("b.example", 9020));
    assert_converged(&env, a);
    assert_converged(&env, b);
}

// ------------------------------------------------------------------------------------ 9

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_is_refused_after_someone_else_changed_its_spu() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_n(&sc, 2));
    let file = file.to_str().unwrap();
    let saved = env.home().join("plan.json");
    let saved = saved.to_str().unwrap();
    let before = snapshot(&sc).await;

    env.save_plan(file, saved).expect(0);
    // Someone else changes 5002 after the plan was reviewed.
    env.run(&[
        "update-local",
        "5002",
        "someone.else:1234",
        "-c",
        &sc.endpoint(),
    ])
    .expect(0);
    let changed = snapshot(&sc).await;
    let (deletes, creates) = (
        sc.faults().requests(ApiKind::Delete),
        sc.faults().requests(ApiKind::Create),
    );

    let run = env.run(&["apply", saved]).expect(5);
    assert!(
        run.stderr
            .contains("SPU 5002 (custom-spu-5002) no longer matches"),
        "{}",
        run.stderr
    );
    assert_eq!(
        sc.faults().requests(ApiKind::Delete),
        deletes,
        "nothing was written"
    );
    assert_eq!(
        sc.faults().requests(ApiKind::Create),
        creates,
        "nothing was written"
    );
    assert_eq!(
        snapshot(&sc).await,
        changed,
        "not even 5001, which had not moved"
    );

    // A fresh plan from the file converges.
    env.run(&["apply", "-f", file, "--auto-approve"]).expect(0);
    assert_settled(&sc, &env, file, &before, 2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_saved_plan_an_spu_that_moves_before_its_delete_is_skipped() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_n(&sc, 2));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;

    // Hold the first delete (5001) while another machine (its own journal and lock) changes
    // 5002: the apply planned 5002 from the old spec and must not overwrite the new one.
    let delete = sc.faults().hold(ApiKind::Delete, Point::BeforeApply, 1);
    let child = env.spawn(&["apply", "-f", file, "--auto-approve", "-o", "json"]);
    delete.reached().await;
    let other = Env::new();
    other
        .run(&[
            "update-local",
            "5002",
            "someone.else:1234",
            "-c",
            &sc.endpoint(),
        ])
        .expect(0);
    let theirs = spec_of(&sc, 5002).await.unwrap();
    assert_eq!(theirs.public_endpoint_local, local("someone.else", 1234));
    delete.release();

    let run = finish(child).await.expect(7);
    assert_eq!(
        sc.faults().requests(ApiKind::Delete),
        2,
        "5001's delete and the other machine's; none for 5002"
    );
    assert_eq!(sc.faults().requests(ApiKind::Create), 2);
    let doc = json(&run);
    let results = doc["report"]["results"].as_array().unwrap();
    assert_eq!(results[0]["outcome"], "applied", "{}", run.stdout);
    assert_eq!(results[1]["outcome"], "skipped", "{}", run.stdout);
    let reason = results[1]["reason"].as_str().unwrap();
    assert!(
        reason.contains("it changed since the plan") && reason.contains("local"),
        "{reason}"
    );
    assert_eq!(
        spec_of(&sc, 5002).await.unwrap(),
        theirs,
        "their change is kept"
    );

    let after = snapshot(&sc).await;
    assert_intact(&before, &after);
    assert_eq!(after[0].public_endpoint_local, local("h5001.example", 9010));
    // A re-run plans from the new live spec and converges.
    env.run(&["apply", "-f", file, "--auto-approve"]).expect(0);
    assert_settled(&sc, &env, file, &before, 2).await;
}

// ------------------------------------------------------------------------------------ more

#[tokio::test(flavor = "multi_thread")]
async fn sigint_mid_replace_finishes_the_spu_in_flight_and_skips_the_rest() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_n(&sc, 2));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;

    let create = sc.faults().hold(ApiKind::Create, Point::BeforeApply, 1);
    let child = spawn_watched(&env, &["apply", "-f", file, "--auto-approve"]);
    create.reached().await;
    assert!(missing(&sc, 5001).await);
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(sent.success());
    // the create goes on only once the tool has taken the interrupt
    child
        .stderr_line("Interrupted: finishing the SPU in flight")
        .await;
    create.release();
    let run = child.finish().await.expect(7);
    assert_eq!(sc.faults().requests(ApiKind::Delete), 1);
    assert_eq!(sc.faults().requests(ApiKind::Create), 1);
    assert!(
        run.stderr
            .contains("Interrupted: finishing the SPU in flight"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("1 applied, 1 skipped"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("interrupted before this SPU"),
        "{}",
        run.stdout
    );
    sc.faults().clear();

    let after = snapshot(&sc).await;
    assert_intact(&before, &after);
    assert_eq!(
        after[0].public_endpoint_local,
        local("h5001.example", 9010),
        "the SPU in flight was finished"
    );
    assert_eq!(after[1], before[1], "the rest was not touched");
    assert!(pending_in(&env.journal_dir()).is_empty());
    env.run(&["apply", "-f", file, "--auto-approve"]).expect(0);
    assert_settled(&sc, &env, file, &before, 2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sc_down_past_the_retry_budget_exits_8_and_recover_restores_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = TestScConfig {
        metadata_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let sc = TestSc::start(config.clone()).await.unwrap();
    sc.seed_local_cluster(2, 0).await.unwrap();
    let addr = sc.addr();
    let env = Env::new();
    let file = env.write("zone.toml", &zone_n(&sc, 2));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;

    // 5001 is deleted, and the SC goes away before the create is carried out, for longer
    // than the tool's retries last.
    let create = sc.faults().hold(ApiKind::Create, Point::BeforeApply, 1);
    let child = spawn_apply(&env, file);
    create.reached().await;
    assert!(missing(&sc, 5001).await);
    // The SC stops with the create in hand: it is cut, never applied.
    let faults = sc.faults().clone();
    sc.shutdown().await.unwrap();
    let run = finish(child).await.expect(8);
    assert_eq!(
        faults.requests(ApiKind::Create),
        1,
        "no SC to retry against"
    );
    assert_eq!(faults.requests(ApiKind::Delete), 1);
    assert!(
        run.stdout.contains("5001 custom-spu-5001") && run.stdout.contains("unresolved"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("run `fluvio-endpoints recover`"),
        "{}",
        run.stderr
    );
    let pending = pending_in(&env.journal_dir());
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["new"]["id"], 5001);

    // The SC comes back (same address, same metadata): 5001 really is missing.
    let sc = TestSc::start(TestScConfig {
        bind: addr,
        ..config
    })
    .await
    .unwrap();
    assert!(missing(&sc, 5001).await);
    assert_eq!(
        spec_of(&sc, 5002).await.unwrap(),
        before[1],
        "5002 was never touched"
    );
    let rec = env.run(&["recover", "-c", &sc.endpoint()]).expect(0);
    assert!(
        rec.stderr
            .contains("5001 custom-spu-5001: was missing; re-created with its new spec"),
        "{}",
        rec.stderr
    );
    assert_eq!(
        spec_of(&sc, 5001).await.unwrap().public_endpoint_local,
        local("h5001.example", 9010)
    );
    assert!(pending_in(&env.journal_dir()).is_empty());

    env.run(&["apply", "-f", file, "--auto-approve"]).expect(0);
    assert_settled(&sc, &env, file, &before, 2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_sigkilled_after_the_create_before_verification_recovers_at_new() {
    let sc = sc_with(1).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_n(&sc, 1));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;

    let create = sc.faults().hold(ApiKind::Create, Point::AfterApply, 1);
    let mut child = env.spawn(&["apply", "-f", file, "--auto-approve"]);
    create.reached().await;
    assert!(!missing(&sc, 5001).await, "the create landed");
    // Hold the verifying re-read, and kill the tool while it waits for it.
    let read = sc.faults().hold(ApiKind::List, Point::BeforeApply, 1);
    create.release();
    read.reached().await;
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    read.cut();
    assert_eq!(sc.faults().requests(ApiKind::Create), 1);

    let pending = pending_in(&env.journal_dir());
    assert_eq!(pending.len(), 1, "not verified, so not ended: {pending:?}");
    // The next apply recovers first, finds nothing left to change, and its one JSON
    // document says what the recovery found.
    let run = env
        .run(&["apply", "-f", file, "--auto-approve", "-o", "json"])
        .expect(0);
    assert!(
        run.stderr
            .contains("5001 custom-spu-5001: was already at its new spec"),
        "{}",
        run.stderr
    );
    let doc = json(&run);
    assert_eq!(doc["report"]["recovered_first"][0]["id"], 5001, "{doc}");
    assert_eq!(doc["report"]["recovered_first"][0]["state"], "at_new");
    assert_eq!(doc["summary"]["recovered_first"], 1);
    assert_eq!(doc["report"]["results"].as_array().map(Vec::len), Some(0));
    assert_eq!(doc["plan"]["changes"].as_array().map(Vec::len), Some(0));
    assert_eq!(doc["summary"]["verified"], true);
    assert_eq!(doc["dry_run"], false);
    assert!(pending_in(&env.journal_dir()).is_empty());
    assert_settled(&sc, &env, file, &before, 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delete_answered_after_the_timeout_does_not_delete_the_new_spu() {
    let sc = sc_with(1).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_n(&sc, 1));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;

    // The SC is slow: every delete takes longer than the client waits for it, and is
    // still carried out after the client gave up on it. Before the fix, the tool re-sent
    // the delete on a new connection, created the new spec, verified it, exited 0, and
    // then its second delete landed: the SPU was gone.
    // Hold the delete until the tool gave up waiting for it (its timeout) and sent its
    // next request on the same connection; only then does the delete go on.
    let delete = sc.faults().hold(ApiKind::Delete, Point::BeforeApply, 1);
    let child = env.spawn(&["apply", "-f", file, "--auto-approve", "--timeout", "1"]);
    delete.reached().await;
    delete.followed().await;
    assert!(!missing(&sc, 5001).await, "nothing deleted yet");
    delete.release();
    let run = finish(child).await.expect(0);
    assert!(
        run.stdout
            .contains("1 applied, 0 skipped, 0 rolled back, 0 failed, 0 unresolved; verified"),
        "{}",
        run.stdout
    );
    sc.faults().clear();
    // Anything the SC still held from that run lands before its connection closes.
    {
        let sc = &sc;
        wait_for(
            "the SC to be done with the run's connections",
            || async move { sc.open_connections() == 0 },
        )
        .await;
    }
    assert_eq!(
        sc.faults().requests(ApiKind::Delete),
        1,
        "the timed-out delete was waited for on its connection, not sent again"
    );
    assert_settled(&sc, &env, file, &before, 1).await;
}

/// A TCP proxy to `upstream` that passes every frame through, except the SC's reply to the
/// first admin Delete (api key 1002), which it replaces with bytes the client cannot decode
/// (an absurd frame length). Request frames start with api key (i16), version (i16) and
/// correlation id (i32); reply frames with the correlation id. The flag tells whether it did.
fn corrupting_proxy(upstream: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::collections::HashSet;
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    fn read_frame(from: &mut TcpStream) -> Option<Vec<u8>> {
        let mut len = [0u8; 4];
        from.read_exact(&mut len).ok()?;
        let mut frame = vec![0u8; usize::try_from(i32::from_be_bytes(len)).ok()?];
        from.read_exact(&mut frame).ok()?;
        Some(frame)
    }
    fn write_frame(to: &mut TcpStream, frame: &[u8]) -> bool {
        let len = (frame.len() as i32).to_be_bytes();
        to.write_all(&len)
            .and_then(|()| to.write_all(frame))
            .is_ok()
    }

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let corrupted = Arc::new(AtomicBool::new(false));
    let done = corrupted.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let (Ok(client), Ok(server)) = (client, TcpStream::connect(&upstream)) else {
                return;
            };
            let deletes = Arc::new(Mutex::new(HashSet::<i32>::new()));
            let (mut from, mut to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let ids = deletes.clone();
            std::thread::spawn(move || {
                while let Some(frame) = read_frame(&mut from) {
                    if frame.len() >= 8 && i16::from_be_bytes([frame[0], frame[1]]) == 1002 {
                        let id = i32::from_be_bytes(frame[4..8].try_into().unwrap());
                        ids.lock().unwrap().insert(id);
                    }
                    if !write_frame(&mut to, &frame) {
                        break;
                    }
                }
                let _ = to.shutdown(Shutdown::Write);
            });
            let (mut from, mut to) = (server, client);
            let corrupted = corrupted.clone();
            std::thread::spawn(move || {
                while let Some(frame) = read_frame(&mut from) {
                    let id = frame
                        .get(0..4)
                        .map(|b| i32::from_be_bytes(b.try_into().unwrap()));
                    let to_delete = id.is_some_and(|id| deletes.lock().unwrap().contains(&id));
                    if to_delete && !corrupted.swap(true, Ordering::SeqCst) {
                        let _ = to.write_all(&[0xff; 8]);
                        break;
                    }
                    if !write_frame(&mut to, &frame) {
                        break;
                    }
                }
                let _ = to.shutdown(Shutdown::Write);
            });
        }
    });
    (addr, done)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_undecodable_reply_to_the_delete_fails_at_once_and_the_replace_completes() {
    let sc = sc_with(1).await;
    let env = Env::new();
    let (proxy, corrupted) = corrupting_proxy(sc.endpoint());
    let file = env.write(
        "zone.toml",
        &format!(
            "[cluster]\nendpoint = \"{proxy}\"\n\n[[spu]]\nid = 5001\nlocal = \"h5001.example:9010\"\n"
        ),
    );
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;

    // The delete lands; its reply cannot be read. The tool does not wait out the timeout:
    // the request fails at once (no panic), the engine looks (the SPU is gone) and creates.
    // With a timeout no run can wait out, the run ending at all shows it did not wait.
    let run = run_apply(&env, file).expect(0);
    assert_eq!(
        sc.faults().requests(ApiKind::Delete),
        1,
        "the delete landed once"
    );
    assert_eq!(sc.faults().requests(ApiKind::Create), 1);
    assert!(!run.stderr.contains("no answer within"), "{}", run.stderr);
    assert!(
        corrupted.load(std::sync::atomic::Ordering::SeqCst),
        "the delete's reply was garbled"
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(
        run.stdout.contains("1 applied") && run.stdout.contains("verified"),
        "{}",
        run.stdout
    );
    assert_settled(&sc, &env, file, &before, 1).await;
}

// ------------------------------------------------------------------------------------ batches

/// The deletes and creates (that write) the SC has received.
fn writes(sc: &TestSc) -> (usize, usize) {
    (
        sc.faults().requests(ApiKind::Delete),
        sc.faults().requests(ApiKind::Create),
    )
}

/// The SPU ids of the changes begun and never ended in the journals under `dir`, sorted.
fn pending_ids(dir: &std::path::Path) -> Vec<i64> {
    let mut ids: Vec<i64> = pending_in(dir)
        .iter()
        .map(|p| p["new"]["id"].as_i64().expect("journaled SPU id"))
        .collect();
    ids.sort();
    ids
}

/// Batches go 1, 2, 4, ... changes: with 7 changes the third batch is 5004..5007. The tool
/// is killed while the SC holds the create of 5004, the batch's first SPU: the batch's four
/// `begin` lines are on disk, one of its deletes was sent, three were not. Recovery
/// restores every SPU, and a re-run converges.
#[tokio::test(flavor = "multi_thread")]
async fn killed_with_a_batch_begun_and_part_of_it_sent_recover_restores_every_spu() {
    let sc = sc_with(7).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_n(&sc, 7));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;

    let create = sc.faults().hold(ApiKind::Create, Point::BeforeApply, 4);
    let mut child = spawn_apply(&env, file);
    create.reached().await;
    assert!(missing(&sc, 5004).await);
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    create.cut();
    {
        let sc = &sc;
        wait_for("the dead tool's connections to close", || async move {
            sc.open_connections() == 0
        })
        .await;
    }
    assert_eq!(
        writes(&sc),
        (4, 4),
        "5001..5004 deleted; 5004's create was cut"
    );
    assert!(missing(&sc, 5004).await, "the kill left 5004 missing");
    for id in [5005, 5006, 5007] {
        assert_eq!(
            spec_of(&sc, id).await.as_ref(),
            before.iter().find(|s| s.id == id),
            "{id} never touched"
        );
    }
    // The whole batch is journaled (its begins before its first request), and the earlier
    // batches wait for their verification.
    assert_eq!(
        pending_ids(&env.journal_dir()),
        [5001, 5002, 5003, 5004, 5005, 5006, 5007]
    );

    let rec = env.run(&["recover", "-c", &sc.endpoint()]).expect(0);
    for (id, state) in [
        (5001, "was already at its new spec"),
        (5002, "was already at its new spec"),
        (5003, "was already at its new spec"),
        (5004, "was missing; re-created with its new spec"),
        (5005, "was still at its old spec"),
        (5006, "was still at its old spec"),
        (5007, "was still at its old spec"),
    ] {
        let line = format!("{id} custom-spu-{id}: {state}");
        assert!(rec.stderr.contains(&line), "{line}:\n{}", rec.stderr);
    }
    assert!(pending_in(&env.journal_dir()).is_empty());
    assert_eq!(writes(&sc), (4, 5), "recover re-created 5004 only");

    env.run(&["apply", "-f", file, "--auto-approve"]).expect(0);
    assert_settled(&sc, &env, file, &before, 7).await;
}

/// Ctrl-C while the SC holds the create of the first SPU of a two-SPU batch (5002, 5003):
/// 5002 is finished, 5003 (begun, never re-read or deleted) is ended as skipped, 5004 gets
/// no `begin`, and the journal is left empty.
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_inside_a_batch_ends_the_begun_spus_it_skips() {
    let sc = sc_with(4).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_n(&sc, 4));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;

    let create = sc.faults().hold(ApiKind::Create, Point::BeforeApply, 2);
    let child = spawn_watched(&env, &["apply", "-f", file, "--auto-approve", "-o", "json"]);
    create.reached().await;
    assert!(missing(&sc, 5002).await);
    // The batch 5002..5003 is journaled while 5002's create is held.
    assert_eq!(pending_ids(&env.journal_dir()), [5001, 5002, 5003]);
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(sent.success());
    // the create goes on only once the tool has taken the interrupt
    child
        .stderr_line("Interrupted: finishing the SPU in flight")
        .await;
    let lists = sc.faults().requests(ApiKind::List);
    create.release();
    let run = child.finish().await.expect(7);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("apply -o json prints JSON ({e}):\n{}", run.stdout));
    let outcomes: Vec<(&str, Option<&str>)> = doc["report"]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| (r["outcome"].as_str().unwrap(), r["reason"].as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("applied", None),
            ("applied", None),
            ("skipped", Some("interrupted before this SPU")),
            ("skipped", Some("interrupted before this SPU")),
        ],
        "{}",
        run.stdout
    );
    assert_eq!(writes(&sc), (2, 2), "5001 and 5002 replaced");
    assert_eq!(
        sc.faults().requests(ApiKind::List),
        lists + 1,
        "after the interrupt only the verification read: 5003 is not re-read"
    );
    assert!(pending_in(&env.journal_dir()).is_empty(), "journal ended");
    let after = snapshot(&sc).await;
    assert_eq!(&after[2..], &before[2..], "5003 and 5004 untouched");
    env.run(&["apply", "-f", file, "--auto-approve"]).expect(0);
    assert_settled(&sc, &env, file, &before, 4).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_journal_dir_flag_holds_the_change_in_flight_and_recover_finds_it_there() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_n(&sc, 2));
    let file = file.to_str().unwrap();
    let flag_dir = env.home().join("flag-journal");
    let flag = flag_dir.to_str().unwrap();

    let args = ["apply", "-f", file, "--auto-approve", "--journal-dir", flag];
    killed_before_its_first_create(&sc, &env, &args).await;
    // the flag wins over FLUVIO_ENDPOINTS_JOURNAL_DIR (set by the test environment)
    let pending = pending_in(&flag_dir);
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["new"]["id"], 5001);
    assert!(
        std::fs::read_dir(env.journal_dir()).map_or(true, |d| d.count() == 0),
        "nothing in the environment's journal directory"
    );
    assert!(missing(&sc, 5001).await);
    // `recover` without the flag does not see it; with it, finishes the change
    env.run(&["-c", &sc.endpoint(), "recover"]).expect(0);
    assert!(missing(&sc, 5001).await);
    env.run(&["-c", &sc.endpoint(), "recover", "--journal-dir", flag])
        .expect(0);
    assert!(!missing(&sc, 5001).await, "recover re-created 5001");
    assert!(pending_in(&flag_dir).is_empty());
}

/// Runs the binary with `args` until its first create reaches the SC (after its delete),
/// SIGKILLs it there, and waits until the SC has dropped its connections (the create never
/// lands). Returns the signal that ended it.
async fn killed_before_its_first_create(sc: &TestSc, env: &Env, args: &[&str]) -> Option<i32> {
    let create = sc.faults().hold(ApiKind::Create, Point::BeforeApply, 1);
    let mut child = env.spawn(args);
    create.reached().await;
    assert!(missing(sc, 5001).await, "deleted before its create");
    child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix
    let status = child.wait().unwrap();
    create.cut();
    wait_for("the dead tool's connections to close", || async move {
        sc.open_connections() == 0
    })
    .await;
    std::os::unix::process::ExitStatusExt::signal(&status)
}
