//! One test for each promise of the README that no scenario elsewhere proves: exit codes
//! 1 (a read the SC fails), 5, 6 and 7 on the paths that give them, the retry budget,
//! recovery by the next apply and its fallback to the old spec, warnings while a journal
//! entry is pending, where journals live, the served-directory check, `metadata` and
//! `export --out`.
//! The real binary against the test SC; faults are injected at exact points.

use std::process::{Child, Stdio};

use crate::support::cli::{json, Env};
use crate::support::fixtures::{local, sc_with, snapshot, spec_of, stopped_cluster_dir};
use crate::support::test_sc::{ApiKind, ErrorCode, Point, TestSc};

/// Zone file for the SC at `endpoint` setting 5001.. to `h<id>.example:<public port>`.
fn zone_at(endpoint: &str, n: usize) -> String {
    let mut text =
        format!("[cluster]\nendpoint = \"{endpoint}\"\n\n[policy]\nunmanaged = \"ignore\"\n\n");
    for i in 0..n {
        text.push_str(&format!(
            "[[spu]]\nid = {}\nlocal = \"h{}.example:{}\"\n\n",
            5001 + i,
            5001 + i,
            9010 + 10 * i
        ));
    }
    text
}

/// Journal files (`*.jsonl`) under `dir`; the dir must exist.
fn journals(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("journal dir {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files
}

/// Apply `file` with `env` and SIGKILL the tool between the delete and the create of 5001
/// (the create is held before the SC applies it, then cut): 5001 is missing and the
/// journal holds the change.
async fn killed_between_delete_and_create(sc: &TestSc, env: &Env, file: &str) {
    let create = sc.faults().hold(ApiKind::Create, Point::BeforeApply, 1);
    let mut child = env.spawn(&["apply", "-f", file, "--auto-approve"]);
    create.reached().await;
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    create.cut();
    assert!(spec_of(sc, 5001).await.is_none(), "5001 is missing");
}

/// The unfinished-apply warning every reading command prints while a journal entry waits.
const PENDING: &str = "an interrupted apply left 1 change(s) unfinished";

// ------------------------------------------------------------------ exit 7: `failed`

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_delete_is_a_failed_outcome_and_exit_7_with_the_spu_untouched() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_at(&sc.endpoint(), 2));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;

    sc.faults().fail_next_delete(
        ErrorCode::Other("locked".into()),
        Some("spu is locked".into()),
    );
    let run = env
        .run(&["apply", "-f", file, "--auto-approve", "-o", "json"])
        .expect(7);
    let doc = json(&run);
    let results = doc["report"]["results"].as_array().unwrap();
    assert_eq!(results[0]["outcome"], "failed", "{}", run.stdout);
    assert_eq!(
        results[0]["reason"],
        "delete failed: deleting SPU 5001 (custom-spu-5001) refused: spu is locked"
    );
    assert_eq!(results[1]["outcome"], "applied", "{}", run.stdout);
    assert_eq!(doc["summary"]["failed"], 1);
    assert_eq!(doc["summary"]["applied"], 1);
    assert_eq!(doc["summary"]["verified"], false);
    assert!(
        run.stderr.contains("1 of 2 change(s) were not applied"),
        "{}",
        run.stderr
    );
    assert_eq!(
        sc.faults().requests(ApiKind::Delete),
        2,
        "no retry of a refusal"
    );
    assert_eq!(sc.faults().requests(ApiKind::Create), 1, "only 5002's");
    assert_eq!(
        spec_of(&sc, 5001).await.unwrap(),
        before[0],
        "5001 untouched"
    );
    assert!(
        journals(&env.journal_dir()).is_empty(),
        "a failed change is a finished one: no journal file left"
    );
}

// ------------------------------------------------------------------ rollback refused

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_new_spec_and_a_refused_rollback_are_recovered_by_the_same_run() {
    let sc = sc_with(1).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_at(&sc.endpoint(), 1));
    let file = file.to_str().unwrap();

    // The new spec is refused, and so is the old one (the rollback): the SPU is missing
    // and unresolved; the run then recovers what it left before it ends.
    sc.faults().fail_creates(
        ErrorCode::Other("store".into()),
        Some("store is full".into()),
        2,
    );
    let run = env
        .run(&["apply", "-f", file, "--auto-approve", "-o", "json"])
        .expect(7);
    let doc = json(&run);
    let result = &doc["report"]["results"][0];
    assert_eq!(result["outcome"], "unresolved", "{}", run.stdout);
    assert_eq!(
        result["reason"],
        "creating SPU 5001 (custom-spu-5001) refused: store is full; restoring the old spec also failed: creating SPU 5001 (custom-spu-5001) refused: store is full"
    );
    // the run's own recovery resolved it: nothing is left unresolved
    assert_eq!(doc["summary"]["recovered"], 1, "{}", run.stdout);
    assert_eq!(doc["summary"]["unresolved"], 0, "{}", run.stdout);
    assert_eq!(sc.faults().requests(ApiKind::Delete), 1);
    assert_eq!(
        sc.faults().requests(ApiKind::Create),
        3,
        "new spec (refused), old spec (refused), the recovery's re-create"
    );
    assert_eq!(
        spec_of(&sc, 5001)
            .await
            .expect("5001 exists again")
            .public_endpoint_local,
        local("h5001.example", 9010),
        "recovered with its new spec"
    );
    assert!(
        journals(&env.journal_dir()).is_empty(),
        "recovered: journal ended"
    );
}

// ------------------------------------------------------------------ recovery by apply

#[tokio::test(flavor = "multi_thread")]
async fn the_next_apply_re_creates_a_missing_spu_from_the_journal() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_at(&sc.endpoint(), 2));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;
    killed_between_delete_and_create(&sc, &env, file).await;
    assert_eq!(journals(&env.journal_dir()).len(), 1);

    let run = env
        .run(&["apply", "-f", file, "--auto-approve", "-o", "json"])
        .expect(0);
    assert!(
        run.stderr
            .contains("5001 custom-spu-5001: was missing; re-created with its new spec"),
        "{}",
        run.stderr
    );
    let doc = json(&run);
    assert_eq!(doc["report"]["recovered_first"][0]["id"], 5001, "{doc}");
    assert_eq!(doc["summary"]["recovered_first"], 1);
    // the recovery put 5001 at its new spec: only 5002 is left to change
    assert_eq!(doc["plan"]["changes"].as_array().map(Vec::len), Some(1));
    assert_eq!(doc["plan"]["changes"][0]["id"], 5002);
    assert_eq!(doc["summary"]["applied"], 1);
    assert_eq!(doc["summary"]["verified"], true);
    assert_eq!(
        sc.faults().requests(ApiKind::Create),
        3,
        "the cut create, the recovery's, 5002's"
    );
    assert_eq!(sc.faults().requests(ApiKind::Delete), 2);
    let after = snapshot(&sc).await;
    assert_eq!(after[0].public_endpoint_local, local("h5001.example", 9010));
    assert_eq!(after[1].public_endpoint_local, local("h5002.example", 9020));
    assert_eq!(after[0].public_endpoint, before[0].public_endpoint);
    assert!(journals(&env.journal_dir()).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn recovery_falls_back_to_the_old_spec_when_the_new_one_is_refused() {
    let sc = sc_with(1).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_at(&sc.endpoint(), 1));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;
    killed_between_delete_and_create(&sc, &env, file).await;
    let c = sc.endpoint();

    // Both specs refused: nothing resolved, exit 8, the journal keeps the change.
    sc.faults().fail_creates(
        ErrorCode::Other("store".into()),
        Some("store is full".into()),
        2,
    );
    let stuck = env.run(&["recover", "-c", &c]).expect(8);
    assert!(
        stuck.stderr.contains(
            "5001 custom-spu-5001: could not be resolved now (new spec refused (creating SPU 5001 (custom-spu-5001) refused: store is full); old spec refused"
        ),
        "{}",
        stuck.stderr
    );
    assert_eq!(journals(&env.journal_dir()).len(), 1, "still journaled");
    assert!(spec_of(&sc, 5001).await.is_none());

    // The new spec refused, the old one accepted: the SPU is back as it was.
    sc.faults()
        .fail_next_create(ErrorCode::Other("invalid".into()), Some("bad host".into()));
    let creates = sc.faults().requests(ApiKind::Create);
    let rec = env.run(&["recover", "-c", &c]).expect(0);
    assert!(
        rec.stderr.contains("5001 custom-spu-5001") && rec.stderr.contains("old spec"),
        "{}",
        rec.stderr
    );
    assert_eq!(sc.faults().requests(ApiKind::Create), creates + 2);
    assert_eq!(spec_of(&sc, 5001).await.unwrap(), before[0], "the old spec");
    assert!(journals(&env.journal_dir()).is_empty());
}

// ------------------------------------------------------------------ pending warnings

#[tokio::test(flavor = "multi_thread")]
async fn list_plan_and_drift_warn_while_a_journal_entry_is_pending() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_at(&sc.endpoint(), 2));
    let file = file.to_str().unwrap();
    killed_between_delete_and_create(&sc, &env, file).await;
    let c = sc.endpoint();
    let writes = (
        sc.faults().requests(ApiKind::Delete),
        sc.faults().requests(ApiKind::Create),
    );

    let list = env.run(&["list", "-c", &c]).expect(0);
    assert!(list.stderr.contains(PENDING), "{}", list.stderr);
    assert!(
        list.stderr.contains("run `fluvio-endpoints recover`"),
        "{}",
        list.stderr
    );
    assert!(list.stdout.contains("custom-spu-5002"), "{}", list.stdout);
    assert!(!list.stdout.contains("custom-spu-5001"), "5001 is missing");
    // 5001 is missing: the file names an SPU the cluster lacks, so drift refuses (6)
    let drift = env.run(&["drift", "-f", file]).expect(6);
    assert!(drift.stderr.contains(PENDING), "{}", drift.stderr);
    let plan = env.run(&["plan", "-f", file]).expect(6);
    assert!(plan.stderr.contains(PENDING), "{}", plan.stderr);
    assert_eq!(
        (
            sc.faults().requests(ApiKind::Delete),
            sc.faults().requests(ApiKind::Create)
        ),
        writes,
        "reading commands write nothing"
    );

    env.run(&["recover", "-c", &c]).expect(0);
    let list = env.run(&["list", "-c", &c]).expect(0);
    assert!(!list.stderr.contains("unfinished"), "{}", list.stderr);
}

// ------------------------------------------------------------------ a failed read: exit 1

/// README "Exit codes", 1: a read the SC fails. A real SC never answers a List with an
/// error (a list reply has no error status, and a denied read is an empty list, exit 0):
/// when its list handler fails, the connection closes unanswered. `list` and `plan` then
/// end with exit 1 and one line saying so, print nothing on stdout, do not retry, and write
/// nothing; the next read is served again.
#[tokio::test(flavor = "multi_thread")]
async fn a_read_the_sc_fails_is_exit_1_and_names_the_closed_connection() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let c = sc.endpoint();
    let file = env.write("zone.toml", &zone_at(&c, 2));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;

    for args in [&["-c", &c, "list"][..], &["plan", "-f", file]] {
        let seen = sc.faults().log().len();
        sc.faults().fail_lists(1);
        let run = env.run(args).expect(1);
        assert_eq!(run.stdout, "", "{args:?}");
        assert_eq!(
            run.stderr,
            "endpoints::cluster::request\n\n  × listing SPUs failed: the SC closed the connection\n",
            "{args:?}"
        );
        assert_eq!(
            sc.faults().log()[seen..],
            [ApiKind::ApiVersions, ApiKind::List],
            "{args:?}: one connect and one list, not retried"
        );
    }
    assert_eq!(snapshot(&sc).await, before, "a read writes nothing");
    let list = env.run(&["-c", &c, "list"]).expect(0);
    assert!(list.stdout.contains("custom-spu-5002"), "{}", list.stdout);
}

// ------------------------------------------------------------------ drift exit codes

#[tokio::test(flavor = "multi_thread")]
async fn drift_exits_2_on_differences_and_6_when_the_plan_would_be_refused() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_at(&sc.endpoint(), 2));
    let file = file.to_str().unwrap();
    let drift = env.run(&["drift", "-f", file]).expect(2);
    assert!(drift.stdout.contains("custom-spu-5001"), "{}", drift.stdout);

    let unknown = env.write(
        "unknown.toml",
        &format!(
            "[cluster]\nendpoint = \"{}\"\n\n[[spu]]\nid = 7777\nlocal = \"h.example:1\"\n",
            sc.endpoint()
        ),
    );
    let refused = env
        .run(&["drift", "-f", unknown.to_str().unwrap()])
        .expect(6);
    assert!(
        format!("{}{}", refused.stdout, refused.stderr).contains("7777"),
        "the unknown SPU is named: {}\n{}",
        refused.stdout,
        refused.stderr
    );

    env.run(&["apply", "-f", file, "--auto-approve"]).expect(0);
    env.run(&["drift", "-f", file]).expect(0);
    assert_eq!(
        sc.faults().requests(ApiKind::Delete),
        2,
        "drift writes nothing"
    );
}

// ------------------------------------------------------------------ retry budget

#[tokio::test(flavor = "multi_thread")]
async fn a_request_is_retried_at_most_4_times() {
    let sc = sc_with(1).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_at(&sc.endpoint(), 1));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;

    // Every delete loses its connection before the SC applies it.
    let deletes = sc.faults().hold_every(ApiKind::Delete, Point::BeforeApply);
    deletes.cut();
    let run = env
        .run(&["apply", "-f", file, "--auto-approve", "-o", "json"])
        .expect(7);
    assert_eq!(
        sc.faults().requests(ApiKind::Delete),
        5,
        "one try and 4 retries"
    );
    assert_eq!(sc.faults().requests(ApiKind::Create), 0);
    let doc = json(&run);
    assert_eq!(
        doc["report"]["results"][0]["outcome"], "unresolved",
        "{}",
        run.stdout
    );
    assert!(
        doc["report"]["results"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("delete did not complete"),
        "{}",
        run.stdout
    );
    // the run's own recovery found 5001 at its old spec: resolved, journal ended
    assert_eq!(doc["summary"]["recovered"], 1, "{}", run.stdout);
    assert_eq!(doc["summary"]["unresolved"], 0, "{}", run.stdout);
    assert_eq!(snapshot(&sc).await, before, "nothing changed");
    assert!(journals(&env.journal_dir()).is_empty());
    sc.faults().clear();
}

// ------------------------------------------------------------------ stale saved plans

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_is_stale_when_its_file_or_its_target_changed() {
    let sc = sc_with(1).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_at(&sc.endpoint(), 1));
    let file = file.to_str().unwrap();
    let saved = env.home().join("zone.plan");
    let saved = saved.to_str().unwrap();
    env.save_plan(file, saved).expect(0);

    // the file changed since the plan (even a comment)
    let text = std::fs::read_to_string(file).unwrap();
    std::fs::write(file, format!("{text}# reviewed\n")).unwrap();
    let run = env.run(&["apply", saved, "-f", file]).expect(5);
    assert!(run.stderr.contains("zone.toml"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);

    // the target is another cluster than the plan's
    let port = sc.addr().port();
    let other = format!("localhost:{port}");
    let run = env.run(&["apply", saved, "-c", &other]).expect(5);
    assert!(run.stderr.contains(&other), "{}", run.stderr);

    assert_eq!(sc.faults().requests(ApiKind::Delete), 0, "nothing written");
    assert_eq!(sc.faults().requests(ApiKind::Create), 0);
    // the unchanged plan still applies
    env.run(&["apply", saved]).expect(0);
    assert_eq!(sc.faults().requests(ApiKind::Delete), 1);
}

// ------------------------------------------------------------------ exit 8: journal

/// The journal stops taking writes after the first batch (a file-size limit on the tool's
/// process, as a full disk would): the run that had begun changes ends with exit 8 and
/// says how many stay open; nothing of the batch that could not be journaled was sent;
/// `recover` then finishes it.
#[tokio::test(flavor = "multi_thread")]
async fn a_journal_that_fails_after_changes_began_is_exit_8_and_recover_finishes() {
    use std::os::unix::process::CommandExt;
    let sc = sc_with(3).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone_at(&sc.endpoint(), 3));
    let file = file.to_str().unwrap();
    let before = snapshot(&sc).await;

    // One `begin` line (~700 bytes) fits; the next batch's two lines do not.
    const LIMIT: libc::rlim_t = 1000;
    let mut cmd = env.command(&["apply", "-f", file, "--auto-approve"]);
    // SAFETY: only async-signal-safe calls (setrlimit, signal) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: LIMIT,
                rlim_max: LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // A write past the limit then fails with EFBIG instead of killing the process.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let out = cmd.output().expect("run fluvio-endpoints");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    // The error is wrapped to the terminal's width: compare without the wrapping.
    let flat: String = stderr
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '│')
        .collect();
    for says in [
        "cannotwrite(Filetoolarge",
        "1change(s)ofthisrunstayopeninthejournal:run`fluvio-endpointsrecover`",
    ] {
        assert!(flat.contains(says), "{says}: {stderr}");
    }
    assert_eq!(
        (
            sc.faults().requests(ApiKind::Delete),
            sc.faults().requests(ApiKind::Create)
        ),
        (1, 1),
        "only 5001, whose begin was durable, was replaced"
    );
    assert_eq!(spec_of(&sc, 5002).await.as_ref(), Some(&before[1]));
    assert_eq!(spec_of(&sc, 5003).await.as_ref(), Some(&before[2]));

    let rec = env.run(&["recover", "-c", &sc.endpoint()]).expect(0);
    assert!(
        rec.stderr
            .contains("5001 custom-spu-5001: was already at its new spec"),
        "{}",
        rec.stderr
    );
    env.run(&["apply", "-f", file, "--auto-approve"]).expect(0);
    let after = snapshot(&sc).await;
    for (i, spec) in after.iter().enumerate() {
        let id = 5001 + i as i32;
        assert_eq!(
            spec.public_endpoint_local,
            local(&format!("h{id}.example"), 9010 + 10 * i as u16)
        );
    }
}

// ------------------------------------------------------------------ journal location

#[tokio::test(flavor = "multi_thread")]
async fn journals_live_under_home_by_default_one_per_address() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let port = sc.addr().port();
    let file = env.write("zone.toml", &zone_at(&format!("127.0.0.1:{port}"), 2));
    let file = file.to_str().unwrap();
    let create = sc.faults().hold(ApiKind::Create, Point::BeforeApply, 1);
    let mut child = env
        .command(&["apply", "-f", file, "--auto-approve"])
        .env_remove("FLUVIO_ENDPOINTS_JOURNAL_DIR")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    create.reached().await;
    child.kill().unwrap();
    child.wait().unwrap();
    create.cut();

    let default_dir = env.home().join(".fluvio/endpoints/journal");
    let files = journals(&default_dir);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        !env.journal_dir().exists(),
        "nothing in the test's own journal dir"
    );
    let run = |address: &str| {
        env.command(&["list", "-c", address])
            .env_remove("FLUVIO_ENDPOINTS_JOURNAL_DIR")
            .output()
            .unwrap()
    };
    let same = run(&format!("127.0.0.1:{port}"));
    assert!(String::from_utf8_lossy(&same.stderr).contains(PENDING));
    // another spelling of the address is another journal
    let other = run(&format!("localhost:{port}"));
    assert_eq!(other.status.code(), Some(0));
    assert!(
        !String::from_utf8_lossy(&other.stderr).contains("unfinished"),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    let rec = env
        .command(&["recover", "-c", &format!("127.0.0.1:{port}")])
        .env_remove("FLUVIO_ENDPOINTS_JOURNAL_DIR")
        .output()
        .unwrap();
    assert_eq!(rec.status.code(), Some(0));
    assert!(
        journals(&default_dir).is_empty(),
        "recovered: journal ended"
    );
}

// ------------------------------------------------------------------ served directory

fn serve(dir: &std::path::Path) -> Child {
    let child = std::process::Command::new("sh")
        .args(["-c", "read _", "serving"])
        .arg(dir)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let cmdline = format!("/proc/{}/cmdline", child.id());
    let needle = dir.to_string_lossy().into_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !std::fs::read(&cmdline)
        .map(|raw| String::from_utf8_lossy(&raw).contains(&needle))
        .unwrap_or(false)
    {
        assert!(std::time::Instant::now() < deadline, "sh never started");
        std::thread::yield_now();
    }
    child
}

#[tokio::test(flavor = "multi_thread")]
async fn a_served_metadata_dir_is_refused_before_every_write() {
    use fluvio_endpoints::cluster::metadata_dir::MetadataDir;
    use fluvio_endpoints::cluster::{Cluster, ClusterError};

    let dir = stopped_cluster_dir(2).await;
    let path = dir.path().canonicalize().unwrap();
    let files = |p: &std::path::Path| {
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(p.join("SPU"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let before = files(&path);

    // Through the binary: refused before the first write (exit 4), nothing written.
    let env = Env::new();
    let mut server = serve(&path);
    let run = env.run(&[
        "update-local",
        "5001",
        "h.example:1",
        "--metadata-dir",
        path.to_str().unwrap(),
    ]);
    let run = run.expect(4);
    assert!(
        run.stderr
            .contains(&format!("({}) is serving", server.id()))
            || run.stderr.contains(&format!("process {}", server.id())),
        "{}",
        run.stderr
    );
    assert_eq!(files(&path), before, "nothing written");
    drop(server.stdin.take());
    server.wait().unwrap();

    // Through the adapter: opened while nobody serves the dir, then a process starts
    // serving it; every write after that is refused, each on its own check.
    let mut cluster = MetadataDir::open(&path).await.expect("opens");
    let live = cluster.read().await.expect("reads");
    let mut spec = (*live.spus.values().next().unwrap().spec).clone();
    cluster.ensure_not_served().expect("not served yet");
    let mut server = serve(&path);
    assert!(cluster.updates_in_place());
    spec.local = Some(fluvio_endpoints::model::Endpoint {
        host: "h.example".into(),
        port: 1,
        encryption: Default::default(),
    });
    for attempt in 0..2 {
        let err = cluster.update(&spec).await.expect_err("refused");
        assert!(
            matches!(&err, ClusterError::Store(m) if m.contains("is serving")),
            "attempt {attempt}: {err}"
        );
    }
    drop(server.stdin.take());
    server.wait().unwrap();
    assert_eq!(files(&path), before, "nothing written");
}

// ------------------------------------------------------------------ metadata, export --out

#[test]
fn metadata_answers_the_fluvio_cli_extension_query() {
    let env = Env::new();
    let run = env.run(&["metadata"]).expect(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(doc["package"], "fluvio-endpoints");
    assert_eq!(doc["title"], "endpoints");
    assert_eq!(doc["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        doc["description"].as_str().is_some_and(|d| !d.is_empty()),
        "{doc}"
    );
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn export_out_writes_a_zone_file_that_plans_back_to_nothing() {
    let sc = sc_with(3).await;
    let env = Env::new();
    // give one SPU a local endpoint, so the export has something to say
    env.run(&[
        "update-local",
        "5002",
        "h.example:9020",
        "-c",
        &sc.endpoint(),
    ])
    .expect(0);
    let out = env.home().join("exported.toml");
    let run = env
        .run(&[
            "export",
            "-c",
            &sc.endpoint(),
            "--out",
            out.to_str().unwrap(),
        ])
        .expect(0);
    assert!(
        !run.stdout.contains("[[spu]]"),
        "the zone file went to --out, not stdout: {}",
        run.stdout
    );
    let text = std::fs::read_to_string(&out).expect("--out written");
    assert_eq!(text.matches("[[spu]]").count(), 3, "{text}");
    assert!(text.contains("h.example:9020"), "{text}");
    let plan = env
        .run(&["plan", "-f", out.to_str().unwrap(), "--detailed-exitcode"])
        .expect(0);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    // and the file is not overwritten by a failing export
    let writes = sc.faults().requests(ApiKind::Delete);
    assert_eq!(writes, 1, "export writes nothing to the cluster");
}
