//! `list`: every SPU with its endpoints.

use crate::cli::Format;
use crate::commands::{Ctx, Outcome};
use crate::error::{Error, Result};
use crate::model::ClusterSel;
use crate::render::table::{render, ListFormat};
use crate::target::Target;

pub async fn run(ctx: &Ctx) -> Result<Outcome> {
    let format = match ctx.global.output {
        Format::Text => ListFormat::Table,
        Format::Json => ListFormat::Json,
        Format::Yaml => ListFormat::Yaml,
        Format::Markdown => {
            return Err(Error::Usage("list prints table, json or yaml".into()));
        }
    };
    let mut target = ctx.open_target(&ClusterSel::default(), false).await?;
    ctx.warn_pending(&target);
    let live = target.read().await.map_err(Error::from_target)?;
    crate::output::stdout(&render(&live, format));
    Ok(Outcome::default())
}
