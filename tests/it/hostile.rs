//! Hostile cluster text: SPU names, racks and hosts carrying escape sequences, newlines
//! that would start a CI workflow command, Markdown cell breakers and bidi overrides, run
//! through every command and output format. Text shows them escaped on their own line,
//! Markdown tables keep their shape, JSON and YAML carry the exact value, and `export`
//! writes a file that validates and plans back unchanged.

use crate::support::cli::{finish, Env, Run};
use crate::support::test_sc::{
    local_custom_spu, ApiKind, CustomSpuSpec, EncryptionEnum, Endpoint, Health, IngressAddr,
    SpuSpec, TestSc, TestScConfig,
};

const EVIL: &str = "evil\u{1b}[2J\u{1b}[31mname";
const RACK: &str = "r1\n::error::x";
const PIPE: &str = "pipe|name\n::error file=x::pwned";
const BIDI: &str = "bidi\u{202e}eman\u{2066}x\u{2069}\u{200e}\u{200f}\u{61c}\u{2028}\u{2029}";
const HOST: &str = "h\u{1b}[1mst\n::warning::y";
const LOCAL: &str = "evil\u{1b}]0;t\u{7}\n::error::z";

fn spec(index: usize, rack: Option<&str>, local: Option<(&str, u16)>) -> CustomSpuSpec {
    let mut spec = local_custom_spu(index);
    spec.rack = rack.map(str::to_owned);
    spec.public_endpoint_local = local.map(|(host, port)| Endpoint {
        host: host.to_owned(),
        port,
        encryption: EncryptionEnum::PLAINTEXT,
    });
    spec
}

/// 5001..5005: hostile names, racks and hosts, and local endpoints no zone file can state
/// (`a..b:0`, an empty host, an unbracketed `::1`).
async fn hostile_sc() -> TestSc {
    let sc = TestSc::start(TestScConfig::default())
        .await
        .expect("test SC starts");
    let mut third = spec(2, None, Some(("a..b", 0)));
    third.public_endpoint.ingress = vec![IngressAddr::from_host(HOST.to_owned())];
    let spus: Vec<(String, SpuSpec, Health)> = vec![
        (
            EVIL.into(),
            spec(0, Some(RACK), None).into(),
            Health::Online,
        ),
        (
            PIPE.into(),
            spec(1, Some(BIDI), Some((LOCAL, 9020))).into(),
            Health::Online,
        ),
        (BIDI.into(), third.into(), Health::Online),
        (
            "custom-spu-5004".into(),
            spec(3, None, Some(("", 9040))).into(),
            Health::Online,
        ),
        (
            "custom-spu-5005".into(),
            spec(4, None, Some(("::1", 9050))).into(),
            Health::Online,
        ),
    ];
    sc.seed_spus(spus).await.expect("seeded");
    sc
}

/// A zone that sets 5001's local endpoint to `host`, asserts a rack 5001 does not have and
/// a name 5002 does not have (drift), and leaves the rest unmanaged (warned).
fn zone(sc: &TestSc, host: &str) -> String {
    format!(
        "[cluster]\nendpoint = \"{}\"\n\n[policy]\nunmanaged = \"warn\"\n\n\
         [[spu]]\nid = 5001\nlocal = \"{host}:9011\"\nrack = \"r2\"\n\n\
         [[spu]]\nid = 5002\nlocal = \"none\"\nname = \"pipe\"\n",
        sc.endpoint()
    )
}

/// No raw control character (other than the line breaks of the output itself) and no bidi
/// override; no line that a CI runner would take for a workflow command.
#[track_caller]
fn assert_inert(what: &str, text: &str) {
    for (n, c) in text.char_indices() {
        let raw = (c.is_control() && c != '\n')
            || matches!(
                c,
                '\u{202A}'..='\u{202E}'
                    | '\u{2066}'..='\u{2069}'
                    | '\u{200E}'
                    | '\u{200F}'
                    | '\u{061C}'
                    | '\u{2028}'
                    | '\u{2029}'
            );
        assert!(
            !raw,
            "{what}: raw {c:?} at byte {n}:\n{}",
            text.escape_debug()
        );
    }
    for line in text.lines() {
        assert!(
            !line.trim_start().starts_with("::"),
            "{what}: a line reads as a workflow command: {line:?}"
        );
    }
}

/// Both streams of a run are inert.
#[track_caller]
fn inert(what: &str, run: &Run) {
    assert_inert(&format!("{what} (stdout)"), &run.stdout);
    assert_inert(&format!("{what} (stderr)"), &run.stderr);
}

/// Runs the binary, expects exit `code`, and checks that both streams are inert.
#[track_caller]
fn run_inert(env: &Env, what: &str, args: &[&str], code: i32) -> Run {
    let run = env.run(args).expect(code);
    inert(what, &run);
    run
}

/// Every Markdown table keeps one column count for all its rows.
#[track_caller]
fn assert_tables_intact(what: &str, md: &str) {
    let cells = |line: &str| {
        let bytes = line.as_bytes();
        (0..bytes.len())
            .filter(|&i| bytes[i] == b'|' && (i == 0 || bytes[i - 1] != b'\\'))
            .count()
    };
    let mut tables = 0;
    let mut width = None;
    for line in md.lines() {
        if line.starts_with('|') {
            let n = cells(line);
            match width {
                None => {
                    width = Some(n);
                    tables += 1;
                }
                Some(w) => assert_eq!(n, w, "{what}: a row lost its shape: {line:?}\n{md}"),
            }
        } else {
            width = None;
        }
    }
    assert!(tables > 0, "{what}: no table\n{md}");
}

/// True when `value` holds the exact string `text` anywhere.
fn holds(value: &serde_json::Value, text: &str) -> bool {
    match value {
        serde_json::Value::String(s) => s == text,
        serde_json::Value::Array(items) => items.iter().any(|v| holds(v, text)),
        serde_json::Value::Object(map) => map.values().any(|v| holds(v, text)),
        _ => false,
    }
}

#[track_caller]
fn json_holds(what: &str, json: &str, texts: &[&str]) {
    let doc: serde_json::Value = serde_json::from_str(json).expect("JSON");
    for text in texts {
        assert!(
            holds(&doc, text),
            "{what}: {text:?} not carried exactly\n{json}"
        );
    }
}

#[track_caller]
fn yaml_holds(what: &str, yaml: &str, texts: &[&str]) {
    let doc: serde_json::Value = serde_yaml::from_str(yaml).expect("YAML");
    for text in texts {
        assert!(
            holds(&doc, text),
            "{what}: {text:?} not carried exactly\n{yaml}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn list_plan_and_drift_show_hostile_text_inert() {
    let sc = hostile_sc().await;
    let env = Env::new();
    let c = sc.endpoint();

    let table = run_inert(&env, "list table", &["list", "-c", &c], 0);
    assert!(
        table.stdout.contains("evil\\e[2J\\e[31mname"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("r1\\n::error::x"), "{}", table.stdout);
    // One header line and one line per SPU: no newline broke a row.
    assert_eq!(table.stdout.lines().count(), 6, "{}", table.stdout);
    let json = run_inert(&env, "list json", &["list", "-c", &c, "-o", "json"], 0);
    json_holds(
        "list json",
        &json.stdout,
        &[EVIL, RACK, PIPE, BIDI, HOST, LOCAL],
    );
    let yaml = env.run(&["list", "-c", &c, "-o", "yaml"]).expect(0);
    yaml_holds(
        "list yaml",
        &yaml.stdout,
        &[EVIL, RACK, PIPE, BIDI, HOST, LOCAL],
    );

    let file = env.write("zone.toml", &zone(&sc, "a1.example"));
    let file = file.to_str().unwrap();
    let text = run_inert(&env, "plan text", &["plan", "-f", file], 0);
    assert!(
        text.stdout.contains("pipe|name\\n::error file=x::pwned"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("bidi\\u{202e}eman"), "{}", text.stdout);
    let md = run_inert(
        &env,
        "plan markdown",
        &["plan", "-f", file, "-o", "markdown"],
        0,
    );
    assert_tables_intact("plan markdown", &md.stdout);
    assert!(md.stdout.contains("pipe\\|name\\n"), "{}", md.stdout);
    let json = run_inert(&env, "plan json", &["plan", "-f", file, "-o", "json"], 0);
    json_holds("plan json", &json.stdout, &[EVIL, RACK, PIPE, BIDI]);
    let yaml = env.run(&["plan", "-f", file, "-o", "yaml"]).expect(0);
    yaml_holds("plan yaml", &yaml.stdout, &[EVIL, RACK, PIPE, BIDI]);

    // Annotations: the tool's own workflow commands, each on one line, nothing else.
    let annotated = env
        .run(&["plan", "-f", file, "--annotations", "github"])
        .expect(0);
    assert_inert("annotations", &annotated.stderr);
    let commands: Vec<&str> = annotated
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("::"))
        .collect();
    assert!(!commands.is_empty(), "{}", annotated.stdout);
    for line in commands {
        assert!(
            ["::notice file=", "::warning file=", "::error file="]
                .iter()
                .any(|p| line.starts_with(p)),
            "a workflow command the tool did not mean: {line:?}"
        );
    }

    let drift = env.run(&["drift", "-f", file]);
    inert("drift", &drift);
    assert!(drift.stdout.contains("r1\\n::error::x"), "{}", drift.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_update_local_recover_and_errors_stay_inert() {
    let sc = hostile_sc().await;
    let env = Env::new();
    let c = sc.endpoint();

    let mut json_apply = String::new();
    for (host, format) in [
        ("a1.example", "text"),
        ("a2.example", "json"),
        ("a3.example", "markdown"),
    ] {
        let file = env.write(&format!("{format}.toml"), &zone(&sc, host));
        let run = run_inert(
            &env,
            &format!("apply {format}"),
            &[
                "apply",
                "-f",
                file.to_str().unwrap(),
                "--auto-approve",
                "-o",
                format,
            ],
            0,
        );
        if format == "json" {
            json_apply = run.stdout.clone();
        }
        match format {
            "json" => json_holds("apply json", &run.stdout, &[EVIL]),
            "markdown" => assert_tables_intact("apply markdown", &run.stdout),
            _ => assert!(run.stdout.contains("evil\\e[2J"), "{}", run.stdout),
        }
    }

    // A journal that an apply interrupted between its delete and its create left behind,
    // made of the JSON apply's own before and after specs (SPU 5001 has moved on since):
    // `recover` reports the SPU by its hostile name.
    let doc: serde_json::Value = serde_json::from_str(&json_apply).unwrap();
    let change = &doc["plan"]["changes"][0];
    let mut new = change["live"].clone();
    new["local"] = change["after"].clone();
    let begin = serde_json::json!({
        "v": 2, "op": "begin", "seq": 1, "target": doc["target"],
        "old": change["live"], "new": new, "pid": 1, "unix_ms": 1,
    });
    // The journal's lock file stays when a finished journal is removed: it names the path.
    let journal = std::fs::read_dir(env.journal_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "lock"))
        .expect("the applies locked a journal")
        .with_extension("jsonl");
    std::fs::write(&journal, format!("{begin}\n")).unwrap();
    let recover = run_inert(&env, "recover", &["recover", "-c", &c], 0);
    assert!(
        recover
            .stderr
            .contains("5001 evil\\e[2J\\e[31mname: exists, changed by someone else"),
        "{}",
        recover.stderr
    );

    let update = run_inert(
        &env,
        "update-local",
        &[
            "update-local",
            "5002",
            "localhost",
            "--port",
            "9030",
            "-c",
            &c,
        ],
        0,
    );
    assert!(update.stdout.contains("pipe|name\\n"), "{}", update.stdout);
    let update_json = env
        .run(&[
            "update-local",
            "5002",
            "localhost",
            "--port",
            "9031",
            "-c",
            &c,
            "-o",
            "json",
        ])
        .expect(0);
    json_holds("update-local json", &update_json.stdout, &[PIPE]);
    // Nothing to do: a note that quotes the name.
    let again = run_inert(
        &env,
        "update-local, nothing to do",
        &[
            "update-local",
            "5002",
            "localhost",
            "--port",
            "9031",
            "-c",
            &c,
        ],
        0,
    );
    assert!(
        again.stderr.contains("pipe|name\\n::error"),
        "{}",
        again.stderr
    );

    // An error that quotes the cluster: a saved plan made stale by a change to SPU 5001.
    let file = env.write("stale.toml", &zone(&sc, "b1.example"));
    let saved = env.home().join("saved.plan");
    env.save_plan(&file, &saved).expect(0);
    env.run(&["update-local", "5001", "b2.example", "-c", &c])
        .expect(0);
    let stale = env.run(&["apply", saved.to_str().unwrap(), "--auto-approve"]);
    inert("stale apply", &stale);
    assert_eq!(stale.code, 5, "{}", stale.stderr);
    assert!(stale.stderr.contains("evil\\e[2J"), "{}", stale.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn export_of_hostile_and_invalid_live_data_validates_and_plans_unchanged() {
    let sc = hostile_sc().await;
    let env = Env::new();
    let c = sc.endpoint();
    let out = env.home().join("exported.toml");
    run_inert(
        &env,
        "export",
        &["export", "-c", &c, "--out", out.to_str().unwrap()],
        0,
    );
    let text = std::fs::read_to_string(&out).expect("export wrote its file");
    assert_inert("exported file", &text);
    // What no zone file can state is left out, each with a one-line reason: a local
    // endpoint (the SPU), or an assertion (just itself).
    let says = |id: &str, what: &str| {
        text.lines()
            .any(|l| l.starts_with("# ") && l.contains(id) && l.contains(what))
    };
    for id in ["SPU 5002", "SPU 5003", "SPU 5005"] {
        assert!(says(id, "left out"), "{id}\n{text}");
    }
    assert!(says("SPU 5001: its name", "not asserted"), "{text}");
    assert!(says("SPU 5001: its rack", "not asserted"), "{text}");
    let parsed: toml::Value = toml::from_str(&text).expect("TOML");
    let ids: Vec<i64> = parsed["spu"]
        .as_array()
        .expect("spu entries")
        .iter()
        .map(|s| s["id"].as_integer().unwrap())
        .collect();
    assert_eq!(ids, [5001, 5004], "{text}");

    env.run(&["validate", "-f", out.to_str().unwrap()])
        .expect(0);
    let plan = env
        .run(&["plan", "-f", out.to_str().unwrap(), "-o", "json"])
        .expect(0);
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let s = &doc["summary"];
    assert_eq!(
        (
            s["set"].as_u64(),
            s["change"].as_u64(),
            s["clear"].as_u64(),
            s["drift"].as_u64()
        ),
        (Some(0), Some(0), Some(0), Some(0)),
        "{}",
        plan.stdout
    );
    assert_eq!(
        doc["blockers"].as_array().map(Vec::len),
        Some(0),
        "{}",
        plan.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_spu_ids_in_a_metadata_dir_are_an_error_naming_both_files() {
    let sc = TestSc::start(TestScConfig::default())
        .await
        .expect("test SC starts");
    sc.seed_local_cluster(2, 0).await.expect("seeded");
    sc.wait_status_pass().await.unwrap();
    let env = Env::new();
    let meta = env.home().join("meta");
    std::fs::create_dir_all(meta.join("SPU")).unwrap();
    for entry in std::fs::read_dir(sc.metadata_dir().join("SPU")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, meta.join("SPU").join(path.file_name().unwrap())).unwrap();
    }
    let meta_arg = meta.to_str().unwrap();
    let listed = env.run(&["list", "--metadata-dir", meta_arg]).expect(0);
    assert!(
        listed.stdout.contains("custom-spu-5002"),
        "{}",
        listed.stdout
    );
    // A second file for SPU 5001, under another name.
    let original = std::fs::read_to_string(meta.join("SPU/custom-spu-5001.yaml")).unwrap();
    std::fs::write(
        meta.join("SPU/other-5001.yaml"),
        original.replace("custom-spu-5001", "other-5001"),
    )
    .unwrap();
    let dup = env.run(&["list", "--metadata-dir", meta_arg]).expect(4);
    assert!(
        dup.stderr.contains("custom-spu-5001.yaml") && dup.stderr.contains("other-5001.yaml"),
        "{}",
        dup.stderr
    );
    assert!(dup.stderr.contains("SPU id 5001"), "{}", dup.stderr);
}

/// A zone file's own name is text from outside too: a path can hold escapes and line
/// breaks. Every place a problem report shows it (the headline, each snippet's header)
/// shows it escaped, so it can neither drive the terminal nor start a workflow command.
#[test]
fn a_hostile_zone_file_name_stays_inert_in_problem_reports() {
    let env = Env::new();
    let name = "evil\n::error file=a::pwn\u{1b}[2J.toml";
    let file = env.write(name, "[[spu]]\nid = 5001\nlocal = \"q:1\"\nfoo = 1\n");
    let run = env
        .run(&["validate", "-f", file.to_str().unwrap()])
        .expect(3);
    assert!(run.stderr.contains("unknown key `foo`"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("evil\\n::error file=a::pwn\\e[2J.toml:4:1"),
        "the snippet header names the file escaped: {}",
        run.stderr
    );
    assert_inert("validate of a hostile file name", &run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reconcile_agent_logs_hostile_text_inert() {
    let sc = hostile_sc().await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(&sc, "ok.example"));
    for format in ["text", "json"] {
        let agent = env.spawn(&[
            "reconcile",
            "-f",
            file.to_str().unwrap(),
            "--resync",
            "200ms",
            "--log-format",
            format,
        ]);
        // a few rounds: the drift of both SPUs, read again and again
        let lists = sc.faults().requests(ApiKind::List);
        sc.faults().wait_requests(ApiKind::List, lists + 3).await;
        let pid = agent.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        let run = finish(agent).await.expect(0);
        assert!(run.stderr.contains("drift_appeared"), "{}", run.stderr);
        // the hostile local endpoint of 5002 is in the drift line, escaped
        assert!(run.stderr.contains("evil"), "{}", run.stderr);
        inert(&format!("reconcile --log-format {format}"), &run);
    }
}
