//! The reconcile agent end to end: the real binary, running, against the test SC over
//! loopback; its JSON log read line by line, its /metrics read by a Prometheus text-format
//! parser, its writes counted by the SC.

use std::io::{BufRead, Read, Write};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use crate::support::cli::{finish, free_port, json, local_of, Env};
use crate::support::fixtures::sc_with;
use crate::support::test_sc::{ApiKind, Point, TestSc, TestScConfig};

/// How long a test waits for the agent to do something it must do: a safety net for a
/// broken agent, never what decides a test (the agent reacts in well under a second).
const WITHIN: Duration = Duration::from_secs(60);

/// A running agent: its log lines (JSON), its HTTP address.
struct Agent {
    child: Option<Child>,
    lines: Arc<Mutex<Vec<Value>>>,
    listen: String,
}

impl Agent {
    /// `reconcile ARGS --log-format json --listen 127.0.0.1:PORT`, once it listens.
    async fn start(env: &Env, args: &[&str]) -> Agent {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut all = vec!["reconcile", "--log-format", "json", "--listen", &listen];
        all.extend_from_slice(args);
        let mut child = env.spawn(&all);
        let stderr = child.stderr.take().expect("piped stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                // a line that is not JSON is kept as a string: `terminate` fails on it
                let value = serde_json::from_str::<Value>(&line).unwrap_or(Value::String(line));
                sink.lock().unwrap().push(value);
            }
        });
        let agent = Agent {
            child: Some(child),
            lines,
            listen,
        };
        agent.wait_event("listening", 1).await;
        agent
    }

    /// `reconcile -f FILE... --remediate --min-interval 0s EXTRA...`, once it listens.
    async fn remediating(env: &Env, files: &[&std::path::Path], extra: &[&str]) -> Agent {
        let mut args: Vec<&str> = Vec::new();
        for file in files {
            args.extend(["-f", file.to_str().expect("a UTF-8 path")]);
        }
        args.extend(["--remediate", "--min-interval", "0s"]);
        args.extend_from_slice(extra);
        Agent::start(env, &args).await
    }

    /// The events logged so far named `event`.
    fn events(&self, event: &str) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l["event"] == event)
            .cloned()
            .collect()
    }

    fn log(&self) -> String {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until `n` events named `event` were logged; returns the n-th.
    async fn wait_event(&self, event: &str, n: usize) -> Value {
        let started = Instant::now();
        loop {
            if let Some(found) = self.events(event).get(n - 1) {
                return found.clone();
            }
            assert!(
                started.elapsed() < WITHIN,
                "no {n}th {event} event within {WITHIN:?}; the log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// GET `path`: the status code and the body.
    fn get(&self, path: &str) -> (u16, String) {
        let mut stream = std::net::TcpStream::connect(&self.listen).expect("the agent listens");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("an answer");
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP answer: {response}"));
        let body = response
            .split_once("\r\n\r\n")
            .map_or(String::new(), |(_, b)| b.to_string());
        (status, body)
    }

    /// /metrics, parsed as Prometheus parses the text format.
    fn metrics(&self) -> prometheus_parse::Scrape {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200, "{body}");
        let lines = body.lines().map(|l| Ok(l.to_string()));
        prometheus_parse::Scrape::parse(lines).expect("the Prometheus text format")
    }

    /// The value of `name` with these labels (a missing series fails the test).
    fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let scrape = self.metrics();
        let found = scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)));
        match found.map(|s| &s.value) {
            Some(prometheus_parse::Value::Gauge(v))
            | Some(prometheus_parse::Value::Counter(v))
            | Some(prometheus_parse::Value::Untyped(v)) => *v,
            other => panic!("{name}{labels:?}: {other:?} in\n{:#?}", scrape.samples),
        }
    }

    /// Waits until `/readyz` answers `status`.
    async fn wait_ready(&self, status: u16) -> String {
        let started = Instant::now();
        loop {
            let (got, body) = self.get("/readyz");
            if got == status {
                return body;
            }
            assert!(
                started.elapsed() < WITHIN,
                "/readyz stayed {got} ({body}); the log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let sent = std::process::Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
    }

    /// Sends SIGTERM and waits for the exit code; every line logged was a JSON object.
    async fn terminate(mut self) -> i32 {
        self.signal("TERM");
        let child = self.child.take().expect("running");
        let run = tokio::time::timeout(WITHIN, finish(child))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the agent did not stop on SIGTERM; the log:\n{}",
                    self.log()
                )
            });
        let lines = self.lines.lock().unwrap();
        let not_json: Vec<_> = lines.iter().filter(|l| !l.is_object()).collect();
        assert!(
            not_json.is_empty(),
            "log lines that are not JSON: {not_json:?}"
        );
        drop(lines);
        run.code
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn zone(sc: &TestSc, spus: &[(i32, &str)]) -> String {
    zone_at(&sc.endpoint(), spus)
}

/// A zone file of the SC at `endpoint` (as written), setting each SPU's local endpoint.
fn zone_at(endpoint: &str, spus: &[(i32, &str)]) -> String {
    let mut text = format!("[cluster]\nendpoint = \"{endpoint}\"\n");
    for (id, local) in spus {
        text.push_str(&format!("\n[[spu]]\nid = {id}\nlocal = \"{local}\"\n"));
    }
    text
}

fn list(env: &Env, sc: &TestSc) -> Value {
    json(
        &env.run(&["-c", &sc.endpoint(), "list", "-o", "json"])
            .expect(0),
    )
}

/// `update-local ID HOST` through the SC: a delete and a create, as `fluvio cluster spu
/// unregister` + `register` do.
fn reregister(env: &Env, sc: &TestSc, id: i32, host: &str) {
    env.run(&["-c", &sc.endpoint(), "update-local", &id.to_string(), host])
        .expect(0);
}

/// Writes (and dry-run creates, the apply's pre-flight), as the SC counted them.
fn writes(sc: &TestSc) -> usize {
    [
        ApiKind::Create,
        ApiKind::Delete,
        ApiKind::DryRunCreate,
        ApiKind::Update,
    ]
    .into_iter()
    .map(|kind| sc.faults().requests(kind))
    .sum()
}

async fn wait_local(env: &Env, sc: &TestSc, id: i64, host: &str) {
    let started = Instant::now();
    while local_of(&list(env, sc), id) != host {
        assert!(started.elapsed() < WITHIN, "SPU {id} never got {host}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_the_agent_reports_drift_once_and_writes_nothing() {
    let sc = sc_with(3).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(&sc, &[(5001, "none"), (5002, "none")]));
    let agent = Agent::start(&env, &["-f", file.to_str().unwrap(), "--resync", "300ms"]).await;
    agent.wait_ready(200).await;
    assert!(agent.events("drift_appeared").is_empty(), "{}", agent.log());
    assert_eq!(agent.metric("fluvio_endpoints_sc_reachable", &[]), 1.0);

    // someone re-registers SPU 5001 with a local endpoint the file does not have
    reregister(&env, &sc, 5001, "stray.example:9010");
    let before = writes(&sc);
    let appeared = agent.wait_event("drift_appeared", 1).await;
    assert_eq!(appeared["spus"], "5001", "{appeared}");
    let message = appeared["message"].as_str().unwrap();
    assert!(
        message.contains("local stray.example:9010 -> none"),
        "{message}"
    );
    assert_eq!(
        agent.metric("fluvio_endpoints_drift", &[("spu", "5001")]),
        1.0
    );
    assert_eq!(
        agent.metric("fluvio_endpoints_drift", &[("spu", "5002")]),
        0.0
    );
    assert_eq!(agent.metric("fluvio_endpoints_drifted_spus", &[]), 1.0);

    // several resyncs later: still one report, and not one write
    let lists = sc.faults().requests(ApiKind::List);
    sc.faults().wait_requests(ApiKind::List, lists + 4).await;
    assert_eq!(agent.events("drift_appeared").len(), 1, "{}", agent.log());
    assert_eq!(writes(&sc), before, "a read-only agent wrote");
    assert_eq!(
        agent.metric(
            "fluvio_endpoints_remediations_total",
            &[("outcome", "applied")]
        ),
        0.0
    );

    // put right by hand: the drift clears, once
    reregister(&env, &sc, 5001, "none");
    agent.wait_event("drift_cleared", 1).await;
    assert_eq!(agent.metric("fluvio_endpoints_drifted_spus", &[]), 0.0);
    assert!(
        agent.metric(
            "fluvio_endpoints_last_reconcile_success_timestamp_seconds",
            &[]
        ) > 1.0e9
    );
    assert_eq!(agent.terminate().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn remediating_the_agent_restores_a_re_registered_spu() {
    let sc = sc_with(3).await;
    let env = Env::new();
    let file = env.write(
        "zone.toml",
        &zone(&sc, &[(5001, "host.docker.internal:9010"), (5002, "none")]),
    );
    let agent = Agent::remediating(&env, &[&file], &[]).await;
    // the file's endpoint is set at start...
    agent.wait_event("remediated", 1).await;
    wait_local(&env, &sc, 5001, "host.docker.internal").await;
    agent.wait_event("drift_cleared", 1).await;
    // ...and again after someone re-registers the SPU without it
    reregister(&env, &sc, 5001, "none");
    agent.wait_event("remediated", 2).await;
    wait_local(&env, &sc, 5001, "host.docker.internal").await;
    agent.wait_event("drift_cleared", 2).await;
    assert_eq!(
        agent.metric(
            "fluvio_endpoints_remediations_total",
            &[("outcome", "applied")]
        ),
        2.0
    );
    assert_eq!(
        agent.metric(
            "fluvio_endpoints_remediations_total",
            &[("outcome", "failed")]
        ),
        0.0
    );
    assert_eq!(agent.get("/healthz").0, 200);
    assert_eq!(agent.terminate().await, 0);
    // the applies went through the journal, and left it clean
    let recover = env.run(&["-c", &sc.endpoint(), "recover"]).expect(0);
    assert!(
        recover.stdout.contains("Nothing to recover")
            || recover.stderr.contains("Nothing to recover"),
        "{recover:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_rides_out_an_sc_restart_and_starts_before_the_sc() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let env = Env::new();
    let file = env.write("zone.toml", &zone_at(&addr, &[(5001, "zone.example:9010")]));
    // no SC yet
    let agent = Agent::remediating(&env, &[&file], &[]).await;
    agent.wait_event("sc_unreachable", 1).await;
    let (status, why) = agent.get("/readyz");
    assert_eq!(status, 503, "{why}");
    assert!(why.contains("zone.toml"), "{why}");
    assert_eq!(agent.metric("fluvio_endpoints_sc_reachable", &[]), 0.0);

    let mut sc = TestSc::start(TestScConfig {
        bind: addr.parse().unwrap(),
        ..TestScConfig::default()
    })
    .await
    .expect("test SC starts");
    sc.seed_local_cluster(2, 0).await.expect("seeded");
    agent.wait_event("remediated", 1).await;
    wait_local(&env, &sc, 5001, "zone.example").await;
    agent.wait_ready(200).await;

    // the SC restarts: the watch is lost and opened again
    sc.stop().await.expect("stops");
    agent.wait_event("watch_lost", 1).await;
    agent.wait_ready(503).await;
    sc.resume().await.expect("starts again");
    agent.wait_event("watch_reopened", 1).await;
    agent.wait_ready(200).await;
    assert_eq!(
        agent.metric("fluvio_endpoints_watch_reconnects_total", &[]),
        1.0
    );
    // and still keeps the zone converged
    reregister(&env, &sc, 5001, "none");
    agent.wait_event("remediated", 2).await;
    wait_local(&env, &sc, 5001, "zone.example").await;
    assert_eq!(agent.terminate().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_zone_file_is_applied_and_a_broken_one_keeps_the_old_state() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(&sc, &[(5001, "first.example:9010")]));
    let agent = Agent::remediating(&env, &[&file], &[]).await;
    agent.wait_event("remediated", 1).await;
    wait_local(&env, &sc, 5001, "first.example").await;

    // edited: applied
    env.write("zone.toml", &zone(&sc, &[(5001, "second.example:9010")]));
    agent.wait_event("zone_reloaded", 1).await;
    agent.wait_event("remediated", 2).await;
    wait_local(&env, &sc, 5001, "second.example").await;

    // broken: reported with the place of the problem, the old state kept
    let broken = zone(&sc, &[(5001, "second.example:9010")]).replace("local =", "locl =");
    env.write("zone.toml", &broken);
    let invalid = agent.wait_event("zone_invalid", 1).await;
    let problems = invalid["problems"].as_str().unwrap();
    assert!(problems.contains("locl"), "{problems}");
    assert!(problems.contains("zone.toml:6:1"), "the span: {problems}");
    assert_eq!(
        agent.metric(
            "fluvio_endpoints_zone_reloads_total",
            &[("outcome", "invalid")]
        ),
        1.0
    );
    reregister(&env, &sc, 5001, "none");
    agent.wait_event("remediated", 3).await;
    wait_local(&env, &sc, 5001, "second.example").await;
    // SIGHUP reads the files again and reports the same problem again
    agent.signal("HUP");
    agent.wait_event("zone_invalid", 2).await;
    assert_eq!(agent.events("zone_reloaded").len(), 1, "{}", agent.log());
    assert_eq!(agent.terminate().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_remediation_finishes_the_spu_in_flight_and_exits_0() {
    let sc = sc_with(3).await;
    let env = Env::new();
    let file = env.write(
        "zone.toml",
        &zone(
            &sc,
            &[
                (5001, "a.example"),
                (5002, "b.example"),
                (5003, "c.example"),
            ],
        ),
    );
    // the first create of the remediation waits in the SC until the test lets it go
    let held = sc.faults().hold(ApiKind::Create, Point::BeforeApply, 1);
    let agent = Agent::start(&env, &["-f", file.to_str().unwrap(), "--remediate"]).await;
    held.reached().await;
    agent.signal("TERM");
    // the agent waits for the SPU in flight
    tokio::time::sleep(Duration::from_millis(300)).await;
    held.release();
    let child = {
        let mut agent = agent;
        let child = agent.child.take().unwrap();
        (child, agent)
    };
    let (child, agent) = child;
    let run = tokio::time::timeout(WITHIN, finish(child))
        .await
        .expect("the agent stops");
    assert_eq!(run.code, 0, "{}", agent.log());
    let list = list(&env, &sc);
    let ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["spec"]["spuId"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "every SPU exists: {ids:?}");
    assert_eq!(
        local_of(&list, 5001),
        "a.example",
        "the SPU in flight was finished"
    );
    assert_eq!(local_of(&list, 5002), "-", "the rest was skipped");
    assert_eq!(sc.faults().requests(ApiKind::Create), 1);
    assert!(!agent.events("stopped").is_empty(), "{}", agent.log());
    // nothing left for recovery
    let recover = env.run(&["-c", &sc.endpoint(), "recover"]).expect(0);
    assert!(
        recover.stdout.contains("Nothing to recover")
            || recover.stderr.contains("Nothing to recover"),
        "{recover:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_failures_suspend_remediation_until_the_file_changes() {
    let sc = sc_with(3).await;
    let env = Env::new();
    // two changes against a limit of one: every apply is refused
    let limited = |max: usize| {
        format!(
            "{}\n[policy]\nmax_changes = {max}\n",
            zone(&sc, &[(5001, "a.example"), (5002, "b.example")])
        )
    };
    let file = env.write("zone.toml", &limited(1));
    let agent = Agent::remediating(
        &env,
        &[&file],
        &["--max-failures", "2", "--resync", "200ms"],
    )
    .await;
    let suspended = agent.wait_event("remediation_suspended", 1).await;
    assert_eq!(suspended["failures"], 2, "{suspended}");
    let failed = agent.events("remediation_failed");
    assert_eq!(failed.len(), 2, "{}", agent.log());
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("2 changes, more than the allowed 1"),
        "{}",
        failed[0]
    );
    assert_eq!(
        agent.metric("fluvio_endpoints_remediation_suspended", &[]),
        1.0
    );
    // suspended: resyncs go on, applies do not
    let lists = sc.faults().requests(ApiKind::List);
    sc.faults().wait_requests(ApiKind::List, lists + 5).await;
    assert_eq!(
        agent.events("remediation_failed").len(),
        2,
        "{}",
        agent.log()
    );
    assert_eq!(
        agent.metric(
            "fluvio_endpoints_remediations_total",
            &[("outcome", "refused")]
        ),
        2.0
    );
    assert_eq!(writes(&sc), 0);
    // a new desired state resumes it
    env.write("zone.toml", &limited(2));
    let resumed = agent.wait_event("remediation_resumed", 1).await;
    assert!(
        resumed["message"]
            .as_str()
            .unwrap()
            .contains("zone file changed"),
        "{resumed}"
    );
    agent.wait_event("remediated", 1).await;
    wait_local(&env, &sc, 5002, "b.example").await;
    assert_eq!(
        agent.metric("fluvio_endpoints_remediation_suspended", &[]),
        0.0
    );
    assert_eq!(agent.terminate().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_starts_are_errors_with_their_exit_codes() {
    let sc = sc_with(1).await;
    let env = Env::new();
    // an invalid zone file: exit 3, with the place
    let bad = env.write("bad.toml", "[[spu]]\nid = 5001\nlocl = \"x\"\n");
    let run = env
        .run(&["reconcile", "-f", bad.to_str().unwrap()])
        .expect(3);
    assert!(run.stderr.contains("locl"), "{}", run.stderr);
    // an address in use: exit 1, naming it
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let file = env.write("zone.toml", &zone(&sc, &[(5001, "none")]));
    let run = env
        .run(&["reconcile", "-f", file.to_str().unwrap(), "--listen", &addr])
        .expect(1);
    assert!(
        run.stderr.contains(&format!("cannot listen on {addr}")),
        "{}",
        run.stderr
    );
    // a resync too short to be an interval: a usage error
    let run = env
        .run(&["reconcile", "-f", file.to_str().unwrap(), "--resync", "0s"])
        .expect(64);
    assert!(run.stderr.contains("shorter than 100ms"), "{}", run.stderr);
    assert_eq!(writes(&sc), 0);
}

/// The reconcile command line of a deployment example, parsed as the binary parses it.
fn reconcile_args(words: &[String], example: &str) -> fluvio_endpoints::cli::ReconcileArgs {
    use clap::Parser;
    let mut argv = vec!["fluvio-endpoints".to_string()];
    argv.extend(words.iter().cloned());
    let cli = fluvio_endpoints::cli::Cli::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("{example}: {argv:?} does not parse: {e}"));
    match cli.command {
        fluvio_endpoints::cli::Command::Reconcile(args) => args,
        other => panic!("{example}: not `reconcile`: {other:?}"),
    }
}

/// Each zone file a deployment example names is one of the bundled examples.
fn zone_files_exist(args: &fluvio_endpoints::cli::ReconcileArgs, example: &str) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in &args.files.files {
        let name = file.file_name().expect("a file name");
        assert!(
            root.join("examples/zones").join(name).is_file(),
            "{example} names {}, which is not in examples/zones",
            file.display()
        );
    }
}

#[test]
fn the_deployment_examples_run_the_agent_as_documented() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/agent");
    let read = |name: &str| std::fs::read_to_string(root.join(name)).expect(name);

    // systemd: ExecStart (with its continuation lines) and a reload that is SIGHUP
    let unit = read("fluvio-endpoints-reconcile.service").replace("\\\n", " ");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let words = shlex::split(exec).expect("shell words");
    assert!(words[0].ends_with("/fluvio-endpoints"), "{exec}");
    let args = reconcile_args(&words[1..], "the systemd unit");
    assert!(args.remediate && args.listen.is_some());
    assert_eq!(args.log_format, fluvio_endpoints::cli::LogFormat::Json);
    zone_files_exist(&args, "the systemd unit");
    assert!(
        unit.contains("ExecReload=/bin/kill -HUP $MAINPID"),
        "{unit}"
    );

    // docker compose: the service's command, the zone files mounted where it reads them
    let compose: serde_yaml::Value = serde_yaml::from_str(&read("docker-compose.yml")).unwrap();
    let service = &compose["services"]["endpoints-agent"];
    let words: Vec<String> = serde_yaml::from_value(service["command"].clone()).unwrap();
    let args = reconcile_args(&words, "the compose service");
    zone_files_exist(&args, "the compose service");
    assert!(
        service["volumes"][0]
            .as_str()
            .unwrap()
            .starts_with("../zones:/zones"),
        "{service:?}"
    );
    assert_eq!(args.listen.unwrap().port(), 9464);

    // Kubernetes: the container's args, and probes on the port it listens on
    let text = read("kubernetes.yaml");
    let deployment = serde_yaml::Deserializer::from_str(&text)
        .map(|doc| serde_yaml::Value::deserialize(doc).unwrap())
        .find(|doc| doc["kind"] == "Deployment")
        .expect("a Deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let words: Vec<String> = serde_yaml::from_value(container["args"].clone()).unwrap();
    let args = reconcile_args(&words, "the Deployment");
    zone_files_exist(&args, "the Deployment");
    let port = container["ports"][0]["containerPort"].as_u64().unwrap();
    assert_eq!(u64::from(args.listen.unwrap().port()), port);
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(
            container[probe]["httpGet"]["port"],
            container["ports"][0]["name"]
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn remediation_takes_the_replication_route_of_apply() {
    use crate::replication::{committed, replicated, restart_command, zone as replicated_zone};
    let control = tempfile::tempdir().unwrap();
    let sc = replicated(control.path()).await;
    let env = Env::new();
    let file = env.write("zone.toml", &replicated_zone(&sc, ""));
    let file = file.to_str().unwrap();
    // without a way to heal the stall a re-registration causes, apply refuses: so does
    // the agent, and writes nothing
    let agent = Agent::start(
        &env,
        &[
            "-f",
            file,
            "--remediate",
            "--min-interval",
            "0s",
            "--max-failures",
            "1",
        ],
    )
    .await;
    let failed = agent.wait_event("remediation_failed", 1).await;
    assert_eq!(failed["outcome"], "refused", "{failed}");
    assert!(
        failed["error"].as_str().unwrap().contains("replication"),
        "{failed}"
    );
    agent.wait_event("remediation_suspended", 1).await;
    assert_eq!(writes(&sc), 0, "{}", agent.log());
    assert_eq!(agent.terminate().await, 0);

    // with a restart command: a rolling apply, each SPU restarted and its partitions
    // proven before the next
    // its output (stdout and stderr, a control character too) is logged as events
    let command = format!(
        "echo restarting $SPU_ID; printf 'bell\\007\\n' >&2; {}",
        restart_command(control.path())
    );
    let agent = Agent::start(
        &env,
        &["-f", file, "--remediate", "--restart-command", &command],
    )
    .await;
    agent.wait_event("remediated", 1).await;
    agent.wait_event("drift_cleared", 1).await;
    let restarts = agent
        .events("apply_output")
        .iter()
        .filter(|l| l["message"].as_str().unwrap().contains("Restarting SPU"))
        .count();
    assert_eq!(restarts, 3, "{}", agent.log());
    let output = agent.events("apply_output");
    let said = |text: &str| {
        output
            .iter()
            .filter(|l| l["message"].as_str().unwrap().contains(text))
            .count()
    };
    assert_eq!(said("restarting 50"), 3, "{}", agent.log());
    assert_eq!(said("bell\\u{7}"), 3, "escaped: {}", agent.log());
    for p in 0..3 {
        sc.produce(&format!("data-{p}"), 1).await.unwrap();
    }
    committed(&sc).await;
    assert_eq!(agent.terminate().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_metadata_directory_is_read_again_every_resync() {
    let dir = crate::support::fixtures::stopped_cluster_dir(2).await;
    let env = Env::new();
    let file = env.write("zone.toml", "[[spu]]\nid = 5001\nlocal = \"dir.example\"\n");
    let agent = Agent::start(
        &env,
        &[
            "--metadata-dir",
            dir.path().to_str().unwrap(),
            "-f",
            file.to_str().unwrap(),
            "--resync",
            "200ms",
        ],
    )
    .await;
    agent.wait_event("drift_appeared", 1).await;
    // set on disk by another run: the agent sees it at its next read
    env.run(&[
        "--metadata-dir",
        dir.path().to_str().unwrap(),
        "apply",
        "-f",
        file.to_str().unwrap(),
        "--auto-approve",
    ])
    .expect(0);
    agent.wait_event("drift_cleared", 1).await;
    assert_eq!(agent.terminate().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_named_pipe_in_place_of_a_zone_file_is_refused_not_waited_for() {
    let sc = sc_with(1).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(&sc, &[(5001, "none")]));
    let agent = Agent::start(&env, &["-f", file.to_str().unwrap(), "--resync", "200ms"]).await;
    agent.wait_ready(200).await;
    std::fs::remove_file(&file).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&file)
        .status()
        .unwrap();
    assert!(made.success());
    let invalid = agent.wait_event("zone_invalid", 1).await;
    assert!(
        invalid["problems"]
            .as_str()
            .unwrap()
            .contains("regular file"),
        "{invalid}"
    );
    // the loop goes on: a re-registration is still reported, and SIGTERM still stops it
    reregister(&env, &sc, 5001, "late.example");
    agent.wait_event("drift_appeared", 1).await;
    assert_eq!(agent.terminate().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_zone_files_fighting_over_an_spu_are_suspended_not_looped() {
    let sc = sc_with(1).await;
    let env = Env::new();
    let port = sc.addr().port();
    // one SC, two spellings: the start-up check compares files as written
    let one = env.write(
        "one.toml",
        &zone_at(&format!("127.0.0.1:{port}"), &[(5001, "one.example")]),
    );
    let two = env.write(
        "two.toml",
        &zone_at(&format!("localhost:{port}"), &[(5001, "two.example")]),
    );
    let agent = Agent::remediating(&env, &[&one, &two], &[]).await;
    agent.wait_event("remediation_suspended", 1).await;
    // both sides stop: once the other side is suspended too, no write for a while
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = writes(&sc);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(writes(&sc), before, "{}", agent.log());
    assert!(
        !agent.events("remediation_undone").is_empty(),
        "{}",
        agent.log()
    );
    let applied = agent.events("remediated").len();
    assert!(applied < 10, "{applied} remediations: {}", agent.log());
    assert_eq!(agent.terminate().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_zone_remediating_does_not_stop_another_being_reported() {
    let control = tempfile::tempdir().unwrap();
    let slow = crate::replication::replicated(control.path()).await;
    let other = sc_with(1).await;
    let env = Env::new();
    let slow_file = env.write("slow.toml", &crate::replication::zone(&slow, ""));
    let other_file = env.write("other.toml", &zone(&other, &[(5001, "none")]));
    // a restart command that takes its time
    let command = format!(
        "sleep 3; {}",
        crate::replication::restart_command(control.path())
    );
    let agent = Agent::remediating(
        &env,
        &[&slow_file, &other_file],
        &["--restart-command", &command],
    )
    .await;
    agent.wait_event("remediating", 1).await;
    // while the slow zone restarts its first SPU, the other zone's drift is reported
    reregister(&env, &other, 5001, "stray.example");
    let appeared = agent.wait_event("drift_appeared", 2).await;
    assert_eq!(
        appeared["zone"],
        other_file.to_str().unwrap(),
        "{}",
        agent.log()
    );
    assert!(
        agent.events("remediated").is_empty(),
        "reported before the slow apply ended: {}",
        agent.log()
    );
    // and remediated after it
    agent.wait_event("remediated", 2).await;
    wait_local(&env, &other, 5001, "-").await;
    assert_eq!(agent.terminate().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_profile_is_exit_3_at_start() {
    let env = Env::new();
    env.write_profile("127.0.0.1:9", &crate::support::cli::ProfileTls::None);
    let file = env.write("zone.toml", "[[spu]]\nid = 5001\nlocal = \"none\"\n");
    let run = env
        .run(&["reconcile", "-f", file.to_str().unwrap(), "-P", "nosuch"])
        .expect(3);
    assert!(run.stderr.contains("nosuch"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn files_whose_names_read_alike_have_series_of_their_own() {
    let sc = sc_with(2).await;
    let env = Env::new();
    // a real line break, and a backslash and an n: escaped, they read alike
    let a = env.write("new\nline.toml", &zone(&sc, &[(5001, "none")]));
    let b = env.write("new\\nline.toml", &zone(&sc, &[(5002, "drift.example")]));
    let agent = Agent::start(
        &env,
        &["-f", a.to_str().unwrap(), "-f", b.to_str().unwrap()],
    )
    .await;
    agent.wait_ready(200).await;
    agent.wait_event("drift_appeared", 1).await;
    let scrape = agent.metrics();
    let zones: std::collections::BTreeSet<String> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "fluvio_endpoints_drifted_spus")
        .filter_map(|s| s.labels.get("zone").map(str::to_string))
        .collect();
    assert_eq!(zones.len(), 2, "{zones:?}");
    let drifted: Vec<f64> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "fluvio_endpoints_drifted_spus")
        .map(|s| match s.value {
            prometheus_parse::Value::Gauge(v) => v,
            _ => -1.0,
        })
        .collect();
    let mut drifted = drifted;
    drifted.sort_by(f64::total_cmp);
    assert_eq!(drifted, vec![0.0, 1.0]);
    assert_eq!(agent.terminate().await, 0);
}

#[test]
fn rust_log_neither_hides_the_agents_events_nor_breaks_its_json() {
    let env = Env::new();
    let file = env.write("zone.toml", "[[spu]]\nid = 5001\nlocal = \"none\"\n");
    let port = free_port().to_string();
    let nowhere = format!("127.0.0.1:{port}");
    for spec in ["fluvio_socket=debug", "[[[="] {
        let mut child = env
            .command(&["reconcile", "-f", file.to_str().unwrap(), "-c", &nowhere])
            .args(["--log-format", "json"])
            .env("RUST_LOG", spec)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the agent starts");
        let stderr = child.stderr.take().unwrap();
        let (lines, got) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        while let Ok(line) = got.recv_timeout(WITHIN) {
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|_| panic!("RUST_LOG={spec}: not JSON: {line}"));
            let done = value["event"] == "sc_unreachable";
            seen.push(value);
            if done {
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            seen.iter().any(|l| l["event"] == "sc_unreachable"),
            "RUST_LOG={spec} hid the agent's events: {seen:?}"
        );
    }
}
