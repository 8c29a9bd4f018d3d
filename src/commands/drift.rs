//! `drift -f FILE...`: the read-only audit. Exit 2 when the cluster differs from the file
//! in a local endpoint or an asserted field.

use crate::cli::{FilesArgs, Safety};
use crate::commands::{Ctx, Outcome};
use crate::error::Result;

pub async fn run(ctx: &Ctx, args: &FilesArgs) -> Result<Outcome> {
    let safety = Safety {
        max_changes: None,
        force: true,
    };
    let mut drifted = false;
    let mut outcome = super::plan::plan_many(ctx, &args.files, &safety, false, |doc| {
        drifted |= !doc.drift.is_empty();
        Ok(())
    })
    .await?;
    outcome.changes |= drifted;
    Ok(outcome)
}
