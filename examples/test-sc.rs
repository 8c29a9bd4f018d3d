//! Standalone launcher of the project's test SC (tests/support/test_sc), for manual trials:
//!
//! ```text
//! cargo run --example test-sc -- --metadata-dir DIR --bind 127.0.0.1:9003 \
//!     [--platform-version 0.18.1] [--seed-custom N] [--seed-managed M] [--store-timeout SECS]
//! ```
//!
//! Prints `listening on ADDR` on one line and serves until SIGINT/SIGTERM.

#[path = "../tests/support/test_sc/mod.rs"]
mod test_sc;

use std::net::SocketAddr;
use std::path::PathBuf;

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
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let sc = test_sc::TestSc::start(test_sc::TestScConfig {
        bind: args.bind,
        metadata_dir: args.metadata_dir,
        platform_version: args.platform_version,
        store_timeout: std::time::Duration::from_secs(args.store_timeout),
        ..Default::default()
    })
    .await?;
    // like `fluvio cluster start --local`: SPUs already in the dir are left alone, missing
    // ones are (re-)created without a local endpoint
    let existing: Vec<String> = sc.spus().await.into_iter().map(|(n, _, _)| n).collect();
    // the SPU processes of SPUs already in the dir start and register
    for (_, spec, _) in sc.spus().await {
        sc.set_health(spec.id, test_sc::Health::Online);
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
    println!("listening on {}", sc.addr());
    eprintln!("metadata dir: {}", sc.metadata_dir().display());

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    sc.shutdown().await?;
    Ok(())
}
