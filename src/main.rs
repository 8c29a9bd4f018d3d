//! The binary: parse arguments before any runtime starts, run, map to an exit code.

use std::process::ExitCode;

use clap::Parser;
use fluvio_endpoints::{cli::Cli, error::exit};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            // Help and version are successes; a usage error never shares a result code.
            return ExitCode::from(if err.use_stderr() { exit::USAGE } else { exit::OK });
        }
    };
    ExitCode::from(fluvio_endpoints::run(cli))
}
