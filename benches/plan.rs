//! The pure stages, no network: parse + validate a zone file, diff it against a live
//! cluster, and build the plan document. Run: `cargo bench --bench plan`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use fluvio_endpoints::config::{self, SourceFile};
use fluvio_endpoints::model::ClusterId;
use fluvio_endpoints::output::Style;
use fluvio_endpoints::report::PlanDoc;

mod common;

fn source(n: usize) -> SourceFile {
    SourceFile::new(
        format!("zone-{n}.toml"),
        common::zone_file(n, Some("127.0.0.1:9003"), "host.docker.internal"),
    )
}

fn stages(c: &mut Criterion) {
    let mut group = c.benchmark_group("pure");
    group.sample_size(20);
    for n in [100usize, 1_000, 10_000] {
        let file = source(n);
        let live = common::live(n);
        let desired = config::load(&file).expect("the generated file is valid");
        let plan = fluvio_endpoints::plan::plan(&desired, &live);
        assert_eq!(plan.changes.len(), n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("validate", n), &file, |b, file| {
            b.iter(|| config::load(black_box(file)).expect("valid"))
        });
        group.bench_with_input(
            BenchmarkId::new("diff", n),
            &(&desired, &live),
            |b, (d, l)| b.iter(|| fluvio_endpoints::plan::plan(black_box(d), black_box(l))),
        );
        group.bench_with_input(
            BenchmarkId::new("validate+diff", n),
            &(&file, &live),
            |b, (f, l)| {
                b.iter(|| {
                    let desired = config::load(black_box(f)).expect("valid");
                    fluvio_endpoints::plan::plan(&desired, black_box(l))
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("plan_doc", n),
            &(&file, &desired, &plan),
            |b, (f, d, p)| {
                // The plan is moved into the document; its copy is made outside the timing.
                b.iter_batched(
                    || (*p).clone(),
                    |p| {
                        PlanDoc::new(
                            black_box(p),
                            &ClusterId::Sc("127.0.0.1:9003".into()),
                            Some("0.18.1".into()),
                            Some((f, d)),
                        )
                    },
                    BatchSize::LargeInput,
                )
            },
        );
        // The same document without a source file: no `line` lookups (SourceFile::line_col),
        // i.e. what PlanDoc::new costs once those are O(log n).
        group.bench_with_input(
            BenchmarkId::new("plan_doc_without_lines", n),
            &plan,
            |b, p| {
                b.iter_batched(
                    || p.clone(),
                    |p| {
                        PlanDoc::new(
                            black_box(p),
                            &ClusterId::Sc("127.0.0.1:9003".into()),
                            Some("0.18.1".into()),
                            None,
                        )
                    },
                    BatchSize::LargeInput,
                )
            },
        );
        group.bench_with_input(BenchmarkId::new("fingerprints", n), &plan, |b, p| {
            b.iter(|| {
                p.changes
                    .iter()
                    .map(|c| c.live.fingerprint().len())
                    .sum::<usize>()
            })
        });
        group.bench_with_input(
            BenchmarkId::new("line_col_of_every_change", n),
            &(&file, &desired),
            |b, (f, d)| {
                b.iter(|| {
                    d.spus
                        .values()
                        .map(|s| f.line_col(s.spans.local.start).0)
                        .sum::<usize>()
                })
            },
        );
        let doc = PlanDoc::new(
            plan,
            &ClusterId::Sc("127.0.0.1:9003".into()),
            Some("0.18.1".into()),
            Some((&file, &desired)),
        );
        let style = Style { color: false };
        group.bench_with_input(BenchmarkId::new("render_text", n), &doc, |b, doc| {
            b.iter(|| fluvio_endpoints::render::text::plan(black_box(doc), &style))
        });
    }
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
