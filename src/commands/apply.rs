//! `apply -f FILE` / `apply PLAN`: plan (or check a saved plan), approve, replace, verify.

use crate::cli::ApplyArgs;
use crate::commands::Ctx;
use crate::error::Result;
use crate::ops::apply::{ApplyOptions, Source};
use crate::ops::Found;

pub async fn run(ctx: &Ctx, args: &ApplyArgs) -> Result<Found> {
    let source = match (&args.plan, &args.file) {
        (Some(plan), file) => Source::Saved {
            plan: plan.clone(),
            file: file.clone(),
        },
        (None, Some(file)) => Source::File(file.clone()),
        (None, None) => unreachable!("clap requires a file or a plan"),
    };
    let options = ApplyOptions {
        source,
        auto_approve: args.auto_approve,
        dry_run: args.dry_run,
        limit: args.safety.limit(),
        probe: crate::ops::probe::ProbeRequest {
            probe: args.probe,
            force: args.safety.force,
        },
        healing: args.heal.healing(),
        offline: args.offline.offline(&args.heal),
        targeting: args.target.targeting(),
    };
    crate::ops::apply::run(&ctx.connect(), &options, &ctx.printer).await
}
