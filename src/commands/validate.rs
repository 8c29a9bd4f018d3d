//! `validate -f FILE...`: offline checks, every problem at once.

use crate::cli::FilesArgs;
use crate::commands::{load_file, Ctx, Outcome};
use crate::error::{Error, Result};

pub fn run(ctx: &Ctx, args: &FilesArgs) -> Result<Outcome> {
    let mut failed: Vec<Error> = Vec::new();
    for path in &args.files {
        match load_file(path) {
            Ok((_, desired)) => crate::output::stderr(&format!(
                "{} is valid: {} SPU entr{}.\n",
                path.display(),
                desired.spus.len(),
                if desired.spus.len() == 1 { "y" } else { "ies" }
            )),
            Err(e) => {
                if args.files.len() == 1 {
                    return Err(e);
                }
                crate::commands::report_error(ctx, &e);
                failed.push(e);
            }
        }
    }
    match failed.first() {
        None => Ok(Outcome::default()),
        Some(first) => Err(Error::Reported {
            count: failed.len(),
            code: first.exit_code(),
        }),
    }
}
