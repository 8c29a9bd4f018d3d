//! `completions SHELL` and `man`: shell completions (clap_complete) and man pages
//! (clap_mangen) generated from the clap definitions in `cli`, so they offer exactly the
//! commands and options the binary accepts. Both run before any runtime starts and never
//! touch a cluster.

use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::commands::Ctx;
use crate::error::{exit, Error, Result};
use crate::ops::RunOutcome;

const BIN: &str = "fluvio-endpoints";

/// The command line as the binary parses it: every subcommand's help ends with the
/// exit-code table, as in `--help`.
fn command() -> clap::Command {
    Cli::command()
        .bin_name(BIN)
        .mut_subcommands(|sub| sub.after_help(exit::TABLE))
}

/// Prints the completion script for `shell` on stdout.
pub fn completions(ctx: &Ctx, shell: Shell) -> Result<RunOutcome> {
    let mut script = Vec::new();
    if shell == Shell::Bash {
        // clap_complete's bash script spells its per-subcommand states two ways when the
        // binary's name has a hyphen, and then never completes a subcommand's options.
        // Under a name without one the states agree; the function is then registered for
        // the real name (the script reads the typed name from its arguments, not this one).
        let alias = BIN.replace('-', "_");
        clap_complete::generate(shell, &mut command(), &alias, &mut script);
        let text = String::from_utf8_lossy(&script);
        let suffix = format!(" {alias}");
        let registered: String = text
            .lines()
            .map(|line| match line.strip_suffix(&suffix) {
                Some(head) if line.trim_start().starts_with("complete -F ") => {
                    format!("{head} {BIN}\n")
                }
                _ => format!("{line}\n"),
            })
            .collect();
        ctx.printer.data(&registered);
    } else {
        clap_complete::generate(shell, &mut command(), BIN, &mut script);
        ctx.printer.data(&String::from_utf8_lossy(&script));
    }
    Ok(RunOutcome::default())
}

/// Prints the man page on stdout, or with `out_dir` writes `fluvio-endpoints.1` and one
/// `fluvio-endpoints-<command>.1` per visible subcommand there (creating the directory).
pub fn man(ctx: &Ctx, out_dir: Option<&Path>) -> Result<RunOutcome> {
    // Built once, as the parser sees it: global options reach every subcommand's page and
    // each subcommand is named as typed (`fluvio-endpoints-plan`).
    let mut command = command().disable_help_subcommand(true);
    command.build();
    let Some(dir) = out_dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(command)
            .render(&mut page)
            .expect("rendering into memory cannot fail");
        ctx.printer.data(&String::from_utf8_lossy(&page));
        return Ok(RunOutcome::default());
    };
    let pages = command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .cloned()
        .chain([command.clone()]);
    std::fs::create_dir_all(dir).map_err(|source| Error::WriteFile {
        path: dir.to_path_buf(),
        source,
    })?;
    for page in pages.map(clap_mangen::Man::new) {
        let path = dir.join(page.get_filename());
        page.generate_to(dir)
            .map_err(|source| Error::WriteFile { path, source })?;
    }
    Ok(RunOutcome::default())
}
