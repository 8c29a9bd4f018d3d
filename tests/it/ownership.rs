//! Several zone files, one cluster: files that give one SPU different local endpoints on
//! the same cluster are refused (exit 3), with both files' entries in one report.

use crate::support::cli::{json, local_of, one_line, Env};
use crate::support::fixtures::sc_with;

fn zone(endpoint: &str, locals: &[(i32, &str)]) -> String {
    let mut text = format!("[cluster]\nendpoint = \"{endpoint}\"\n");
    for (id, local) in locals {
        text.push_str(&format!("\n[[spu]]\nid = {id}\nlocal = \"{local}\"\n"));
    }
    text
}

#[test]
fn validate_refuses_files_of_one_cluster_as_written_that_contradict_each_other() {
    let env = Env::new();
    let a = env.write(
        "a.toml",
        &zone(
            "sc.example:9003",
            &[(5001, "a.example"), (5002, "same.example")],
        ),
    );
    // the same address spelled in other case: one cluster as written
    let b = env.write(
        "b.toml",
        &zone(
            "SC.example:9003",
            &[(5001, "b.example"), (5002, "same.example")],
        ),
    );
    let other = env.write(
        "c.toml",
        &zone("other.example:9003", &[(5001, "c.example")]),
    );
    let (a, b, other) = (
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        other.to_str().unwrap(),
    );
    let refused = env.run(&["validate", "-f", a, "-f", b]).expect(3);
    let said = one_line(&refused.stderr);
    assert!(
        said.contains("1 SPU is given different local endpoints by zone files of one cluster"),
        "{said}"
    );
    assert!(said.contains("SPU 5001: a.example in"), "{said}");
    assert!(said.contains("b.example in"), "{said}");
    // both files, each at its entry's line
    assert!(
        said.contains("a.toml:6") && said.contains("b.toml:6"),
        "{said}"
    );
    assert!(
        !said.contains("SPU 5002"),
        "the same value in two files is fine: {said}"
    );
    // another cluster, and a port left to the public one, are not conflicts
    env.run(&["validate", "-f", a, "-f", other]).expect(0);
    let ported = env.write(
        "d.toml",
        &zone("sc.example:9003", &[(5001, "a.example:9010")]),
    );
    env.run(&["validate", "-f", a, "-f", ported.to_str().unwrap()])
        .expect(0);
    // annotations at both files' lines
    let annotated = env
        .run(&["validate", "-f", a, "-f", b, "--annotations", "github"])
        .expect(3);
    assert!(
        annotated.stdout.contains("::error file=") || annotated.stderr.contains("::error file="),
        "{}{}",
        annotated.stdout,
        annotated.stderr
    );
    let all = format!("{}{}", annotated.stdout, annotated.stderr);
    assert_eq!(
        all.matches("title=conflicting zone files").count(),
        2,
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_and_drift_compare_resolved_clusters_and_write_nothing() {
    let sc = sc_with(2).await;
    let other = sc_with(2).await;
    let before = sc.spus().await;
    let env = Env::new();
    let port = sc.endpoint().rsplit_once(':').unwrap().1.to_string();
    // one SC, two spellings: not one cluster as written, one as resolved
    let by_ip = env.write(
        "ip.toml",
        &zone(&sc.endpoint(), &[(5001, "ip.example"), (5002, "none")]),
    );
    let by_name = env.write(
        "name.toml",
        &zone(
            &format!("localhost:{port}"),
            &[(5001, "name.example"), (5002, "none")],
        ),
    );
    let elsewhere = env.write(
        "other.toml",
        &zone(&other.endpoint(), &[(5001, "other.example")]),
    );
    let (by_ip, by_name, elsewhere) = (
        by_ip.to_str().unwrap(),
        by_name.to_str().unwrap(),
        elsewhere.to_str().unwrap(),
    );
    env.run(&["validate", "-f", by_ip, "-f", by_name]).expect(0);
    let refused = env
        .run(&["plan", "-f", by_ip, "-f", by_name, "-o", "json"])
        .expect(3);
    assert!(
        refused.stdout.is_empty(),
        "no plan is printed: {}",
        refused.stdout
    );
    let said = one_line(&refused.stderr);
    assert!(said.contains("SPU 5001: ip.example:9010 in"), "{said}");
    assert!(said.contains("name.example:9010 in"), "{said}");
    env.run(&["drift", "-f", by_ip, "-f", by_name]).expect(3);
    // files of different clusters are planned as before
    let plans = json(
        &env.run(&["plan", "-f", by_ip, "-f", elsewhere, "-o", "json"])
            .expect(0),
    );
    assert_eq!(plans.as_array().unwrap().len(), 2);
    // targeting that leaves the contested SPU out resolves it
    env.run(&["plan", "-f", by_ip, "-f", by_name, "--exclude-spu", "5001"])
        .expect(0);
    assert_eq!(sc.spus().await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_takes_several_files_each_against_its_cluster_with_one_report() {
    let first = sc_with(2).await;
    let second = sc_with(2).await;
    let env = Env::new();
    // two files on the first SC (different SPUs), one on the second
    let a = env.write("a.toml", &zone(&first.endpoint(), &[(5001, "a.example")]));
    let b = env.write("b.toml", &zone(&first.endpoint(), &[(5002, "b.example")]));
    let c = env.write(
        "c.toml",
        &zone(&second.endpoint(), &[(5001, "c.example"), (5002, "none")]),
    );
    let (a, b, c) = (
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        c.to_str().unwrap(),
    );
    // not approved one by one
    let asked = env.run(&["apply", "-f", a, "-f", c]).expect(64);
    assert!(one_line(&asked.stderr).contains("pass --auto-approve or --dry-run"));
    let run = env
        .run(&[
            "apply",
            "-f",
            a,
            "-f",
            b,
            "-f",
            c,
            "--auto-approve",
            "-o",
            "json",
        ])
        .expect(0);
    let docs = json(&run);
    let docs = docs.as_array().expect("one JSON array");
    assert_eq!(docs.len(), 3, "{}", run.stdout);
    for (doc, file) in docs.iter().zip(["a.toml", "b.toml", "c.toml"]) {
        assert!(
            doc["plan"]["config"]["path"]
                .as_str()
                .unwrap()
                .ends_with(file),
            "{doc}"
        );
        assert_eq!(doc["summary"]["verified"], true, "{doc}");
    }
    let on_first = json(
        &env.run(&["-c", &first.endpoint(), "list", "-o", "json"])
            .expect(0),
    );
    assert_eq!(local_of(&on_first, 5001), "a.example");
    assert_eq!(local_of(&on_first, 5002), "b.example");
    let on_second = json(
        &env.run(&["-c", &second.endpoint(), "list", "-o", "json"])
            .expect(0),
    );
    assert_eq!(local_of(&on_second, 5001), "c.example");
    // text: each file's plan and report, in the order given
    let again = env
        .run(&["apply", "-f", c, "-f", a, "--auto-approve"])
        .expect(0);
    let (at_c, at_a) = (
        again.stdout.find(&second.endpoint()),
        again.stdout.find(&first.endpoint()),
    );
    assert!(
        at_c.is_some() && at_a.is_some() && at_c < at_a,
        "{}",
        again.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn several_files_apply_nothing_unless_every_plan_stands() {
    let first = sc_with(2).await;
    let second = sc_with(2).await;
    let (before_first, before_second) = (first.spus().await, second.spus().await);
    let env = Env::new();
    let good = env.write(
        "good.toml",
        &zone(&first.endpoint(), &[(5001, "good.example")]),
    );
    let unknown = env.write(
        "unknown.toml",
        &zone(&second.endpoint(), &[(5009, "x.example")]),
    );
    let rival = env.write(
        "rival.toml",
        &zone(&first.endpoint(), &[(5001, "rival.example")]),
    );
    let (good, unknown, rival) = (
        good.to_str().unwrap(),
        unknown.to_str().unwrap(),
        rival.to_str().unwrap(),
    );
    // a refused plan on one cluster: the other is not touched either
    let refused = env
        .run(&["apply", "-f", good, "-f", unknown, "--auto-approve"])
        .expect(6);
    assert!(
        refused.stderr.contains("Nothing was applied"),
        "{}",
        refused.stderr
    );
    // contradicting files of one cluster
    env.run(&["apply", "-f", good, "-f", rival, "--auto-approve"])
        .expect(3);
    assert_eq!(first.spus().await, before_first);
    assert_eq!(second.spus().await, before_second);
    // a dry run of several files writes nothing and says what it would do
    let dry = env
        .run(&[
            "apply",
            "-f",
            good,
            "-f",
            rival,
            "--exclude-spu",
            "5001",
            "--dry-run",
        ])
        .expect(0);
    assert_eq!(first.spus().await, before_first, "{}", dry.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ipv4_mapped_spelling_is_the_same_sc_and_a_refused_apply_prints_apply_documents() {
    let sc = sc_with(2).await;
    let before = sc.spus().await;
    let env = Env::new();
    let port = sc.endpoint().rsplit_once(':').unwrap().1.to_string();
    let plain = env.write("plain.toml", &zone(&sc.endpoint(), &[(5001, "a.example")]));
    let mapped = env.write(
        "mapped.toml",
        &zone(
            &format!("[::ffff:127.0.0.1]:{port}"),
            &[(5001, "b.example")],
        ),
    );
    let (plain, mapped) = (plain.to_str().unwrap(), mapped.to_str().unwrap());
    env.run(&["plan", "-f", plain, "-f", mapped]).expect(3);
    env.run(&["apply", "-f", plain, "-f", mapped, "--auto-approve"])
        .expect(3);
    assert_eq!(sc.spus().await, before);
    // a refused plan among several: each file's apply document, as a single apply prints
    let unknown = env.write(
        "unknown.toml",
        &zone(&sc.endpoint(), &[(5009, "x.example")]),
    );
    let refused = env
        .run(&[
            "apply",
            "-f",
            plain,
            "-f",
            unknown.to_str().unwrap(),
            "--auto-approve",
            "-o",
            "json",
        ])
        .expect(6);
    let docs = json(&refused);
    let docs = docs.as_array().unwrap();
    assert_eq!(docs.len(), 2, "{}", refused.stdout);
    for doc in docs {
        assert!(
            doc.get("plan").is_some() && doc.get("summary").is_some(),
            "{doc}"
        );
        assert_eq!(doc["summary"]["verified"], false);
        assert_eq!(doc["dry_run"], false);
    }
    // the same as a dry run says it is one, as a single dry run does
    let dry = env
        .run(&[
            "apply",
            "-f",
            plain,
            "-f",
            unknown.to_str().unwrap(),
            "--dry-run",
            "-o",
            "json",
        ])
        .expect(6);
    for doc in json(&dry).as_array().unwrap() {
        assert_eq!(doc["dry_run"], true, "{doc}");
    }
    assert_eq!(sc.spus().await, before);
}
