//! A zone file's text: parse and validate (`config::load`), then what a user sees of the
//! outcome: the rendered problems and their annotations, or a plan against an empty cluster.
#![no_main]

use fluvio_endpoints::config::{self, SourceFile};
use fluvio_endpoints::model::{
    ClusterId, Encryption, Endpoint, Ingress, Live, LiveSpu, SpuId, SpuKind, SpuSpec, SpuState,
};
use fluvio_endpoints::output::Style;
use fluvio_endpoints::report::PlanDoc;
use libfuzzer_sys::fuzz_target;

fn live_spu(id: SpuId) -> LiveSpu {
    LiveSpu {
        spec: SpuSpec {
            name: format!("custom-spu-{id}"),
            id,
            kind: SpuKind::Custom,
            public: Ingress {
                port: 9010,
                addrs: vec![],
                encryption: Encryption::Plaintext,
            },
            private: Endpoint {
                host: "localhost".into(),
                port: 9011,
                encryption: Encryption::Plaintext,
            },
            rack: None,
            local: None,
        },
        status: SpuState::Online,
    }
}

fuzz_target!(|data: &[u8]| {
    // The reader refuses text that is not UTF-8 before parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = SourceFile::new("zone.toml", text);
    match config::load(&file) {
        Ok(desired) => {
            let plan = fluvio_endpoints::plan::plan(&desired, &Live::default());
            assert!(plan.changes.is_empty(), "an empty cluster has nothing to change");
            // A cluster holding every SPU the file names: plan, render, apply in memory,
            // and plan again, which must find nothing left to change.
            let live = Live::from_specs(desired.spus.keys().map(|&id| live_spu(id)));
            let plan = fluvio_endpoints::plan::plan(&desired, &live);
            let applied = Live::from_specs(live.spus.values().map(|spu| LiveSpu {
                spec: plan
                    .changes
                    .iter()
                    .find(|c| c.id == spu.spec.id)
                    .map_or_else(|| spu.spec.clone(), |c| c.next.clone()),
                status: spu.status,
            }));
            let doc = PlanDoc::new(plan, &ClusterId::MetadataDir("/fuzz".into()), None, Some((&file, &desired)));
            let _ = fluvio_endpoints::render::text::plan(&doc, &Style { color: false });
            let _ = fluvio_endpoints::render::markdown::plan(&doc);
            let _ = fluvio_endpoints::render::annotations::plan(&doc);
            let again = fluvio_endpoints::plan::plan(&desired, &applied);
            assert!(again.changes.is_empty(), "apply then plan is empty: {again:?}");
        }
        Err(errors) => {
            assert!(!errors.located.is_empty(), "a refused file names a problem");
            for (problem, line, col) in &errors.located {
                assert!(problem.span.start <= problem.span.end);
                assert!(problem.span.end <= text.len(), "a span inside the file");
                assert!(*line >= 1 && *col >= 1);
            }
            let handler =
                miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                    .with_width(100);
            let mut out = String::new();
            handler
                .render_report(&mut out, &*errors)
                .expect("problems render");
            let _ = fluvio_endpoints::render::annotations::config_errors(&errors);
        }
    }
});
