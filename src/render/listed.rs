//! `list -O yaml` and `list -O json`, written directly: serde_yaml (through libyaml's
//! emitter) costs several times the cluster read for 10,000 SPUs, and serde's JSON a
//! fifth of it. An SPU whose every string is a plain word is written here, exactly as the
//! serializer would write it; any other SPU is written by the serializer itself. Tests
//! hold the two to the same bytes.

use std::io::Write;

use crate::cluster::convert::fluvio_json;
use crate::model::{Endpoint, Live, LiveSpu, SpuKind};

/// Every SPU as `list -O json` shows it, as a YAML sequence.
pub fn write_yaml<W: Write>(out: &mut W, live: &Live) -> std::io::Result<()> {
    if live.spus.is_empty() {
        return out.write_all(b"[]\n");
    }
    for spu in live.spus.values() {
        if plain_spu(spu) {
            write_yaml_spu(out, spu)?;
        } else {
            // Items of a block sequence are written alike wherever they stand.
            let one = serde_yaml::to_string(&[fluvio_json(spu)]).map_err(std::io::Error::other)?;
            out.write_all(one.as_bytes())?;
        }
    }
    Ok(())
}

/// True when every string of the SPU is written plain (unquoted) by serde_yaml.
fn plain_spu(spu: &LiveSpu) -> bool {
    let s = &*spu.spec;
    plain(&s.name)
        && plain(&s.private.host)
        && s.local.as_ref().is_none_or(|l| plain(&l.host))
        && s.rack.as_deref().is_none_or(plain)
        && (s.public.addrs.iter())
            .all(|a| a.hostname.as_deref().is_none_or(plain) && a.ip.as_deref().is_none_or(plain))
}

/// A word YAML reads back as this same string: a letter, then letters, digits, `.`, `_`
/// and `-`, and not a word YAML (1.1 or 1.2) or serde_yaml would read as something else.
fn plain(text: &str) -> bool {
    const NOT_STRINGS: &[&str] = &[
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "inf", "infinity", "nan",
    ];
    let mut bytes = text.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !NOT_STRINGS.iter().any(|w| w.eq_ignore_ascii_case(text))
}

/// Fluvio's spelling of the SPU's type (`SpuKind::label` is the tool's, lowercase).
fn spu_type(kind: SpuKind) -> &'static str {
    match kind {
        SpuKind::Custom => "Custom",
        SpuKind::Managed => "Managed",
    }
}

fn write_endpoint<W: Write>(out: &mut W, key: &str, e: &Endpoint) -> std::io::Result<()> {
    writeln!(
        out,
        "    {key}:\n      encryption: {}\n      host: {}\n      port: {}",
        e.encryption.as_str(),
        e.host,
        e.port
    )
}

fn write_yaml_spu<W: Write>(out: &mut W, spu: &LiveSpu) -> std::io::Result<()> {
    let s = &*spu.spec;
    writeln!(out, "- name: {}\n  spec:", s.name)?;
    write_endpoint(out, "privateEndpoint", &s.private)?;
    write!(
        out,
        "    publicEndpoint:\n      encryption: {}\n      ingress:",
        s.public.encryption.as_str()
    )?;
    if s.public.addrs.is_empty() {
        out.write_all(b" []\n")?;
    } else {
        out.write_all(b"\n")?;
    }
    for a in &s.public.addrs {
        let hostname = a.hostname.as_deref().unwrap_or("null");
        let ip = a.ip.as_deref().unwrap_or("null");
        writeln!(out, "      - hostname: {hostname}\n        ip: {ip}")?;
    }
    writeln!(out, "      port: {}", s.public.port)?;
    if let Some(local) = &s.local {
        write_endpoint(out, "publicEndpointLocal", local)?;
    }
    if let Some(rack) = &s.rack {
        writeln!(out, "    rack: {rack}")?;
    }
    let (kind, state) = (spu_type(s.kind), spu.status.label());
    writeln!(
        out,
        "    spuId: {}\n    spuType: {kind}\n  status:\n    resolution: {state}",
        s.id
    )
}

/// Every SPU as [`super::json`] writes `list -O json`: a pretty JSON array.
pub fn write_json<W: Write>(out: &mut W, live: &Live) -> std::io::Result<()> {
    if live.spus.is_empty() {
        return out.write_all(b"[]\n");
    }
    out.write_all(b"[")?;
    for (i, spu) in live.spus.values().enumerate() {
        out.write_all(if i == 0 { b"\n  " } else { b",\n  " })?;
        if plain_spu(spu) {
            write_json_spu(out, spu)?;
        } else {
            // The serializer's own form of the one SPU, indented as an element of the array
            // (a JSON string never holds a raw line break).
            let one = super::json(&fluvio_json(spu));
            out.write_all(one.trim_end().replace('\n', "\n  ").as_bytes())?;
        }
    }
    out.write_all(b"\n]\n")
}

fn write_json_endpoint<W: Write>(out: &mut W, key: &str, e: &Endpoint) -> std::io::Result<()> {
    write!(
        out,
        "\n      \"{key}\": {{\n        \"encryption\": \"{}\",\n        \"host\": \"{}\",\n        \"port\": {}\n      }},",
        e.encryption.as_str(),
        e.host,
        e.port
    )
}

/// A JSON string of a plain word (no character to escape).
fn quoted(text: Option<&str>) -> std::borrow::Cow<'_, str> {
    match text {
        Some(text) => format!("\"{text}\"").into(),
        None => "null".into(),
    }
}

fn write_json_spu<W: Write>(out: &mut W, spu: &LiveSpu) -> std::io::Result<()> {
    let s = &*spu.spec;
    write!(out, "{{\n    \"name\": \"{}\",\n    \"spec\": {{", s.name)?;
    write_json_endpoint(out, "privateEndpoint", &s.private)?;
    write!(
        out,
        "\n      \"publicEndpoint\": {{\n        \"encryption\": \"{}\",\n        \"ingress\": [",
        s.public.encryption.as_str()
    )?;
    for (i, a) in s.public.addrs.iter().enumerate() {
        write!(
            out,
            "{}\n          {{\n            \"hostname\": {},\n            \"ip\": {}\n          }}",
            if i == 0 { "" } else { "," },
            quoted(a.hostname.as_deref()),
            quoted(a.ip.as_deref())
        )?;
    }
    if !s.public.addrs.is_empty() {
        out.write_all(b"\n        ")?;
    }
    write!(out, "],\n        \"port\": {}\n      }},", s.public.port)?;
    if let Some(local) = &s.local {
        write_json_endpoint(out, "publicEndpointLocal", local)?;
    }
    if let Some(rack) = &s.rack {
        write!(out, "\n      \"rack\": \"{rack}\",")?;
    }
    let (kind, state) = (spu_type(s.kind), spu.status.label());
    write!(
        out,
        "\n      \"spuId\": {},\n      \"spuType\": \"{kind}\"\n    }},\n    \"status\": {{\n      \"resolution\": \"{state}\"\n    }}\n  }}",
        s.id
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Encryption, Ingress, IngressAddr, SpuSpec, SpuState};

    fn spu(id: i32, name: &str, host: &str, rack: Option<&str>, addrs: usize) -> LiveSpu {
        let endpoint = |host: &str, encryption| Endpoint {
            host: host.into(),
            port: 9010,
            encryption,
        };
        LiveSpu {
            spec: SpuSpec {
                name: name.into(),
                id,
                kind: if id % 2 == 0 {
                    SpuKind::Managed
                } else {
                    SpuKind::Custom
                },
                public: Ingress {
                    port: 9010,
                    addrs: (0..addrs)
                        .map(|i| IngressAddr {
                            hostname: (i != 1).then(|| host.to_string()),
                            ip: (i != 0).then(|| "10.0.0.1".to_string()),
                        })
                        .collect(),
                    encryption: Encryption::Ssl,
                },
                private: endpoint(host, Encryption::Plaintext),
                rack: rack.map(str::to_string),
                local: (id % 3 == 0).then(|| endpoint(host, Encryption::Ssl)),
            }
            .into(),
            status: [SpuState::Online, SpuState::Offline, SpuState::Init][id as usize % 3],
        }
    }

    /// `list -O json|yaml` as the serializers write it (as `list` printed before it wrote
    /// them directly).
    fn listed(live: &Live) -> Vec<serde_json::Value> {
        live.spus.values().map(fluvio_json).collect()
    }

    fn both(live: &Live) -> (String, String) {
        let mut mine = Vec::new();
        write_yaml(&mut mine, live).unwrap();
        let theirs = serde_yaml::to_string(&listed(live)).unwrap();
        (String::from_utf8(mine).unwrap(), theirs)
    }

    fn both_json(live: &Live) -> (String, String) {
        let mut mine = Vec::new();
        write_json(&mut mine, live).unwrap();
        let theirs = super::super::json(&listed(live));
        (String::from_utf8(mine).unwrap(), theirs)
    }

    #[test]
    fn the_list_is_written_as_the_serializers_write_it() {
        let words = [
            "custom-spu-5001",
            "localhost",
            "host.docker.internal",
            "a",
            "r1",
            "rack_2",
            "y",
            "Y",
            "n",
            "yes",
            "No",
            "ON",
            "off",
            "true",
            "False",
            "null",
            "NULL",
            "~",
            "inf",
            ".inf",
            "NaN",
            "-1",
            "1e3",
            "0x1f",
            "12",
            "1.5",
            "",
            " lead",
            "trail ",
            "a: b",
            "a #c",
            "new\nline",
            "tab\there",
            "quote'd",
            "dq\"",
            "é",
            "宽",
            "\u{202e}x",
            "-",
            "--",
            "- x",
            "?",
            "@at",
            "`tick",
            "%pct",
            "*star",
            "&amp",
            "!bang",
            "[x]",
            "{x}",
            "x,y",
            "192.168.0.1",
            "::1",
            "[::1]",
            "Infinity",
            "e1",
            "E",
            "o",
            "yes-no",
        ];
        let live = Live::from_specs(words.iter().enumerate().flat_map(|(i, w)| {
            let id = i as i32 * 4;
            [
                spu(id + 1, w, "localhost", None, 1),
                spu(id + 2, "spu", w, Some(w), 3),
                spu(id + 3, "spu", "h", Some("r"), 0),
                spu(id + 4, w, w, None, 2),
            ]
        }));
        for (mine, theirs) in [both(&live), both_json(&live)] {
            for (line, (a, b)) in mine.lines().zip(theirs.lines()).enumerate() {
                assert_eq!(a, b, "line {}", line + 1);
            }
            assert_eq!(mine, theirs);
        }
        assert!(live.spus.values().filter(|s| plain_spu(s)).count() > 20);
        assert_eq!(both(&Live::default()).0, both(&Live::default()).1);
        assert_eq!(both_json(&Live::default()).0, both_json(&Live::default()).1);
    }

    proptest::proptest! {
        #[test]
        fn a_plain_word_is_written_as_the_serializers_write_it(word in "[A-Za-z][A-Za-z0-9._-]{0,10}") {
            let live = Live::from_specs([spu(1, &word, &word, Some(&word), 2)]);
            let (mine, theirs) = both(&live);
            proptest::prop_assert_eq!(mine, theirs);
            let (mine, theirs) = both_json(&live);
            proptest::prop_assert_eq!(mine, theirs);
        }
    }
}
