//! `export`: a zone file from the live cluster. Planning it right back is empty.

use crate::cli::ExportArgs;
use crate::commands::{Ctx, Outcome};
use crate::config::schema::{
    ClusterTable, EncryptionName, LocalTable, LocalValue, SpuEntry, ZoneFile,
};
use crate::error::{Error, Result};
use crate::model::{ClusterSel, Encryption, Live, SpuKind};
use crate::target::Target;

fn encryption(e: Encryption) -> EncryptionName {
    match e {
        Encryption::Plaintext => EncryptionName::Plaintext,
        Encryption::Ssl => EncryptionName::Ssl,
    }
}

/// Every custom SPU with its local endpoint, and its name/public/private/rack as assertions.
pub fn zone_file(live: &Live, cluster: Option<ClusterTable>) -> ZoneFile {
    let spu = live
        .spus
        .values()
        .filter(|s| s.spec.kind == SpuKind::Custom)
        .map(|s| {
            let spec = &s.spec;
            let local = match &spec.local {
                None => LocalValue::Text("none".into()),
                Some(l) if l.encryption == spec.public.encryption => {
                    LocalValue::Text(crate::model::host_port(&l.host, l.port))
                }
                Some(l) => LocalValue::Table(LocalTable {
                    host: l.host.clone(),
                    port: Some(l.port),
                    encryption: Some(encryption(l.encryption)),
                }),
            };
            SpuEntry {
                id: spec.id,
                local,
                name: Some(spec.name.clone()),
                // Written the way a zone file must spell them, so planning back is empty.
                public: spec.public.assertion(),
                private: (!spec.private.host.is_empty())
                    .then(|| crate::model::host_port(&spec.private.host, spec.private.port)),
                rack: spec.rack.clone(),
            }
        })
        .collect();
    ZoneFile {
        cluster,
        policy: None,
        spu,
    }
}

pub async fn run(ctx: &Ctx, args: &ExportArgs) -> Result<Outcome> {
    let mut target = ctx.open_target(&ClusterSel::default(), false).await?;
    ctx.warn_pending(&target);
    let live = target.read().await.map_err(Error::from_target)?;
    let cluster = match (&ctx.global.cluster, &ctx.global.profile) {
        (Some(endpoint), _) => Some(ClusterTable {
            profile: None,
            endpoint: Some(endpoint.clone()),
        }),
        (None, Some(profile)) => Some(ClusterTable {
            profile: Some(profile.clone()),
            endpoint: None,
        }),
        _ => None,
    };
    let body = toml::to_string(&zone_file(&live, cluster)).expect("zone files serialize");
    let text = format!(
        "#:schema {}\n# Exported by fluvio-endpoints {} from {}.\n\n{body}",
        args.schema,
        env!("CARGO_PKG_VERSION"),
        target.identity()
    );
    match &args.out {
        None => crate::output::stdout(&text),
        Some(path) => {
            std::fs::write(path, text).map_err(|source| Error::WriteFile {
                path: path.clone(),
                source,
            })?;
            crate::output::stderr(&format!("Wrote {}.\n", path.display()));
        }
    }
    Ok(Outcome::default())
}
