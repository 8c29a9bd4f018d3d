//! The one printer: it alone decides colors, which stream a document goes to for each
//! `--output` format, annotations, the approval prompt and progress. Data (plans, JSON,
//! tables) to stdout; progress and diagnostics to stderr. It writes to the streams it
//! holds (`stream`): the process's, or writers handed to it, as the tests below do.
//! Beside it: the progress bar (`progress`) and the escaping adapter for diagnostics
//! (`diagnostic`).

mod diagnostic;
mod progress;
mod stream;

pub use diagnostic::rendered;
pub use progress::{ApplyProgress, PROGRESS_MIN_CHANGES};
pub use stream::{captured, collected, stderr, Buffer, Streams};

use crate::apply::{ApplyReport, Recovered, SpuResult};
use crate::error::{Error, Result};
use crate::model::{ClusterId, Live};
use crate::render;
use crate::report::{ApplyDoc, PlanDoc, RunKind};

/// `-o/--output`: the format of every document a command prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Yaml,
    Markdown,
}

pub use crate::render::style::Style;

/// Where every command's output goes, by format. Clones share their streams.
#[derive(Debug, Clone)]
pub struct Printer {
    pub format: Format,
    pub style: Style,
    /// CI annotations are on.
    pub annotations: bool,
    /// `-q`: no progress bar.
    pub quiet: bool,
    /// Where it writes and whom it asks.
    pub streams: Streams,
}

/// Text, without color, to the process's streams.
impl Default for Printer {
    fn default() -> Self {
        Printer::over(Streams::process())
    }
}

impl Printer {
    /// Text, without color, annotations or `-q`, to `streams`; the other settings as a
    /// struct update: `Printer { format: Format::Json, ..Printer::over(streams) }`.
    pub fn over(streams: Streams) -> Self {
        Printer {
            format: Format::Text,
            style: Style { color: false },
            annotations: false,
            quiet: false,
            streams,
        }
    }

    fn stdout(&self, text: &str) {
        self.streams.out(text);
    }

    fn stderr(&self, text: &str) {
        self.streams.err(text);
    }

    /// True when some output could not be written to stdout.
    pub fn stdout_failed(&self) -> bool {
        self.streams.stdout_failed()
    }

    /// True when stdout stopped only because its reader went away (`| head`).
    pub fn stdout_reader_left(&self) -> bool {
        self.streams.stdout_reader_left()
    }

    /// Data for stdout, whatever the format.
    pub fn data(&self, text: &str) {
        self.stdout(text);
    }

    /// A diagnostic or progress line on stderr. It may quote untrusted text (an SPU's name),
    /// so all but its own leading and trailing line breaks is shown escaped.
    pub fn note(&self, text: &str) {
        self.stderr(&inert_message(text));
    }

    /// `warning: ...` with a `hint: ...` line, on stderr, each escaped as `note` does.
    pub fn warn(&self, message: &str, hint: Option<&str>) {
        let hint = hint.map_or(String::new(), |h| {
            format!("{}\n", self.style.hint(&inert_message(h)))
        });
        self.stderr(&format!(
            "{} {}\n{hint}",
            self.style.warn("warning:"),
            inert_message(message)
        ));
    }

    /// True when the documents printed carry fingerprints (JSON, YAML): those are for
    /// machines, which keep and compare them; text and Markdown leave them out.
    pub fn documents_carry_fingerprints(&self) -> bool {
        matches!(self.format, Format::Json | Format::Yaml)
    }

    /// `value` as a JSON or YAML document on stdout, written as it is serialized; false
    /// (nothing written) in the other formats.
    fn document<T: serde::Serialize + ?Sized>(&self, value: &T) -> bool {
        match self.format {
            Format::Json => self.streams.out_with(|out| render::write_json(out, value)),
            Format::Yaml => self
                .streams
                .out_with(|out| serde_yaml::to_writer(out, value).map_err(std::io::Error::other)),
            Format::Text | Format::Markdown => return false,
        }
        true
    }

    /// A plan in the chosen format, plus its annotations.
    pub fn plan(&self, doc: &PlanDoc) {
        match self.format {
            Format::Text => self.stdout(&render::text::plan(doc, &self.style)),
            Format::Markdown => self.stdout(&render::markdown::plan(doc)),
            Format::Json | Format::Yaml => {
                self.document(doc);
            }
        }
        self.plan_annotations(doc);
    }

    /// Only the text plan: what `apply` shows before it asks or acts (other formats print
    /// one document at the end).
    pub fn plan_if_text(&self, doc: &PlanDoc) {
        if self.format == Format::Text {
            self.stdout(&render::text::plan(doc, &self.style));
        }
    }

    /// Plans of several files, in the order given: one parseable output, a JSON array of
    /// their documents or a YAML stream of documents each opened by `---`; text and
    /// Markdown follow each other. `finish` ends it.
    pub fn plans(&self, count: usize) -> PlanStream<'_> {
        PlanStream {
            printer: self,
            single: count == 1,
            json: Vec::new(),
        }
    }

    /// The plan's annotations, when they are on.
    pub fn plan_annotations(&self, doc: &PlanDoc) {
        if self.annotations {
            self.emit_annotations(&render::annotations::plan(doc));
        }
    }

    /// Workflow commands go to stdout with text output; with the other formats to stderr
    /// (the runner reads both), so a JSON, YAML or Markdown document stays parseable.
    fn emit_annotations(&self, commands: &str) {
        if self.format == Format::Text {
            self.stdout(commands);
        } else {
            self.stderr(commands);
        }
    }

    /// A probe report in the chosen format, plus an annotation per unreachable SPU.
    pub fn probe(&self, doc: &crate::report::ProbeDoc) {
        match self.format {
            Format::Text => self.stdout(&render::probe::text(doc, &self.style)),
            Format::Markdown => self.stdout(&render::probe::markdown(doc)),
            Format::Json | Format::Yaml => {
                self.document(doc);
            }
        }
        if self.annotations {
            self.emit_annotations(&render::probe::annotations(doc));
        }
    }

    /// Profiles of the fluvio config: a table, or JSON / YAML.
    pub fn profiles(&self, views: &[crate::profile::ProfileView]) {
        if !self.document(views) {
            self.stdout(&render::table::profiles(views));
        }
    }

    /// An error on stderr, with its cause chain, once; an invalid file's problems also
    /// become annotations at their lines when annotations are on.
    pub fn error(&self, err: &Error) {
        self.stderr(&rendered(err, &self.style));
        if self.annotations {
            match err {
                Error::Config(errors) => {
                    self.emit_annotations(&render::annotations::config_errors(errors))
                }
                Error::Ownership(errors) => {
                    self.emit_annotations(&render::annotations::ownership(errors))
                }
                _ => {}
            }
        }
    }

    /// Asks for `yes` on a terminal (or a scripted stdin); anything else, or no terminal,
    /// is a refusal.
    pub fn approve(&self, doc: &PlanDoc) -> Result<()> {
        if !self.streams.can_ask() {
            return Err(Error::NoApproval);
        }
        if self.format != Format::Text {
            // stdout carries a document; the person answering still needs to see the plan.
            self.stderr(&render::text::plan(doc, &self.style));
        }
        self.stderr(&format!(
            "\nApply {} local-endpoint change(s) to {}?\nEach one deletes and re-creates its SPU. Only 'yes' will be accepted: ",
            doc.changes.len(),
            doc.cluster
        ));
        let answer = self.streams.read_line().map_err(|_| Error::Cancelled)?;
        if answer.trim() == "yes" {
            Ok(())
        } else {
            Err(Error::Cancelled)
        }
    }

    /// Text output streams each SPU's line to stdout as it happens; other formats keep
    /// stdout for their one document and show progress on stderr.
    pub fn streams_results(&self) -> bool {
        self.format == Format::Text
    }

    /// Announces an apply of `count` changes; with more than a handful, stderr a terminal
    /// and no `-q`, a progress bar on stderr follows them until the guard is dropped.
    pub fn start_apply(&self, count: usize, cluster: &ClusterId) -> ApplyProgress {
        self.note(&format!("Applying {count} change(s) to {cluster}:\n"));
        if !self.quiet && count > PROGRESS_MIN_CHANGES && self.streams.stderr_is_terminal() {
            progress::start(&self.streams, count, self.style.color)
        } else {
            ApplyProgress::none()
        }
    }

    /// One SPU's result, as apply goes.
    pub fn progress(&self, result: &SpuResult) {
        let line = render::text::result_line(result, &self.style);
        let print = || {
            if self.streams_results() {
                self.stdout(&line)
            } else {
                self.stderr(&line)
            }
        };
        match self.streams.progress().bar() {
            Some(bar) => {
                bar.suspend(print);
                bar.inc(1);
            }
            None => print(),
        }
    }

    /// Ctrl-C during an apply: what happens now.
    pub fn interrupted(&self) {
        self.stderr(&self.style.warn(
            "\nInterrupted: finishing the SPU in flight, skipping the rest (Ctrl-C again is ignored until then).\n",
        ));
    }

    /// What recovering an interrupted apply found, on stderr as it happens.
    pub fn recovered(&self, items: &[Recovered]) {
        self.stderr(&render::text::recovered(items, &self.style));
    }

    /// The report of an apply that ran.
    pub fn apply_report(&self, doc: &PlanDoc, report: &ApplyReport) {
        match self.format {
            Format::Text => self.stdout(&render::text::apply_report(
                report,
                &self.style,
                self.streams_results(),
            )),
            Format::Markdown => self.stdout(&render::markdown::apply_report(doc, report)),
            Format::Json | Format::Yaml => {
                self.document(&ApplyDoc::new(doc, report, RunKind::Real));
            }
        }
    }

    /// The document of an apply that did not execute (refused, nothing to change, dry run,
    /// not approved). Text has already shown the plan; Markdown shows the plan, as a PR
    /// comment would, and what recovery did first.
    pub fn unexecuted(&self, doc: &PlanDoc, recovered_first: Vec<Recovered>, run: RunKind) {
        let report = ApplyReport {
            recovered_first,
            ..ApplyReport::default()
        };
        match self.format {
            Format::Text => {}
            Format::Markdown => {
                self.plan(doc);
                self.stdout(&render::markdown::recovered_first(&report.recovered_first));
            }
            Format::Json | Format::Yaml => {
                self.document(&ApplyDoc::new(doc, &report, run));
                self.plan_annotations(doc);
            }
        }
    }

    /// A refused plan from `update-local`: text shows the plan, the other formats the one
    /// apply document they always print.
    pub fn refused_update(&self, doc: &PlanDoc, recovered_first: Vec<Recovered>) {
        if self.format == Format::Text {
            self.plan(doc);
        } else {
            self.unexecuted(doc, recovered_first, RunKind::Real);
        }
    }

    /// How `list` prints in the chosen format (table, JSON or YAML; not Markdown).
    pub fn list_format(&self) -> Result<render::table::ListFormat> {
        use render::table::ListFormat;
        match self.format {
            Format::Text => Ok(ListFormat::Table),
            Format::Json => Ok(ListFormat::Json),
            Format::Yaml => Ok(ListFormat::Yaml),
            Format::Markdown => Err(Error::Usage(crate::error::Usage::ListFormat)),
        }
    }

    /// `list`: the SPU table, or Fluvio-shaped JSON or YAML.
    pub fn list(&self, live: &Live, format: render::table::ListFormat) {
        match format {
            render::table::ListFormat::Table => self.stdout(&render::table::table(live)),
            render::table::ListFormat::Json => self
                .streams
                .out_with(|out| render::listed::write_json(out, live)),
            render::table::ListFormat::Yaml => self
                .streams
                .out_with(|out| render::listed::write_yaml(out, live)),
        }
    }

    /// A warning that an earlier apply on `cluster` left changes unfinished.
    pub fn pending(&self, cluster: &ClusterId, count: usize, journal: &std::path::Path) {
        self.warn(
            &format!(
                "an interrupted apply left {count} change(s) unfinished on {cluster} (journal {}).",
                journal.display()
            ),
            Some("hint: run `fluvio-endpoints recover` (apply also recovers first)"),
        );
    }
}

/// The plans of several files, printed as they come (see `Printer::plans`).
pub struct PlanStream<'a> {
    printer: &'a Printer,
    single: bool,
    json: Vec<PlanDoc>,
}

impl PlanStream<'_> {
    pub fn push(&mut self, doc: &PlanDoc) {
        match self.printer.format {
            Format::Json if !self.single => {
                self.printer.plan_annotations(doc);
                self.json.push(doc.clone());
            }
            Format::Yaml if !self.single => {
                self.printer.stdout("---\n");
                self.printer.plan(doc);
            }
            _ => self.printer.plan(doc),
        }
    }

    pub fn finish(self) {
        if self.printer.format == Format::Json && !self.single {
            self.printer.document(&self.json);
        }
    }
}

/// A one-line message the tool composed: its leading and trailing line breaks are its own,
/// everything between them is shown through `crate::escape::visible`.
fn inert_message(text: &str) -> String {
    let start = text.len() - text.trim_start_matches('\n').len();
    let body = text[start..].trim_end_matches('\n');
    let end = start + body.len();
    format!(
        "{}{}{}",
        &text[..start],
        crate::escape::visible(body),
        &text[end..]
    )
}

#[cfg(test)]
mod tests;
