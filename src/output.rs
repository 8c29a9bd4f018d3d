//! The one printer: it alone decides colors, which stream a document goes to for each
//! `--output` format, annotations, the approval prompt and progress. Data (plans, JSON,
//! tables) to stdout; progress and diagnostics to stderr.

use std::io::{BufRead, IsTerminal, Write};

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

/// Where every command's output goes, by format.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub format: Format,
    pub style: Style,
    /// CI annotations are on.
    pub annotations: bool,
    /// `-q`: no progress bar.
    pub quiet: bool,
}

/// Applies with more changes than this show a progress bar (on a terminal).
pub const PROGRESS_MIN_CHANGES: usize = 5;

/// The progress bar of the apply under way, if it shows one. Result lines are printed
/// through it, so that the bar stays below them.
static PROGRESS: std::sync::Mutex<Option<indicatif::ProgressBar>> = std::sync::Mutex::new(None);

fn progress_bar() -> Option<indicatif::ProgressBar> {
    PROGRESS.lock().ok().and_then(|bar| bar.clone())
}

/// Ends the apply's progress bar when dropped (also on an early return).
#[must_use = "the progress bar ends when this is dropped"]
pub struct ApplyProgress(());

impl Drop for ApplyProgress {
    fn drop(&mut self) {
        if let Some(bar) = PROGRESS.lock().ok().and_then(|mut bar| bar.take()) {
            bar.finish_and_clear();
        }
    }
}

impl Printer {
    /// Data for stdout, whatever the format.
    pub fn data(&self, text: &str) {
        stdout(text);
    }

    /// A diagnostic or progress line on stderr. It may quote untrusted text (an SPU's name),
    /// so all but its own leading and trailing line breaks is shown escaped.
    pub fn note(&self, text: &str) {
        stderr(&inert_message(text));
    }

    /// `warning: ...` with a `hint: ...` line, on stderr, each escaped as `note` does.
    pub fn warn(&self, message: &str, hint: Option<&str>) {
        let hint = hint.map_or(String::new(), |h| {
            format!("{}\n", self.style.hint(&inert_message(h)))
        });
        stderr(&format!(
            "{} {}\n{hint}",
            self.style.warn("warning:"),
            inert_message(message)
        ));
    }

    /// True when the documents printed carry fingerprints (JSON, YAML): those are for
    /// machines, which keep and compare them.
    pub fn documents_are_kept(&self) -> bool {
        matches!(self.format, Format::Json | Format::Yaml)
    }

    fn serialize<T: serde::Serialize>(&self, value: &T) -> Option<String> {
        match self.format {
            Format::Json => Some(render::json(value)),
            Format::Yaml => Some(serde_yaml::to_string(value).expect("documents serialize")),
            Format::Text | Format::Markdown => None,
        }
    }

    /// A plan in the chosen format, plus its annotations.
    pub fn plan(&self, doc: &PlanDoc) {
        let text = match self.format {
            Format::Text => render::text::plan(doc, &self.style),
            Format::Markdown => render::markdown::plan(doc),
            Format::Json | Format::Yaml => self.serialize(doc).expect("a document format"),
        };
        stdout(&text);
        self.plan_annotations(doc);
    }

    /// Only the text plan: what `apply` shows before it asks or acts (other formats print
    /// one document at the end).
    pub fn plan_if_text(&self, doc: &PlanDoc) {
        if self.format == Format::Text {
            stdout(&render::text::plan(doc, &self.style));
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
            stdout(commands);
        } else {
            stderr(commands);
        }
    }

    /// A probe report in the chosen format, plus an annotation per unreachable SPU.
    pub fn probe(&self, doc: &crate::probe::ProbeDoc) {
        let text = match self.format {
            Format::Text => render::probe::text(doc, &self.style),
            Format::Markdown => render::probe::markdown(doc),
            Format::Json | Format::Yaml => self.serialize(doc).expect("a document format"),
        };
        stdout(&text);
        if self.annotations {
            self.emit_annotations(&render::probe::annotations(doc));
        }
    }

    /// Profiles of the fluvio config: a table, or JSON / YAML.
    pub fn profiles(&self, views: &[crate::profile::ProfileView]) {
        let text = match self.serialize(&views) {
            Some(text) => text,
            None => render::table::profiles(views),
        };
        stdout(&text);
    }

    /// An error on stderr, with its cause chain, once; an invalid file's problems also
    /// become annotations at their lines when annotations are on.
    pub fn error(&self, err: &Error) {
        diagnostic(err, &self.style);
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

    /// Asks for `yes` on a terminal; anything else, or no terminal, is a refusal.
    pub fn approve(&self, doc: &PlanDoc) -> Result<()> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Err(Error::NoApproval);
        }
        if self.format != Format::Text {
            // stdout carries a document; the person answering still needs to see the plan.
            stderr(&render::text::plan(doc, &self.style));
        }
        stderr(&format!(
            "\nApply {} local-endpoint change(s) to {}?\nEach one deletes and re-creates its SPU. Only 'yes' will be accepted: ",
            doc.changes.len(),
            doc.cluster
        ));
        let mut answer = String::new();
        stdin
            .lock()
            .read_line(&mut answer)
            .map_err(|_| Error::Cancelled)?;
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
        if !self.quiet && count > PROGRESS_MIN_CHANGES && std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(count as u64);
            let template = if self.style.color {
                "{spinner:.cyan} [{bar:30.cyan/blue}] {pos}/{len} changes {elapsed}"
            } else {
                "{spinner} [{bar:30}] {pos}/{len} changes {elapsed}"
            };
            if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.tick();
            if let Ok(mut slot) = PROGRESS.lock() {
                *slot = Some(bar);
            }
        }
        ApplyProgress(())
    }

    /// One SPU's result, as apply goes.
    pub fn progress(&self, result: &SpuResult) {
        let line = render::text::result_line(result, &self.style);
        let print = || {
            if self.streams_results() {
                stdout(&line)
            } else {
                stderr(&line)
            }
        };
        match progress_bar() {
            Some(bar) => {
                bar.suspend(print);
                bar.inc(1);
            }
            None => print(),
        }
    }

    /// What recovering an interrupted apply found, on stderr as it happens.
    pub fn recovered(&self, items: &[Recovered]) {
        stderr(&render::text::recovered(items, &self.style));
    }

    /// The report of an apply that ran.
    pub fn apply_report(&self, doc: &PlanDoc, report: &ApplyReport) {
        let text = match self.format {
            Format::Text => render::text::apply_report(report, &self.style, self.streams_results()),
            Format::Markdown => render::markdown::apply_report(doc, report),
            Format::Json | Format::Yaml => self
                .serialize(&ApplyDoc::new(doc, report, RunKind::Real))
                .expect("a document format"),
        };
        stdout(&text);
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
                stdout(&render::markdown::recovered_first(&report.recovered_first));
            }
            Format::Json | Format::Yaml => {
                let document = ApplyDoc::new(doc, &report, run);
                stdout(&self.serialize(&document).expect("a document format"));
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
        stdout(&render::table::render(live, format));
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
                stdout("---\n");
                self.printer.plan(doc);
            }
            _ => self.printer.plan(doc),
        }
    }

    pub fn finish(self) {
        if self.printer.format == Format::Json && !self.single {
            stdout(&render::json(&self.json));
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

/// The first error a write to stdout met.
static STDOUT_ERROR: std::sync::OnceLock<std::io::ErrorKind> = std::sync::OnceLock::new();

tokio::task_local! {
    /// Where stdout goes inside [`collected`]: one file's part of a run of several, kept
    /// to be printed in the order the files were given.
    static STDOUT_SINK: std::cell::RefCell<String>;
}

/// Runs `work` with its stdout kept instead of printed; returns its result and what it
/// printed. Stderr (progress, notes, diagnostics) goes out as it comes.
pub async fn collected<T>(work: impl std::future::Future<Output = T>) -> (T, String) {
    STDOUT_SINK
        .scope(std::cell::RefCell::new(String::new()), async {
            let result = work.await;
            let kept = STDOUT_SINK.with(|sink| sink.take());
            (result, kept)
        })
        .await
}

/// Writes data to stdout (inside [`collected`], to what it keeps). A failed write (e.g. a
/// closed pipe) is remembered, not fatal: an apply in progress must finish and verify its
/// SPUs whoever stopped reading.
pub fn stdout(text: &str) {
    if STDOUT_SINK
        .try_with(|sink| sink.borrow_mut().push_str(text))
        .is_ok()
    {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        let _ = STDOUT_ERROR.set(e.kind());
    }
}

/// True when some output could not be written to stdout.
pub fn stdout_failed() -> bool {
    STDOUT_ERROR.get().is_some()
}

/// True when the output stopped only because its reader went away (a closed pipe, as
/// after `| head`), not for another error such as a full disk.
pub fn stdout_reader_left() -> bool {
    STDOUT_ERROR.get() == Some(&std::io::ErrorKind::BrokenPipe)
}

tokio::task_local! {
    /// Where stderr goes inside [`captured`].
    static STDERR_SINK: std::cell::RefCell<String>;
}

/// Runs `work` with both its stdout and its stderr kept instead of printed (the reconcile
/// agent logs what an apply it runs would have printed); returns its result, its stdout
/// and its stderr.
pub async fn captured<T>(work: impl std::future::Future<Output = T>) -> (T, String, String) {
    STDERR_SINK
        .scope(std::cell::RefCell::new(String::new()), async {
            let (result, out) = collected(work).await;
            let err = STDERR_SINK.with(|sink| sink.take());
            (result, out, err)
        })
        .await
}

/// Writes a diagnostic or progress line to stderr (inside [`captured`], to what it keeps).
pub fn stderr(text: &str) {
    if STDERR_SINK
        .try_with(|sink| sink.borrow_mut().push_str(text))
        .is_ok()
    {
        return;
    }
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
}

/// Prints an error with its cause chain, spans and help, once. Messages may quote a
/// cluster's text (an SPU's name, an SC's error), so every message, cause, help and label
/// is shown through `crate::escape::visible` first.
pub fn diagnostic(err: &dyn miette::Diagnostic, style: &Style) {
    stderr(&rendered(err, style));
}

/// A diagnostic as [`diagnostic`] prints it.
pub fn rendered(err: &dyn miette::Diagnostic, style: &Style) -> String {
    let err = &Shown::of(err);
    let theme = if style.color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let mut text = String::new();
    if handler.render_report(&mut text, err).is_err() {
        text = format!("error: {err}\n");
    }
    text
}

/// A diagnostic as printed: the same spans, codes and source, every text escaped.
#[derive(Debug)]
struct Shown<'a> {
    inner: &'a dyn miette::Diagnostic,
    message: String,
    help: Option<String>,
    cause: Option<Box<Shown<'a>>>,
    plain_cause: Option<Box<ShownCause>>,
    related: Vec<Shown<'a>>,
}

/// A plain error in a cause chain, escaped.
#[derive(Debug)]
struct ShownCause {
    message: String,
    source: Option<Box<ShownCause>>,
}

fn shown_text(text: &str) -> String {
    crate::escape::visible(text).into_owned()
}

impl ShownCause {
    fn of(err: &(dyn std::error::Error + 'static)) -> Self {
        ShownCause {
            message: shown_text(&err.to_string()),
            source: err.source().map(|s| Box::new(ShownCause::of(s))),
        }
    }
}

impl std::fmt::Display for ShownCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ShownCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as _)
    }
}

impl<'a> Shown<'a> {
    fn of(inner: &'a dyn miette::Diagnostic) -> Self {
        let cause = inner.diagnostic_source().map(|d| Box::new(Shown::of(d)));
        let plain_cause = match cause {
            Some(_) => None,
            None => inner.source().map(|s| Box::new(ShownCause::of(s))),
        };
        Shown {
            inner,
            message: shown_text(&inner.to_string()),
            help: inner.help().map(|h| shown_text(&h.to_string())),
            cause,
            plain_cause,
            related: inner
                .related()
                .map(|r| r.map(Shown::of).collect())
                .unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Shown<'_> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.plain_cause.as_deref().map(|s| s as _)
    }
}

impl miette::Diagnostic for Shown<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.inner.code()
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.inner.severity()
    }
    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }
    fn url<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.inner.url()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.inner.source_code()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.inner.labels().map(|labels| {
            Box::new(labels.map(|l| {
                let text = l.label().map(shown_text);
                if l.primary() {
                    miette::LabeledSpan::new_primary_with_span(text, *l.inner())
                } else {
                    miette::LabeledSpan::new_with_span(text, *l.inner())
                }
            })) as Box<dyn Iterator<Item = miette::LabeledSpan>>
        })
    }
    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn miette::Diagnostic> + 'b>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related.iter().map(|r| r as &dyn miette::Diagnostic),
            ))
        }
    }
    fn diagnostic_source(&self) -> Option<&dyn miette::Diagnostic> {
        self.cause.as_deref().map(|c| c as _)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_keep_their_own_line_breaks_and_escape_the_rest() {
        assert_eq!(super::inert_message("\nDone.\n"), "\nDone.\n");
        assert_eq!(
            super::inert_message("SPU 1 (a\n::error::x\u{1b}[2J) done\n"),
            "SPU 1 (a\\n::error::x\\e[2J) done\n"
        );
        assert_eq!(super::inert_message(""), "");
    }
}
