//! The CI/CD contract: exit codes, output formats (snapshots), annotations, drift, the
//! safety threshold, multi-file plans and the export round trip.

use crate::support::cli::{json, Env, Run};
use crate::support::fixtures::sc_with;
use crate::support::test_sc::{local_custom_spu, Health, IngressAddr, TestSc, TestScConfig};

/// Replaces what changes from run to run (the SC's port, the temp dir) with stable names.
fn stable(sc: &TestSc, env: &Env, text: &str) -> String {
    text.replace(&sc.endpoint(), "SC_ADDR")
        .replace(&env.home().display().to_string(), "HOME")
}

const ZONE: &str = r#"
[policy]
unmanaged = "warn"

[[spu]]
id = 5001
local = "host.docker.internal"
public = "localhost:9999"

[[spu]]
id = 5002
local = "none"
"#;

/// Asserts that a document matches a checked-in schema under `schemas/`.
#[track_caller]
fn assert_matches_schema(file: &str, doc: &serde_json::Value) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(file);
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{file}: {errors:#?}");
}

fn zone(sc: &TestSc, body: &str) -> String {
    format!("[cluster]\nendpoint = \"{}\"\n{body}", sc.endpoint())
}

fn plan(env: &Env, file: &str, extra: &[&str]) -> Run {
    let mut args = vec!["plan", "-f", file];
    args.extend_from_slice(extra);
    env.run(&args)
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_formats_are_stable() {
    let sc = sc_with(3).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(&sc, ZONE));
    let file = file.to_str().unwrap();

    let text = plan(&env, file, &[]).expect(0);
    insta::assert_snapshot!("plan_text", stable(&sc, &env, &text.stdout));

    let md = plan(&env, file, &["-o", "markdown"]).expect(0);
    insta::assert_snapshot!("plan_markdown", stable(&sc, &env, &md.stdout));

    let json = plan(&env, file, &["--output", "json"]).expect(0);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON on stdout");
    assert_eq!(doc["format_version"], 2);
    assert_matches_schema("plan.schema.json", &doc);
    assert_eq!(doc["summary"]["set"], 1);
    assert_eq!(doc["summary"]["unchanged"], 1);
    assert_eq!(doc["summary"]["drift"], 1);
    assert_eq!(doc["summary"]["unmanaged"], 1);
    assert_eq!(doc["changes"][0]["action"], "set");
    assert_eq!(
        doc["changes"][0]["live_fingerprint"].as_str().map(str::len),
        Some(32)
    );
    assert_eq!(doc["changes"][0]["before"], serde_json::Value::Null);
    assert_eq!(doc["changes"][0]["after"]["host"], "host.docker.internal");
    assert_eq!(doc["changes"][0]["line"], 9);
    assert_eq!(doc["drift"][0]["field"], "public");
    assert_eq!(doc["drift"][0]["actual"], "localhost:9010");
    assert_eq!(doc["unmanaged"][0]["id"], 5003);
    // stdout is that one document and nothing else; diagnostics (if any) went to stderr
    let documents = serde_json::Deserializer::from_str(&json.stdout)
        .into_iter::<serde_json::Value>()
        .collect::<Result<Vec<_>, _>>()
        .expect("stdout is JSON only");
    assert_eq!(
        documents.len(),
        1,
        "one document on stdout: {}",
        json.stdout
    );
    assert!(
        !json.stderr.contains("\"format_version\""),
        "the document is not on stderr: {}",
        json.stderr
    );

    // Output options work before the subcommand too.
    let before = env.run(&["-o", "json", "plan", "-f", file]).expect(0);
    assert_eq!(before.stdout, json.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_never_confuse_changes_and_errors() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let changes = env.write(
        "changes.toml",
        &zone(&sc, "[[spu]]\nid = 5001\nlocal = \"h\"\n"),
    );
    let same = env.write(
        "same.toml",
        &zone(&sc, "[[spu]]\nid = 5001\nlocal = \"none\"\n"),
    );
    let unknown = env.write(
        "unknown.toml",
        &zone(&sc, "[[spu]]\nid = 9\nlocal = \"h\"\n"),
    );
    let invalid = env.write("invalid.toml", "[[spu]]\nid = 1\n");
    let strict = env.write(
        "strict.toml",
        &zone(
            &sc,
            "[policy]\nunmanaged = \"error\"\n[[spu]]\nid = 5001\nlocal = \"none\"\n",
        ),
    );
    let p = |f: &std::path::Path| f.to_str().unwrap().to_string();

    plan(&env, &p(&changes), &["--detailed-exitcode"]).expect(2);
    plan(&env, &p(&changes), &[]).expect(0);
    plan(&env, &p(&same), &["--detailed-exitcode"]).expect(0);
    plan(&env, &p(&unknown), &["--detailed-exitcode"]).expect(6);
    plan(&env, &p(&invalid), &["--detailed-exitcode"]).expect(3);
    // Validation overlaps the cluster read when flags pick the cluster; the file still wins.
    plan(&env, &p(&invalid), &["-c", "127.0.0.1:1"]).expect(3);
    plan(
        &env,
        &p(&changes),
        &["-c", &sc.endpoint(), "--detailed-exitcode"],
    )
    .expect(2);
    let strict_run = plan(&env, &p(&strict), &[]).expect(6);
    assert!(
        strict_run.stdout.contains("unmanaged = \"error\""),
        "{}",
        strict_run.stdout
    );
    env.run(&["plan"]).expect(64);
    env.run(&["plan", "-f", &p(&changes), "--bogus"]).expect(64);
    env.run(&["--help"]).expect(0);
    let help = env.run(&["plan", "--help"]).expect(0);
    assert!(help.stdout.contains("Exit codes:"), "{}", help.stdout);
    env.run(&["--version"]).expect(0);
    env.run(&["--timeout", "0", "list", "-c", &sc.endpoint()])
        .expect(64);
    env.run(&["-P", "nope", "list"]).expect(3);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_safety_threshold_refuses_large_plans_unless_forced() {
    let sc = sc_with(3).await;
    let env = Env::new();
    let body = "[policy]\nmax_changes = 2\n[[spu]]\nid = 5001\nlocal = \"a\"\n[[spu]]\nid = 5002\nlocal = \"b\"\n[[spu]]\nid = 5003\nlocal = \"c\"\n";
    let file = env.write("zone.toml", &zone(&sc, body));
    let file = file.to_str().unwrap();
    let refused = env.run(&["apply", "-f", file, "--auto-approve"]).expect(6);
    assert!(
        refused
            .stdout
            .contains("the plan has 3 changes, more than the allowed 2"),
        "{}",
        refused.stdout
    );
    env.run(&[
        "plan",
        "-f",
        file,
        "--max-changes",
        "3",
        "--detailed-exitcode",
    ])
    .expect(2);
    env.run(&["plan", "-f", file, "--max-changes", "1"])
        .expect(6);
    env.run(&["apply", "-f", file, "--auto-approve", "--force"])
        .expect(0);
    env.run(&["plan", "-f", file, "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_percentage_threshold_counts_the_clusters_custom_spus_at_its_edge() {
    // 10 custom SPUs and 2 managed ones: 30% is 3 changes, whatever the managed count
    let sc = TestSc::start(TestScConfig::default())
        .await
        .expect("test SC");
    sc.seed_local_cluster(10, 2).await.expect("seeded");
    let env = Env::new();
    let entries = |n: i32| {
        (5001..5001 + n)
            .map(|id| format!("[[spu]]\nid = {id}\nlocal = \"zone-{id}.example\"\n"))
            .collect::<String>()
    };
    let at_edge = env.write(
        "three.toml",
        &zone(
            &sc,
            &format!(
                "[policy]\nmax_changes = \"30%\"\nunmanaged = \"ignore\"\n{}",
                entries(3)
            ),
        ),
    );
    env.run(&[
        "plan",
        "-f",
        at_edge.to_str().unwrap(),
        "--detailed-exitcode",
    ])
    .expect(2);
    let over = env.write(
        "four.toml",
        &zone(
            &sc,
            &format!(
                "[policy]\nmax_changes = \"30%\"\nunmanaged = \"ignore\"\n{}",
                entries(4)
            ),
        ),
    );
    let over = over.to_str().unwrap();
    let refused = env.run(&["plan", "-f", over, "-o", "json"]).expect(6);
    let doc = json(&refused);
    let blocker = &doc["blockers"][0];
    assert_eq!(blocker["kind"], "too_many_changes", "{blocker}");
    assert!(
        blocker["message"]
            .as_str()
            .unwrap()
            .contains("the plan has 4 changes, more than the allowed 3 (max_changes = 30% of the cluster's 10 custom SPUs"),
        "{blocker}"
    );
    // the flag takes either form and overrides the file
    env.run(&[
        "plan",
        "-f",
        over,
        "--max-changes",
        "40%",
        "--detailed-exitcode",
    ])
    .expect(2);
    env.run(&["plan", "-f", over, "--max-changes", "3"])
        .expect(6);
    let bad = env
        .run(&["plan", "-f", over, "--max-changes", "140%"])
        .expect(64);
    assert!(
        bad.stderr.contains("not a percentage from 0% to 100%"),
        "{}",
        bad.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_is_read_only_and_exits_2_only_on_differences() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let matching = env.write("ok.toml", &zone(&sc, "[[spu]]\nid = 5001\nlocal = \"none\"\npublic = \"localhost:9010\"\n[[spu]]\nid = 5002\nlocal = \"none\"\n"));
    let drifted = env.write("drift.toml", &zone(&sc, "[[spu]]\nid = 5001\nlocal = \"none\"\nrack = \"r9\"\n[[spu]]\nid = 5002\nlocal = \"none\"\n"));
    let local = env.write(
        "local.toml",
        &zone(
            &sc,
            "[[spu]]\nid = 5001\nlocal = \"h\"\n[[spu]]\nid = 5002\nlocal = \"none\"\n",
        ),
    );
    env.run(&["drift", "-f", matching.to_str().unwrap()])
        .expect(0);
    let out = env
        .run(&["drift", "-f", drifted.to_str().unwrap()])
        .expect(2);
    assert!(
        out.stdout.contains("rack: expected r9, found -"),
        "{}",
        out.stdout
    );
    env.run(&["drift", "-f", local.to_str().unwrap()]).expect(2);
    let listed = env.run(&["list", "-c", &sc.endpoint()]).expect(0);
    assert!(
        !listed.stdout.contains(" h:9010"),
        "drift never writes: {}",
        listed.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn github_annotations_point_at_the_toml_lines() {
    let sc = sc_with(3).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(&sc, ZONE));
    let file = file.to_str().unwrap();
    let out = plan(&env, file, &["--annotations", "github"]).expect(0);
    let lines: Vec<String> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("::"))
        .map(|l| stable(&sc, &env, l))
        .collect();
    assert_eq!(
        lines,
        [
            "::notice file=HOME/zone.toml,line=9,title=local endpoint set for SPU 5001::+ custom-spu-5001: none -> host.docker.internal:9010",
            "::warning file=HOME/zone.toml,line=10,title=drift on SPU 5001::public: expected localhost:9999, found localhost:9010 (not applied)",
        ]
    );
    let auto = env
        .command(&["plan", "-f", file])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&auto.stdout).contains("::notice file="),
        "auto under GitHub Actions"
    );
    let none = plan(&env, file, &[]).expect(0);
    assert!(!none.stdout.contains("::notice"));

    // An invalid file is annotated at each problem's line and column, from `plan` (exit 3,
    // before any cluster is read) as from `validate`.
    env.write(
        "bad.toml",
        "[[spu]]\nid = 5001\nlocal = \"bad host:1\"\n[[spu]]\nid = 5002\nlocal = \"h:70000\"\n",
    );
    for command in ["plan", "validate"] {
        let out = env
            .run(&[command, "-f", "bad.toml", "--annotations", "github"])
            .expect(3);
        let lines: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("::")).collect();
        assert_eq!(lines.len(), 2, "{command}: {}", out.stdout);
        assert!(
            lines[0].starts_with(
                "::error file=bad.toml,line=3,col=9,title=invalid configuration::invalid local endpoint: `bad host`"
            ),
            "{command}: {}",
            lines[0]
        );
        assert!(
            lines[1].starts_with("::error file=bad.toml,line=6,col=9,"),
            "{command}: {}",
            lines[1]
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn several_files_plan_concurrently_each_against_its_own_cluster() {
    let a = sc_with(1).await;
    let b = sc_with(1).await;
    let env = Env::new();
    let fa = env.write(
        "a.toml",
        &zone(&a, "[[spu]]\nid = 5001\nlocal = \"a.example\"\n"),
    );
    let fb = env.write(
        "b.toml",
        &zone(&b, "[[spu]]\nid = 5001\nlocal = \"none\"\n"),
    );
    let bad = env.write("bad.toml", "[[spu]]\nid = 5001\nlocal = \"x:0\"\n");
    let (fa, fb, bad) = (
        fa.to_str().unwrap(),
        fb.to_str().unwrap(),
        bad.to_str().unwrap(),
    );
    let out = env
        .run(&["plan", "-f", fa, fb, "--detailed-exitcode"])
        .expect(2);
    assert!(
        out.stdout.contains(&format!(
            "Local endpoints for sc://{} from {fa}",
            a.endpoint()
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!(
            "Local endpoints for sc://{} from {fb}",
            b.endpoint()
        )),
        "{}",
        out.stdout
    );
    env.run(&["plan", "-f", fb, fb, "--detailed-exitcode"])
        .expect(0);
    let mixed = env
        .run(&["plan", "-f", fa, bad, "--detailed-exitcode"])
        .expect(3);
    assert!(
        mixed.stdout.contains("a.example"),
        "the good file is still planned: {}",
        mixed.stdout
    );
    assert!(
        mixed.stderr.contains("not a valid port"),
        "{}",
        mixed.stderr
    );

    // Several files stay one parseable output: a JSON array of plan documents, in the
    // order given, and a YAML stream of documents.
    let json = env.run(&["plan", "-f", fa, fb, "-o", "json"]).expect(0);
    let docs: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).unwrap();
    let targets: Vec<&str> = docs.iter().map(|d| d["target"].as_str().unwrap()).collect();
    let want = [
        format!("sc://{}", a.endpoint()),
        format!("sc://{}", b.endpoint()),
    ];
    assert_eq!(targets, want);
    for doc in &docs {
        assert_matches_schema("plan.schema.json", doc);
    }
    let mixed = env.run(&["plan", "-f", bad, fa, "-o", "json"]).expect(3);
    let docs: Vec<serde_json::Value> = serde_json::from_str(&mixed.stdout).unwrap();
    assert_eq!(
        docs.len(),
        1,
        "the invalid file has no plan: {}",
        mixed.stdout
    );
    let yaml = env.run(&["plan", "-f", fa, fb, "-o", "yaml"]).expect(0);
    let docs: Vec<serde_json::Value> = serde_yaml::Deserializer::from_str(&yaml.stdout)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let targets: Vec<&str> = docs.iter().map(|d| d["target"].as_str().unwrap()).collect();
    assert_eq!(targets, want);
}

#[tokio::test(flavor = "multi_thread")]
async fn export_round_trips_to_an_empty_plan() {
    let sc = sc_with(3).await;
    // Public ingresses that are only an IPv6 address, or nothing at all yet.
    for (id, ingress) in [
        (
            7,
            vec![IngressAddr {
                hostname: None,
                ip: Some("::1".into()),
            }],
        ),
        (8, vec![]),
    ] {
        let mut spec = local_custom_spu(0);
        spec.id = id;
        spec.public_endpoint.ingress = ingress;
        sc.seed_custom(spec, Health::Online).await.unwrap();
    }
    let env = Env::new();
    let c = sc.endpoint();
    env.run(&["update-local", "5001", "host.docker.internal", "-c", &c])
        .expect(0);
    env.run(&[
        "update-local",
        "5002",
        "[::1]:7000",
        "--encryption",
        "SSL",
        "-c",
        &c,
    ])
    .expect(0);
    let exported = env.run(&["export", "-c", &c]).expect(0);
    assert!(
        exported
            .stdout
            .starts_with("#:schema ../schemas/fluvio-endpoints.schema.json\n"),
        "{}",
        exported.stdout
    );
    insta::assert_snapshot!("export", stable(&sc, &env, &exported.stdout));
    let file = env.write("exported.toml", &exported.stdout);
    env.run(&["validate", "-f", file.to_str().unwrap()])
        .expect(0);
    let planned = env
        .run(&["plan", "-f", file.to_str().unwrap(), "--detailed-exitcode"])
        .expect(0);
    assert!(
        planned.stdout.contains("No changes. 5 unchanged."),
        "{}",
        planned.stdout
    );
    assert!(
        exported.stdout.contains("public = \"[::1]:9010\""),
        "{}",
        exported.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_reports_in_json_with_windows() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write(
        "zone.toml",
        &zone(
            &sc,
            "[[spu]]\nid = 5001\nlocal = \"a\"\n[[spu]]\nid = 5002\nlocal = \"b:1\"\n",
        ),
    );
    let out = env
        .run(&[
            "apply",
            "-f",
            file.to_str().unwrap(),
            "--auto-approve",
            "-o",
            "json",
        ])
        .expect(0);
    let doc: serde_json::Value =
        serde_json::from_str(&out.stdout).expect("one JSON document on stdout");
    assert_eq!(doc["summary"]["applied"], 2);
    assert_matches_schema("apply-report.schema.json", &doc);
    let mut wrong = doc.clone();
    wrong["report"]["results"][0]["outcome"] = "done".into();
    assert!(
        std::panic::catch_unwind(|| assert_matches_schema("apply-report.schema.json", &wrong))
            .is_err(),
        "the schema is strict enough to reject an unknown outcome"
    );
    assert_eq!(doc["summary"]["verified"], true);
    for r in doc["report"]["results"].as_array().unwrap() {
        assert_eq!(r["outcome"], "applied");
        assert!(r["unavailable_ms"].as_f64().unwrap() > 0.0);
    }
    assert!(
        out.stderr.contains("Applying 2 change(s)"),
        "progress goes to stderr: {}",
        out.stderr
    );

    // Runs that stop short of executing print the same kind of document.
    let path = file.to_str().unwrap();
    let again = env.run(&["apply", "-f", path, "--auto-approve", "-o", "json"]);
    let again: serde_json::Value = serde_json::from_str(&again.expect(0).stdout).unwrap();
    assert_matches_schema("apply-report.schema.json", &again);
    assert_eq!(again["plan"]["changes"].as_array().map(Vec::len), Some(0));
    assert_eq!(again["summary"]["verified"], true, "nothing left to change");
    std::fs::write(
        &file,
        zone(
            &sc,
            "[[spu]]\nid = 5001\nlocal = \"c\"\n[[spu]]\nid = 5002\nlocal = \"b:1\"\n",
        ),
    )
    .unwrap();
    let dry = env.run(&["apply", "-f", path, "--dry-run", "-o", "json"]);
    let dry: serde_json::Value = serde_json::from_str(&dry.expect(0).stdout).unwrap();
    assert_matches_schema("apply-report.schema.json", &dry);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["plan"]["changes"].as_array().map(Vec::len), Some(1));
    assert_eq!(dry["report"]["results"].as_array().map(Vec::len), Some(0));
    assert_eq!(
        dry["summary"]["verified"], false,
        "a preview proves nothing"
    );
    let refused = env.run(&[
        "apply",
        "-f",
        path,
        "--auto-approve",
        "--max-changes",
        "0",
        "-o",
        "json",
    ]);
    let refused: serde_json::Value = serde_json::from_str(&refused.expect(6).stdout).unwrap();
    // Without a terminal to ask and without --auto-approve, nothing is applied, and the
    // document still comes out.
    let unapproved = env.run(&["apply", "-f", path, "-o", "json"]);
    let unapproved: serde_json::Value = serde_json::from_str(&unapproved.expect(1).stdout).unwrap();
    assert_matches_schema("apply-report.schema.json", &unapproved);
    assert_eq!(
        unapproved["plan"]["changes"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(
        unapproved["report"]["results"].as_array().map(Vec::len),
        Some(0)
    );
    assert_eq!(unapproved["summary"]["verified"], false);
    assert_matches_schema("apply-report.schema.json", &refused);
    let blocker = &refused["plan"]["blockers"][0];
    assert_eq!(blocker["kind"], "too_many_changes", "{blocker}");
    assert!(
        blocker["message"]
            .as_str()
            .is_some_and(|m| m.contains("more than the allowed 0")),
        "{blocker}"
    );
    assert_eq!(refused["summary"]["verified"], false);
}

#[test]
fn config_errors_render_with_spans_and_the_file_name() {
    let env = Env::new();
    let file = env.write(
        "zone.toml",
        "[cluster]\nprofile = \"a\"\nendpoint = \"b:1\"\n\n[[spu]]\nid = 5001\nlocal = \"h\"\n\n[[spu]]\nid = 5001\nlocal = \"[::1\"\n",
    );
    let out = env.run(&["validate", "-f", "zone.toml"]).expect(3);
    insta::assert_snapshot!("config_errors", stable_home(&env, &out.stderr));
    drop(file);
}

fn stable_home(env: &Env, text: &str) -> String {
    text.replace(&env.home().display().to_string(), "HOME")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_applies_only_what_was_reviewed() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write(
        "zone.toml",
        &zone(&sc, "[[spu]]\nid = 5001\nlocal = \"a\"\n"),
    );
    let plan_path = env.home().join("reviewed.plan");
    let planned = env.save_plan(&file, &plan_path).expect(0);
    assert!(
        planned.stderr.contains("Saved the plan"),
        "{}",
        planned.stderr
    );
    let saved = std::fs::read_to_string(&plan_path).unwrap();

    // The same plan as format 1 wrote it: each change spelled out what it creates (its
    // `target`), which must be the live spec with the new local endpoint.
    let mut v1: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert!(v1["changes"][0].get("target").is_none(), "{saved}");
    v1["format_version"] = 1.into();
    let mut target = v1["changes"][0]["live"].clone();
    target["local"] = v1["changes"][0]["after"].clone();
    v1["changes"][0]["target"] = target;
    let v1_path = env.write("v1.plan", &v1.to_string());
    // A plan edited to write anything but the local endpoint is refused before any write.
    let mut doc = v1.clone();
    doc["changes"][0]["target"]["public"]["port"] = 1.into();
    let tampered = env.write("tampered.plan", &doc.to_string());
    let out = env.run(&["apply", tampered.to_str().unwrap()]).expect(3);
    assert!(
        out.stderr.contains("invalid saved plan")
            && out.stderr.contains("SPU 5001 is not a local-"),
        "{}",
        out.stderr
    );
    // So is one edited, consistently, to an endpoint no zone file could declare, and one
    // that lists a change twice.
    let mut bad_host: serde_json::Value = serde_json::from_str(&saved).unwrap();
    bad_host["changes"][0]["after"]["host"] = "a..b".into();
    let mut twice: serde_json::Value = serde_json::from_str(&saved).unwrap();
    let change = twice["changes"][0].clone();
    twice["changes"].as_array_mut().unwrap().push(change);
    for (name, doc, why) in [
        ("host.plan", bad_host, "is not a valid host and port"),
        ("twice.plan", twice, "SPU 5001 has more than one change"),
    ] {
        let path = env.write(name, &doc.to_string());
        let out = env.run(&["apply", path.to_str().unwrap()]).expect(3);
        assert!(out.stderr.contains(why), "{name}: {}", out.stderr);
    }
    let before = env.run(&["list", "-c", &sc.endpoint()]).expect(0);
    assert!(
        before.stdout.lines().nth(1).unwrap().ends_with(" -"),
        "{}",
        before.stdout
    );

    // The reviewed plan applies as is, without a prompt; saved as format 1 too.
    let applied = env.run(&["apply", v1_path.to_str().unwrap()]).expect(0);
    assert!(applied.stdout.contains("1 applied"), "{}", applied.stdout);
    let after = env.run(&["list", "-c", &sc.endpoint()]).expect(0);
    assert!(
        after.stdout.lines().nth(1).unwrap().ends_with(" a:9010"),
        "{}",
        after.stdout
    );
    let again = env.run(&["apply", plan_path.to_str().unwrap()]).expect(5);
    assert!(again.stderr.contains("5001"), "{}", again.stderr);

    // A refused plan is never saved.
    let refused_file = env.write(
        "refused.toml",
        &zone(&sc, "[[spu]]\nid = 99\nlocal = \"a\"\n"),
    );
    let refused_plan = env.home().join("refused.plan");
    // ... and an older plan at that path does not stay behind to be applied instead.
    std::fs::copy(&plan_path, &refused_plan).unwrap();
    env.save_plan(&refused_file, &refused_plan).expect(6);
    assert!(!refused_plan.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn annotations_keep_json_parseable() {
    let sc = sc_with(3).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(&sc, ZONE));
    let out = plan(
        &env,
        file.to_str().unwrap(),
        &["-o", "json", "--annotations", "github"],
    )
    .expect(0);
    serde_json::from_str::<serde_json::Value>(&out.stdout).expect("stdout is one JSON document");
    assert!(out.stderr.contains("::notice file="), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn color_is_decided_once_and_honours_no_color() {
    let sc = sc_with(3).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(&sc, ZONE));
    let file = file.to_str().unwrap();
    // The test environment sets NO_COLOR and pipes stdout: no color unless forced.
    let plain = plan(&env, file, &[]).expect(0);
    assert!(!plain.stdout.contains('\u{1b}'), "{}", plain.stdout);
    let forced = plan(&env, file, &["--color", "always"]).expect(0);
    assert!(
        forced.stdout.contains("\u{1b}[32m+\u{1b}[0m"),
        "{}",
        forced.stdout
    );
    let never = env
        .command(&["plan", "-f", file, "--color", "never"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert_eq!(never.status.code(), Some(0), "plan --color never succeeds");
    let never = String::from_utf8_lossy(&never.stdout);
    assert!(
        never.contains("custom-spu-5001"),
        "the plan was printed: {never}"
    );
    assert!(!never.contains('\u{1b}'), "{never}");
    // JSON is never colored.
    let json = plan(&env, file, &["--color", "always", "-o", "json"]).expect(0);
    assert!(!json.stdout.contains('\u{1b}'), "{}", json.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn saved_plans_and_exports_are_written_whole_and_replace_what_was_there() {
    let sc = sc_with(2).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(&sc, ZONE));
    let out_dir = env.home().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let plan_path = out_dir.join("zone.plan");
    let export_path = out_dir.join("export.toml");
    // what was there before is replaced, not appended to or left half-written
    std::fs::write(&plan_path, "x".repeat(100_000)).unwrap();
    std::fs::write(&export_path, "y".repeat(100_000)).unwrap();
    env.save_plan(&file, &plan_path).expect(0);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_path).unwrap()).unwrap();
    assert_eq!(saved["format_version"], 2);
    env.run(&[
        "-c",
        &sc.endpoint(),
        "export",
        "--out",
        export_path.to_str().unwrap(),
    ])
    .expect(0);
    let exported = std::fs::read_to_string(&export_path).unwrap();
    assert!(
        exported.contains("[[spu]]") && !exported.contains("yyyy"),
        "{exported}"
    );
    // nothing but the two files: no temp file left beside them
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["export.toml", "zone.plan"]);
}

#[test]
#[should_panic(expected = "and was killed")]
fn a_run_that_hangs_fails_its_test_instead_of_hanging_it() {
    // an SC that accepts and never answers, waited for an hour: the watchdog ends it
    let addr = crate::support::cli::silent_sc();
    let env = Env::new();
    let file = env.write(
        "silent.toml",
        &format!("[cluster]\nendpoint = \"{addr}\"\n[[spu]]\nid = 5001\nlocal = \"x.example\"\n"),
    );
    env.run_within(
        &["plan", "-f", file.to_str().unwrap(), "--wait", "1h"],
        std::time::Duration::from_secs(2),
    );
}
