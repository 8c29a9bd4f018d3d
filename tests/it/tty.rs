//! The binary under a real pseudo-terminal: the apply approval prompt, colour, and the
//! progress bar of a long apply. Each run's stdin and stdout (and stderr, unless a test
//! sends it through a pipe) are the terminal, as in an interactive shell. Also `-v`/`-vv`
//! and `RUST_LOG`, whose traces go to stderr wherever it goes.

use std::process::{Command, Stdio};

use rexpect::process::WaitStatus;
use rexpect::session::PtySession;

use crate::support::cli::Env;
use crate::support::fixtures::sc_with;
use crate::support::test_sc::TestSc;

/// Upper bound for one expectation: a guard against a hang, not a measurement.
const HANG_GUARD_MS: u64 = 60_000;

/// A zone file that gives each of the first `count` SPUs a local endpoint.
fn zone(count: usize) -> String {
    (0..count)
        .map(|i| {
            format!(
                "[[spu]]\nid = {}\nlocal = \"host.docker.internal:{}\"\n\n",
                5001 + i,
                20000 + i
            )
        })
        .collect()
}

async fn locals(sc: &TestSc) -> usize {
    sc.spus()
        .await
        .into_iter()
        .filter(|(_, spec, _)| spec.public_endpoint_local.is_some())
        .count()
}

/// The binary with `args` against `sc`, for a terminal: stdin inherited (the terminal),
/// a terminal type set, and colour left to the terminal unless `no_color`.
fn command(env: &Env, sc: &TestSc, args: &[&str], no_color: bool) -> Command {
    let mut all = vec!["-c".to_string(), sc.endpoint()];
    all.extend(args.iter().map(|a| a.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let mut cmd = env.command(&all);
    cmd.stdin(Stdio::inherit()).env("TERM", "xterm-256color");
    if !no_color {
        cmd.env_remove("NO_COLOR");
    }
    cmd
}

/// Runs `command` on a new pseudo-terminal; `interact` talks to it; then everything the
/// terminal showed up to the end, and the exit code.
async fn on_pty(
    command: Command,
    interact: impl FnOnce(&mut PtySession) + Send + 'static,
) -> (String, i32) {
    tokio::task::spawn_blocking(move || {
        let mut session =
            rexpect::session::spawn_command(command, Some(HANG_GUARD_MS)).expect("spawn on a pty");
        interact(&mut session);
        let rest = session.exp_eof().expect("the run ends");
        let code = match session.process().wait().expect("wait") {
            WaitStatus::Exited(_, code) => code,
            other => panic!("the run did not exit: {other:?}"),
        };
        (rest, code)
    })
    .await
    .expect("join")
}

const PROMPT: &str = "Only 'yes' will be accepted: ";

#[tokio::test(flavor = "multi_thread")]
async fn the_approval_prompt_answered_yes_applies() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(2));
    let cmd = command(&env, &sc, &["apply", "-f", file.to_str().unwrap()], true);
    let (rest, code) = on_pty(cmd, |s| {
        let before = s.exp_string(PROMPT).expect("the prompt");
        assert!(
            before.contains("Apply 2 local-endpoint change(s)"),
            "{before}"
        );
        s.send_line("yes").unwrap();
    })
    .await;
    assert_eq!(code, 0, "{rest}");
    assert_eq!(locals(&sc).await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_approval_prompt_declined_changes_nothing() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(2));
    let cmd = command(&env, &sc, &["apply", "-f", file.to_str().unwrap()], true);
    let (rest, code) = on_pty(cmd, |s| {
        s.exp_string(PROMPT).expect("the prompt");
        s.send_line("no").unwrap();
    })
    .await;
    assert_eq!(code, 1, "{rest}");
    assert!(rest.contains("apply cancelled"), "{rest}");
    assert_eq!(locals(&sc).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn colour_on_a_terminal_and_none_with_no_color() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(2));
    let args = ["plan", "-f", file.to_str().unwrap()];
    let (coloured, code) = on_pty(command(&env, &sc, &args, false), |_| {}).await;
    assert_eq!(code, 0, "{coloured}");
    assert!(
        coloured.contains("host.docker.internal:20000"),
        "{coloured}"
    );
    assert!(
        coloured.contains("\x1b["),
        "colour on a terminal: {coloured:?}"
    );
    let (plain, code) = on_pty(command(&env, &sc, &args, true), |_| {}).await;
    assert_eq!(code, 0, "{plain}");
    assert!(plain.contains("host.docker.internal:20000"), "{plain}");
    assert!(
        !plain.contains('\x1b'),
        "no colour with NO_COLOR: {plain:?}"
    );
}

/// What the progress bar draws (its position over the number of changes).
const BAR: &str = "/20 changes";

#[tokio::test(flavor = "multi_thread")]
async fn a_progress_bar_for_a_long_apply_on_a_terminal() {
    let sc = sc_with(20).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(20));
    let args = ["apply", "-f", file.to_str().unwrap(), "--auto-approve"];
    let (shown, code) = on_pty(command(&env, &sc, &args, true), |_| {}).await;
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains(BAR), "a progress bar: {shown:?}");
    assert!(shown.contains("Applying 20 change(s)"), "{shown}");
    assert_eq!(locals(&sc).await, 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_progress_bar_when_stderr_is_a_pipe_or_with_quiet() {
    let sc = sc_with(20).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(20));
    let file = file.to_str().unwrap();

    // stdout on the terminal, stderr through a pipe (to `cat`, which shows it there too)
    let inner = command(&env, &sc, &["apply", "-f", file, "--auto-approve"], true);
    let mut piped = Command::new("sh");
    piped
        .arg("-c")
        .arg(r#"{ "$0" "$@" 2>&1 1>&3 | cat; } 3>&1"#)
        .arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(env.home())
        .env("TERM", "xterm-256color");
    for (key, value) in inner.get_envs() {
        match value {
            Some(value) => piped.env(key, value),
            None => piped.env_remove(key),
        };
    }
    let (shown, code) = on_pty(piped, |_| {}).await;
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("Applying 20 change(s)"),
        "stderr shown: {shown}"
    );
    assert!(!shown.contains(BAR), "no progress bar: {shown:?}");
    assert_eq!(locals(&sc).await, 20);

    // -q on a terminal: no bar either (the file now moves all 20 again)
    env.write(
        "zone.toml",
        &zone(20).replace("host.docker.internal", "h.example"),
    );
    let args = ["apply", "-f", file, "--auto-approve", "-q"];
    let (shown, code) = on_pty(command(&env, &sc, &args, true), |_| {}).await;
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("h.example:20019"), "the apply ran: {shown}");
    assert!(!shown.contains(BAR), "no progress bar with -q: {shown:?}");
}

/// The trace lines of requests to the SC in `stderr`: (what, latency) for each.
fn traced(stderr: &str) -> Vec<(&str, &str)> {
    stderr
        .lines()
        .filter(|l| l.contains("DEBUG") && l.contains("latency_ms="))
        .map(|l| {
            let latency = l.split("latency_ms=").nth(1).unwrap_or("");
            let latency = latency.split_whitespace().next().unwrap_or("");
            let what = l.split(" DEBUG ").nth(1).unwrap_or("");
            let what = what.split(" endpoint=").next().unwrap_or("");
            (what, latency)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn verbose_traces_each_request_and_its_latency() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let endpoint = sc.endpoint();
    let quiet = env.run(&["-c", &endpoint, "list"]).expect(0);
    assert!(traced(&quiet.stderr).is_empty(), "{}", quiet.stderr);
    assert!(!quiet.stderr.contains("DEBUG"), "{}", quiet.stderr);

    let list = env.run(&["-c", &endpoint, "list", "-v"]).expect(0);
    let lines = traced(&list.stderr);
    assert!(
        lines.iter().any(|(what, _)| what.contains("listing SPUs")),
        "{}",
        list.stderr
    );
    assert!(
        lines.iter().all(|(_, ms)| ms.parse::<f64>().is_ok()),
        "a latency in ms on each: {}",
        list.stderr
    );
    assert!(list.stdout.contains("custom-spu-5001"), "{}", list.stdout);

    let file = env.write("zone.toml", &zone(1));
    let apply = env
        .run(&[
            "-c",
            &endpoint,
            "-v",
            "apply",
            "-f",
            file.to_str().unwrap(),
            "--auto-approve",
        ])
        .expect(0);
    let whats: Vec<&str> = traced(&apply.stderr).into_iter().map(|(w, _)| w).collect();
    for op in ["deleting SPU 5001", "creating SPU 5001", "reading SPU"] {
        assert!(
            whats.iter().any(|w| w.contains(op)),
            "{op}: {}",
            apply.stderr
        );
    }

    // RUST_LOG alone turns the same traces on; -vv adds the client's own
    let logged = env
        .command(&["-c", &endpoint, "list"])
        .env("RUST_LOG", "fluvio_endpoints=debug")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&logged.stderr);
    assert!(!traced(&stderr).is_empty(), "{stderr}");
    let very = env.run(&["-c", &endpoint, "list", "-vv"]).expect(0);
    assert!(very.stderr.contains("fluvio_socket"), "{}", very.stderr);
}
