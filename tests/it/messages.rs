//! Messages that name the real cause: each case here once got a misleading one.

use std::process::Command;

use crate::support::cli::Env;
use crate::support::test_sc::{TestSc, TestScConfig};

const ZONE: &str = "[[spu]]\nid = 5001\nlocal = \"h.example:9010\"\n";

#[test]
fn a_cluster_address_with_a_scheme_says_so() {
    let env = Env::new();
    let run = env.run(&["-c", "http://127.0.0.1:9003", "list"]).expect(64);
    assert!(run.stderr.contains("scheme"), "{}", run.stderr);
    assert!(!run.stderr.contains("IPv6"), "{}", run.stderr);
}

#[test]
fn a_zero_timeout_must_be_more_than_zero() {
    let env = Env::new();
    let run = env.run(&["--timeout", "0", "list"]).expect(64);
    assert!(
        run.stderr.contains("must be more than 0 seconds"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("between"), "{}", run.stderr);
}

/// `update-local` reads its id and port as zone files do: before, `-1` reached the cluster
/// as "SPU -1 is not in the cluster" (exit 6), and `--port +5` was port 5.
#[test]
fn update_local_refuses_an_id_or_port_a_zone_file_would() {
    let env = Env::new();
    for (args, says) in [
        (
            &["update-local", "--", "-1", "a"][..],
            "-1 is not in 0..=2147483647",
        ),
        (
            &["update-local", "1", "a", "--port", "+5"],
            "`+5` is not a valid port",
        ),
        (
            &["update-local", "1", "a", "--port", "0"],
            "`0` is not a valid port",
        ),
    ] {
        let run = env.run(args).expect(64);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn a_port_in_a_local_host_goes_in_port() {
    let env = Env::new();
    let file = env.write(
        "zone.toml",
        "[[spu]]\nid = 5001\nlocal = { host = \"a.com:9000\" }\n",
    );
    let run = env
        .run(&["validate", "-f", file.to_str().unwrap()])
        .expect(3);
    assert!(run.stderr.contains("carries a port"), "{}", run.stderr);
    assert!(run.stderr.contains("`port`"), "{}", run.stderr);
    assert!(!run.stderr.contains("IPv6"), "{}", run.stderr);
}

#[test]
fn a_profile_whose_cluster_is_missing_says_so() {
    let env = Env::new();
    env.write(
        "fluvio-config",
        "version = \"2\"\ncurrent_profile = \"p\"\n\n[profile.p]\ncluster = \"gone\"\n\n\
         [cluster.other]\nendpoint = \"127.0.0.1:9003\"\n",
    );
    for args in [&["-P", "p", "list"][..], &["list"]] {
        let run = env.run(args).expect(3);
        assert!(
            run.stderr
                .contains("names cluster `gone`, which is missing"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("not in the fluvio config"),
            "{}",
            run.stderr
        );
    }
    // an unknown profile is still called that
    let run = env.run(&["-P", "nope", "list"]).expect(3);
    assert!(
        run.stderr
            .contains("profile `nope` is not in the fluvio config"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_zone_file_given_as_a_plan_hints_at_dash_f() {
    let env = Env::new();
    let file = env.write("zone.toml", ZONE);
    let run = env
        .run(&["apply", file.to_str().unwrap(), "--auto-approve"])
        .expect(3);
    assert!(
        run.stderr.contains("a zone file goes with -f"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("apply -f FILE"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_cluster_flag_counts_before_and_after_the_command() {
    let sc = TestSc::start(TestScConfig::default()).await.unwrap();
    sc.seed_local_cluster(2, 0).await.unwrap();
    let env = Env::new();
    let good = sc.endpoint();
    // 127.0.0.1:1 is never contacted: the later flag wins
    for args in [
        vec!["-c", "127.0.0.1:1", "list", "-c", &good],
        vec!["-c", "127.0.0.1:1", "-c", &good, "list"],
        vec!["list", "-c", "127.0.0.1:1", "-c", &good],
    ] {
        let run = env.run(&args).expect(0);
        assert!(
            run.stdout.contains("custom-spu-5002"),
            "{args:?}: {}",
            run.stdout
        );
    }
}

#[test]
fn a_read_only_metadata_dir_names_the_path() {
    let env = Env::new();
    let meta = env.home().join("metadata");
    copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/local-cluster/metadata"),
        &meta,
    );
    let file = env.write("zone.toml", ZONE);
    let meta_arg = meta.to_str().unwrap();
    let args = [
        "apply",
        "--metadata-dir",
        meta_arg,
        "-f",
        file.to_str().unwrap(),
        "--auto-approve",
    ];
    let cmd = env.command(&args);
    let out = if is_root() {
        // root writes through file modes: make the directory read-only in a mount
        // namespace of its own instead
        let mut wrapped = Command::new("unshare");
        wrapped
            .args(["-m", "sh", "-c"])
            .arg("mount --bind \"$0\" \"$0\" && mount -o remount,bind,ro \"$0\" && exec \"$@\"")
            .arg(&meta)
            .arg(cmd.get_program())
            .args(cmd.get_args())
            .current_dir(env.home());
        for (key, value) in cmd.get_envs() {
            match value {
                Some(v) => wrapped.env(key, v),
                None => wrapped.env_remove(key),
            };
        }
        wrapped.output().expect("unshare runs")
    } else {
        set_mode(&meta, 0o555);
        set_mode(&meta.join("SPU"), 0o555);
        let mut cmd = cmd;
        let out = cmd.output().expect("runs");
        set_mode(&meta, 0o755);
        set_mode(&meta.join("SPU"), 0o755);
        out
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stdout}\n{stderr}");
    let named = format!(
        "{}/.fluvio-endpoints-staging",
        meta.canonicalize().unwrap().display()
    );
    assert!(stdout.contains(&named), "{stdout}\n{stderr}");
    assert!(
        std::fs::read_to_string(meta.join("SPU/custom-spu-5001.yaml"))
            .unwrap()
            .contains("custom-spu-5001"),
        "the SPU file is intact"
    );
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
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
