//! The modules of `src/` in layers, and a check that every `crate::` path points down or
//! sideways: no module names one of a layer above its own, and no two modules name each
//! other. Test code (`#[cfg(test)]` items and `tests.rs` files) may reach anything. Also:
//! clap stays in the arguments and the commands, and no file is pulled in with `#[path]`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Bottom to top. A module may use its own layer and the layers below it.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "text and files",
        &["escape", "causes", "address", "input", "atomic_write"],
    ),
    ("model", &["model"]),
    ("plan", &["plan"]),
    ("replication", &["replication"]),
    (
        "zone file, client config, journal, hooks",
        &["config", "profile", "journal", "hook"],
    ),
    ("cluster", &["cluster", "ownership"]),
    ("errors", &["error"]),
    ("engine", &["apply", "probe"]),
    ("JSON contract", &["report"]),
    ("render", &["render"]),
    ("output", &["output"]),
    ("operations", &["ops"]),
    ("arguments", &["cli"]),
    ("commands", &["commands"]),
    ("app", &["lib"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source with comments, string and character literals blanked out (newlines kept).
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, bytes: &[u8]| {
        out.extend(bytes.iter().map(|&c| if c == b'\n' { b'\n' } else { b' ' }))
    };
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
            blank(&mut out, &rest[..end]);
            i += end;
        } else if rest.starts_with(b"/*") {
            let (mut depth, mut j) = (0, 0);
            while j < rest.len() {
                if rest[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if rest[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, &rest[..j]);
            i += j;
        } else if let Some(len) = raw_string(rest) {
            blank(&mut out, &rest[..len]);
            i += len;
        } else if rest[0] == b'"' {
            let mut j = 1;
            while j < rest.len() && rest[j] != b'"' {
                j += if rest[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, &rest[..=j.min(rest.len() - 1)]);
            i += j + 1;
        } else if rest[0] == b'\'' {
            // A character literal ('x', '\n', '\u{..}', '"'), else a lifetime.
            let len = if rest.get(1) == Some(&b'\\') {
                rest[2..].iter().position(|&c| c == b'\'').map(|p| p + 3)
            } else {
                text.get(i + 1..)
                    .and_then(|s| s.chars().next())
                    .map(char::len_utf8)
                    .filter(|&n| rest.get(1 + n) == Some(&b'\''))
                    .map(|n| n + 2)
            };
            let len = len.unwrap_or(1);
            if len > 1 {
                blank(&mut out, &rest[..len]);
            } else {
                out.push(b'\'');
            }
            i += len;
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The length of a raw string literal (`r"..."`, `r#"..."#`, `br"..."`) at the start.
fn raw_string(rest: &[u8]) -> Option<usize> {
    let start = if rest.starts_with(b"br") {
        2
    } else if rest.starts_with(b"r") {
        1
    } else {
        return None;
    };
    let hashes = rest[start..].iter().take_while(|&&c| c == b'#').count();
    if rest.get(start + hashes) != Some(&b'"') {
        return None;
    }
    let close: Vec<u8> = std::iter::once(b'"')
        .chain(std::iter::repeat_n(b'#', hashes))
        .collect();
    let body = start + hashes + 1;
    let end = rest[body..].windows(close.len()).position(|w| w == close)?;
    Some(body + end + close.len())
}

/// The code with every `#[cfg(test)]` item blanked out.
fn without_test_items(code: &str) -> String {
    let mut b = code.as_bytes().to_vec();
    let marker = b"#[cfg(test)]";
    let mut from = 0;
    while let Some(at) = b[from..].windows(marker.len()).position(|w| w == marker) {
        let start = from + at;
        let mut j = start + marker.len();
        // The item ends at its first `;` outside braces, or at the brace closing its body.
        let mut depth = 0usize;
        while j < b.len() {
            match b[j] {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                b';' if depth == 0 => break,
                _ => {}
            }
            j += 1;
        }
        let end = j.min(b.len() - 1) + 1;
        for c in &mut b[start..end] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
        from = j;
    }
    String::from_utf8(b).unwrap()
}

/// The first path segment of every `crate::` path in the code, with its line.
fn crate_paths(code: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (line_no, line) in code.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // `fluvio_crate::`, not this crate
            }
            if let Some(group) = rest.strip_prefix('{') {
                // `crate::{a, b::c}`: the first segment of each, at the group's top level.
                let mut depth = 0;
                let mut item = String::new();
                let mut items = Vec::new();
                for c in group.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => items.push(std::mem::take(&mut item)),
                        _ => item.push(c),
                    }
                }
                items.push(item);
                for item in items {
                    let name = first_segment(item.trim());
                    if !name.is_empty() {
                        found.push((line_no + 1, name));
                    }
                }
            } else {
                let name = first_segment(rest);
                if !name.is_empty() {
                    found.push((line_no + 1, name));
                }
            }
        }
    }
    found
}

fn first_segment(path: &str) -> String {
    path.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The top-level module a file of `src/` belongs to (`lib` for the crate root).
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap();
    let first = first.as_os_str().to_str().unwrap();
    first.strip_suffix(".rs").unwrap_or(first).to_string()
}

/// One `crate::` path of the library's own code (not its tests).
struct Import {
    /// `src/...:line`.
    at: String,
    module: String,
    names: String,
}

/// Every `crate::` path of `src/`, by the top-level module whose file holds it.
fn imports(src: &Path) -> Vec<Import> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let module = module_of(src, &file);
        // The binary sees the library from outside, as `fluvio_endpoints::`.
        if module == "main" || file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let shown = file.strip_prefix(src.parent().unwrap()).unwrap().display();
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, names) in crate_paths(&without_test_items(&code_only(&text))) {
            found.push(Import {
                at: format!("{shown}:{line}"),
                module: module.clone(),
                names,
            });
        }
    }
    found
}

/// Every import of `src/` that names a layer above its own, or a module the table lacks.
fn violations(src: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for Import { at, module, names } in imports(src) {
        let Some(own) = layer_of(&module) else {
            found.push(format!("{at}: module `{module}` is in no layer"));
            continue;
        };
        match layer_of(&names) {
            None => found.push(format!(
                "{at}: `crate::{names}` is in no layer (the crate root is the app)"
            )),
            Some(theirs) if theirs > own => found.push(format!(
                "{at}: `{module}` ({}) imports `crate::{names}` ({}), a layer above",
                LAYERS[own].0, LAYERS[theirs].0
            )),
            Some(_) => {}
        }
    }
    found
}

/// A cycle among the top-level modules (`a -> b -> a`), if there is one.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        at: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|m| m == at) {
            let mut cycle = path[start..].to_vec();
            cycle.push(at.to_string());
            return Some(cycle);
        }
        if !done.insert(at.to_string()) {
            return None;
        }
        path.push(at.to_string());
        for next in edges.get(at).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|m| visit(m, edges, &mut Vec::new(), &mut done))
}

#[test]
fn every_module_imports_only_its_own_layer_and_those_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "imports against the layers:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_modules_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for import in imports(&src) {
        if import.names != import.module {
            let to = edges.entry(import.module).or_default();
            to.insert(import.names);
        }
    }
    assert_eq!(cycle(&edges), None, "a cycle among the modules of src/");
}

#[test]
fn no_file_is_pulled_in_by_path() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches", "examples"] {
        rust_files(&root.join(dir), &mut files);
    }
    let by_path: Vec<_> = files
        .iter()
        .filter(|f| code_only(&std::fs::read_to_string(f).unwrap()).contains("#[path"))
        .map(|f| f.display().to_string())
        .collect();
    assert!(by_path.is_empty(), "#[path] in {by_path:?}");
}

#[test]
fn the_check_sees_each_form_of_import() {
    let code = code_only(
        "use crate::{model::Spu, ops::{a, b}};\n\
         // use crate::commands;\n\
         let s = \"crate::cli\"; let c = '{';\n\
         fn f() -> crate::report::PlanDoc { fluvio_crate::x() }\n\
         #[cfg(test)]\nmod tests { use crate::cli::Cli; }\n",
    );
    let names: BTreeMap<String, usize> = crate_paths(&without_test_items(&code))
        .into_iter()
        .map(|(line, name)| (name, line))
        .collect();
    let expected: BTreeMap<String, usize> = [("model", 1), ("ops", 1), ("report", 4)]
        .into_iter()
        .map(|(n, l)| (n.to_string(), l))
        .collect();
    assert_eq!(names, expected);
}

#[test]
fn clap_types_stay_in_the_arguments_and_the_commands() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let with_clap: Vec<_> = files
        .iter()
        .filter(|f| {
            let module = module_of(&src, f);
            !["cli", "commands", "lib", "main"].contains(&module.as_str())
        })
        .filter(|f| code_only(&std::fs::read_to_string(f).unwrap()).contains("clap"))
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        with_clap.is_empty(),
        "clap outside cli and commands: {with_clap:?}"
    );
}

/// The longest a function of `src/` (outside tests) may be, in lines from its `fn` line to
/// its closing brace.
const LONGEST_FUNCTION: usize = 80;

/// The name a line declares a function of, if it does (`pub async fn name(`...).
fn declared_fn(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace();
    while let Some(word) = words.next() {
        match word {
            "pub" | "async" | "const" | "unsafe" => continue,
            w if w.starts_with("pub(") => continue,
            "fn" => return words.next().and_then(|n| n.split(['(', '<']).next()),
            _ => return None,
        }
    }
    None
}

/// Functions longer than `limit` lines: `file:line name (N lines)`.
fn long_functions(src: &Path, limit: usize) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("tests.rs")) {
        let code = without_test_items(&code_only(&std::fs::read_to_string(file).unwrap()));
        let lines: Vec<&str> = code.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(name) = declared_fn(line) else {
                continue;
            };
            let (mut depth, mut opened) = (0i64, false);
            for (j, body) in lines.iter().enumerate().skip(i) {
                if !opened && body.contains(';') && !body.contains('{') {
                    break; // a declaration without a body
                }
                depth += body.matches('{').count() as i64 - body.matches('}').count() as i64;
                opened |= body.contains('{');
                if opened && depth <= 0 {
                    let length = j - i + 1;
                    if length > limit {
                        let at = file.strip_prefix(src).unwrap_or(file).display();
                        found.push(format!("src/{at}:{} {name} ({length} lines)", i + 1));
                    }
                    break;
                }
            }
        }
    }
    found
}

#[test]
fn no_function_outside_tests_runs_over_80_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let long = long_functions(&src, LONGEST_FUNCTION);
    assert!(
        long.is_empty(),
        "functions over {LONGEST_FUNCTION} lines (split them): {long:#?}"
    );
    // the check measures: the longest functions are found at a lower limit
    assert!(!long_functions(&src, 60).is_empty());
    assert_eq!(
        declared_fn("    pub(crate) async fn go<T>(x: T) {"),
        Some("go")
    );
    assert_eq!(declared_fn("    let f = |x| x;"), None);
}
