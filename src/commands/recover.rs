//! `recover`: resolve every change an interrupted apply left unfinished on this cluster.

use crate::commands::Ctx;
use crate::error::Result;
use crate::ops::RunOutcome;

pub async fn run(ctx: &Ctx) -> Result<RunOutcome> {
    let (cluster, recovered) = crate::ops::recover::run(&ctx.connect(), &ctx.printer).await?;
    if recovered.is_empty() {
        ctx.printer.note(&format!(
            "Nothing to recover on {cluster}: no interrupted apply.\n"
        ));
    }
    Ok(RunOutcome::default())
}
