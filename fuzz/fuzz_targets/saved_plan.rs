//! A saved plan's text, checked as `apply PLAN` does (`commands::apply::parse_saved`); an
//! accepted plan is then rendered as `apply` shows it and turned into engine changes.
#![no_main]

use fluvio_endpoints::commands::apply::parse_saved;
use fluvio_endpoints::output::Style;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = parse_saved(std::path::Path::new("plan.json"), text) else {
        return;
    };
    let changes = doc.to_changes();
    assert_eq!(changes.len(), doc.changes.len());
    let _ = fluvio_endpoints::render::text::plan(&doc, &Style { color: false });
    let _ = fluvio_endpoints::render::markdown::plan(&doc);
    let _ = fluvio_endpoints::render::annotations::plan(&doc);
    // What was accepted is accepted again once written out (`plan --out` writes JSON).
    let again = fluvio_endpoints::render::json(&doc);
    let reread = parse_saved(std::path::Path::new("plan.json"), &again).expect("re-reads");
    assert_eq!(reread, doc);
});
