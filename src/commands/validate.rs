//! `validate -f FILE...`: offline checks, every problem at once.

use crate::cli::FilesArgs;
use crate::commands::{aggregate, Ctx};
use crate::error::{Error, Result};
use crate::ops::{load_file, Found};

pub fn run(ctx: &Ctx, args: &FilesArgs) -> Result<Found> {
    let mut failed: Vec<Error> = Vec::new();
    for path in &args.files {
        match load_file(path) {
            Ok((_, desired)) => ctx.printer.note(&format!(
                "{} is valid: {} SPU entr{}.\n",
                path.display(),
                desired.spus.len(),
                if desired.spus.len() == 1 { "y" } else { "ies" }
            )),
            Err(e) => {
                if args.files.len() == 1 {
                    return Err(e);
                }
                ctx.printer.error(&e);
                failed.push(e);
            }
        }
    }
    aggregate(&failed).map(|()| Found::default())
}
