//! `list`: the SPU table of the original proposal, and Fluvio-shaped JSON/YAML.

use comfy_table::{presets::NOTHING, Table};

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
            s.name.clone(),
            spu.status.label().to_string(),
            s.kind.label().to_string(),
            s.rack.clone().unwrap_or_else(|| "-".into()),
            s.public.to_string(),
            s.private.to_string(),
            s.local.as_ref().map_or("-".to_string(), |l| l.to_string()),
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
            v.profile.clone(),
            v.cluster.clone(),
            v.endpoint.clone().unwrap_or_else(|| "-".into()),
            match v.use_spu_local_address {
                Some(on) => on.to_string(),
                None => "false (not set)".into(),
            },
        ]);
    }
    format!("{table}\n")
}
