//! Rendering: plans, apply reports and SPU lists as text, JSON, Markdown, tables and CI
//! annotations. Renderers build strings; `output::Printer` decides where they go.

pub mod annotations;
/// The escaping rule lives below every layer (`crate::escape`); the old path still names it.
pub use crate::escape;
pub mod listed;
pub mod markdown;
pub mod probe;
pub mod style;
pub mod table;
pub mod text;

/// Pretty JSON with a trailing newline. JSON escapes the control characters below U+0020
/// itself; the others it leaves raw (DEL, C1 controls, bidirectional formatting, line
/// separators) are escaped here too (`\u202e`). They occur only inside strings, so the
/// document parses to the exact values and still shows inert in a log.
pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::new();
    write_json(&mut out, value).expect("documents serialize");
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// [`json`], written into `out` as it is serialized: a document of megabytes (a plan or
/// a list of 10,000 SPUs) is never held whole.
pub fn write_json<T: serde::Serialize + ?Sized, W: std::io::Write>(
    out: &mut W,
    value: &T,
) -> std::io::Result<()> {
    let mut serializer = serde_json::Serializer::with_formatter(
        &mut *out,
        Inert(serde_json::ser::PrettyFormatter::new()),
    );
    value
        .serialize(&mut serializer)
        .map_err(std::io::Error::from)?;
    out.write_all(b"\n")
}

/// A JSON formatter that writes string contents with the raw characters of [`json`]
/// escaped, and leaves everything else to the pretty formatter it wraps.
struct Inert<F>(F);

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for Inert<F> {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        // Below DEL no character is raw: plain ASCII, the usual text, goes out at once.
        if fragment.bytes().all(|b| b < 0x7f) {
            return writer.write_all(fragment.as_bytes());
        }
        let mut from = 0;
        for (at, c) in fragment.char_indices() {
            if c >= '\u{7f}' && crate::escape::needs_escape(c) {
                writer.write_all(&fragment.as_bytes()[from..at])?;
                for unit in c.encode_utf16(&mut [0; 2]) {
                    write!(writer, "\\u{unit:04x}")?;
                }
                from = at + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[from..])
    }

    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_escapes_the_raw_characters_inside_strings_and_parses_back() {
        let values = [
            "plain",
            "é, 宽, 😀 stay as they are",
            "\u{7f}\u{85}\u{9f} controls",
            "\u{202e}evil\u{2066}\u{2069}\u{200e}\u{200f}\u{61c}",
            "lines\u{2028}and\u{2029}paragraphs",
            "\u{1b}[31m\n\t\"quoted\"\\",
        ];
        let doc = serde_json::json!({ "key\u{202e}": values, "n": 1 });
        let text = super::json(&doc);
        assert!(text.ends_with("}\n"), "{text}");
        assert!(
            !text
                .chars()
                .any(|c| c >= '\u{7f}' && crate::escape::needs_escape(c)),
            "{text}"
        );
        assert!(
            text.contains("\\u202eevil\\u2066") && text.contains("😀"),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, doc);
        // without raw characters, exactly serde_json's pretty form
        let tame = serde_json::json!({ "b": ["é", "x"], "a": { "c": null } });
        assert_eq!(
            super::json(&tame),
            format!("{}\n", serde_json::to_string_pretty(&tame).unwrap())
        );
    }
}
