//! The one place that decides colors and writes to the terminal: data (plans, JSON,
//! tables) to stdout, progress and diagnostics to stderr.

use std::io::{IsTerminal, Write};

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// Semantic styles; plain text when color is off, so output reads the same without it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// Decides once: `--color`, then `NO_COLOR`, then whether stdout is a terminal.
    pub fn detect(choice: ColorChoice) -> Self {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        };
        Style { color }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn added(&self, t: &str) -> String {
        self.paint("32", t)
    }
    pub fn removed(&self, t: &str) -> String {
        self.paint("31", t)
    }
    pub fn changed(&self, t: &str) -> String {
        self.paint("33", t)
    }
    pub fn warn(&self, t: &str) -> String {
        self.paint("33", t)
    }
    pub fn error(&self, t: &str) -> String {
        self.paint("1;31", t)
    }
    pub fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    pub fn hint(&self, t: &str) -> String {
        self.paint("36", t)
    }
}

static STDOUT_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes data to stdout. A failed write (e.g. a closed pipe) is remembered, not fatal:
/// an apply in progress must finish and verify its SPUs whoever stopped reading.
pub fn stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        STDOUT_FAILED.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// True when some output could not be written to stdout.
pub fn stdout_failed() -> bool {
    STDOUT_FAILED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Writes a diagnostic or progress line to stderr.
pub fn stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
}

/// Prints an error with its cause chain, spans and help, once.
pub fn diagnostic(err: &dyn miette::Diagnostic, style: &Style) {
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
    stderr(&text);
}
