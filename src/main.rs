//! The binary: parse arguments before any runtime starts, run, map to an exit code.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use fluvio_endpoints::{cli::Cli, error::exit};

fn main() -> ExitCode {
    // Every subcommand's --help ends with the exit-code table.
    let mut command = Cli::command().mut_subcommands(|sub| sub.after_help(exit::TABLE));
    let parsed = command
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|mut matches| Cli::from_arg_matches_mut(&mut matches));
    // The command tree (every subcommand with the global options copied in) is not
    // needed again and is left to the exit, not freed piece by piece.
    std::mem::forget(command);
    let cli = match parsed {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            // Help and version are successes; a usage error never shares a result code.
            return ExitCode::from(if err.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    ExitCode::from(fluvio_endpoints::run(cli))
}
