//! The escaping adapter for diagnostics: an error's messages may quote a cluster's text (an
//! SPU's name, an SC's error), so every message, cause, help and label is shown through
//! `crate::escape::visible` before miette renders it.

use super::Style;

/// A diagnostic as the printer shows it: its cause chain, spans and help, once, each text
/// escaped.
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
