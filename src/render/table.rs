//! `list`: the SPU table of the original proposal, and Fluvio-shaped JSON/YAML.

use comfy_table::{presets::NOTHING, Table};

use crate::cluster::convert::fluvio_json;
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

/// Cluster text as a table cell: escaped, then cut at [`MAX_CELL`].
fn cell(text: &str) -> String {
    let shown = visible(text);
    match shown.char_indices().nth(MAX_CELL - 1) {
        Some((cut, _)) if shown.chars().count() > MAX_CELL => format!("{}…", &shown[..cut]),
        _ => shown.into_owned(),
    }
}

/// `ID NAME STATUS TYPE RACK PUBLIC PRIVATE LOCAL`, sorted by id; `no spu` when empty.
/// Every cell is shown escaped: a newline in a rack cannot break a row.
pub fn table(live: &Live) -> String {
    if live.spus.is_empty() {
        return "no spu\n".to_string();
    }
    let mut table = Table::new();
    table.load_preset(NOTHING).set_header(HEADER);
    for spu in live.spus.values() {
        let s = &spu.spec;
        table.add_row(vec![
            s.id.to_string(),
            cell(&s.name),
            spu.status.label().to_string(),
            s.kind.label().to_string(),
            s.rack.as_deref().map_or("-".into(), cell),
            cell(&s.public.to_string()),
            cell(&s.private.to_string()),
            s.local
                .as_ref()
                .map_or("-".to_string(), |l| cell(&l.to_string())),
        ]);
    }
    let mut text = table.trim_fmt();
    text.push('\n');
    text
}

pub fn render(live: &Live, format: ListFormat) -> String {
    let items = || live.spus.values().map(fluvio_json).collect::<Vec<_>>();
    match format {
        ListFormat::Table => table(live),
        ListFormat::Json => super::json(&items()),
        ListFormat::Yaml => serde_yaml::to_string(&items()).expect("SPUs serialize"),
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

    #[test]
    fn a_cell_past_its_width_ends_in_an_ellipsis_and_the_rows_stay_narrow() {
        assert_eq!(cell("custom-spu-5001"), "custom-spu-5001");
        assert_eq!(cell(&"n".repeat(MAX_CELL)), "n".repeat(MAX_CELL));
        let long = cell(&"é".repeat(MAX_CELL + 1));
        assert_eq!(long, format!("{}…", "é".repeat(MAX_CELL - 1)));
        assert_eq!(long.chars().count(), MAX_CELL);
        // escaped first, then cut: an escape is never cut in half unseen
        assert!(cell(&"\u{1b}".repeat(200)).starts_with("\\e\\e"));

        let mut huge = spec(1, SpuKind::Custom, None);
        huge.spec.name = "x".repeat(500_000);
        let live = Live::from_specs(
            std::iter::once(huge).chain((2..200).map(|id| spec(id, SpuKind::Custom, None))),
        );
        let text = table(&live);
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(widest < 300, "a row of {widest} characters");
    }
}
