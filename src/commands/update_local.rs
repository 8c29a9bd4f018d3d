//! `update-local <id> <host> [--port] [--encryption]`: the original proposal's command,
//! through the same journaled, verified replace as `apply`.

use crate::cli::UpdateLocalArgs;
use crate::commands::Ctx;
use crate::error::{Error, Result};
use crate::ops::update_local::{local, UpdateLocalOptions};
use crate::ops::RunOutcome;

pub async fn run(ctx: &Ctx, args: &UpdateLocalArgs) -> Result<RunOutcome> {
    let encryption = args.encryption;
    let options = UpdateLocalOptions {
        id: args.id,
        local: local(&args.host, args.port, encryption).map_err(Error::Usage)?,
        healing: args.heal.healing(),
    };
    crate::ops::update_local::run(&ctx.connect(), &options, &ctx.printer).await
}
