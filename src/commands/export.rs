//! `export`: a zone file from the live cluster, to stdout or `--out`.

use crate::cli::ExportArgs;
use crate::commands::Ctx;
use crate::error::{Error, Result};
use crate::ops::export::ExportOptions;
use crate::ops::RunOutcome;

pub async fn run(ctx: &Ctx, args: &ExportArgs) -> Result<RunOutcome> {
    let options = ExportOptions {
        schema: args.schema.clone(),
    };
    let text = crate::ops::export::run(&ctx.connect(), &options, &ctx.printer).await?;
    match &args.out {
        None => ctx.printer.data(&text),
        Some(path) => {
            crate::atomic_write::write(
                path,
                text.as_bytes(),
                crate::atomic_write::Existing::Replace,
                0o644,
            )
            .map_err(|source| Error::WriteFile {
                path: path.clone(),
                source,
            })?;
            ctx.printer.note(&format!("Wrote {}.\n", path.display()));
        }
    }
    Ok(RunOutcome::default())
}
