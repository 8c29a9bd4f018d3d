//! The zone file: parse (`raw`) then validate (`validate`) into a [`Desired`].
//!
//! Every problem in a file is collected and reported at once, each with its span in the
//! file, so one run of `validate` shows all there is to fix.

pub mod raw;
pub mod schema;
pub mod validate;

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};

use crate::model::Desired;

/// Where a plan's file came from, and its hash (a saved plan refuses a changed file).
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct ConfigRef {
    pub path: String,
    pub sha256: String,
}

impl ConfigRef {
    pub fn of(file: &SourceFile) -> Self {
        use sha2::{Digest, Sha256};
        ConfigRef {
            path: file.name.clone(),
            sha256: hex::encode(Sha256::digest(file.text.as_bytes())),
        }
    }
}

/// One problem in a file, located by byte range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    pub span: Range<usize>,
    pub label: String,
    pub help: Option<String>,
    /// A second place that takes part in the problem (e.g. "first defined here").
    pub related: Option<(Range<usize>, String)>,
}

impl Problem {
    pub fn new(message: impl Into<String>, span: Range<usize>, label: impl Into<String>) -> Self {
        Problem {
            message: message.into(),
            span,
            label: label.into(),
            help: None,
            related: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_related(mut self, span: Range<usize>, label: impl Into<String>) -> Self {
        self.related = Some((span, label.into()));
        self
    }
}

/// A file whose text is kept for diagnostics and for annotations by line.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
    /// Byte offset of each line's start, so locating a span is a binary search, not a scan
    /// (plans of thousands of SPUs locate every change).
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            name: name.into(),
            text,
            line_starts,
        }
    }

    pub fn read(path: &Path) -> std::io::Result<Self> {
        let text = crate::input::read_to_string(path, &crate::input::ZONE_FILE)?;
        Ok(SourceFile::new(path.display().to_string(), text))
    }

    /// 1-based line and column (in bytes) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset);
        (line, offset - self.line_starts[line - 1] + 1)
    }

    /// The longest line, in bytes, that a diagnostic at `span` quotes: the span's own
    /// lines and one more on each side.
    fn widest_quoted_line(&self, span: &Range<usize>) -> usize {
        let first = self.line_col(span.start).0.saturating_sub(1).max(1);
        let last = (self.line_col(span.end).0 + 1).min(self.line_starts.len());
        (first..=last)
            .map(|line| {
                let end = self
                    .line_starts
                    .get(line)
                    .map_or(self.text.len(), |next| next - 1);
                end.saturating_sub(self.line_starts[line - 1])
            })
            .max()
            .unwrap_or(0)
    }
}

/// Every problem found in one file, rendered by miette with the file's text.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{name}: {} in the configuration", plural(self.located.len()))]
#[diagnostic(
    code(endpoints::config::invalid),
    help("fix the problems above; `fluvio-endpoints validate -f FILE` checks a file offline")
)]
pub struct ConfigErrors {
    pub name: String,
    #[source_code]
    pub src: NamedSource<Arc<str>>,
    #[related]
    pub problems: Vec<ProblemDiagnostic>,
    /// The same problems, located by line, for annotations and JSON.
    pub located: Vec<(Problem, usize, usize)>,
}

/// How many problems are rendered with their place in the file.
const MAX_RENDERED: usize = 50;

/// A problem's message past this many characters keeps its start and its end: a value it
/// quotes can be a whole line of the file.
const MAX_MESSAGE: usize = 400;

fn shortened(message: String) -> String {
    let count = message.chars().count();
    if count <= MAX_MESSAGE {
        return message;
    }
    let head: String = message.chars().take(MAX_MESSAGE / 2).collect();
    let tail: String = message.chars().skip(count - MAX_MESSAGE / 4).collect();
    format!(
        "{head} … ({} characters left out) … {tail}",
        count - head.chars().count() - tail.chars().count()
    )
}

/// A problem whose lines are longer than this (a whole file on one line) is not quoted:
/// it names its line and column instead. Its line would fill the screen, and miette cannot
/// lay out a label past column 65,535.
const MAX_QUOTED_LINE: usize = 500;

fn plural(n: usize) -> String {
    if n == 1 {
        "1 problem".to_string()
    } else {
        format!("{n} problems")
    }
}

/// One problem as a miette diagnostic.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{message}")]
pub struct ProblemDiagnostic {
    message: String,
    #[source_code]
    src: NamedSource<Arc<str>>,
    #[label(primary, "{label}")]
    span: Option<SourceSpan>,
    label: String,
    #[label("{related_label}")]
    related: Option<SourceSpan>,
    related_label: String,
    #[help]
    help: Option<String>,
}

impl ConfigErrors {
    pub fn new(file: &SourceFile, mut problems: Vec<Problem>) -> Self {
        problems.sort_by_key(|p| p.span.start);
        // One copy of the text, shared by every problem (a file can have thousands).
        let text: Arc<str> = Arc::from(file.text.as_str());
        // miette prints the name in each snippet's header as given, and a path can hold
        // any character: it is given escaped.
        let src = NamedSource::new(crate::escape::visible(&file.name), text).with_language("TOML");
        let located = problems
            .iter()
            .map(|p| {
                let (line, col) = file.line_col(p.span.start);
                (p.clone(), line, col)
            })
            .collect();
        // Rendering a problem scans the text for its lines: thousands of them would take
        // minutes. The first ones are shown; annotations and `located` keep them all.
        let hidden = problems.len().saturating_sub(MAX_RENDERED);
        let first_hidden = problems.get(MAX_RENDERED).map(|p| p.span.clone());
        let mut problems: Vec<ProblemDiagnostic> = problems
            .into_iter()
            .take(MAX_RENDERED)
            .map(|p| ProblemDiagnostic::new(file, &src, p))
            .collect();
        if let Some(span) = first_hidden {
            problems.push(ProblemDiagnostic::not_shown(file, &src, hidden, span));
        }
        ConfigErrors {
            name: file.name.clone(),
            src,
            problems,
            located,
        }
    }
}

impl SourceFile {
    /// Whether a diagnostic at `span` can quote its lines ([`MAX_QUOTED_LINE`]).
    fn quotes(&self, span: &Range<usize>) -> bool {
        self.widest_quoted_line(span) <= MAX_QUOTED_LINE
    }
}

impl ProblemDiagnostic {
    /// One problem, its lines quoted, or placed in words when a line is too long to quote.
    fn new(file: &SourceFile, src: &NamedSource<Arc<str>>, mut p: Problem) -> Self {
        // (whether the message says its labels, asked before either is shortened)
        let says = |label: &str| p.message.contains(label);
        let says_labels = (
            says(&p.label),
            p.related.as_ref().is_some_and(|(_, l)| says(l)),
        );
        p.message = shortened(p.message);
        p.label = shortened(p.label);
        if let Some((_, label)) = &mut p.related {
            *label = shortened(std::mem::take(label));
        }
        if file.quotes(&p.span) && p.related.as_ref().is_none_or(|(s, _)| file.quotes(s)) {
            return ProblemDiagnostic {
                message: p.message,
                src: src.clone(),
                span: Some(p.span.into()),
                label: p.label,
                related: p.related.as_ref().map(|(s, _)| s.clone().into()),
                related_label: p.related.map(|(_, l)| l).unwrap_or_default(),
                help: p.help,
            };
        }
        // Placed in words instead (with its label, unless the message says it).
        let at = |span: &Range<usize>, label: &str, said: bool| {
            let (line, col) = file.line_col(span.start);
            match said {
                true => format!("line {line}, column {col}"),
                false => format!("line {line}, column {col}: {label}"),
            }
        };
        let mut message = format!("{} (at {}", p.message, at(&p.span, &p.label, says_labels.0));
        if let Some((span, label)) = &p.related {
            message.push_str(&format!("; {}", at(span, label, says_labels.1)));
        }
        message.push_str("; the line is too long to quote)");
        ProblemDiagnostic {
            message,
            src: src.clone(),
            span: None,
            label: String::new(),
            related: None,
            related_label: String::new(),
            help: p.help,
        }
    }

    /// The line that stands for the `hidden` problems past [`MAX_RENDERED`], the first of
    /// them at `span`.
    fn not_shown(
        file: &SourceFile,
        src: &NamedSource<Arc<str>>,
        hidden: usize,
        span: Range<usize>,
    ) -> Self {
        let mut message = format!(
            "and {hidden} more problem{}, not shown here",
            if hidden == 1 { "" } else { "s" }
        );
        if !file.quotes(&span) {
            let (line, col) = file.line_col(span.start);
            message.push_str(&format!(
                " (the first at line {line}, column {col}; the line is too long to quote)"
            ));
        }
        ProblemDiagnostic {
            message,
            src: src.clone(),
            span: file.quotes(&span).then(|| span.into()),
            label: "the first not shown".into(),
            related: None,
            related_label: String::new(),
            help: Some(
                "fix the problems above and validate again; `--annotations github` lists every one"
                    .into(),
            ),
        }
    }
}

/// Parses and validates a file's text.
pub fn load(file: &SourceFile) -> Result<Desired, Box<ConfigErrors>> {
    let (raw, mut problems) = raw::parse(&file.text);
    let desired = raw.map(|raw| validate::validate(&raw, &mut problems));
    match desired {
        Some(desired) if problems.is_empty() => Ok(desired),
        _ => Err(Box::new(ConfigErrors::new(file, problems))),
    }
}
