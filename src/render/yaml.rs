//! `list -O yaml`, written directly: serde_yaml (through libyaml's emitter) costs several
//! times the cluster read for 10,000 SPUs. An SPU whose every string is a plain word is
//! written here, exactly as serde_yaml writes it; any other SPU is written by serde_yaml
//! itself. Tests hold the two to the same bytes.

use std::io::Write;

use crate::cluster::convert::FluvioListed;
use crate::model::{Encryption, Endpoint, Live, LiveSpu, SpuKind, SpuState};

/// Every SPU as `list -O json` shows it, as a YAML sequence.
pub fn write_list<W: Write>(out: &mut W, live: &Live) -> std::io::Result<()> {
    if live.spus.is_empty() {
        return out.write_all(b"[]\n");
    }
    for spu in live.spus.values() {
        if plain_spu(spu) {
            write_spu(out, spu)?;
        } else {
            // Items of a block sequence are written alike wherever they stand.
            let one =
                serde_yaml::to_string(&[FluvioListed::of(spu)]).map_err(std::io::Error::other)?;
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

fn encryption(e: Encryption) -> &'static str {
    match e {
        Encryption::Plaintext => "PLAINTEXT",
        Encryption::Ssl => "SSL",
    }
}

fn write_endpoint<W: Write>(out: &mut W, key: &str, e: &Endpoint) -> std::io::Result<()> {
    writeln!(
        out,
        "    {key}:\n      encryption: {}\n      host: {}\n      port: {}",
        encryption(e.encryption),
        e.host,
        e.port
    )
}

fn write_spu<W: Write>(out: &mut W, spu: &LiveSpu) -> std::io::Result<()> {
    let s = &*spu.spec;
    writeln!(out, "- name: {}\n  spec:", s.name)?;
    write_endpoint(out, "privateEndpoint", &s.private)?;
    write!(
        out,
        "    publicEndpoint:\n      encryption: {}\n      ingress:",
        encryption(s.public.encryption)
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
    let kind = match s.kind {
        SpuKind::Custom => "Custom",
        SpuKind::Managed => "Managed",
    };
    let state = match spu.status {
        SpuState::Online => "Online",
        SpuState::Offline => "Offline",
        SpuState::Init => "Init",
    };
    writeln!(
        out,
        "    spuId: {}\n    spuType: {kind}\n  status:\n    resolution: {state}",
        s.id
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Ingress, IngressAddr, SpuSpec};

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

    fn both(live: &Live) -> (String, String) {
        let mut mine = Vec::new();
        write_list(&mut mine, live).unwrap();
        let theirs = serde_yaml::to_string(&super::super::table::Listed(live)).unwrap();
        (String::from_utf8(mine).unwrap(), theirs)
    }

    #[test]
    fn the_list_is_written_as_serde_yaml_writes_it() {
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
        let (mine, theirs) = both(&live);
        for (line, (a, b)) in mine.lines().zip(theirs.lines()).enumerate() {
            assert_eq!(a, b, "line {}", line + 1);
        }
        assert_eq!(mine, theirs);
        assert!(live.spus.values().filter(|s| plain_spu(s)).count() > 20);
        assert_eq!(both(&Live::default()).0, both(&Live::default()).1);
    }

    proptest::proptest! {
        #[test]
        fn a_plain_word_is_written_as_serde_yaml_writes_it(word in "[A-Za-z][A-Za-z0-9._-]{0,10}") {
            let live = Live::from_specs([spu(1, &word, &word, Some(&word), 2)]);
            let (mine, theirs) = both(&live);
            proptest::prop_assert_eq!(mine, theirs);
        }
    }
}
