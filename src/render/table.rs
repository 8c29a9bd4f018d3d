//! `list`: the SPU table of the original proposal, and Fluvio-shaped JSON/YAML.

use std::borrow::Cow;

use comfy_table::{presets::NOTHING, Table};

use crate::escape::visible;
use crate::model::Live;

/// `list -O`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListFormat {
    #[default]
    Table,
    Json,
    Yaml,
}

pub const HEADER: [&str; 8] = [
    "ID", "NAME", "STATUS", "TYPE", "RACK", "PUBLIC", "PRIVATE", "LOCAL",
];

/// The widest a table cell gets, in characters. Every row is as wide as the widest cell of
/// each column, so one SPU named with half a million characters would pad every row of
/// the table to that width; past it a cell ends in `…` (JSON and YAML keep whole values).
const MAX_CELL: usize = 80;

/// Cluster text as a table cell: escaped, then cut at [`MAX_CELL`] (borrowed when it
/// needs neither, as nearly every cell does).
fn cell(text: &str) -> Cow<'_, str> {
    let shown = visible(text);
    // No more bytes than MAX_CELL: no more characters either.
    if shown.len() <= MAX_CELL {
        return shown;
    }
    match shown.char_indices().nth(MAX_CELL - 1) {
        Some((cut, _)) if shown.chars().count() > MAX_CELL => {
            Cow::Owned(format!("{}…", &shown[..cut]))
        }
        _ => shown,
    }
}

/// Each cell of one SPU's row, in order, as shown (escaped, cut), handed to `each` with its
/// column. A value's text is written into `scratch`, so no cell allocates unless it must
/// be escaped or cut.
fn each_cell(spu: &crate::model::LiveSpu, scratch: &mut String, each: &mut dyn FnMut(usize, &str)) {
    use std::fmt::Write;
    let s = &*spu.spec;
    let mut shown = |column: usize, text: &str| each(column, &cell(text));
    scratch.clear();
    let _ = write!(scratch, "{}", s.id);
    shown(0, scratch);
    shown(1, &s.name);
    shown(2, spu.status.label());
    shown(3, s.kind.label());
    shown(4, s.rack.as_deref().unwrap_or("-"));
    scratch.clear();
    let _ = write!(scratch, "{}", s.public);
    shown(5, scratch);
    scratch.clear();
    let _ = write!(scratch, "{}", s.private);
    shown(6, scratch);
    scratch.clear();
    match &s.local {
        Some(local) => {
            let _ = write!(scratch, "{local}");
        }
        None => scratch.push('-'),
    }
    shown(7, scratch);
}

/// `ID NAME STATUS TYPE RACK PUBLIC PRIVATE LOCAL`, sorted by id; `no spu` when empty.
/// Every cell is shown escaped: a newline in a rack cannot break a row.
///
/// Laid out as a borderless table (comfy-table's `NOTHING` preset, trimmed: each cell
/// padded by a space on either side to its column's display width, trailing spaces cut),
/// in one pass over the SPUs (each cell shown once, kept in one string with its width),
/// then the rows straight into one string.
pub fn table(live: &Live) -> String {
    if live.spus.is_empty() {
        return "no spu\n".to_string();
    }
    // The cells, shown, one after the other in `shown`; each one's end and width.
    let mut scratch = String::new();
    let mut shown = String::new();
    let mut cells: Vec<(usize, usize)> = Vec::with_capacity(live.spus.len() * HEADER.len());
    let mut widths = HEADER.map(width_of);
    for spu in live.spus.values() {
        each_cell(spu, &mut scratch, &mut |column, cell| {
            let width = width_of(cell);
            widths[column] = widths[column].max(width);
            shown.push_str(cell);
            cells.push((shown.len(), width));
        });
    }
    let line = widths.iter().map(|w| w + 2).sum::<usize>() + 1;
    let mut text = String::with_capacity(line * (live.spus.len() + 1));
    let row = |text: &mut String, cells: &mut dyn Iterator<Item = (&str, usize)>| {
        for ((cell, width), column) in cells.zip(widths) {
            text.push(' ');
            text.push_str(cell);
            text.extend(std::iter::repeat_n(' ', column - width + 1));
        }
        text.truncate(text.trim_end_matches(' ').len());
        text.push('\n');
    };
    row(&mut text, &mut HEADER.iter().map(|h| (*h, width_of(h))));
    let mut from = 0;
    for spu_cells in cells.chunks(HEADER.len()) {
        row(
            &mut text,
            &mut spu_cells.iter().map(|&(end, width)| {
                let cell = &shown[from..end];
                from = end;
                (cell, width)
            }),
        );
    }
    text
}

/// The display width of a cell (escaped: no control characters, so ASCII is one column
/// a byte).
fn width_of(cell: &str) -> usize {
    use unicode_width::UnicodeWidthStr;
    if cell.is_ascii() {
        cell.len()
    } else {
        cell.width()
    }
}

/// `profile show`: `PROFILE CLUSTER ENDPOINT USE_SPU_LOCAL_ADDRESS`, the current one starred.
pub fn profiles(views: &[crate::profile::ProfileView]) -> String {
    let mut table = Table::new();
    table.load_preset(NOTHING).set_header([
        "",
        "PROFILE",
        "CLUSTER",
        "ENDPOINT",
        "USE_SPU_LOCAL_ADDRESS",
    ]);
    for v in views {
        table.add_row([
            if v.current { "*" } else { "" }.to_string(),
            visible(&v.profile).into_owned(),
            visible(&v.cluster).into_owned(),
            v.endpoint
                .as_deref()
                .map_or("-".into(), |e| visible(e).into_owned()),
            match v.use_spu_local_address {
                Some(on) => on.to_string(),
                None => "false (not set)".into(),
            },
        ]);
    }
    format!("{table}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SpuKind;
    use crate::plan::tests::spec;

    /// The table as comfy-table lays it out with the `NOTHING` preset, trimmed.
    fn comfy(live: &Live) -> String {
        let mut table = Table::new();
        table.load_preset(NOTHING).set_header(HEADER);
        let mut scratch = String::new();
        for spu in live.spus.values() {
            let mut cells = Vec::new();
            each_cell(spu, &mut scratch, &mut |_, cell| {
                cells.push(cell.to_string())
            });
            table.add_row(cells);
        }
        format!("{}\n", table.trim_fmt())
    }

    #[test]
    fn the_table_is_laid_out_as_a_borderless_comfy_table() {
        let mut wide = spec(1, SpuKind::Custom, None);
        std::sync::Arc::make_mut(&mut wide.spec).name =
            "spu-\u{5bbd}\u{5e45}-\u{e9}\u{1b}[31m".into();
        std::sync::Arc::make_mut(&mut wide.spec).rack = Some("rack one".into());
        let mut long = spec(2, SpuKind::Managed, None);
        std::sync::Arc::make_mut(&mut long.spec).name = "n".repeat(300);
        let live = Live::from_specs(
            [wide, long]
                .into_iter()
                .chain((3..40).map(|id| spec(id, SpuKind::Custom, None))),
        );
        assert_eq!(table(&live), comfy(&live));
        let one = Live::from_specs(std::iter::once(spec(7, SpuKind::Custom, None)));
        assert_eq!(table(&one), comfy(&one));
    }

    #[test]
    fn a_cell_past_its_width_ends_in_an_ellipsis_and_the_rows_stay_narrow() {
        assert_eq!(cell("custom-spu-5001"), "custom-spu-5001");
        assert_eq!(cell(&"n".repeat(MAX_CELL)), "n".repeat(MAX_CELL));
        let long = cell(&"é".repeat(MAX_CELL + 1)).into_owned();
        assert_eq!(long, format!("{}…", "é".repeat(MAX_CELL - 1)));
        assert_eq!(long.chars().count(), MAX_CELL);
        // escaped first, then cut: an escape is never cut in half unseen
        assert!(cell(&"\u{1b}".repeat(200)).starts_with("\\e\\e"));

        let mut huge = spec(1, SpuKind::Custom, None);
        std::sync::Arc::make_mut(&mut huge.spec).name = "x".repeat(500_000);
        let live = Live::from_specs(
            std::iter::once(huge).chain((2..200).map(|id| spec(id, SpuKind::Custom, None))),
        );
        let text = table(&live);
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(widest < 300, "a row of {widest} characters");
    }
}
