//! `profile show [NAME]`, `profile use-local NAME [--off]`: the fluvio config's
//! `use_spu_local_address`, which decides whether a profile's clients use local endpoints.

use crate::cli::ProfileCommand;
use crate::commands::Ctx;
use crate::error::{Error, Result};
use crate::ops::Found;
use crate::profile::{config_path, FluvioConfig};

pub fn run(ctx: &Ctx, command: &ProfileCommand) -> Result<Found> {
    let path = config_path().map_err(Error::from_profile)?;
    let mut config = FluvioConfig::load(&path).map_err(Error::from_profile)?;
    match command {
        ProfileCommand::Show { name } => {
            let views = match name {
                Some(name) => vec![config.view(name).map_err(Error::from_profile)?],
                None => config.views().map_err(Error::from_profile)?,
            };
            ctx.printer.profiles(&views);
        }
        ProfileCommand::UseLocal { name, off } => {
            let on = !off;
            let (cluster, changed) = config
                .set_use_local(name, on)
                .map_err(Error::from_profile)?;
            if changed {
                config.save().map_err(Error::from_profile)?;
            }
            ctx.printer.note(&format!(
                "{} profile `{name}` (cluster `{cluster}`): use_spu_local_address = {on} in {}{}\n",
                if changed { "Set" } else { "Already set:" },
                path.display(),
                if on {
                    "; its clients now dial SPUs at their local endpoints where one is set"
                } else {
                    "; its clients dial the public endpoints"
                }
            ));
        }
    }
    Ok(Found::default())
}
