//! Operations driven in process, their output read back from a printer over buffers: a
//! stopped local cluster's metadata directory (a copy of `examples/local-cluster`) as the
//! cluster, and a scripted stdin for the approval prompt.

use std::path::{Path, PathBuf};

use super::apply::{ApplyOptions, Source};
use super::session::{ClusterFlags, Connect};
use crate::error::Error;
use crate::output::{Buffer, Format, Printer, Streams};

const ZONE: &str = "[[spu]]\nid = 5001\nlocal = \"h.example:9010\"\n";

/// A copy of the example cluster's metadata, a zone file and a journal directory.
struct Bench {
    dir: tempfile::TempDir,
}

impl Bench {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/local-cluster/metadata");
        copy_dir(&from, &dir.path().join("metadata"));
        std::fs::write(dir.path().join("zone.toml"), ZONE).unwrap();
        Bench { dir }
    }

    fn zone(&self) -> PathBuf {
        self.dir.path().join("zone.toml")
    }

    fn spu_5001(&self) -> String {
        let file = self.dir.path().join("metadata/SPU/custom-spu-5001.yaml");
        std::fs::read_to_string(file).unwrap()
    }

    fn connect(&self) -> Connect {
        Connect {
            flags: ClusterFlags {
                metadata_dir: Some(self.dir.path().join("metadata")),
                ..ClusterFlags::default()
            },
            journal_dir: self.dir.path().join("journal"),
            timeout: std::time::Duration::from_secs(5),
            wait: None,
            lock_timeout: std::time::Duration::ZERO,
        }
    }

    fn apply_options(&self) -> ApplyOptions {
        ApplyOptions {
            source: Source::File(self.zone()),
            auto_approve: false,
            dry_run: false,
            limit: super::ChangeLimit::Enforce(None),
            probe: super::probe::ProbeRequest::default(),
            healing: super::route::Healing::default(),
            offline: None,
            targeting: crate::model::Targeting::default(),
            stop: None,
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A printer of `format` over fresh buffers, answering the prompt with `answer`.
fn printer(format: Format, answer: &str) -> (Printer, Buffer, Buffer) {
    let (out, err) = (Buffer::default(), Buffer::default());
    let stdin = std::io::Cursor::new(answer.as_bytes().to_vec());
    let streams = Streams::from_write(
        Box::new(out.clone()),
        Box::new(err.clone()),
        Some(Box::new(stdin)),
    );
    let printer = Printer {
        format,
        ..Printer::over(streams)
    };
    (printer, out, err)
}

#[tokio::test]
async fn a_plan_prints_as_text_and_as_json() {
    let bench = Bench::new();
    let options = super::plan::PlanOptions {
        targeting: &crate::model::Targeting::default(),
        route: super::route::RouteRequest::default(),
        limit: super::ChangeLimit::Enforce(None),
        fingerprints: false,
        probe: super::probe::ProbeRequest::default(),
        ownership: false,
    };
    let (text, out, err) = printer(Format::Text, "");
    let (doc, _) = super::plan::plan_file(&bench.connect(), &bench.zone(), options, &text)
        .await
        .expect("planned");
    text.plan(&doc);
    let shown = out.text();
    assert!(shown.contains("5001"), "{shown}");
    assert!(shown.contains("local: none -> h.example:9010"), "{shown}");
    assert_eq!(err.text(), "");

    let (json, out, _) = printer(Format::Json, "");
    json.plan(&doc);
    let printed: serde_json::Value = serde_json::from_str(&out.text()).expect("one document");
    assert_eq!(printed["changes"][0]["id"], 5001);
    assert_eq!(printed["changes"][0]["after"]["host"], "h.example");
}

#[tokio::test]
async fn an_apply_declined_at_the_prompt_writes_nothing() {
    let bench = Bench::new();
    let before = bench.spu_5001();
    let (printer, out, err) = printer(Format::Text, "no\n");
    let result = super::apply::run(&bench.connect(), &bench.apply_options(), &printer).await;
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!(
        out.text().contains("h.example:9010"),
        "the plan: {}",
        out.text()
    );
    assert!(
        err.text()
            .contains("Apply 1 local-endpoint change(s) to dir:"),
        "the prompt: {}",
        err.text()
    );
    assert_eq!(bench.spu_5001(), before);
}

#[tokio::test]
async fn an_apply_declined_with_json_output_prints_its_one_document() {
    let bench = Bench::new();
    let (printer, out, err) = printer(Format::Json, "\n");
    let result = super::apply::run(&bench.connect(), &bench.apply_options(), &printer).await;
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    let doc: serde_json::Value = serde_json::from_str(&out.text()).expect("one document");
    assert_eq!(doc["dry_run"], false);
    assert_eq!(doc["summary"]["verified"], false);
    assert_eq!(doc["plan"]["changes"][0]["id"], 5001);
    // the person answering saw the plan on stderr
    assert!(err.text().contains("h.example:9010"), "{}", err.text());
}

#[tokio::test]
async fn an_apply_approved_at_the_prompt_reports_each_spu() {
    let bench = Bench::new();
    let (printer, out, err) = printer(Format::Text, "yes\n");
    let result = super::apply::run(&bench.connect(), &bench.apply_options(), &printer).await;
    assert_eq!(
        result.expect("applied"),
        super::RunOutcome { changes: true }
    );
    assert!(
        err.text().contains("Applying 1 change(s) to dir:"),
        "{}",
        err.text()
    );
    assert!(out.text().contains("5001"), "{}", out.text());
    assert!(
        bench.spu_5001().contains("h.example"),
        "{}",
        bench.spu_5001()
    );
}

#[tokio::test]
async fn a_dry_run_says_so_on_stderr() {
    let bench = Bench::new();
    let before = bench.spu_5001();
    let (printer, out, err) = printer(Format::Text, "");
    let options = ApplyOptions {
        dry_run: true,
        ..bench.apply_options()
    };
    let result = super::apply::run(&bench.connect(), &options, &printer).await;
    assert_eq!(
        result.expect("a dry run"),
        super::RunOutcome { changes: true }
    );
    assert!(out.text().contains("h.example:9010"), "{}", out.text());
    assert!(
        err.text()
            .contains("Dry run: 1 change(s) would be applied to dir:"),
        "{}",
        err.text()
    );
    assert_eq!(bench.spu_5001(), before);
}

#[tokio::test]
async fn an_apply_of_two_files_prints_one_json_array_in_their_order() {
    let bench = Bench::new();
    let second = bench.dir.path().join("second.toml");
    std::fs::write(&second, "[[spu]]\nid = 5002\nlocal = \"g.example:9010\"\n").unwrap();
    let (printer, out, _) = printer(Format::Json, "");
    let options = ApplyOptions {
        auto_approve: true,
        ..bench.apply_options()
    };
    let files = [bench.zone(), second];
    let result = super::apply::run_many(&bench.connect(), &options, &files, &printer).await;
    assert_eq!(
        result.expect("applied"),
        super::RunOutcome { changes: true }
    );
    let docs: Vec<serde_json::Value> = serde_json::from_str(&out.text()).expect("one array");
    let ids: Vec<_> = docs
        .iter()
        .map(|d| d["plan"]["changes"][0]["id"].clone())
        .collect();
    assert_eq!(ids, [5001, 5002]);
    assert!(docs.iter().all(|d| d["summary"]["verified"] == true));
}
