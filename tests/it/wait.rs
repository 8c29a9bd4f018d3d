//! One-shot runs against a cluster that is starting: `--wait` for the SC and the SPUs the
//! file names, `--lock-timeout` for another run's lock.

use std::time::{Duration, Instant};

use crate::support::cli::{finish, free_port, json, one_line, silent_sc, Env};
use crate::support::fixtures::sc_with;
use crate::support::test_sc::{local_custom_spu, Health, TestSc, TestScConfig};

fn zone(endpoint: &str, ids: &[i32]) -> String {
    let mut text = format!("[cluster]\nendpoint = \"{endpoint}\"\n");
    for id in ids {
        text.push_str(&format!(
            "[[spu]]\nid = {id}\nlocal = \"zone-{id}.example\"\n"
        ));
    }
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_waits_for_an_sc_that_starts_late_and_for_an_spu_registered_late() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let env = Env::new();
    let file = env.write("ci.toml", &zone(&addr, &[5001, 5002]));
    let run = env.spawn(&[
        "plan",
        "-f",
        file.to_str().unwrap(),
        "--wait",
        "30s",
        "-o",
        "json",
    ]);
    let planned = tokio::spawn(finish(run));
    // the SC comes up a second later with one SPU, the second SPU a second after that
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sc = TestSc::start(TestScConfig {
        bind: addr.parse().unwrap(),
        ..TestScConfig::default()
    })
    .await
    .expect("the SC starts on the port the run waits for");
    sc.seed_custom(local_custom_spu(0), Health::Online)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    sc.seed_custom(local_custom_spu(1), Health::Online)
        .await
        .unwrap();
    let run = tokio::time::timeout(Duration::from_secs(60), planned)
        .await
        .expect("the wait is bounded")
        .unwrap()
        .expect(0);
    let said = one_line(&run.stderr);
    assert!(
        said.contains("Waiting up to 30s for the SC to answer"),
        "{said}"
    );
    assert!(
        said.contains("Waiting up to 30s for SPU 5002 to be registered"),
        "{said}"
    );
    let doc = json(&run);
    assert_eq!(doc["changes"].as_array().unwrap().len(), 2, "{doc}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wait_that_runs_out_says_what_was_missing() {
    let env = Env::new();
    // nothing listens here: exit 4, after the wait, naming it
    let addr = format!("127.0.0.1:{}", free_port());
    let file = env.write("none.toml", &zone(&addr, &[5001]));
    let began = Instant::now();
    let run = env
        .run(&["plan", "-f", file.to_str().unwrap(), "--wait", "2s"])
        .expect(4);
    assert!(began.elapsed() >= Duration::from_secs(2));
    let said = one_line(&run.stderr);
    assert!(
        said.contains("the SC did not answer within --wait 2s"),
        "{said}"
    );
    // an SPU that never registers: a warning naming it, then the plan's own refusal
    let sc = sc_with(1).await;
    let file = env.write("late.toml", &zone(&sc.endpoint(), &[5001, 5007]));
    let run = env
        .run(&["plan", "-f", file.to_str().unwrap(), "--wait", "1s"])
        .expect(6);
    let said = one_line(&run.stderr);
    assert!(
        said.contains("--wait 1s: SPU 5007 still not registered"),
        "{said}"
    );
    // an SPU that is registered but never Online, under --wait-online: exit 4
    sc.set_health(5001, Health::Offline);
    sc.wait_status_pass().await.unwrap();
    let file = env.write("online.toml", &zone(&sc.endpoint(), &[5001]));
    let run = env
        .run(&[
            "plan",
            "-f",
            file.to_str().unwrap(),
            "--wait",
            "1s",
            "--wait-online",
        ])
        .expect(4);
    assert!(
        one_line(&run.stderr).contains("not Online within --wait 1s"),
        "{}",
        run.stderr
    );
    // bad durations are usage errors
    env.run(&["plan", "-f", file.to_str().unwrap(), "--wait", "soon"])
        .expect(64);
    env.run(&["plan", "-f", file.to_str().unwrap(), "--wait-online"])
        .expect(64);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apply_waits_for_another_runs_lock_only_when_asked() {
    use fs4::fs_std::FileExt;
    let sc = sc_with(1).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(&sc.endpoint(), &[5001]));
    let file = file.to_str().unwrap();
    // a dry run leaves the lock file; hold it as another run would
    env.run(&["apply", "-f", file, "--dry-run"]).expect(0);
    let lock_path = std::fs::read_dir(env.journal_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "lock"))
        .expect("the cluster's lock file");
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(&lock_path)
        .unwrap();
    assert!(lock.try_lock_exclusive().unwrap());
    let refused = env.run(&["apply", "-f", file, "--auto-approve"]);
    assert_ne!(refused.code, 0, "{}", refused.stderr);
    assert!(
        one_line(&refused.stderr).contains("another fluvio-endpoints run"),
        "{}",
        refused.stderr
    );
    let waiting = env.spawn(&[
        "apply",
        "-f",
        file,
        "--auto-approve",
        "--lock-timeout",
        "30s",
    ]);
    let applied = tokio::spawn(finish(waiting));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    FileExt::unlock(&lock).unwrap();
    let run = tokio::time::timeout(Duration::from_secs(60), applied)
        .await
        .expect("bounded")
        .unwrap()
        .expect(0);
    assert!(run.stderr.contains("holds the lock"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wait_ends_at_its_deadline_even_when_the_sc_never_answers() {
    // something that accepts connections and never says a word
    let addr = silent_sc();
    let env = Env::new();
    let file = env.write("silent.toml", &zone(&addr, &[5001]));
    let began = Instant::now();
    let run = env
        .run(&["plan", "-f", file.to_str().unwrap(), "--wait", "2s"])
        .expect(4);
    let took = began.elapsed();
    // the request timeout is 15 s; the wait is 2 s
    assert!(
        took < Duration::from_secs(8),
        "took {took:?}: {}",
        run.stderr
    );
    assert!(
        one_line(&run.stderr).contains("did not answer within --wait 2s"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_online_names_spus_not_online_even_when_others_are_missing() {
    let sc = sc_with(1).await;
    sc.set_health(5001, Health::Offline);
    sc.wait_status_pass().await.unwrap();
    let env = Env::new();
    let file = env.write("zone.toml", &zone(&sc.endpoint(), &[5001, 5009]));
    let run = env
        .run(&[
            "plan",
            "-f",
            file.to_str().unwrap(),
            "--wait",
            "1s",
            "--wait-online",
        ])
        .expect(4);
    let said = one_line(&run.stderr);
    assert!(
        said.contains("SPU 5001 (Offline) not Online within --wait 1s"),
        "{said}"
    );
    assert!(said.contains("SPU 5009 not even registered"), "{said}");
}
