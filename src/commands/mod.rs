//! One module per subcommand: options in, outcome out. Shared here: picking and opening
//! the target, reading zone files, the journal check, and rendering a plan.

pub mod apply;
pub mod completions;
pub mod drift;
pub mod export;
pub mod list;
pub mod plan;
pub mod recover;
pub mod update_local;
pub mod validate;

use std::path::Path;
use std::time::Duration;

use crate::cli::{Format, Global};
use crate::config::{self, SourceFile};
use crate::error::{Error, Result};
use crate::journal::{self, Journal};
use crate::model::{ClusterSel, Desired};
use crate::output::{self, Style};
use crate::report::PlanDoc;
use crate::target::dir::DirTarget;
use crate::target::sc::{cluster_config, ClusterChoice, ScTarget};
use crate::target::{AnyTarget, Target};

/// What every command gets.
pub struct Ctx {
    pub global: Global,
    pub style: Style,
}

/// What a command reports besides its output: whether it found changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    pub changes: bool,
}

impl Ctx {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.global.timeout)
    }

    pub fn journal_dir(&self) -> std::path::PathBuf {
        self.global
            .journal_dir
            .clone()
            .unwrap_or_else(journal::default_dir)
    }

    /// Picks the cluster: --metadata-dir, --cluster, --profile, then the file's [cluster],
    /// then the current fluvio profile.
    pub async fn open_target(&self, file: &ClusterSel, write: bool) -> Result<AnyTarget> {
        if let Some(dir) = &self.global.metadata_dir {
            let target = DirTarget::open(dir).await.map_err(Error::from_target)?;
            if write {
                target.ensure_not_served().map_err(Error::from_target)?;
            }
            return Ok(AnyTarget::Dir(target));
        }
        let choice = if let Some(addr) = &self.global.cluster {
            ClusterChoice::Endpoint(addr.clone())
        } else if let Some(profile) = &self.global.profile {
            ClusterChoice::Profile(profile.clone())
        } else if let Some(addr) = &file.endpoint {
            ClusterChoice::Endpoint(addr.clone())
        } else if let Some(profile) = &file.profile {
            ClusterChoice::Profile(profile.clone())
        } else {
            ClusterChoice::Current
        };
        let config = cluster_config(&choice).map_err(|e| Error::Profile(e.to_string()))?;
        let target = ScTarget::connect(config, self.timeout())
            .await
            .map_err(Error::from_target)?;
        Ok(AnyTarget::Sc(Box::new(target)))
    }

    /// Warns on stderr when an earlier apply on this target left changes unfinished.
    pub fn warn_pending(&self, target: &impl Target) {
        let path = Journal::path_for(&self.journal_dir(), &target.identity());
        match journal::read_pending(&path) {
            Err(e) => output::stderr(&format!("{} {e}\n", self.style.warn("warning:"))),
            Ok((pending, _)) => {
                if !pending.is_empty() {
                    output::stderr(&format!(
                    "{} an interrupted apply left {} change(s) unfinished on {} (journal {}).\n{}\n",
                    self.style.warn("warning:"),
                    pending.len(),
                    target.identity(),
                    path.display(),
                    self.style.hint("hint: run `fluvio-endpoints recover` (apply also recovers first)")
                ));
                }
            }
        }
    }

    /// Adds fingerprints when the plan goes out as a JSON or YAML document (or is saved).
    pub fn finish_doc(&self, doc: PlanDoc, saving: bool) -> PlanDoc {
        if saving || matches!(self.global.output, Format::Json | Format::Yaml) {
            doc.fingerprinted()
        } else {
            doc
        }
    }

    /// Prints a plan in the chosen format, plus annotations when enabled.
    pub fn print_plan(&self, doc: &PlanDoc) {
        let text = match self.global.output {
            Format::Text => crate::render::text::plan(doc, &self.style),
            Format::Json => crate::render::json(doc),
            Format::Yaml => serde_yaml::to_string(doc).expect("plans serialize"),
            Format::Markdown => crate::render::markdown::plan(doc),
        };
        output::stdout(&text);
        self.print_annotations(doc);
    }

    /// The plan's annotations, when they are on.
    pub fn print_annotations(&self, doc: &PlanDoc) {
        if self.global.annotations.enabled() {
            self.emit_annotations(&crate::render::annotations::plan(doc));
        }
    }

    /// Workflow commands go to stdout with text output; with the other formats to stderr
    /// (the runner reads both), so a JSON, YAML or Markdown document stays parseable.
    fn emit_annotations(&self, commands: &str) {
        if self.global.output == Format::Text {
            output::stdout(commands);
        } else {
            output::stderr(commands);
        }
    }
}

/// Prints an error on stderr; an invalid file's problems also become annotations at their
/// lines when annotations are on.
pub fn report_error(ctx: &Ctx, err: &Error) {
    output::diagnostic(err, &ctx.style);
    if let Error::Config(errors) = err {
        if ctx.global.annotations.enabled() {
            ctx.emit_annotations(&crate::render::annotations::config_errors(errors));
        }
    }
}

/// Reads and validates a zone file.
pub fn load_file(path: &Path) -> Result<(SourceFile, Desired)> {
    let file = SourceFile::read(path)?;
    let desired = config::load(&file)?;
    Ok((file, desired))
}

/// The error for a plan with blockers (printed after the plan itself).
pub fn refused(doc: &PlanDoc) -> Error {
    let first = doc.blockers.first().expect("called on blocked plans");
    Error::Refused {
        count: doc.blockers.len(),
        help: first.help.clone(),
        first: crate::error::RefusedReason(if doc.blockers.len() == 1 {
            first.message.clone()
        } else {
            format!(
                "{} (and {} more, listed above)",
                first.message,
                doc.blockers.len() - 1
            )
        }),
    }
}
