//! A saved plan's text, checked as `apply PLAN` does (`ops::saved::parse`); an
//! accepted plan is then rendered as `apply` shows it.
#![no_main]

use fluvio_endpoints::ops::saved::parse;
use fluvio_endpoints::output::Style;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = parse(text) else {
        return;
    };
    let _ = fluvio_endpoints::render::text::plan(&doc, &Style { color: false });
    let _ = fluvio_endpoints::render::markdown::plan(&doc);
    let _ = fluvio_endpoints::render::annotations::plan(&doc);
    // What was accepted is accepted again once written out (`plan --out` writes JSON).
    let again = fluvio_endpoints::render::json(&doc);
    let reread = parse(&again).expect("re-reads");
    assert_eq!(reread, doc);
});
