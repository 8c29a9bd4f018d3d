//! The one rule for untrusted text (anything a cluster, a metadata directory, a saved plan
//! or a journal holds) in human-readable output: it stays on its line and shows what it is.
//!
//! - [`visible`]: control characters (`\e`, `\n`, `\r`, `\t`, `\0`, other `\u{..}`), Unicode
//!   line and paragraph separators and bidirectional overrides and isolates are written as
//!   escapes, so a value cannot move the cursor, recolor the terminal, reorder what is shown,
//!   or begin a line of its own (and so never a CI workflow command such as `::error::`).
//! - [`md_code`] / [`md_text`]: the same, plus what would break a Markdown table cell.
//!
//! JSON and YAML carry the exact value; only the human formats escape.

use std::borrow::Cow;

/// Bidirectional formatting characters that reorder how a line is shown.
fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// True when `c` is written as an escape by [`visible`].
pub fn needs_escape(c: char) -> bool {
    c.is_control() || is_bidi(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\u{1b}' => out.push_str("\\e"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

/// Untrusted text on one line, every control or reordering character shown as an escape.
pub fn visible(text: &str) -> Cow<'_, str> {
    // Printable ASCII, the usual case, needs no look at characters.
    if text.bytes().all(|b| (b' '..=b'~').contains(&b)) || !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Like [`visible`], but keeps `\n` and `\r` for a caller that escapes line breaks its own
/// way (workflow commands write them as `%0A`, `%0D`).
pub fn visible_keeping_breaks(text: &str) -> Cow<'_, str> {
    if !text
        .chars()
        .any(|c| needs_escape(c) && c != '\n' && c != '\r')
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) && c != '\n' && c != '\r' {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Untrusted text as a Markdown code span inside a table cell: visible, `|` escaped (GFM
/// splits cells before it reads code spans), backticks replaced so the span cannot close.
pub fn md_code(text: &str) -> String {
    format!("`{}`", visible(text).replace('`', "'").replace('|', "\\|"))
}

/// Untrusted text as Markdown prose (a cell, a list item, a quote): visible, and nothing
/// in it opens HTML, a code span or a new cell.
pub fn md_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in visible(text).chars() {
        match c {
            '|' => out.push_str("\\|"),
            '`' => out.push_str("\\`"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_shown() {
        assert_eq!(visible("plain"), "plain");
        assert!(matches!(visible("plain"), Cow::Borrowed(_)));
        assert_eq!(visible("evil\x1b[2J\x1b[31mname"), "evil\\e[2J\\e[31mname");
        assert_eq!(visible("r1\n::error::x"), "r1\\n::error::x");
        assert_eq!(visible("a\r\tb\0\u{7f}\u{85}"), "a\\r\\tb\\0\\u{7f}\\u{85}");
        assert_eq!(visible("x\u{202e}y\u{2066}z"), "x\\u{202e}y\\u{2066}z");
        assert_eq!(visible("l\u{2028}p"), "l\\u{2028}p");
        assert_eq!(visible("ünïcode ✓"), "ünïcode ✓");
        assert_eq!(visible_keeping_breaks("a\n\x1bb"), "a\n\\eb");
    }

    #[test]
    fn markdown_cells_stay_cells() {
        assert_eq!(md_code("a|b`c\nd"), "`a\\|b'c\\nd`");
        assert_eq!(md_text("<!-- x --> | `y`"), "&lt;!-- x --&gt; \\| \\`y\\`");
    }
}
