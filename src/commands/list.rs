//! `list`: every SPU with its endpoints.

use crate::commands::Ctx;
use crate::error::Result;
use crate::ops::RunOutcome;

pub async fn run(ctx: &Ctx) -> Result<RunOutcome> {
    // A format list cannot print is refused before the cluster is read.
    let format = ctx.printer.list_format()?;
    let (_, live) = crate::ops::read::read(&ctx.connect(), &ctx.printer).await?;
    ctx.printer.list(&live, format);
    // The command's last value: 10,000 SPUs are left to the exit, not freed one by one.
    crate::ops::leave_for_exit(live);
    Ok(RunOutcome::default())
}
