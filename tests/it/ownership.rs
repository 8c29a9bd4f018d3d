//! Several zone files, one cluster: files that give one SPU different local endpoints on
//! the same cluster are refused (exit 3), with both files' entries in one report.

use crate::support::cli::{json, one_line, Env};
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
