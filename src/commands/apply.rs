//! `apply -f FILE` / `apply PLAN`: plan (or check a saved plan), approve, replace, verify.

use crate::cli::ApplyArgs;
use crate::commands::Ctx;
use crate::error::{Error, Result, Usage};
use crate::ops::apply::{ApplyOptions, Source};
use crate::ops::RunOutcome;

pub async fn run(ctx: &Ctx, args: &ApplyArgs) -> Result<RunOutcome> {
    let several = args.file.len() > 1;
    if several {
        let refused = if args.plan.is_some() {
            Some("a saved plan is applied with at most one -f (the file it was made from)")
        } else if args.offline.sc_offline.is_some() {
            Some("--sc-offline stops one SC: give one -f")
        } else if !args.auto_approve && !args.dry_run {
            Some("several files are not approved one by one: pass --auto-approve or --dry-run")
        } else {
            None
        };
        if let Some(why) = refused {
            return Err(Error::Usage(Usage::SeveralFiles(why)));
        }
    }
    if args.plan.is_some() && args.safety.max_changes.is_some() {
        return Err(Error::Usage(Usage::SavedPlanLimit));
    }
    let source = match (&args.plan, args.file.first()) {
        (Some(plan), file) => Source::Saved {
            plan: plan.clone(),
            file: file.cloned(),
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
        stop: None,
    };
    if several {
        return crate::ops::apply::run_many(&ctx.connect(), &options, &args.file, &ctx.printer)
            .await;
    }
    crate::ops::apply::run(&ctx.connect(), &options, &ctx.printer).await
}
