//! `reconcile -f FILE...`: the agent that keeps zones converged (`ops::reconcile`).

use crate::cli::ReconcileArgs;
use crate::commands::Ctx;
use crate::error::Result;
use crate::ops::reconcile::{Pacing, ReconcileOptions};
use crate::ops::RunOutcome;

pub async fn run(ctx: &Ctx, args: &ReconcileArgs) -> Result<RunOutcome> {
    let options = ReconcileOptions {
        files: args.files.files.clone(),
        remediate: args.remediate,
        resync: args.resync,
        debounce: args.debounce,
        pacing: Pacing {
            min_interval: args.min_interval,
            max_failures: args.max_failures,
            undone_within: args.undone_within,
        },
        listen: args.listen,
        limit: args.safety.limit(),
        force: args.safety.force,
        healing: args.heal.healing(),
    };
    crate::ops::reconcile::run(&ctx.connect(), options).await?;
    Ok(RunOutcome::default())
}
