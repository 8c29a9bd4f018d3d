//! `profile show [NAME]`, `profile use-local NAME [--off]`: the fluvio config's
//! `use_spu_local_address`, which decides whether a profile's clients use local endpoints;
//! `profile write -f FILE --out CONFIG`: the fluvio config of a zone's clients.

use crate::cli::{ProfileCommand, ProfileWriteArgs};
use crate::commands::Ctx;
use crate::error::{Error, Result};
use crate::ops::profile_write::WriteOptions;
use crate::ops::RunOutcome;
use crate::profile::{config_path, FluvioConfig};

pub fn run(ctx: &Ctx, command: &ProfileCommand) -> Result<RunOutcome> {
    match command {
        ProfileCommand::Show { name } => show(ctx, name.as_deref()),
        ProfileCommand::UseLocal { name, off } => use_local(ctx, name, !off),
        ProfileCommand::Write(args) => write(ctx, args),
    }
}

fn load() -> Result<(std::path::PathBuf, FluvioConfig)> {
    let path = config_path().map_err(Error::from_profile)?;
    let config = FluvioConfig::load(&path).map_err(Error::from_profile)?;
    Ok((path, config))
}

fn show(ctx: &Ctx, name: Option<&str>) -> Result<RunOutcome> {
    let (_, config) = load()?;
    let views = match name {
        Some(name) => vec![config.view(name).map_err(Error::from_profile)?],
        None => config.views().map_err(Error::from_profile)?,
    };
    ctx.printer.profiles(&views);
    Ok(RunOutcome::default())
}

fn use_local(ctx: &Ctx, name: &str, on: bool) -> Result<RunOutcome> {
    let (path, mut config) = load()?;
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
    Ok(RunOutcome::default())
}

fn write(ctx: &Ctx, args: &ProfileWriteArgs) -> Result<RunOutcome> {
    let options = WriteOptions {
        file: args.file.clone(),
        out: args.out.clone(),
        name: args.name.clone(),
        force: args.force,
    };
    let zone = crate::ops::profile_write::run(&options)?;
    // (the printer escapes what a note quotes)
    let out = args.out.display();
    ctx.printer.note(&format!(
        "Wrote {out}: profile `{}` at {}, use_spu_local_address = true, TLS: {}.\n",
        zone.name,
        zone.endpoint,
        zone.tls_summary(),
    ));
    ctx.printer.note(&format!(
        "The zone's clients use it with FLV_PROFILE_PATH={out} (e.g. `FLV_PROFILE_PATH={out} fluvio topic list`).\n"
    ));
    Ok(RunOutcome::default())
}
