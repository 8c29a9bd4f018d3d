//! The bundled examples: the README's main job works on them, every zone file validates
//! against the checked-in JSON Schema, and that schema is current.

use std::path::{Path, PathBuf};

use crate::support::cli::Env;
use crate::support::test_sc::{local_custom_spu, Health, TestSc, TestScConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bundled_metadata() -> PathBuf {
    root().join("examples/local-cluster/metadata")
}

fn zone_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("examples/zones"))
        .expect("examples/zones exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "the examples hold zone files");
    files
}

/// Regenerates `examples/local-cluster/metadata` through the test SC, i.e. through
/// Fluvio's own `LocalMetadataStorage`: `cargo test --test it regenerate -- --ignored`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "rewrites the bundled example"]
async fn regenerate_bundled_metadata() {
    let dir = bundled_metadata();
    let _ = std::fs::remove_dir_all(&dir);
    let sc = TestSc::start(TestScConfig {
        metadata_dir: Some(dir.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    for (i, health) in [Health::Online, Health::Online, Health::Offline]
        .into_iter()
        .enumerate()
    {
        sc.seed_custom(local_custom_spu(i), health).await.unwrap();
    }
    sc.wait_status_pass().await.unwrap();
    sc.wait_status_pass().await.unwrap();
    sc.shutdown().await.unwrap();
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

#[test]
fn the_readme_main_job_plans_the_bundled_example() {
    let env = Env::new();
    let meta = bundled_metadata();
    let docker = root().join("examples/zones/docker.toml");
    let out = env
        .run(&[
            "plan",
            "-f",
            docker.to_str().unwrap(),
            "--metadata-dir",
            meta.to_str().unwrap(),
            "--detailed-exitcode",
        ])
        .expect(2);
    assert!(
        out.stdout
            .contains("+  5001 custom-spu-5001  local: none -> host.docker.internal:9010"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("Plan: 3 to set, 0 to change, 0 to clear; 0 unchanged."),
        "{}",
        out.stdout
    );
    let dry = env
        .run(&[
            "apply",
            "--dry-run",
            "-f",
            docker.to_str().unwrap(),
            "--metadata-dir",
            meta.to_str().unwrap(),
        ])
        .expect(0);
    assert!(
        dry.stderr.contains("Dry run: 3 change(s) would be applied"),
        "{}",
        dry.stderr
    );
    let list = env
        .run(&["list", "--metadata-dir", meta.to_str().unwrap()])
        .expect(0);
    assert!(list.stdout.contains("custom-spu-5003"), "{}", list.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn applying_to_a_metadata_dir_takes_effect_when_the_sc_starts() {
    let env = Env::new();
    let meta = env.home().join("metadata");
    copy_dir(&bundled_metadata(), &meta);
    let docker = root().join("examples/zones/docker.toml");
    let args = [
        "apply",
        "-f",
        docker.to_str().unwrap(),
        "--metadata-dir",
        meta.to_str().unwrap(),
        "--auto-approve",
    ];
    let out = env.run(&args).expect(0);
    assert!(out.stdout.contains("3 applied"), "{}", out.stdout);
    // Each file was replaced whole (staged, then renamed), with its revision advanced as
    // the SC's own writes do, and no staging folder is left behind.
    assert!(!meta.join(".fluvio-endpoints-staging").exists());
    let written = std::fs::read_to_string(meta.join("SPU/custom-spu-5001.yaml")).unwrap();
    assert!(
        written.starts_with("!1.0.0\nmeta:\n  id: custom-spu-5001\n  revision: 1\n"),
        "{written}"
    );
    assert!(
        written.contains("publicEndpointLocal:\n    port: 9010\n    host: host.docker.internal"),
        "{written}"
    );
    env.run(&[
        "plan",
        "-f",
        docker.to_str().unwrap(),
        "--metadata-dir",
        meta.to_str().unwrap(),
        "--detailed-exitcode",
    ])
    .expect(0);

    // A wrapper around the tool (here `timeout`) names the directory too, but serves
    // nothing: it does not block the tool it runs.
    let inner = env.command(&[
        "apply",
        "--dry-run",
        "-f",
        docker.to_str().unwrap(),
        "--metadata-dir",
        meta.to_str().unwrap(),
    ]);
    let mut wrapped = std::process::Command::new("timeout");
    wrapped
        .arg("60")
        .arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(inner.get_current_dir().unwrap());
    for (key, value) in inner.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    let out = wrapped.output().expect("timeout runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A process serving the directory (as `fluvio-run sc --local DIR` would) blocks writes.
    // `sh` waiting on its stdin stays one process that never re-execs; a launcher that
    // execs through shims (a pyenv `python3`) reads as an empty command line for a moment
    // at each exec, so the test waits until the process names the directory.
    let mut server = std::process::Command::new("sh")
        .args(["-c", "read _", "sc", "--local"])
        .arg(&meta)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("sh runs");
    wait_until_named(server.id(), &meta);
    let ci = root().join("examples/zones/ci.toml");
    let refused = env.run(&[
        "apply",
        "-f",
        ci.to_str().unwrap(),
        "--metadata-dir",
        meta.to_str().unwrap(),
        "--auto-approve",
    ]);
    let dry = env.run(&[
        "apply",
        "--dry-run",
        "-f",
        ci.to_str().unwrap(),
        "--metadata-dir",
        meta.to_str().unwrap(),
    ]);
    server.kill().unwrap();
    server.wait().unwrap();
    let refused = refused.expect(4);
    assert!(refused.stderr.contains("is serving"), "{}", refused.stderr);
    let dry = dry.expect(4);
    assert!(
        dry.stderr.contains("is serving"),
        "a dry run makes the same checks: {}",
        dry.stderr
    );

    // The SC loads what apply wrote.
    let sc = TestSc::start(TestScConfig {
        metadata_dir: Some(meta.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let list = env.run(&["list", "-c", &sc.endpoint()]).expect(0);
    let locals: Vec<&str> = list
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    assert_eq!(
        locals,
        [
            "host.docker.internal:9010",
            "host.docker.internal:9020",
            "host.docker.internal:9030"
        ],
        "{}",
        list.stdout
    );
}

#[test]
fn the_checked_in_schemas_are_current() {
    let schemas = [
        (
            "fluvio-endpoints.schema.json",
            "config",
            fluvio_endpoints::config::schema::json_schema(),
        ),
        (
            "plan.schema.json",
            "plan",
            fluvio_endpoints::report::plan_schema(),
        ),
        (
            "apply-report.schema.json",
            "apply",
            fluvio_endpoints::report::apply_schema(),
        ),
    ];
    for (file, kind, generated) in schemas {
        let checked_in = std::fs::read_to_string(root().join("schemas").join(file)).unwrap();
        assert_eq!(
            checked_in, generated,
            "regenerate with `cargo run -- schema {kind} > schemas/{file}`"
        );
    }
}

#[test]
fn every_example_validates_offline_and_against_the_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/fluvio-endpoints.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let env = Env::new();
    for file in zone_files() {
        env.run(&["validate", "-f", file.to_str().unwrap()])
            .expect(0);
        let value: toml::Value = toml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let json = serde_json::to_value(value).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", file.display());
    }
    // And the schema rejects what validate rejects.
    let bad = serde_json::json!({"spu": [{"id": 1, "local": "h", "colour": 1}]});
    assert!(!validator.is_valid(&bad));
}

/// Waits until process `pid`'s command line names `dir`, as the served check reads it
/// (polled; the deadline is a safety net for a process that never starts).
fn wait_until_named(pid: u32, dir: &Path) {
    let cmdline = format!("/proc/{pid}/cmdline");
    let want = dir.as_os_str().as_encoded_bytes();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let raw = std::fs::read(&cmdline).unwrap_or_default();
        if raw.split(|b| *b == 0).any(|arg| arg == want) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!(
        "process {pid} never named {} in its command line",
        dir.display()
    );
}
