//! `drift -f FILE...`: the read-only audit. Exit 2 when the cluster differs from the file
//! in a local endpoint or an asserted field.

use crate::cli::DriftArgs;
use crate::commands::{plan_many, Ctx};
use crate::error::Result;
use crate::ops::plan::PlanOptions;
use crate::ops::{ChangeLimit, RunOutcome};

pub async fn run(ctx: &Ctx, args: &DriftArgs) -> Result<RunOutcome> {
    let targeting = args.target.targeting();
    // Nothing is applied, so no size limit applies.
    let options = PlanOptions {
        targeting: &targeting,
        ownership: false,
        // the file's [policy] alone decides whether an apply of it would stall
        route: crate::ops::route::RouteRequest::default(),
        limit: ChangeLimit::Ignore,
        fingerprints: ctx.printer.documents_carry_fingerprints(),
        // drift never applies: nothing to prove reachable
        probe: crate::ops::probe::ProbeRequest::default(),
    };
    let mut drifted = false;
    let mut found = plan_many(ctx, &args.files.files, options, |doc| {
        drifted |= !doc.drift.is_empty();
        Ok(())
    })
    .await?;
    found.changes |= drifted;
    Ok(found)
}
