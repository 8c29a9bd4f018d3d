//! `plan -f FILE...`: read the cluster, diff, print; `--out` saves the plan for `apply
//! PLAN`. Writes nothing to the cluster.

use crate::cli::PlanArgs;
use crate::commands::{plan_many, Ctx};
use crate::error::{Error, Result, Usage};
use crate::ops::plan::PlanOptions;
use crate::ops::RunOutcome;
use crate::report::PlanDoc;

/// Writes (or, for a refused plan, removes) the saved plan at `out`.
fn save(ctx: &Ctx, out: &std::path::Path, doc: &PlanDoc) -> Result<()> {
    let write_err = |source| Error::WriteFile {
        path: out.to_path_buf(),
        source,
    };
    // A refused plan is not saved: it could never be applied. Nor may an older plan at
    // that path stay behind to be applied instead.
    if doc.is_blocked() {
        return match std::fs::remove_file(out) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(write_err(e)),
            _ => Ok(()),
        };
    }
    // whole or not at all: `apply PLAN` never reads half a plan
    crate::atomic_write::write(
        out,
        crate::render::json(doc).as_bytes(),
        crate::atomic_write::Existing::Replace,
        0o644,
    )
    .map_err(write_err)?;
    ctx.printer.note(&format!(
        "Saved the plan to {}. Apply exactly this plan with `fluvio-endpoints apply {}`.\n",
        out.display(),
        out.display()
    ));
    Ok(())
}

pub async fn run(ctx: &Ctx, args: &PlanArgs) -> Result<RunOutcome> {
    if args.out.is_some() && args.files.files.len() != 1 {
        return Err(Error::Usage(Usage::OutNeedsOneFile));
    }
    let targeting = args.target.targeting();
    let options = PlanOptions {
        targeting: &targeting,
        ownership: false,
        route: crate::commands::route_request(&args.heal, &args.offline),
        limit: args.safety.limit(),
        fingerprints: args.out.is_some() || ctx.printer.documents_carry_fingerprints(),
        probe: crate::ops::probe::ProbeRequest {
            probe: args.probe,
            force: args.safety.force,
        },
    };
    plan_many(ctx, &args.files.files, options, |doc| match &args.out {
        Some(out) => save(ctx, out, doc),
        None => Ok(()),
    })
    .await
}
