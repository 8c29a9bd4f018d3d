//! `probe [-f FILE]`: arguments -> `ops::probe` -> printer; exit 10 when some local
//! endpoints did not answer.

use std::time::Duration;

use crate::cli::ProbeArgs;
use crate::commands::Ctx;
use crate::error::{Error, Result};
use crate::ops::probe::ProbeOptions;
use crate::ops::RunOutcome;

pub async fn run(ctx: &Ctx, args: &ProbeArgs) -> Result<RunOutcome> {
    let options = ProbeOptions {
        file: args.file.clone(),
        public: args.public,
        limits: crate::probe::Options {
            per_address: Duration::from_secs_f64(args.timeout),
            deadline: Duration::from_secs_f64(args.deadline),
            concurrency: args.concurrency,
        },
    };
    let doc = crate::ops::probe::run(&ctx.connect(), &options, &ctx.printer).await?;
    ctx.printer.probe(&doc);
    if doc.summary.unreachable > 0 {
        return Err(Error::ProbeUnreachable {
            unreachable: doc.summary.unreachable,
            probed: doc.summary.reachable + doc.summary.unreachable,
        });
    }
    Ok(RunOutcome::default())
}
