//! fluvio-endpoints: declarative local endpoints for Fluvio SPUs.
//!
//! The whole flow, one stage per module:
//!
//! ```text
//! TOML text --config::raw::parse--> RawConfig (spans) --config::validate--> Desired
//! SC / metadata dir --target::Target::read--> Live
//! plan::plan(&Desired, &Live) -> Plan                  (pure: no I/O, no async)
//! report::PlanDoc::new(Plan, ..) -> PlanDoc            (the JSON contract, saved plans)
//! render::{text, markdown, annotations, table}(..) -> String
//! apply::apply(&[Change], &mut impl Target, &mut Journal) -> ApplyReport   (the only writer)
//! ```
//!
//! `target::sc` is the only module that talks to a running SC (through the real `fluvio`
//! client); `target::dir` edits a stopped local cluster's metadata directory through
//! Fluvio's own `LocalMetadataStorage`. `journal` makes every replace recoverable.

pub mod address;
pub mod apply;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod input;
pub mod journal;
pub mod model;
pub mod output;
pub mod plan;
pub mod render;
pub mod report;
pub mod target;

use cli::{Cli, Command};
use commands::{Ctx, Outcome};
use error::{exit, Result};

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> u8 {
    let style = output::Style::detect(cli.global.color);
    let detailed = matches!(&cli.command, Command::Plan(p) if p.detailed_exitcode);
    let is_drift = matches!(&cli.command, Command::Drift(_));
    let ctx = Ctx {
        global: cli.global.clone(),
        style,
    };
    let result = match cli.command {
        Command::Validate(args) => commands::validate::run(&ctx, &args),
        Command::Schema { kind } => {
            output::stdout(&match kind {
                cli::SchemaKind::Config => config::schema::json_schema(),
                cli::SchemaKind::Plan => report::plan_schema(),
                cli::SchemaKind::Apply => report::apply_schema(),
            });
            Ok(Outcome::default())
        }
        Command::Metadata => {
            output::stdout(&render::json(&serde_json::json!({
                "title": "endpoints",
                "package": "fluvio-endpoints",
                "description": "Declarative SPU local endpoints: plan, apply, verify",
                "version": env!("CARGO_PKG_VERSION"),
            })));
            Ok(Outcome::default())
        }
        command => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("the tokio runtime starts");
            // The fluvio client panics on some malformed replies. A panic on a client task
            // fails the request in hand at once (see `target::sc`); one here, on the
            // command's own task, ends the command as an unusable cluster, not a crash.
            let default_hook = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                target::sc::note_client_failure();
                if std::env::var_os("RUST_BACKTRACE").is_some() {
                    default_hook(info);
                } else {
                    output::stderr(&format!("error: internal failure: {info}\n"));
                }
            }));
            let run = std::panic::AssertUnwindSafe(|| runtime.block_on(run_async(&ctx, command)));
            std::panic::catch_unwind(run).unwrap_or_else(|_| {
                Err(error::Error::Unreachable(
                    target::TargetError::Unreachable {
                        endpoint: ctx
                            .global
                            .cluster
                            .clone()
                            .unwrap_or_else(|| "the cluster".into()),
                        cause: target::sc::CLIENT_FAILURE.into(),
                    },
                ))
            })
        }
    };
    match result {
        // Output that did not reach its reader is not a success.
        Ok(_) if output::stdout_failed() => {
            output::stderr("error: could not write all output to stdout\n");
            exit::ERROR
        }
        Ok(outcome) if outcome.changes && (detailed || is_drift) => exit::CHANGES,
        Ok(_) => exit::OK,
        Err(err) => {
            if !matches!(err, error::Error::Reported { .. }) {
                commands::report_error(&ctx, &err);
            }
            err.exit_code()
        }
    }
}

async fn run_async(ctx: &Ctx, command: Command) -> Result<Outcome> {
    match command {
        Command::Plan(args) => commands::plan::run(ctx, &args).await,
        Command::Apply(args) => commands::apply::run(ctx, &args).await,
        Command::Drift(args) => commands::drift::run(ctx, &args).await,
        Command::List => commands::list::run(ctx).await,
        Command::UpdateLocal(args) => commands::update_local::run(ctx, &args).await,
        Command::Recover => commands::recover::run(ctx).await,
        Command::Export(args) => commands::export::run(ctx, &args).await,
        Command::Validate(_) | Command::Schema { .. } | Command::Metadata => {
            unreachable!("handled before the runtime starts")
        }
    }
}
