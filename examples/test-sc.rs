//! Standalone launcher of the project's test SC (tests/test-sc), for manual trials:
//!
//! ```text
//! cargo run --example test-sc -- --metadata-dir DIR --bind 127.0.0.1:9003 \
//!     [--platform-version 0.18.1] [--seed-custom N] [--seed-managed M] [--store-timeout SECS] \
//!     [--tls [--tls-dir DIR] [--tls-no-client-cert]] \
//!     [--topic NAME:PARTITIONS:REPLICATION]... [--run-spus] [--status-interval-ms 400] \
//!     [--control-dir DIR]
//! ```
//!
//! Prints `listening on ADDR` on one line and serves until SIGINT/SIGTERM.
//!
//! Data plane (see FIDELITY.md, "Data plane"): seeded SPUs run simulated SPU processes;
//! `--run-spus` starts one for every custom SPU already in the metadata dir (use it when
//! starting again over a dir an earlier run left). `--topic` creates a topic at start unless
//! the dir already holds it; partitions the dir holds resume from their stored status (the
//! LEOs and HW last reported), standing for SPU processes that kept running while this process
//! was stopped. `--control-dir DIR` takes control files: `restart-spu-<id>` (removed once that
//! SPU process is Online again), `produce-<partition>-<n>` (removed once appended); a failed or
//! unknown one becomes `<file>.failed` with the reason inside.
//!
//! With `--tls` it
//! serves TLS with a CA and certificates made at start (rcgen): the server certificate is for
//! `localhost` and `127.0.0.1`, and `ca.crt`, `client.crt` and `client.key` are written to
//! `--tls-dir` (default: a temp dir removed on exit). It then prints the fluvio-endpoints
//! flags and a fluvio profile (also written there as `fluvio-profile.toml`) that reach it.

use fluvio_endpoints_test_sc as test_sc;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Run the fluvio-endpoints test SC (a protocol-faithful Fluvio SC for tests)")]
struct Args {
    /// metadata dir (local SC layout: <dir>/SPU/<name>.yaml); a temp dir if omitted
    #[arg(long)]
    metadata_dir: Option<PathBuf>,
    /// address to listen on
    #[arg(long, default_value = "127.0.0.1:9003")]
    bind: SocketAddr,
    /// platform version reported to clients
    #[arg(long, default_value = "0.18.1")]
    platform_version: String,
    /// register N custom SPUs like `fluvio cluster start --local` (custom-spu-5001..)
    #[arg(long, default_value_t = 0)]
    seed_custom: usize,
    /// register M managed SPUs like a Kubernetes SPU group `main` (main-0..)
    #[arg(long, default_value_t = 0)]
    seed_managed: usize,
    /// seconds a create or delete waits for a store that takes no changes (unreadable folder)
    #[arg(long, default_value_t = 10)]
    store_timeout: u64,
    /// serve TLS with a CA and certificates made now (server certificate for localhost and
    /// 127.0.0.1); clients must present a certificate that CA signed
    #[arg(long)]
    tls: bool,
    /// with --tls: an empty or new directory for ca.crt, client.crt, client.key, server.crt,
    /// server.key and fluvio-profile.toml (default: a temp dir removed on exit)
    #[arg(long, requires = "tls")]
    tls_dir: Option<PathBuf>,
    /// with --tls: ask clients for no certificate (anonymous TLS clients are served)
    #[arg(long, requires = "tls")]
    tls_no_client_cert: bool,
    /// create topic NAME with PARTITIONS partitions of REPLICATION replicas at start, unless the
    /// metadata dir already holds it (repeatable)
    #[arg(long = "topic", value_name = "NAME:PARTITIONS:REPLICATION", value_parser = parse_topic)]
    topics: Vec<(String, u32, u32)>,
    /// start a simulated SPU process for every custom SPU already in the metadata dir
    #[arg(long)]
    run_spus: bool,
    /// how often partition leaders report their status to the SC (upstream: 400)
    #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u64).range(1..))]
    status_interval_ms: u64,
    /// directory polled for control files (restart-spu-<id>, produce-<partition>-<n>)
    #[arg(long, value_name = "DIR")]
    control_dir: Option<PathBuf>,
}

/// `NAME:PARTITIONS:REPLICATION`
fn parse_topic(value: &str) -> Result<(String, u32, u32), String> {
    let mut parts = value.rsplitn(3, ':');
    let (Some(replication), Some(partitions), Some(name)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err("expected NAME:PARTITIONS:REPLICATION".to_owned());
    };
    let number = |what: &str, text: &str| {
        text.parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{what} '{text}' is not a positive number"))
    };
    Ok((
        name.to_owned(),
        number("partitions", partitions)?,
        number("replication", replication)?,
    ))
}

/// The TLS files written for a user: what the SC serves with and what a client needs.
struct TlsFiles {
    /// keeps a temp dir alive until exit
    _tempdir: Option<tempfile::TempDir>,
    dir: PathBuf,
    sc: test_sc::ScTls,
}

/// The files `--tls` writes, by name in the TLS directory.
const TLS_FILES: [&str; 6] = [
    "ca.crt",
    "client.crt",
    "client.key",
    "server.crt",
    "server.key",
    "fluvio-profile.toml",
];

/// Makes a CA, a server certificate for localhost and 127.0.0.1 and a client certificate,
/// and writes them to `dir` (refusing to overwrite any file there) or a temp dir.
fn make_tls(dir: Option<&Path>, require_client_cert: bool) -> anyhow::Result<TlsFiles> {
    let (dir, tempdir) = match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            (dir.to_path_buf(), None)
        }
        None => {
            let tmp = tempfile::Builder::new().prefix("test-sc-tls-").tempdir()?;
            (tmp.path().to_path_buf(), Some(tmp))
        }
    };
    let dir = std::fs::canonicalize(&dir).with_context(|| format!("{}", dir.display()))?;
    for name in TLS_FILES {
        let path = dir.join(name);
        if path.exists() {
            bail!(
                "{} already exists: name an empty directory with --tls-dir (no file is overwritten)",
                path.display()
            );
        }
    }
    let pki = test_sc::Pki::new("fluvio-endpoints test CA");
    let server = pki.server(&["localhost", "127.0.0.1"], test_sc::Validity::Current);
    let client = pki.client("fluvio-endpoints");
    let copies = [
        (pki.ca_cert(), "ca.crt"),
        (client.cert.as_path(), "client.crt"),
        (client.key.as_path(), "client.key"),
        (server.cert.as_path(), "server.crt"),
        (server.key.as_path(), "server.key"),
    ];
    for (from, name) in copies {
        let to = dir.join(name);
        std::fs::copy(from, &to).with_context(|| format!("writing {}", to.display()))?;
        if name.ends_with(".key") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    let sc = test_sc::ScTls {
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
        client_ca: require_client_cert.then(|| dir.join("ca.crt")),
    };
    Ok(TlsFiles {
        _tempdir: tempdir,
        dir,
        sc,
    })
}

/// A path as one shell word.
fn sh(path: &Path) -> String {
    let text = path.to_string_lossy();
    shlex::try_quote(&text)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| text.into_owned())
}

/// A TOML string literal.
fn toml_str(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// How to reach the SC at `addr` over TLS: the fluvio-endpoints flags, and a fluvio profile
/// (also written to `fluvio-profile.toml` in the TLS directory).
fn tls_instructions(files: &TlsFiles, addr: SocketAddr) -> anyhow::Result<String> {
    let dir = &files.dir;
    let path = |name: &str| dir.join(name);
    let (flags, tls_table) = if files.sc.client_ca.is_some() {
        let flags = format!(
            "fluvio-endpoints flags (client certificate required):\n  -c {addr} --tls \
             --domain localhost --enable-client-cert --ca-cert {} --client-cert {} \
             --client-key {}\n",
            sh(&path("ca.crt")),
            sh(&path("client.crt")),
            sh(&path("client.key")),
        );
        let table = format!(
            "tls_policy = \"verified\"\ntls_source = \"files\"\n\n\
             [cluster.test-sc-tls.tls.certs]\ndomain = \"localhost\"\nkey = {}\ncert = {}\n\
             ca_cert = {}\n",
            toml_str(&path("client.key").to_string_lossy()),
            toml_str(&path("client.crt").to_string_lossy()),
            toml_str(&path("ca.crt").to_string_lossy()),
        );
        (flags, table)
    } else {
        let flags = format!("fluvio-endpoints flags (anonymous TLS):\n  -c {addr} --tls\n");
        (flags, "tls_policy = \"anonymous\"\n".to_owned())
    };
    let profile = format!(
        "version = \"2\"\ncurrent_profile = \"test-sc-tls\"\n\n\
         [profile.test-sc-tls]\ncluster = \"test-sc-tls\"\n\n\
         [cluster.test-sc-tls]\nendpoint = {}\n\n[cluster.test-sc-tls.tls]\n{tls_table}",
        toml_str(&addr.to_string()),
    );
    let profile_path = path("fluvio-profile.toml");
    std::fs::write(&profile_path, &profile)
        .with_context(|| format!("writing {}", profile_path.display()))?;
    Ok(format!(
        "TLS files in {}\n{flags}fluvio profile (FLV_PROFILE_PATH={} fluvio-endpoints \
         -P test-sc-tls ...):\n{profile}",
        dir.display(),
        sh(&profile_path),
    ))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tls = args
        .tls
        .then(|| make_tls(args.tls_dir.as_deref(), !args.tls_no_client_cert))
        .transpose()?;
    let sc = test_sc::TestSc::start(test_sc::TestScConfig {
        bind: args.bind,
        metadata_dir: args.metadata_dir,
        platform_version: args.platform_version,
        store_timeout: std::time::Duration::from_secs(args.store_timeout),
        tls: tls.as_ref().map(|t| t.sc.clone()),
        status_interval: std::time::Duration::from_millis(args.status_interval_ms),
        control_dir: args.control_dir,
        ..Default::default()
    })
    .await?;
    // like `fluvio cluster start --local`: SPUs already in the dir are left alone, missing
    // ones are (re-)created without a local endpoint
    let existing: Vec<String> = sc.spus().await.into_iter().map(|(n, _, _)| n).collect();
    if args.run_spus {
        // the SPU processes of the custom SPUs already in the dir start and register
        for (_, spec, _) in sc.spus().await {
            if spec.is_custom() {
                sc.set_health(spec.id, test_sc::Health::Online);
            }
        }
    }
    let mut seed = vec![];
    for i in 0..args.seed_custom {
        let spec = test_sc::local_custom_spu(i);
        seed.push((
            test_sc::local_spu_name(spec.id),
            spec.into(),
            test_sc::Health::Online,
        ));
    }
    for i in 0..args.seed_managed {
        let (name, spec) = test_sc::managed_spu(i);
        seed.push((name, spec, test_sc::Health::Online));
    }
    seed.retain(|(name, _, _)| !existing.contains(name));
    if !seed.is_empty() {
        sc.seed_spus(seed).await?;
    }
    if args.run_spus {
        // started processes are registered once the SC shows them Online
        sc.wait_status_pass().await?;
    }
    let topics: Vec<String> = sc.topics().await.into_iter().map(|(n, _, _)| n).collect();
    for (name, partitions, replication) in &args.topics {
        if topics.contains(name) {
            continue;
        }
        sc.create_topic(name, *partitions, *replication)
            .await
            .with_context(|| format!("--topic {name}:{partitions}:{replication}"))?;
    }
    println!("listening on {}", sc.addr());
    eprintln!("metadata dir: {}", sc.metadata_dir().display());
    if let Some(files) = &tls {
        print!("{}", tls_instructions(files, sc.addr())?);
    }

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    sc.shutdown().await?;
    Ok(())
}
