//! `profile show [NAME]`, `profile use-local NAME [--off]`: the fluvio config's
//! `use_spu_local_address`, which decides whether a profile's clients use local endpoints.

use crate::cli::{Format, ProfileCommand};
use crate::commands::{Ctx, Outcome};
use crate::error::{Error, Result};
use crate::profile::{config_path, FluvioConfig, ProfileView};

fn table(views: &[ProfileView]) -> String {
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::NOTHING)
        .set_header([
            "",
            "PROFILE",
            "CLUSTER",
            "ENDPOINT",
            "USE_SPU_LOCAL_ADDRESS",
        ]);
    for v in views {
        table.add_row([
            if v.current { "*" } else { "" }.to_string(),
            v.profile.clone(),
            v.cluster.clone(),
            v.endpoint.clone().unwrap_or_else(|| "-".into()),
            match v.use_spu_local_address {
                Some(on) => on.to_string(),
                None => "false (not set)".into(),
            },
        ]);
    }
    format!("{table}\n")
}

pub fn run(ctx: &Ctx, command: &ProfileCommand) -> Result<Outcome> {
    let path = config_path().map_err(Error::from_profile)?;
    let mut config = FluvioConfig::load(&path).map_err(Error::from_profile)?;
    match command {
        ProfileCommand::Show { name } => {
            let views = match name {
                Some(name) => vec![config.view(name).map_err(Error::from_profile)?],
                None => config.views().map_err(Error::from_profile)?,
            };
            let text = match ctx.global.output {
                Format::Json => crate::render::json(&views),
                Format::Yaml => serde_yaml::to_string(&views).expect("views serialize"),
                Format::Text | Format::Markdown => table(&views),
            };
            crate::output::stdout(&text);
        }
        ProfileCommand::UseLocal { name, off } => {
            let on = !off;
            let (cluster, changed) = config
                .set_use_local(name, on)
                .map_err(Error::from_profile)?;
            if changed {
                config.save().map_err(Error::from_profile)?;
            }
            crate::output::stderr(&format!(
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
    Ok(Outcome::default())
}
