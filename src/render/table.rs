//! `list`: the SPU table of the original proposal, and Fluvio-shaped JSON/YAML.

use comfy_table::{presets::NOTHING, Table};

use super::escape::visible;
use crate::cluster::convert::fluvio_json;
use crate::model::Live;

/// `list -O`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ListFormat {
    #[default]
    Table,
    Json,
    Yaml,
}

pub const HEADER: [&str; 8] = [
    "ID", "NAME", "STATUS", "TYPE", "RACK", "PUBLIC", "PRIVATE", "LOCAL",
];

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
            visible(&s.name).into_owned(),
            spu.status.label().to_string(),
            s.kind.label().to_string(),
            s.rack
                .as_deref()
                .map_or("-".into(), |r| visible(r).into_owned()),
            visible(&s.public.to_string()).into_owned(),
            visible(&s.private.to_string()).into_owned(),
            s.local
                .as_ref()
                .map_or("-".to_string(), |l| visible(&l.to_string()).into_owned()),
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
