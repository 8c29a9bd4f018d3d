//! `recover`: resolve every change an interrupted apply left unfinished on this cluster.

use crate::commands::{apply::journal_and_recover, Ctx, Outcome};
use crate::error::Result;
use crate::model::ClusterSel;
use crate::target::Target;

pub async fn run(ctx: &Ctx) -> Result<Outcome> {
    let mut target = ctx.open_target(&ClusterSel::default(), true).await?;
    let (_journal, recovered) = journal_and_recover(ctx, &mut target).await?;
    if recovered.is_empty() {
        crate::output::stderr(&format!(
            "Nothing to recover on {}: no interrupted apply.\n",
            target.identity()
        ));
    }
    Ok(Outcome::default())
}
