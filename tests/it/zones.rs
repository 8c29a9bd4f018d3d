//! Zones end to end, on one machine: Linux network namespaces make a "host" and a
//! "container" joined by a veth pair (addresses in 10.213.0.0/29, which exist only inside
//! the two namespaces this test creates), `/etc/netns/<container>/hosts` maps
//! `host.docker.internal` to the host side, as `--add-host=host.docker.internal:host-gateway`
//! does, and the test SPU responder listens on the host side. The binary runs inside the
//! container with `ip netns exec`. The SC is the test SC on 127.0.0.1 of the test's own
//! namespace, which the container cannot reach: the binary reads its SPUs from the SC's
//! metadata directory (`--metadata-dir`, read-only), as shared through the file system.
//!
//! Needs root and `ip`. Under `CI=true` a zone that cannot be made fails the test; elsewhere
//! the test is skipped with the reason printed. Everything made is removed on drop, also
//! when the test fails.
//!
//! Also here: the client side of a zone, `profile show` and `profile use-local`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::cli::{one_line, Env, Run};
use crate::support::spu_responder::{Behaviour, SpuResponder};
use crate::support::test_sc::{
    local_custom_spu, local_spu_name, EncryptionEnum, Endpoint, Health, IngressAddr, IngressPort,
    TestSc, TestScConfig,
};

const HOST_ADDR: &str = "10.213.0.1";
const CONTAINER_ADDR: &str = "10.213.0.2";
/// In the zone's subnet, on no interface: packets to it go nowhere.
const BLACKHOLE_ADDR: &str = "10.213.0.5";

static ZONES: AtomicUsize = AtomicUsize::new(0);

/// A "host" and a "container" network namespace joined by a veth pair.
struct Zone {
    host: String,
    container: String,
    etc: PathBuf,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Zone {
    /// Makes the zone, or says why it cannot. The container's DNS server is `nameserver`.
    fn create(nameserver: &str) -> Result<Zone, String> {
        remove_orphans();
        let n = ZONES.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let zone = Zone {
            host: format!("fe-host-{pid}-{n}"),
            container: format!("fe-ctr-{pid}-{n}"),
            etc: PathBuf::from(format!("/etc/netns/fe-ctr-{pid}-{n}")),
        };
        // From here on, a failure drops `zone`, which removes what was made.
        let (h, c) = (zone.host.as_str(), zone.container.as_str());
        ip(&["netns", "add", h])?;
        ip(&["netns", "add", c])?;
        ip(&[
            "link", "add", "veth-h", "netns", h, "type", "veth", "peer", "name", "veth-c", "netns",
            c,
        ])?;
        ip(&[
            "-n",
            h,
            "addr",
            "add",
            &format!("{HOST_ADDR}/29"),
            "dev",
            "veth-h",
        ])?;
        ip(&[
            "-n",
            c,
            "addr",
            "add",
            &format!("{CONTAINER_ADDR}/29"),
            "dev",
            "veth-c",
        ])?;
        for (ns, dev) in [(h, "veth-h"), (c, "veth-c"), (h, "lo"), (c, "lo")] {
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        std::fs::create_dir_all(&zone.etc)
            .map_err(|e| format!("cannot create {}: {e}", zone.etc.display()))?;
        // What `docker run --add-host=host.docker.internal:host-gateway` writes; DNS goes
        // to `nameserver` inside the zone, so no query leaves it.
        let files = [
            (
                "hosts",
                format!(
                    "127.0.0.1\tlocalhost\n::1\tlocalhost\n{HOST_ADDR}\thost.docker.internal\n"
                ),
            ),
            ("resolv.conf", format!("nameserver {nameserver}\n")),
        ];
        for (name, text) in files {
            std::fs::write(zone.etc.join(name), text)
                .map_err(|e| format!("cannot write /etc/netns file {name}: {e}"))?;
        }
        Ok(zone)
    }

    /// Binds a listener inside the host namespace (the socket stays there).
    fn bind_on_host(&self, port: u16) -> std::net::TcpListener {
        let path = format!("/run/netns/{}", self.host);
        std::thread::spawn(move || {
            use std::os::fd::AsRawFd;
            let ns = std::fs::File::open(&path).expect("the host namespace exists");
            // SAFETY: setns on this short-lived thread only; the fd is valid while `ns` lives.
            let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            std::net::TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port)))
                .expect("bind in the host namespace")
        })
        .join()
        .expect("the binding thread")
    }

    /// Runs the binary inside the container namespace, with `env`'s isolated home.
    fn run(&self, env: &Env, args: &[&str]) -> Run {
        let inner = env.command(args);
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.container])
            .arg(inner.get_program())
            .args(inner.get_args())
            .current_dir(env.home())
            .stdin(std::process::Stdio::null());
        for (key, value) in inner.get_envs() {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        let out = cmd.output().expect("run ip netns exec");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Zones of earlier test processes that were killed before their cleanup ran (a drop
/// does not run on SIGKILL): named `fe-host-<pid>-<n>` / `fe-ctr-<pid>-<n>` after a pid
/// that no longer runs.
fn remove_orphans() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name
            .strip_prefix("fe-host-")
            .or_else(|| name.strip_prefix("fe-ctr-"))
        else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or("");
        if pid.parse::<u32>().is_ok() && !std::path::Path::new("/proc").join(pid).exists() {
            let _ = ip(&["netns", "del", name]);
            let _ = std::fs::remove_dir_all(format!("/etc/netns/{name}"));
        }
    }
}

impl Drop for Zone {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end in it, and with it the pair.
        let _ = ip(&["netns", "del", &self.container]);
        let _ = ip(&["netns", "del", &self.host]);
        let _ = std::fs::remove_dir_all(&self.etc);
        // /etc/netns itself only when no other zone uses it (remove_dir refuses otherwise).
        let _ = std::fs::remove_dir("/etc/netns");
    }
}

/// A zone whose DNS server is the container's own loopback (nothing answers there), or
/// `None` (with the reason printed) where zones cannot be made outside CI.
fn zone_or_skip(test: &str) -> Option<Zone> {
    zone_with_dns_or_skip(test, "127.0.0.1")
}

fn zone_with_dns_or_skip(test: &str, nameserver: &str) -> Option<Zone> {
    match Zone::create(nameserver) {
        Ok(zone) => Some(zone),
        Err(reason) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: cannot make network namespaces under CI=true: {reason}")
        }
        Err(reason) => {
            eprintln!("skipping {test}: cannot make network namespaces here: {reason}");
            None
        }
    }
}

/// SPU `5001 + index`, public `localhost:port` (as a local cluster registers it).
fn spu_on(
    index: usize,
    port: u16,
    local: Option<(&str, u16)>,
) -> (String, crate::support::test_sc::SpuSpec, Health) {
    let mut spec = local_custom_spu(index);
    spec.public_endpoint = IngressPort {
        port,
        ingress: vec![IngressAddr::from_host("localhost".to_owned())],
        encryption: EncryptionEnum::PLAINTEXT,
    };
    spec.public_endpoint_local = local.map(|(host, port)| Endpoint {
        host: host.into(),
        port,
        encryption: EncryptionEnum::PLAINTEXT,
    });
    (local_spu_name(spec.id), spec.into(), Health::Online)
}

#[tokio::test(flavor = "multi_thread")]
async fn inside_the_container_the_local_endpoint_answers_and_the_public_one_does_not() {
    let Some(zone) = zone_or_skip("zones::inside_the_container") else {
        return;
    };
    let spu = SpuResponder::serve(zone.bind_on_host(0), Behaviour::Spu).unwrap();
    let port = spu.port();
    let sc = TestSc::start(TestScConfig::default()).await.unwrap();
    sc.seed_spus(vec![spu_on(0, port, None)]).await.unwrap();
    let env = Env::new();
    let file = env.write(
        "docker.toml",
        "[[spu]]\nid = 5001\nlocal = \"host.docker.internal\"\n",
    );
    let dir = sc.metadata_dir().to_str().unwrap().to_string();
    let args = [
        "--metadata-dir",
        &dir,
        "probe",
        "-f",
        file.to_str().unwrap(),
        "--public",
        "--probe-timeout",
        "2",
    ];
    let run = zone.run(&env, &args).expect(0);
    println!(
        "$ ip netns exec {} fluvio-endpoints {}\n{}{}",
        zone.container,
        args.join(" "),
        run.stdout,
        run.stderr
    );
    let out = &run.stdout;
    assert!(
        out.contains(&format!("local host.docker.internal:{port}  reachable")),
        "{out}"
    );
    assert!(
        out.contains(&format!("{HOST_ADDR}:{port}  ipv4  connect")) && out.contains("Fluvio SPU"),
        "{out}"
    );
    assert!(
        out.contains(&format!("public localhost:{port}  unreachable")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "127.0.0.1:{port}  ipv4  connect failed: connection refused"
        )),
        "{out}"
    );
    assert!(
        out.contains("hint: localhost is a loopback address here"),
        "{out}"
    );
    assert!(spu.handshakes() >= 1, "the host-side SPU answered");

    let json = zone
        .run(&env, &[&args[..], &["-o", "json"]].concat())
        .expect(0);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    crate::probe::assert_matches_schema(&doc);
    let local = &doc["spus"][0]["local"];
    assert_eq!(local["resolution"]["via"], "system");
    assert_eq!(local["resolution"]["addresses"][0], HOST_ADDR);
    assert_eq!(doc["spus"][0]["public"]["reachable"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn inside_the_container_each_broken_endpoint_says_why() {
    let Some(zone) = zone_or_skip("zones::each_broken_endpoint") else {
        return;
    };
    let spu = SpuResponder::serve(zone.bind_on_host(0), Behaviour::Spu).unwrap();
    let port = spu.port();
    let sc = TestSc::start(TestScConfig::default()).await.unwrap();
    sc.seed_spus(vec![
        spu_on(0, port, Some(("host.docker.internal", port))),
        spu_on(1, port, Some(("spu.zone.invalid", port))),
        spu_on(2, port, Some((BLACKHOLE_ADDR, port))),
        spu_on(3, port, Some(("localhost", port))),
    ])
    .await
    .unwrap();
    let env = Env::new();
    let dir = sc.metadata_dir().to_str().unwrap().to_string();
    let args = ["--metadata-dir", &dir, "probe", "--probe-timeout", "1"];
    let run = zone.run(&env, &args).expect(10);
    println!(
        "$ ip netns exec {} fluvio-endpoints {}\n{}{}",
        zone.container,
        args.join(" "),
        run.stdout,
        run.stderr
    );
    let out = &run.stdout;
    assert!(out.contains("SPU 5001 custom-spu-5001  reachable"), "{out}");
    assert!(
        out.contains("resolve: the system resolver (getaddrinfo) failed:"),
        "{out}"
    );
    assert!(
        out.contains("hint: spu.zone.invalid does not resolve here"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{BLACKHOLE_ADDR}:{port}  ipv4  no answer to the TCP connect within 1s"
        )) || out.contains(&format!(
            "{BLACKHOLE_ADDR}:{port}  ipv4  connect failed: host unreachable"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "127.0.0.1:{port}  ipv4  connect failed: connection refused"
        )),
        "{out}"
    );
    assert!(
        out.contains(
            "Probe: 1 of 4 SPUs reachable at their local endpoint, 3 unreachable, 0 without one."
        ),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dns_server_that_never_answers_ends_at_the_deadline() {
    // The zone's DNS server is an address in its subnet that no host has.
    let Some(zone) = zone_with_dns_or_skip("zones::dns_never_answers", BLACKHOLE_ADDR) else {
        return;
    };
    let spu = SpuResponder::serve(zone.bind_on_host(0), Behaviour::Spu).unwrap();
    let port = spu.port();
    let sc = TestSc::start(TestScConfig::default()).await.unwrap();
    sc.seed_spus(vec![
        spu_on(0, port, Some(("host.docker.internal", port))),
        spu_on(1, port, Some(("spu.zone.invalid", port))),
    ])
    .await
    .unwrap();
    let env = Env::new();
    let dir = sc.metadata_dir().to_str().unwrap().to_string();
    let args = [
        "--metadata-dir",
        &dir,
        "probe",
        "--deadline",
        "2",
        "-o",
        "json",
    ];
    let run = zone.run(&env, &args).expect(10);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    crate::probe::assert_matches_schema(&doc);
    // The hosts file answers at once; the DNS query is abandoned at the deadline (or
    // fails, if the kernel reports the address unreachable first), never waited out.
    assert_eq!(doc["spus"][0]["status"], "reachable", "{}", run.stdout);
    assert_eq!(doc["spus"][1]["status"], "unreachable");
    let error = doc["spus"][1]["local"]["resolution"]["error"]
        .as_str()
        .unwrap();
    assert!(
        error == "the system resolver gave no answer before the total deadline"
            || error.starts_with("the system resolver (getaddrinfo) failed"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_probe_inside_the_container_refuses_an_endpoint_it_cannot_reach() {
    let Some(zone) = zone_or_skip("zones::plan_probe") else {
        return;
    };
    let spu = SpuResponder::serve(zone.bind_on_host(0), Behaviour::Spu).unwrap();
    let port = spu.port();
    let sc = TestSc::start(TestScConfig::default()).await.unwrap();
    sc.seed_spus(vec![spu_on(0, port, None), spu_on(1, port, None)])
        .await
        .unwrap();
    let env = Env::new();
    let body = "[[spu]]\nid = 5001\nlocal = \"host.docker.internal\"\n\n[[spu]]\nid = 5002\nlocal = \"localhost\"\n";
    let file = env.write("docker.toml", body);
    let dir = sc.metadata_dir().to_str().unwrap().to_string();
    let plan = |extra: &[&str]| {
        let mut args = vec!["--metadata-dir", &dir, "plan", "-f", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        zone.run(&env, &args)
    };

    // Without a probe the plan is fine: nothing checks what clients can reach.
    plan(&[]).expect(0);

    let refused = plan(&["--probe", "-o", "json"]).expect(6);
    let doc: serde_json::Value = serde_json::from_str(&refused.stdout).unwrap();
    assert_eq!(
        doc["blockers"].as_array().unwrap().len(),
        1,
        "{}",
        refused.stdout
    );
    let blocker = &doc["blockers"][0];
    assert_eq!(blocker["kind"], "unreachable");
    assert_eq!(blocker["spu"], 5002);
    assert_eq!(blocker["line"], 7);
    let message = blocker["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "SPU 5002 (custom-spu-5002): no Fluvio SPU answers at localhost:{port} from here:"
        )) && message.contains("connection refused"),
        "{message}"
    );
    assert!(
        refused.stderr.contains(
            "Probed the 2 local endpoint(s) this plan sets: 1 answered as a Fluvio SPU, 1 did not."
        ),
        "{}",
        refused.stderr
    );
    let text = plan(&["--probe"]).expect(6);
    assert!(
        text.stdout.contains("no Fluvio SPU answers at localhost:"),
        "{}",
        text.stdout
    );

    // --force, or `[policy] probe = "warn"`: a warning, and the plan stands.
    let forced = plan(&["--probe", "--force"]).expect(0);
    assert!(
        forced
            .stderr
            .contains("warning: SPU 5002 (custom-spu-5002): no Fluvio SPU answers"),
        "{}",
        forced.stderr
    );
    std::fs::write(&file, format!("[policy]\nprobe = \"warn\"\n\n{body}")).unwrap();
    let warned = plan(&[]).expect(0);
    assert!(
        warned.stderr.contains("warning: SPU 5002"),
        "{}",
        warned.stderr
    );
    std::fs::write(&file, format!("[policy]\nprobe = \"error\"\n\n{body}")).unwrap();
    plan(&[]).expect(6);
    assert!(
        sc.spus()
            .await
            .iter()
            .all(|(_, s, _)| s.public_endpoint_local.is_none()),
        "nothing was written"
    );
}

// ------------------------------------------------------------------ profile

const FLUVIO_CONFIG: &str = r#"version = "2"
current_profile = "docker"

# a cluster on the host, seen from a container
[profile.docker]
cluster = "docker"

[profile.ci]
cluster = "ci"

[cluster.docker]
endpoint = "ENDPOINT"
use_spu_local_address = false # `fluvio profile add` writes false

[cluster.ci]
endpoint = "127.0.0.1:9003"
"#;

fn fluvio_config(env: &Env, endpoint: &str) -> PathBuf {
    env.write(
        "fluvio-config",
        &FLUVIO_CONFIG.replace("ENDPOINT", endpoint),
    )
}

#[test]
fn profile_use_local_flips_one_value_and_keeps_the_file() {
    let env = Env::new();
    let path = fluvio_config(&env, "127.0.0.1:9003");
    let show = env.run(&["profile", "show"]).expect(0);
    assert!(show.stdout.contains("docker"), "{}", show.stdout);
    assert!(show.stdout.contains("false (not set)"), "{}", show.stdout);

    let set = env.run(&["profile", "use-local", "docker"]).expect(0);
    assert!(
        set.stderr.contains("use_spu_local_address = true"),
        "{}",
        set.stderr
    );
    let after = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        after,
        FLUVIO_CONFIG.replace("ENDPOINT", "127.0.0.1:9003").replace(
            "use_spu_local_address = false # `fluvio",
            "use_spu_local_address = true # `fluvio"
        )
    );
    let json = env
        .run(&["profile", "show", "docker", "-o", "json"])
        .expect(0);
    let views: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(views[0]["use_spu_local_address"], true);
    assert_eq!(views[0]["current"], true);

    env.run(&["profile", "use-local", "ci"]).expect(0);
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .ends_with("[cluster.ci]\nendpoint = \"127.0.0.1:9003\"\nuse_spu_local_address = true\n"));
    env.run(&["profile", "use-local", "ci", "--off"]).expect(0);
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .ends_with("use_spu_local_address = false\n"));
    // Nothing but the config itself is left in its directory (no temp files).
    let names: Vec<_> = std::fs::read_dir(env.home())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("config"))
        .collect();
    assert_eq!(names, ["fluvio-config"]);
}

#[test]
fn profile_refuses_what_does_not_exist_and_a_file_that_is_not_toml() {
    let env = Env::new();
    let path = fluvio_config(&env, "127.0.0.1:9003");
    let unknown = env.run(&["profile", "use-local", "prod"]).expect(3);
    assert!(
        one_line(&unknown.stderr).contains("no profile `prod` (profiles: `docker`, `ci`)"),
        "{}",
        unknown.stderr
    );
    let dangling = FLUVIO_CONFIG.replace("cluster = \"ci\"", "cluster = \"gone\"");
    std::fs::write(&path, &dangling).unwrap();
    let gone = env.run(&["profile", "use-local", "ci"]).expect(3);
    assert!(
        one_line(&gone.stderr).contains("names cluster `gone`, which is not in the fluvio config")
            && one_line(&gone.stderr).contains("(clusters: `docker`, `ci`)"),
        "{}",
        gone.stderr
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), dangling);

    let broken = "current_profile = \"docker\"\n[profile.docker\ncluster = 1\n";
    std::fs::write(&path, broken).unwrap();
    let bad = env.run(&["profile", "use-local", "docker"]).expect(3);
    assert!(bad.stderr.contains("is not valid TOML"), "{}", bad.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken, "untouched");
    env.run(&["profile", "show"]).expect(3);
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_and_probe_warn_when_the_profile_ignores_local_endpoints() {
    let sc = TestSc::start(TestScConfig::default()).await.unwrap();
    let spu = SpuResponder::bind(SocketAddr::from(([127, 0, 0, 1], 0)), Behaviour::Spu)
        .await
        .unwrap();
    sc.seed_spus(vec![spu_on(0, spu.port(), Some(("127.0.0.1", spu.port())))])
        .await
        .unwrap();
    let env = Env::new();
    fluvio_config(&env, &sc.endpoint());
    let file = env.write(
        "zone.toml",
        &format!("[[spu]]\nid = 5001\nlocal = \"127.0.0.1:{}\"\n", spu.port()),
    );
    let file = file.to_str().unwrap();
    let warning = "profile `docker` (cluster `docker`) has use_spu_local_address = false";
    let plan = env.run(&["plan", "-f", file]).expect(0);
    assert!(plan.stderr.contains(warning), "{}", plan.stderr);
    let probe = env.run(&["probe", "-f", file, "-o", "json"]).expect(0);
    assert!(probe.stderr.contains(warning), "{}", probe.stderr);
    let doc: serde_json::Value = serde_json::from_str(&probe.stdout).unwrap();
    assert!(doc["warnings"][0].as_str().unwrap().contains(warning));

    env.run(&["profile", "use-local", "docker"]).expect(0);
    let quiet = env.run(&["plan", "-f", file]).expect(0);
    assert!(
        !quiet.stderr.contains("use_spu_local_address"),
        "{}",
        quiet.stderr
    );
    // An address picks no profile: nothing to warn about.
    fluvio_config(&env, &sc.endpoint());
    let by_address = env
        .run(&["-c", &sc.endpoint(), "plan", "-f", file])
        .expect(0);
    assert!(!by_address.stderr.contains("use_spu_local_address"));
}
