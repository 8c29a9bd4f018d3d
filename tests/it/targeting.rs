//! `--spu` / `--exclude-spu`: plans, saved plans, applies and drift over part of a zone.

use crate::support::cli::{json, locals, one_line, Env};
use crate::support::fixtures::sc_with;
use crate::support::test_sc::TestSc;

/// 5001-5003 get a local endpoint; 5009 is not in the cluster (an entry that blocks the rest).
fn zone(sc: &TestSc) -> String {
    let mut text = format!("[cluster]\nendpoint = \"{}\"\n", sc.endpoint());
    for id in [5001, 5002, 5003, 5009] {
        text.push_str(&format!(
            "[[spu]]\nid = {id}\nlocal = \"zone-{id}.example\"\n"
        ));
    }
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn a_targeted_plan_covers_only_its_spus_and_says_so() {
    let sc = sc_with(3).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(&sc));
    let file = file.to_str().unwrap();
    // the whole file is refused: SPU 5009 is unknown
    env.run(&["plan", "-f", file]).expect(6);
    // one SPU: the unknown one no longer blocks it
    let one = env
        .run(&["plan", "-f", file, "--spu", "5002", "--detailed-exitcode"])
        .expect(2);
    assert!(
        one.stdout
            .contains("Targeting: only SPU 5002 (--spu); 3 entries of the file not planned"),
        "{}",
        one.stdout
    );
    assert!(one.stdout.contains("zone-5002.example"), "{}", one.stdout);
    assert!(!one.stdout.contains("zone-5001.example"), "{}", one.stdout);
    let doc = json(
        &env.run(&["plan", "-f", file, "--spu", "5002", "-o", "json"])
            .expect(0),
    );
    assert_eq!(doc["targeting"]["spus"], serde_json::json!([5002]));
    assert_eq!(doc["targeting"]["not_planned"], 3);
    assert_eq!(doc["changes"].as_array().unwrap().len(), 1);
    // everything but the unknown one, in Markdown too
    let md = env
        .run(&[
            "plan",
            "-f",
            file,
            "--exclude-spu",
            "5009",
            "-o",
            "markdown",
        ])
        .expect(0);
    assert!(
        md.stdout.contains(
            "Targeting: excluding SPU 5009 (--exclude-spu); 1 entry of the file not planned"
        ),
        "{}",
        md.stdout
    );
    // a plan of the whole file says nothing of targeting
    let whole = json(&env.run(&["plan", "-f", file, "-o", "json"]).expect(6));
    assert!(whole.get("targeting").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_id_the_file_does_not_declare_is_refused_and_nothing_is_written() {
    let sc = sc_with(3).await;
    let before = sc.spus().await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(&sc));
    let file = file.to_str().unwrap();
    let typo = env.run(&["plan", "-f", file, "--spu", "5020"]).expect(64);
    let said = one_line(&typo.stderr);
    assert!(said.contains("--spu 5020:"), "{said}");
    assert!(said.contains("declares no SPU 5020"), "{said}");
    let typo = env
        .run(&["apply", "-f", file, "--spu", "5020", "--auto-approve"])
        .expect(64);
    assert!(one_line(&typo.stderr).contains("declares no SPU 5020"));
    env.run(&["plan", "-f", file, "--spu", "-1"]).expect(64);
    assert_eq!(sc.spus().await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_targeted_apply_changes_only_its_spus_and_drift_follows_the_target() {
    let sc = sc_with(3).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(&sc));
    let file = file.to_str().unwrap();
    env.run(&[
        "apply",
        "-f",
        file,
        "--spu",
        "5001",
        "--spu",
        "5003",
        "--auto-approve",
    ])
    .expect(0);
    let list = json(
        &env.run(&["-c", &sc.endpoint(), "list", "-o", "json"])
            .expect(0),
    );
    assert_eq!(
        locals(&list),
        ["zone-5001.example", "-", "zone-5003.example"]
    );
    // drift over the applied SPUs is clear; over 5002 it is not
    env.run(&["drift", "-f", file, "--spu", "5001", "--spu", "5003"])
        .expect(0);
    env.run(&["drift", "-f", file, "--spu", "5002"]).expect(2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_records_its_targeting_and_takes_no_other() {
    let sc = sc_with(3).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(&sc));
    let file = file.to_str().unwrap();
    let saved = env.home().join("plan.json");
    let saved = saved.to_str().unwrap();
    env.run(&["plan", "-f", file, "--spu", "5002", "--out", saved])
        .expect(0);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(saved).unwrap()).unwrap();
    assert_eq!(doc["targeting"]["spus"], serde_json::json!([5002]));
    let refused = env
        .run(&["apply", saved, "--spu", "5001", "--auto-approve"])
        .expect(64);
    assert!(one_line(&refused.stderr).contains("a saved plan covers the SPUs it was made for"));
    // a change outside the target does not make the saved plan stale
    env.run(&[
        "-c",
        &sc.endpoint(),
        "update-local",
        "5001",
        "elsewhere.example",
    ])
    .expect(0);
    let applied = env.run(&["apply", saved, "--auto-approve"]).expect(0);
    assert!(
        applied.stdout.contains("zone-5002.example"),
        "{}",
        applied.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn targeting_that_names_nothing_or_contradicts_itself_is_refused() {
    let sc = sc_with(3).await;
    let env = Env::new();
    let file = env.write("zone.toml", &zone(&sc));
    let file = file.to_str().unwrap();
    let both = env
        .run(&["plan", "-f", file, "--spu", "5001", "--exclude-spu", "5001"])
        .expect(64);
    assert!(one_line(&both.stderr).contains("cannot be both planned and left out"));
    // a typo in --exclude-spu would leave out nothing
    let typo = env
        .run(&[
            "apply",
            "-f",
            file,
            "--exclude-spu",
            "9999",
            "--auto-approve",
        ])
        .expect(64);
    assert!(
        one_line(&typo.stderr).contains("--exclude-spu 9999"),
        "{}",
        typo.stderr
    );
    // an --spu that one of several files lacks: no plan is printed
    let other = env.write(
        "other.toml",
        &format!(
            "[cluster]\nendpoint = \"{}\"\n[[spu]]\nid = 5002\nlocal = \"x.example\"\n",
            sc.endpoint()
        ),
    );
    let partial = env
        .run(&[
            "plan",
            "-f",
            other.to_str().unwrap(),
            "-f",
            file,
            "--spu",
            "5001",
            "-o",
            "json",
        ])
        .expect(64);
    assert!(partial.stdout.is_empty(), "{}", partial.stdout);
    // a saved plan's limit was checked when it was made
    let saved = env.home().join("p.json");
    env.run(&[
        "plan",
        "-f",
        file,
        "--exclude-spu",
        "5009",
        "--out",
        saved.to_str().unwrap(),
    ])
    .expect(0);
    env.run(&[
        "apply",
        saved.to_str().unwrap(),
        "--max-changes",
        "0",
        "--auto-approve",
    ])
    .expect(64);
}
