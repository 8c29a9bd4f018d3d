//! Host and `host:port` parsing for local endpoints: DNS names, IPv4, and bracketed IPv6.
//!
//! Fluvio's own helper splits on ':' and so rejects IPv6 literals; this one accepts
//! `[::1]:9010` and keeps the brackets in the stored host, because clients dial
//! `format!("{host}:{port}")`.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Why a host or address was rejected; the text is shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("the host is empty")]
    EmptyHost,
    #[error("`{0}` is not a valid IPv6 address")]
    BadIpv6(String),
    #[error("`{0}` is not a valid IPv4 address")]
    BadIpv4(String),
    #[error("`{host}` is not a valid host name: {why}")]
    BadHostname { host: String, why: &'static str },
    #[error("`{0}` is not a valid port: expected a number from 1 to 65535")]
    BadPort(String),
    #[error("`{0}` looks like an IPv6 address without brackets")]
    UnbracketedIpv6(String),
    #[error("`{text}` has a scheme (`{scheme}://`); a scheme is not allowed here")]
    Scheme { text: String, scheme: String },
    #[error("`{0}` carries a port; a host takes no port here")]
    PortInHost(String),
}

impl AddressError {
    /// A hint for the user, where one helps.
    pub fn help(&self) -> Option<&'static str> {
        match self {
            AddressError::UnbracketedIpv6(_) => {
                Some("write IPv6 literals in brackets, e.g. \"[::1]:9010\"")
            }
            AddressError::BadHostname { .. } => Some(
                "a host name is dot-separated labels of letters, digits, '-' and '_' (at most 63 characters each, 253 in all)",
            ),
            AddressError::BadPort(_) => Some("ports range from 1 to 65535"),
            AddressError::Scheme { .. } => Some("give HOST:PORT only, e.g. 127.0.0.1:9003"),
            AddressError::PortInHost(_) => Some(
                "put the port in `port`, e.g. local = { host = \"a.example\", port = 9010 }",
            ),
            _ => None,
        }
    }
}

/// `scheme://...` (e.g. `http://host:9003`): not an address, whatever follows.
fn scheme_of(text: &str) -> Option<AddressError> {
    let (scheme, _) = text.split_once("://")?;
    let is_scheme = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    is_scheme.then(|| AddressError::Scheme {
        text: text.to_string(),
        scheme: scheme.to_string(),
    })
}

/// Validates a host and returns it in stored form (IPv6 in brackets). Space around it is
/// refused with the rest of what a host cannot hold (`a :9010` is a typing mistake).
pub fn parse_host(text: &str) -> Result<String, AddressError> {
    if text.is_empty() {
        return Err(AddressError::EmptyHost);
    }
    if let Some(err) = scheme_of(text) {
        return Err(err);
    }
    if let Some(inner) = text.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| AddressError::BadIpv6(text.to_string()))?;
        return inner
            .parse::<Ipv6Addr>()
            .map(|_| format!("[{inner}]"))
            .map_err(|_| AddressError::BadIpv6(text.to_string()));
    }
    // An IPv6 address has at least two colons: one colon is a port in the wrong place.
    if text.matches(':').count() == 1 {
        return Err(AddressError::PortInHost(text.to_string()));
    }
    if text.contains(':') {
        return match text.parse::<Ipv6Addr>() {
            Ok(_) => Ok(format!("[{text}]")),
            Err(_) => Err(AddressError::BadIpv6(text.to_string())),
        };
    }
    let looks_numeric = text
        .split('.')
        .all(|l| l.chars().all(|c| c.is_ascii_digit()));
    if looks_numeric {
        return text
            .parse::<Ipv4Addr>()
            .map(|_| text.to_string())
            .map_err(|_| AddressError::BadIpv4(text.to_string()));
    }
    check_hostname(text)?;
    Ok(text.to_string())
}

fn check_hostname(host: &str) -> Result<(), AddressError> {
    let bad = |why| {
        Err(AddressError::BadHostname {
            host: host.to_string(),
            why,
        })
    };
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.len() > 253 {
        return bad("longer than 253 characters");
    }
    for label in name.split('.') {
        if label.is_empty() {
            return bad("it has an empty label");
        }
        if label.len() > 63 {
            return bad("a label is longer than 63 characters");
        }
        if !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return bad("it contains a character other than letters, digits, '-', '_' and '.'");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("a label starts or ends with '-'");
        }
    }
    Ok(())
}

/// Parses a port number (1..=65535): decimal digits only, as an SC stores it (no sign, no
/// space around it: `a:+1` or `a: 9010` is a typing mistake, not port 1 or 9010).
pub fn parse_port(text: &str) -> Result<u16, AddressError> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<u16>() {
        Ok(port) if digits && port != 0 => Ok(port),
        _ => Err(AddressError::BadPort(text.to_string())),
    }
}

/// Checks a port given as a wider integer (from TOML).
pub fn check_port(value: i64) -> Result<u16, AddressError> {
    match u16::try_from(value) {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(AddressError::BadPort(value.to_string())),
    }
}

/// Parses `host` or `host:port` (`[v6]` or `[v6]:port` for IPv6).
pub fn parse_host_port(text: &str) -> Result<(String, Option<u16>), AddressError> {
    let text = text.trim();
    if let Some(err) = scheme_of(text) {
        return Err(err);
    }
    if text.starts_with('[') {
        return match text.rfind("]:") {
            Some(close) => Ok((
                parse_host(&text[..=close])?,
                Some(parse_port(&text[close + 2..])?),
            )),
            None => Ok((parse_host(text)?, None)),
        };
    }
    match text.matches(':').count() {
        0 => Ok((parse_host(text)?, None)),
        1 => {
            let (host, port) = text.split_once(':').expect("one colon");
            Ok((parse_host(host)?, Some(parse_port(port)?)))
        }
        _ => Err(AddressError::UnbracketedIpv6(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_three_host_forms() {
        let cases = [
            (
                "host.docker.internal:9010",
                ("host.docker.internal", Some(9010)),
            ),
            ("localhost", ("localhost", None)),
            ("10.0.0.7:1", ("10.0.0.7", Some(1))),
            ("[::1]:9010", ("[::1]", Some(9010))),
            ("[fe80::1]", ("[fe80::1]", None)),
            (
                "spu_1.zone-a.example.com.:65535",
                ("spu_1.zone-a.example.com.", Some(65535)),
            ),
        ];
        for (input, (host, port)) in cases {
            assert_eq!(
                parse_host_port(input),
                Ok((host.to_string(), port)),
                "input {input}"
            );
        }
    }

    #[test]
    fn rejects_bad_hosts_and_ports() {
        let cases = [
            ("", AddressError::EmptyHost),
            ("::1:9010", AddressError::UnbracketedIpv6("::1:9010".into())),
            ("[::g]:1", AddressError::BadIpv6("[::g]".into())),
            ("999.1.1.1", AddressError::BadIpv4("999.1.1.1".into())),
            ("host:0", AddressError::BadPort("0".into())),
            ("host:65536", AddressError::BadPort("65536".into())),
            ("host:x", AddressError::BadPort("x".into())),
            // digits only: a sign or a space is a typing mistake, not a port
            ("host:+1", AddressError::BadPort("+1".into())),
            ("host: 9010", AddressError::BadPort(" 9010".into())),
            ("host:9010 x", AddressError::BadPort("9010 x".into())),
        ];
        for (input, err) in cases {
            assert_eq!(parse_host_port(input), Err(err), "input {input}");
        }
        assert!(
            matches!(
                parse_host_port("host :9010"),
                Err(AddressError::BadHostname { .. })
            ),
            "a space before the colon"
        );
        for bad in [
            "-a.com",
            "a..b",
            "a b",
            "h\u{e9}te",
            &"a".repeat(64),
            " a",
            "a\u{a0}",
        ] {
            assert!(
                matches!(parse_host(bad), Err(AddressError::BadHostname { .. })),
                "{bad} must be rejected"
            );
        }
    }

    #[test]
    fn a_scheme_or_a_port_in_a_host_is_named() {
        for text in ["http://127.0.0.1:9003", "https://[::1]:9003", "tcp://sc"] {
            assert!(
                matches!(parse_host_port(text), Err(AddressError::Scheme { .. })),
                "{text}"
            );
            assert!(
                matches!(parse_host(text), Err(AddressError::Scheme { .. })),
                "{text}"
            );
        }
        assert_eq!(
            parse_host("a.com:9000"),
            Err(AddressError::PortInHost("a.com:9000".into()))
        );
        assert_eq!(
            parse_host("[::1]"),
            Ok("[::1]".to_string()),
            "IPv6 is not a port"
        );
    }

    #[test]
    fn bare_ipv6_host_is_bracketed() {
        assert_eq!(parse_host("::1"), Ok("[::1]".to_string()));
    }

    #[test]
    fn port_range_from_toml() {
        assert_eq!(check_port(9010), Ok(9010));
        assert!(check_port(0).is_err());
        assert!(check_port(-1).is_err());
        assert!(check_port(70000).is_err());
    }
}
