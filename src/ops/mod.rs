//! Operations: one per job (`plan`, `apply`, `recover`, `export`, ...), each over a plain
//! options struct (no clap types) and returning its `RunOutcome`. A `Session` opens the
//! cluster, the journal and the lock once; `saved` checks saved plans.
//! Commands turn arguments into these options and hand the results to the printer.

pub mod apply;
pub mod export;
pub mod offline;
pub mod ownership;
pub mod plan;
pub mod probe;
pub mod profile_write;
pub mod read;
pub mod reconcile;
pub mod recover;
pub mod route;
pub mod saved;
pub mod session;
pub mod update_local;

use std::path::Path;

use crate::config::{self, SourceFile};
use crate::error::{Error, Result};
use crate::model::Desired;
use crate::report::PlanDoc;

/// Gives up a value the command is done with, without freeing it. The process ends soon
/// after and the system takes its memory back at once; freeing a cluster's worth of small
/// allocations one by one would only delay the exit (several milliseconds for a plan of
/// 10,000 SPUs, see BENCHMARKS.md). For the last values of a command only: called in a
/// loop, it would leak.
pub(crate) fn leave_for_exit<T>(value: T) {
    std::mem::forget(value);
}

/// What a run ends with besides its output: whether it found changes (or drift), which
/// `plan --detailed-exitcode` and `drift` turn into their exit code for changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunOutcome {
    pub changes: bool,
}

/// How the plan's size is limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeLimit {
    /// The file's `max_changes`, or this instead when set (`--max-changes`).
    Enforce(Option<crate::model::MaxChanges>),
    /// No limit (`--force`, and `drift`, which never applies).
    Ignore,
}

/// Reads and validates a zone file.
pub fn load_file(path: &Path) -> Result<(SourceFile, Desired)> {
    let file = SourceFile::read(path).map_err(|source| read_error(path, source))?;
    validated(file)
}

/// A zone file that cannot be read.
pub fn read_error(path: &Path, source: std::io::Error) -> Error {
    Error::ReadFile {
        path: path.to_path_buf(),
        source,
        help: "check the path; -f takes the zone file",
    }
}

/// Validates a zone file already read.
pub fn validated(file: SourceFile) -> Result<(SourceFile, Desired)> {
    let desired = config::load(&file)?;
    Ok((file, desired))
}

/// The error for a plan with blockers (printed after the plan itself).
pub fn refused(doc: &PlanDoc) -> Error {
    let first = doc.blockers.first().expect("called on blocked plans");
    Error::Refused {
        count: doc.blockers.len(),
        help: first.help.clone(),
        first: crate::error::RefusedReason(if doc.blockers.len() == 1 {
            first.message.clone()
        } else {
            format!(
                "{} (and {} more, listed above)",
                first.message,
                doc.blockers.len() - 1
            )
        }),
    }
}

#[cfg(test)]
mod tests;
