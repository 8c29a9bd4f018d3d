//! Hosts and `host:port` (`address::parse_host`, `parse_host_port`, `parse_port`), with
//! the properties the rest of the tool relies on: a parsed host parses to itself (a saved
//! plan's endpoint is checked that way), and a parsed `host:port` written back out reads
//! the same.
#![no_main]

use fluvio_endpoints::address::{parse_host, parse_host_port, parse_port};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(host) = parse_host(text) {
        assert_eq!(parse_host(&host).as_ref(), Ok(&host), "stored form is stable");
        assert!(!host.is_empty());
    }
    if let Ok(port) = parse_port(text) {
        assert_ne!(port, 0);
    }
    if let Ok((host, port)) = parse_host_port(text) {
        assert_eq!(parse_host(&host).as_ref(), Ok(&host));
        let written = match port {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        assert_eq!(parse_host_port(&written), Ok((host, port)), "{written}");
    }
});
