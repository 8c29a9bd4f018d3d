//! `list`: every SPU with its endpoints.

use crate::commands::Ctx;
use crate::error::{Error, Result, Usage};
use crate::ops::Found;
use crate::output::Format;

pub async fn run(ctx: &Ctx) -> Result<Found> {
    // Refused before the cluster is read.
    if ctx.printer.format == Format::Markdown {
        return Err(Error::Usage(Usage::ListFormat));
    }
    let (_, live) = crate::ops::read::read(&ctx.connect(), &ctx.printer).await?;
    ctx.printer.list(&live)?;
    Ok(Found::default())
}
