//! `recover`: resolve every change an interrupted apply left unfinished on this cluster.

use crate::commands::{apply::journal_and_recover, Ctx, Outcome};
use crate::error::Result;
use crate::model::ClusterSel;
use crate::target::Target;

pub async fn run(ctx: &Ctx) -> Result<Outcome> {
    let mut target = ctx.open_target(&ClusterSel::default(), true).await?;
    let path = crate::journal::Journal::path_for(&ctx.journal_dir(), &target.identity());
    let (pending, _) = crate::journal::read_pending(&path)?;
    journal_and_recover(ctx, &mut target).await?;
    if pending.is_empty() {
        crate::output::stderr(&format!(
            "Nothing to recover on {}: no interrupted apply.\n",
            target.identity()
        ));
    }
    Ok(Outcome::default())
}
