//! A journal file's bytes, read as `recover` and every `apply` read them
//! (`journal::parse`): the pending changes, or a refusal naming the line.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("journal.jsonl");
    if let Ok((pending, max_seq)) = fluvio_endpoints::journal::parse(path, data) {
        assert!(pending.iter().all(|p| p.seq <= max_seq));
    }
});
