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
//! probe::probe(&[Subject], &Options) -> [SpuProbe] -> report::ProbeDoc (resolve, connect, SPU handshake)
//! profile::FluvioConfig (the client side: use_spu_local_address, edited in place)
//! ops::reconcile (the agent): SPU watch (cluster::watch) -> read -> plan -> report drift
//!                  -> with --remediate, ops::apply -> /metrics (Prometheus), /healthz, /readyz
//! zone file [client] -> profile::ZoneProfile -> atomic_write (`profile write`: a zone's client config)
//! ```
//!
//! Around the stages: `cli` (arguments) -> `commands` (one thin module per subcommand:
//! arguments -> options) -> `ops` (one operation per job over plain options; a `Session`
//! opens the cluster, the journal and the lock once; `ops::saved` checks saved plans) ->
//! `output::Printer` (the one place that decides which stream and format output takes).
//! `cluster` is what the tool talks to: `cluster::sc`, a running SC over a connection that
//! opens no watch stream (`cluster::connection`), and `cluster::metadata_dir`, a stopped local cluster's metadata
//! directory through Fluvio's own `LocalMetadataStorage`; it is the only module that
//! imports Fluvio crates. `journal` makes every replace recoverable.
//!
//! Layers, bottom to top; a module uses its own layer and those below, never one above
//! (`tests/it/layers.rs` holds the table and fails on an import against it, or on a cycle):
//!
//! ```text
//! escape, causes, address, input, atomic_write   untrusted text, error chains, bounded files
//! model < plan < replication                     pure values (no I/O)
//! config, profile, journal, hook                 zone file, client config, journal, commands run
//! cluster, ownership                             what the tool talks to
//! error                                          the one error type and exit codes
//! apply, probe                                   the engine
//! report                                         the JSON contract
//! render (render::style: colors)                 documents as text
//! output                                         the printer
//! ops                                            operations over plain options (no clap)
//! cli                                            arguments (clap), converted by commands
//! commands                                       one thin module per subcommand
//! lib (run, dispatch)                            the app
//! ```

pub mod address;
pub mod apply;
pub mod atomic_write;
pub mod causes;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod error;
pub mod escape;
pub mod hook;
pub mod input;
pub mod journal;
pub mod model;
pub mod ops;
pub mod output;
pub mod ownership;
pub mod plan;
pub mod probe;
pub mod profile;
pub mod render;
pub mod replication;
pub mod report;

use cli::{Cli, Command};
use commands::Ctx;
use error::{exit, Error, Result};
use ops::RunOutcome;
use output::Printer;

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> u8 {
    if !matches!(cli.command, Command::Reconcile(_)) {
        tune_the_allocator_for_one_shot_runs();
    }
    let global = &cli.global;
    let printer = Printer {
        format: global.output.into(),
        style: output::Style::detect(global.color.into()),
        annotations: global.annotations.enabled(),
        quiet: global.quiet,
        ..Printer::default()
    };
    match &cli.command {
        Command::Reconcile(args) => init_agent_log(global.verbose, args.log_format),
        _ => init_tracing(global.verbose),
    }
    let detailed = matches!(&cli.command, Command::Plan(p) if p.detailed_exitcode);
    let is_drift = matches!(&cli.command, Command::Drift(_));
    // Reference text, not data: a reader that has seen enough (`| head`) ends it quietly.
    let reference = matches!(
        &cli.command,
        Command::Completions { .. } | Command::Man { out_dir: None }
    );
    let ctx = Ctx {
        global: cli.global.clone(),
        printer,
        started: std::time::Instant::now(),
    };
    install_panic_hook();
    let command = cli.command;
    let work = std::panic::AssertUnwindSafe(|| dispatch(&ctx, command));
    let result = std::panic::catch_unwind(work).unwrap_or_else(|_| panicked());
    match result {
        Ok(_) if reference && ctx.printer.stdout_reader_left() => exit::OK,
        // Output that did not reach its reader is not a success.
        Ok(_) if ctx.printer.stdout_failed() => {
            ctx.printer
                .note("error: could not write all output to stdout\n");
            exit::ERROR
        }
        Ok(outcome) if outcome.changes && (detailed || is_drift) => exit::CHANGES,
        Ok(_) => exit::OK,
        Err(err) => {
            if !matches!(err, Error::Reported { .. }) {
                ctx.printer.error(&err);
            }
            err.exit_code()
        }
    }
}

/// `-v` traces each request to the SC and its latency, `-vv` also what the fluvio client
/// logs at debug level; `RUST_LOG` replaces both. On stderr, without colour unless stderr
/// is a terminal and `NO_COLOR` is unset. Without either nothing is installed.
fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::builder().parse_lossy(spec),
        _ => match verbose {
            0 => return,
            1 => EnvFilter::new("fluvio_endpoints=debug"),
            _ => EnvFilter::new("debug,fluvio_endpoints=trace"),
        },
    };
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(verbose > 1)
        .try_init();
}

/// The reconcile agent's log: its events at info (`-v`: debug, with the requests to the
/// SC; `RUST_LOG` replaces both, and keeps the agent's events at info unless it names
/// `fluvio_endpoints` itself), on stderr, as text or as one JSON object per line.
fn init_agent_log(verbose: u8, format: cli::LogFormat) {
    use tracing_subscriber::EnvFilter;
    let mut invalid = None;
    let filter = match std::env::var("RUST_LOG") {
        // the agent's own events stay on, whatever else the spec turns up or down; a spec
        // that does not parse is ignored (said once the log is set up, in its format)
        Ok(spec) if !spec.trim().is_empty() => {
            let spec = match spec.contains("fluvio_endpoints") {
                true => spec,
                false => format!("{spec},fluvio_endpoints=info"),
            };
            match EnvFilter::builder().parse(&spec) {
                Ok(filter) => filter,
                Err(e) => {
                    invalid = Some(format!("RUST_LOG ignored: {e}"));
                    EnvFilter::new("fluvio_endpoints=info")
                }
            }
        }
        _ => EnvFilter::new(match verbose {
            0 => "fluvio_endpoints=info",
            1 => "fluvio_endpoints=debug",
            _ => "debug,fluvio_endpoints=trace",
        }),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(verbose > 1);
    let _ = match format {
        cli::LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        cli::LogFormat::Text => {
            use std::io::IsTerminal;
            let ansi = std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            builder.with_ansi(ansi).try_init()
        }
    };
    if let Some(why) = invalid {
        tracing::warn!(event = "rust_log_invalid", "{}", escape::visible(&why));
    }
}

/// Allocator settings for a one-shot run on Linux with glibc (not for the agent, which
/// would keep what they cost for good).
///
/// A plan of 10,000 SPUs allocates on several threads at once (the zone file's
/// validation, the cluster read, the socket's reader) and spent a third of its time in
/// page faults and in growing heaps, which stalls the other threads' faults (see
/// BENCHMARKS.md). So glibc grows the main heap 32 MiB at a time instead of 128 KiB (only
/// address space: pages count in the RSS once touched, as before), and each runtime
/// thread's heap is offered transparent huge pages
/// ([`advise_huge_pages_for_this_threads_heap`]).
fn tune_the_allocator_for_one_shot_runs() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the allocator; any value is valid.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 32 << 20);
    }
}

/// Offers the heap of the calling thread's glibc arena transparent huge pages, as glibc's
/// own `glibc.malloc.hugetlb=1` tunable does (which a program cannot set for itself): one
/// fault then maps 2 MiB. Every arena but the main one lives in a region of
/// `HEAP_MAX_SIZE` (64 MiB on 64-bit targets) aligned to its size, reserved at once and
/// made writable as it grows: advice on the whole region also covers its growth. At a
/// thread's start its cache of freed blocks is empty, so the probe comes from the
/// thread's own arena (or from the main one, once glibc has no arena left to give: the
/// advice then lands on 64 MiB around it). Advice changes no content, only the size of
/// the pages behind it; where the kernel never gives huge pages (THP `never`) or always
/// does (`always`), it changes nothing. Run on the start of each of the runtime's threads.
fn advise_huge_pages_for_this_threads_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
    // SAFETY: a small block allocated and freed at once; madvise with MADV_HUGEPAGE
    // changes no content of any mapping.
    unsafe {
        const HEAP_MAX_SIZE: usize = 64 << 20;
        let probe = libc::malloc(64);
        if probe.is_null() {
            return;
        }
        let region = (probe as usize) & !(HEAP_MAX_SIZE - 1);
        libc::madvise(
            region as *mut libc::c_void,
            HEAP_MAX_SIZE,
            libc::MADV_HUGEPAGE,
        );
        libc::free(probe);
    }
}

/// Runs the command; those that talk to a cluster on a tokio runtime.
fn dispatch(ctx: &Ctx, command: Command) -> Result<RunOutcome> {
    let printer = &ctx.printer;
    match command {
        Command::Validate(args) => commands::validate::run(ctx, &args),
        Command::Schema { kind } => {
            printer.data(&match kind {
                cli::SchemaKind::Config => config::schema::json_schema(),
                cli::SchemaKind::Plan => report::plan_schema(),
                cli::SchemaKind::Apply => report::apply_schema(),
                cli::SchemaKind::Probe => report::probe_schema(),
            });
            Ok(RunOutcome::default())
        }
        Command::Profile { command } => commands::profile::run(ctx, &command),
        Command::Completions { shell } => commands::completions::completions(ctx, shell),
        Command::Man { out_dir } => commands::completions::man(ctx, out_dir.as_deref()),
        Command::InstallExtension { dir } => commands::install::run(ctx, dir.as_deref()),
        Command::Metadata => {
            printer.data(&render::json(&serde_json::json!({
                "title": "endpoints",
                "package": "fluvio-endpoints",
                "description": "Declarative SPU local endpoints: plan, apply, verify",
                "version": env!("CARGO_PKG_VERSION"),
            })));
            Ok(RunOutcome::default())
        }
        command => run_on_runtime(ctx, command),
    }
}

/// Runs a command that talks to a cluster, on a tokio runtime.
fn run_on_runtime(ctx: &Ctx, command: Command) -> Result<RunOutcome> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if !matches!(command, Command::Reconcile(_)) {
        builder.on_thread_start(advise_huge_pages_for_this_threads_heap);
    }
    let runtime = builder
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("the async runtime did not start: {e}")))?;
    let result = runtime.block_on(run_async(ctx, command));
    // Every task the command started has been awaited or aborted by now (the Ctrl-C
    // watcher of an apply is aborted however the apply ends); the process exits next, so
    // the worker threads are not waited for.
    runtime.shutdown_background();
    result
}

/// A panic that reached the top is a bug of this tool: an internal error (exit 70) that
/// carries the panic's message and place. (The one panic a dependency is known to raise,
/// the socket codec's on a reply it cannot frame during the connect, is caught where it
/// happens and becomes a connect error: see `cluster::connection`.)
fn panicked() -> Result<RunOutcome> {
    Err(Error::Internal(last_panic().unwrap_or_else(|| {
        "a panic whose message was not recorded".to_string()
    })))
}

/// The last panic, as the hook saw it (message and place).
static LAST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn last_panic() -> Option<String> {
    LAST_PANIC.lock().map_or(None, |p| p.clone())
}

/// Records each panic for the internal error the run ends with, instead of printing it
/// (the error is printed once, at the edge; a panic caught below never shows).
/// `RUST_BACKTRACE` keeps Rust's own report too.
fn install_panic_hook() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(info.to_string());
        }
        // as the standard hook reads it: set, and not "0"
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| !v.is_empty() && v != "0") {
            default_hook(info);
        }
    }));
}

async fn run_async(ctx: &Ctx, command: Command) -> Result<RunOutcome> {
    match command {
        Command::Plan(args) => commands::plan::run(ctx, &args).await,
        Command::Apply(args) => commands::apply::run(ctx, &args).await,
        Command::Drift(args) => commands::drift::run(ctx, &args).await,
        Command::List => commands::list::run(ctx).await,
        Command::UpdateLocal(args) => commands::update_local::run(ctx, &args).await,
        Command::Recover => commands::recover::run(ctx).await,
        Command::Reconcile(args) => commands::reconcile::run(ctx, &args).await,
        Command::Export(args) => commands::export::run(ctx, &args).await,
        Command::Probe(args) => commands::probe::run(ctx, &args).await,
        Command::Validate(_)
        | Command::Schema { .. }
        | Command::Metadata
        | Command::Profile { .. }
        | Command::Completions { .. }
        | Command::InstallExtension { .. }
        | Command::Man { .. } => {
            unreachable!("handled before the runtime starts")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `run` does with a panic below it: the hook records where it happened, and the
    /// run ends with an internal error, exit 70, carrying that message.
    #[test]
    fn a_panic_is_an_internal_error_exit_70_with_its_message() {
        install_panic_hook();
        let work = std::panic::AssertUnwindSafe(|| -> Result<RunOutcome> {
            panic!("a bug in the engine");
        });
        let result = std::panic::catch_unwind(work).unwrap_or_else(|_| panicked());
        let err = result.expect_err("a panic is an error");
        assert_eq!(err.exit_code(), exit::INTERNAL);
        assert_eq!(exit::INTERNAL, 70);
        let message = err.to_string();
        assert!(message.contains("a bug in the engine"), "{message}");
        assert!(message.contains("src/lib.rs"), "the place: {message}");
        let _ = std::panic::take_hook();
    }
}
