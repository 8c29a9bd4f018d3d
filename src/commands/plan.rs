//! `plan -f FILE...`: read the cluster, diff, print. Writes nothing to the cluster.

use std::path::{Path, PathBuf};

use crate::cli::{Format, PlanArgs, Safety};
use crate::commands::{load_file, refused, Ctx, Outcome};
use crate::config::SourceFile;
use crate::error::{Error, Result};
use crate::model::{ClusterSel, Desired, Live};
use crate::report::PlanDoc;
use crate::target::{AnyTarget, Target};

/// Validates a file and reads its cluster. When flags pick the cluster, the file does not
/// have to be read first, so validation runs on a blocking thread while the cluster is
/// read: the slower of the two, not their sum. A problem in the file wins over one with
/// the cluster, as it would sequentially.
async fn load_and_read(ctx: &Ctx, path: &Path) -> Result<(SourceFile, Desired, AnyTarget, Live)> {
    let flags_pick = ctx.global.cluster.is_some()
        || ctx.global.profile.is_some()
        || ctx.global.metadata_dir.is_some();
    if !flags_pick {
        let (file, desired) = load_file(path)?;
        let mut target = ctx.open_target(&desired.cluster, false).await?;
        let live = target.read().await.map_err(Error::from_target)?;
        return Ok((file, desired, target, live));
    }
    let file = SourceFile::read(path)?;
    let mut validating = tokio::task::spawn_blocking(move || {
        let desired = crate::config::load(&file);
        (file, desired)
    });
    let reading = async {
        let mut target = ctx.open_target(&ClusterSel::default(), false).await?;
        let live = target.read().await.map_err(Error::from_target)?;
        Ok::<_, Error>((target, live))
    };
    tokio::pin!(reading);
    let joined = |v: Result<_, tokio::task::JoinError>| {
        v.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    };
    // A bad file is reported at once, without waiting for a slow or unreachable cluster.
    let (file, desired, read) = tokio::select! {
        validated = &mut validating => {
            let (file, desired) = joined(validated);
            let desired = desired?;
            (file, desired, reading.await)
        }
        read = &mut reading => {
            let (file, desired) = joined(validating.await);
            (file, desired?, read)
        }
    };
    let (target, live) = read?;
    Ok((file, desired, target, live))
}

/// Plans one file against its cluster.
pub async fn plan_file(ctx: &Ctx, path: &Path, safety: &Safety, saving: bool) -> Result<PlanDoc> {
    let (file, desired, target, live) = load_and_read(ctx, path).await?;
    ctx.warn_pending(&target);
    ctx.warn_local_off(&desired.cluster);
    let mut plan = crate::plan::plan(&desired, &live);
    if !safety.force {
        plan.enforce_max_changes(safety.max_changes.or(desired.policy.max_changes));
    }
    let doc = PlanDoc::new(
        plan,
        &target.identity(),
        live.platform_version.clone(),
        Some((&file, &desired)),
    );
    Ok(ctx.finish_doc(doc, saving))
}

/// Plans every file concurrently, prints each in the order given, aggregates the outcome:
/// any error -> that error (the first), else changes if any file has some.
pub async fn plan_many(
    ctx: &Ctx,
    files: &[PathBuf],
    safety: &Safety,
    saving: bool,
    mut each: impl FnMut(&PlanDoc) -> Result<()>,
) -> Result<Outcome> {
    let results =
        futures_util::future::join_all(files.iter().map(|f| plan_file(ctx, f, safety, saving)))
            .await;
    let single = files.len() == 1;
    // Several files stay one parseable output: a JSON array of their plan documents, or a
    // YAML stream of documents each opened by `---`; text and Markdown follow each other.
    let mut json_docs: Vec<PlanDoc> = Vec::new();
    let mut outcome = Outcome::default();
    let mut errors: Vec<Error> = Vec::new();
    for result in results {
        let checked = result.and_then(|doc| {
            match ctx.global.output {
                Format::Json if !single => ctx.print_annotations(&doc),
                Format::Yaml if !single => {
                    crate::output::stdout("---\n");
                    ctx.print_plan(&doc);
                }
                _ => ctx.print_plan(&doc),
            }
            each(&doc)?;
            outcome.changes |= doc.has_changes();
            let blocked = !doc.blockers.is_empty();
            let error = blocked.then(|| refused(&doc));
            if ctx.global.output == Format::Json && !single {
                json_docs.push(doc);
            }
            error.map_or(Ok(()), Err)
        });
        if let Err(e) = checked {
            if single {
                return Err(e);
            }
            crate::commands::report_error(ctx, &e);
            errors.push(e);
        }
    }
    if ctx.global.output == Format::Json && !single {
        crate::output::stdout(&crate::render::json(&json_docs));
    }
    match errors.first() {
        None => Ok(outcome),
        Some(first) => Err(Error::Reported {
            count: errors.len(),
            code: first.exit_code(),
        }),
    }
}

pub async fn run(ctx: &Ctx, args: &PlanArgs) -> Result<Outcome> {
    if args.out.is_some() && args.files.files.len() != 1 {
        return Err(Error::Usage(
            "--out saves the plan of one file; give a single -f".into(),
        ));
    }
    plan_many(
        ctx,
        &args.files.files,
        &args.safety,
        args.out.is_some(),
        |doc| {
            // A refused plan is not saved: it could never be applied. Nor may an older plan
            // at that path stay behind to be applied instead.
            if let (Some(out), false) = (&args.out, doc.blockers.is_empty()) {
                match std::fs::remove_file(out) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => {
                        return Err(Error::WriteFile {
                            path: out.clone(),
                            source,
                        })
                    }
                }
            }
            if let (Some(out), true) = (&args.out, doc.blockers.is_empty()) {
                std::fs::write(out, crate::render::json(doc)).map_err(|source| {
                    Error::WriteFile {
                        path: out.clone(),
                        source,
                    }
                })?;
                crate::output::stderr(&format!(
                "Saved the plan to {}. Apply exactly this plan with `fluvio-endpoints apply {}`.\n",
                out.display(),
                out.display()
            ));
            }
            Ok(())
        },
    )
    .await
}
