//! `validate -f FILE...`: offline checks, every problem at once.

use crate::cli::FilesArgs;
use crate::commands::{aggregate, Ctx};
use crate::error::{Error, Result};
use crate::ops::{load_file, RunOutcome};

pub fn run(ctx: &Ctx, args: &FilesArgs) -> Result<RunOutcome> {
    let mut failed: Vec<Error> = Vec::new();
    let mut valid = Vec::new();
    for path in &args.files {
        match load_file(path) {
            Ok((file, desired)) => {
                ctx.printer.note(&format!(
                    "{} is valid: {} SPU entr{}.\n",
                    path.display(),
                    desired.spus.len(),
                    if desired.spus.len() == 1 { "y" } else { "ies" }
                ));
                valid.push((file, desired));
            }
            Err(e) => {
                if args.files.len() == 1 {
                    return Err(e);
                }
                ctx.printer.error(&e);
                failed.push(e);
            }
        }
    }
    // Files that name one cluster must not contradict each other.
    let pairs: Vec<_> = valid.iter().map(|(f, d)| (f, d)).collect();
    if let Err(e) = crate::ops::ownership::check_as_written(&ctx.connect().flags, &pairs) {
        if failed.is_empty() {
            return Err(e);
        }
        ctx.printer.error(&e);
        failed.push(e);
    }
    aggregate(&failed).map(|()| RunOutcome::default())
}
