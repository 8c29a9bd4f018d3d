//! fluvio-endpoints: declarative local endpoints for Fluvio SPUs.
//!
//! The whole flow, one stage per module:
//!
//! ```text
//! TOML text --config::raw::parse--> RawConfig (spans) --config::validate--> Desired
//! SC / metadata dir --cluster::Cluster::read--> Live
//! plan::plan(&Desired, &Live) -> Plan                  (pure: no I/O, no async)
//! report::PlanDoc::new(Plan, ..) -> PlanDoc            (the JSON contract, saved plans)
//! render::{text, markdown, annotations, table}(..) -> String
//! apply::apply(&[Change], &mut impl Cluster, &mut Journal) -> ApplyReport   (the only writer)
//!
//! probe::probe(&[Subject], &Options) -> [SpuProbe] -> ProbeDoc (resolve, connect, SPU handshake)
//! profile::FluvioConfig (the client side: use_spu_local_address, edited in place)
//! ```
//!
//! Around the stages: `cli` (arguments) -> `commands` (one thin module per subcommand:
//! arguments -> options) -> `ops` (one operation per job over plain options; a `Session`
//! opens the cluster, the journal and the lock once; `ops::saved` checks saved plans) ->
//! `output::Printer` (the one place that decides which stream and format output takes).
//! `cluster` is what the tool talks to: `cluster::sc`, a running SC through the real
//! `fluvio` client, and `cluster::metadata_dir`, a stopped local cluster's metadata
//! directory through Fluvio's own `LocalMetadataStorage`; it is the only module that
//! imports Fluvio crates. `journal` makes every replace recoverable.

pub mod address;
pub mod apply;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod error;
pub mod journal;
pub mod model;
pub mod ops;
pub mod output;
pub mod plan;
pub mod probe;
pub mod profile;
pub mod render;
pub mod report;

use std::panic::PanicHookInfo;
use std::sync::atomic::{AtomicBool, Ordering};

use cli::{Cli, Command};
use commands::Ctx;
use error::{exit, Error, Result};
use ops::Found;
use output::Printer;

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> u8 {
    let global = &cli.global;
    let printer = Printer {
        format: global.output,
        style: output::Style::detect(global.color),
        annotations: global.annotations.enabled(),
    };
    let detailed = matches!(&cli.command, Command::Plan(p) if p.detailed_exitcode);
    let is_drift = matches!(&cli.command, Command::Drift(_));
    let ctx = Ctx {
        global: cli.global.clone(),
        printer,
    };
    install_panic_hook();
    let command = cli.command;
    let work = std::panic::AssertUnwindSafe(|| dispatch(&ctx, command));
    let result = std::panic::catch_unwind(work).unwrap_or_else(|_| panicked(&ctx));
    match result {
        // Output that did not reach its reader is not a success.
        Ok(_) if output::stdout_failed() => {
            printer.note("error: could not write all output to stdout\n");
            exit::ERROR
        }
        Ok(found) if found.changes && (detailed || is_drift) => exit::CHANGES,
        Ok(_) => exit::OK,
        Err(err) => {
            if !matches!(err, Error::Reported { .. }) {
                printer.error(&err);
            }
            err.exit_code()
        }
    }
}

/// Runs the command; those that talk to a cluster on a tokio runtime.
fn dispatch(ctx: &Ctx, command: Command) -> Result<Found> {
    let printer = ctx.printer;
    match command {
        Command::Validate(args) => commands::validate::run(ctx, &args),
        Command::Schema { kind } => {
            printer.data(&match kind {
                cli::SchemaKind::Config => config::schema::json_schema(),
                cli::SchemaKind::Plan => report::plan_schema(),
                cli::SchemaKind::Apply => report::apply_schema(),
                cli::SchemaKind::Probe => probe::probe_schema(),
            });
            Ok(Found::default())
        }
        Command::Profile { command } => commands::profile::run(ctx, &command),
        Command::Metadata => {
            printer.data(&render::json(&serde_json::json!({
                "title": "endpoints",
                "package": "fluvio-endpoints",
                "description": "Declarative SPU local endpoints: plan, apply, verify",
                "version": env!("CARGO_PKG_VERSION"),
            })));
            Ok(Found::default())
        }
        command => run_on_runtime(ctx, command),
    }
}

/// Runs a command that talks to a cluster, on a tokio runtime.
fn run_on_runtime(ctx: &Ctx, command: Command) -> Result<Found> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("the async runtime did not start: {e}")))?;
    CLIENT_IN_USE.store(true, Ordering::SeqCst);
    runtime.block_on(run_async(ctx, command))
}

/// What a panic that reached the top ends the run with: one in the fluvio client (it
/// panics on some replies it cannot decode) makes the cluster unusable (exit 4); one in
/// this tool's own code is an internal error (exit 70).
fn panicked(ctx: &Ctx) -> Result<Found> {
    if let Some(text) = own_panic() {
        return Err(Error::Internal(text));
    }
    let endpoint = ctx
        .global
        .cluster
        .as_ref()
        .map_or_else(|| "the cluster".into(), |c| c.to_string());
    Err(Error::Unreachable(cluster::ClusterError::Unreachable {
        endpoint,
        cause: cluster::sc::CLIENT_FAILURE.into(),
    }))
}

/// Set once the fluvio client may run: before that, every panic is the tool's own.
static CLIENT_IN_USE: AtomicBool = AtomicBool::new(false);

/// The first panic of this tool's own code, as the hook saw it (message and place).
static OWN_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn own_panic() -> Option<String> {
    OWN_PANIC.lock().map_or(None, |p| p.clone())
}

/// Where a panic happened decides what it means. Once the fluvio client runs, a panic
/// outside this tool's own source is the client's (it panics on some replies it cannot
/// decode, inside the `bytes` crate): it fails the request in hand at once (see
/// `cluster::sc`), is printed as one line, and the run reports an unusable cluster. A
/// panic in this tool's own source, or before any client runs, is a bug: kept for the
/// internal error (exit 70) that the run ends with.
fn install_panic_hook() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let ours = !CLIENT_IN_USE.load(Ordering::SeqCst) || panic_is_ours(info);
        if ours {
            if let Ok(mut first) = OWN_PANIC.lock() {
                first.get_or_insert_with(|| info.to_string());
            }
        } else {
            cluster::sc::note_client_failure();
        }
        if std::env::var_os("RUST_BACKTRACE").is_some() {
            default_hook(info);
        } else if !ours {
            output::stderr(&format!("error: internal failure: {info}\n"));
        }
    }));
}

/// True for a panic located in this crate's source; the fluvio client's code lives in
/// other crates (paths under cargo's registry).
fn panic_is_ours(info: &PanicHookInfo<'_>) -> bool {
    info.location().is_some_and(|l| in_own_source(l.file()))
}

/// Cargo names this crate's files relative to it (`src/plan.rs`) and a dependency's by
/// its absolute path.
fn in_own_source(file: &str) -> bool {
    file.starts_with("src/") || file.starts_with(env!("CARGO_MANIFEST_DIR"))
}

async fn run_async(ctx: &Ctx, command: Command) -> Result<Found> {
    match command {
        Command::Plan(args) => commands::plan::run(ctx, &args).await,
        Command::Apply(args) => commands::apply::run(ctx, &args).await,
        Command::Drift(args) => commands::drift::run(ctx, &args).await,
        Command::List => commands::list::run(ctx).await,
        Command::UpdateLocal(args) => commands::update_local::run(ctx, &args).await,
        Command::Recover => commands::recover::run(ctx).await,
        Command::Export(args) => commands::export::run(ctx, &args).await,
        Command::Probe(args) => commands::probe::run(ctx, &args).await,
        Command::Validate(_)
        | Command::Schema { .. }
        | Command::Metadata
        | Command::Profile { .. } => {
            unreachable!("handled before the runtime starts")
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn panics_are_sorted_by_where_they_happen() {
        // As this build names its own code: a bug here is internal (exit 70).
        assert!(super::in_own_source(std::panic::Location::caller().file()));
        assert!(super::in_own_source("src/plan.rs"));
        // The fluvio client's code (and any other dependency's) is not.
        assert!(!super::in_own_source(
            "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/fluvio-socket-0.50.1/src/multiplexing.rs"
        ));
        assert!(!super::in_own_source(
            "/rustc/abc/library/core/src/option.rs"
        ));
    }
}
