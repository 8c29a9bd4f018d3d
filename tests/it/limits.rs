//! Bounded inputs: every file the tool reads has a size cap, and no device or pipe makes
//! it read without end or wait forever (README "Input limits").

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use fluvio_endpoints::journal::Journal;
use fluvio_endpoints::model::ClusterId;

use crate::support::cli::Env;

const MIB: u64 = 1 << 20;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A sparse file of `len` bytes: its size is what is checked, so nothing is written.
fn sparse(path: &Path, len: u64) {
    File::create(path)
        .and_then(|f| f.set_len(len))
        .expect("sparse file");
}

/// Whether `stderr` says `text`, however the diagnostic printer wrapped its lines (the
/// gutter and all whitespace are left out of both).
fn says(stderr: &str, text: &str) -> bool {
    let flat = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace() && !"│╰─▶×├╭".contains(*c))
            .collect()
    };
    flat(stderr).contains(&flat(text))
}

#[track_caller]
fn assert_says(stderr: &str, text: &str) {
    assert!(says(stderr, text), "expected {text:?} in:\n{stderr}");
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// A copy of the bundled metadata directory under the env's home.
fn metadata(env: &Env) -> PathBuf {
    let meta = env.home().join("metadata");
    std::fs::create_dir_all(meta.join("SPU")).unwrap();
    let from = root().join("examples/local-cluster/metadata/SPU");
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), meta.join("SPU").join(entry.file_name())).unwrap();
    }
    meta
}

#[test]
fn a_zone_file_that_never_ends_is_refused_at_the_cap() {
    let env = Env::new();
    let run = env.run(&["validate", "-f", "/dev/zero"]).expect(3);
    assert_says(
        &run.stderr,
        "/dev/zero gave more than the 16 MiB (16777216 bytes) limit for a zone file",
    );
}

#[test]
fn an_oversized_zone_file_is_refused_with_its_size_and_the_cap() {
    let env = Env::new();
    let big = env.home().join("big.toml");
    sparse(&big, 16 * MIB + 1);
    let run = env
        .run(&["validate", "-f", big.to_str().unwrap()])
        .expect(3);
    assert_says(
        &run.stderr,
        &format!(
            "{} is 16777217 bytes, over the 16 MiB (16777216 bytes) limit for a zone file",
            big.display()
        ),
    );
    assert_says(&run.stderr, "-f takes the zone file");
}

#[test]
fn an_oversized_saved_plan_is_refused_before_any_cluster_is_asked() {
    let env = Env::new();
    let big = env.home().join("plan.json");
    sparse(&big, 128 * MIB + 1);
    // No cluster is reachable at this address: the file is refused before it is tried.
    let run = env
        .run(&["-c", "127.0.0.1:9", "apply", big.to_str().unwrap()])
        .expect(3);
    assert_says(
        &run.stderr,
        &format!(
            "{} is 134217729 bytes, over the 128 MiB (134217728 bytes) limit for a saved plan",
            big.display()
        ),
    );
    // The help speaks of what the file should have been: a saved plan, not a zone file.
    assert_says(&run.stderr, "takes a plan saved by `plan --out`");
    assert!(!says(&run.stderr, "zone file"), "{}", run.stderr);
}

#[test]
fn a_pipe_without_a_writer_is_refused_at_once() {
    let env = Env::new();
    let fifo = env.home().join("zone.toml");
    mkfifo(&fifo);
    let run = env
        .run(&["validate", "-f", fifo.to_str().unwrap()])
        .expect(3);
    assert_says(&run.stderr, "is a pipe that gave nothing to read");
}

#[test]
fn a_pipe_whose_writer_never_closes_is_read_to_the_cap_only() {
    let env = Env::new();
    let fifo = env.home().join("zone.toml");
    mkfifo(&fifo);
    // A reader that never reads keeps the pipe open, so the writer is attached before the
    // tool starts (as with `-f <(generate)`), and it is the last reader to go: the writer's
    // blocked write then fails and its thread ends.
    let idle_reader = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .expect("open a reader");
    let mut pipe = OpenOptions::new()
        .write(true)
        .open(&fifo)
        .expect("open the writer");
    let writer = std::thread::spawn(move || {
        let block = [b'#'; 64 * 1024];
        let mut written = 0u64;
        while pipe.write_all(&block).is_ok() {
            written += block.len() as u64;
        }
        written
    });
    let run = env
        .run(&["validate", "-f", fifo.to_str().unwrap()])
        .expect(3);
    drop(idle_reader);
    let written = writer.join().unwrap();
    assert_says(
        &run.stderr,
        &format!(
            "{} gave more than the 16 MiB (16777216 bytes) limit for a zone file",
            fifo.display()
        ),
    );
    assert!(written >= 16 * MIB, "the writer fed the cap and more");
}

#[test]
fn oversized_or_irregular_metadata_files_are_refused_with_their_path() {
    let env = Env::new();
    let meta = metadata(&env);
    let big = meta.join("SPU").join("custom-spu-9999.yaml");
    sparse(&big, MIB + 1);
    let run = env
        .run(&["--metadata-dir", meta.to_str().unwrap(), "list"])
        .expect(4);
    assert_says(
        &run.stderr,
        &format!(
            "{} is 1048577 bytes, over the 1 MiB (1048576 bytes) limit for a metadata file",
            big.canonicalize().unwrap().display()
        ),
    );
    // A pipe would make the store's own open wait for a writer forever.
    std::fs::remove_file(&big).unwrap();
    mkfifo(&big);
    let run = env
        .run(&["--metadata-dir", meta.to_str().unwrap(), "list"])
        .expect(4);
    assert_says(&run.stderr, "custom-spu-9999.yaml is a pipe, not a regular file; a metadata file must be a regular file");
    std::fs::remove_file(&big).unwrap();
    env.run(&["--metadata-dir", meta.to_str().unwrap(), "list"])
        .expect(0);
}

/// The fluvio config is read whole, by the tool (`profile`) and by the client (a profile's
/// cluster): a pipe there would wait forever and `/dev/zero` would never end.
#[test]
fn an_oversized_or_irregular_fluvio_config_is_refused_with_its_path() {
    let env = Env::new();
    let config = env.home().join("fluvio-config"); // the env's FLV_PROFILE_PATH
    let commands: [&[&str]; 3] = [
        &["list"],
        &["profile", "show"],
        &["profile", "use-local", "x"],
    ];
    sparse(&config, 4 * MIB + 1);
    for args in commands {
        let run = env.run(args).expect(3);
        assert_says(
            &run.stderr,
            &format!(
                "{} is 4194305 bytes, over the 4 MiB (4194304 bytes) limit for a fluvio config",
                config.display()
            ),
        );
    }
    std::fs::remove_file(&config).unwrap();
    mkfifo(&config);
    for args in commands {
        let run = env.run(args).expect(3);
        assert_says(
            &run.stderr,
            "fluvio-config is a pipe, not a regular file; a fluvio config must be a regular file",
        );
    }
}

#[test]
fn an_oversized_journal_is_refused_with_its_path() {
    let env = Env::new();
    let meta = metadata(&env);
    let identity = ClusterId::MetadataDir(meta.canonicalize().unwrap());
    std::fs::create_dir_all(env.journal_dir()).unwrap();
    let journal = Journal::path_for(&env.journal_dir(), &identity);
    sparse(&journal, 128 * MIB + 1);
    let zone = root().join("examples/zones/ci.toml");
    let run = env
        .run(&[
            "--metadata-dir",
            meta.to_str().unwrap(),
            "apply",
            "-f",
            zone.to_str().unwrap(),
            "--dry-run",
        ])
        .expect(1);
    assert_says(
        &run.stderr,
        &format!(
            "{} is 134217729 bytes, over the 128 MiB (134217728 bytes) limit for a journal",
            journal.display()
        ),
    );
}

/// A zone file written on one line (inline tables, 90 KB): each problem in it is placed by
/// line and column instead of quoting the line, so the report stays a few lines long
/// (quoting it once made miette panic past column 65,535).
#[test]
fn problems_on_a_line_too_long_to_quote_are_placed_in_words() {
    let env = Env::new();
    let entries: Vec<String> = (1..3000)
        .map(|i| format!("{{id = {i}, local = \"h{i}\"}}"))
        .collect();
    let line = entries.join(", ");
    for (tail, message, at) in [
        (
            ", {id = 3000, local = \"bad host\"}]",
            "invalid local endpoint: `bad host` is not a valid host name",
            "(at line 1, column",
        ),
        (
            ", {id = 7, local = \"h\"}]",
            "SPU 7 is declared more than once",
            "declared again here; line 1, column 158: first defined here; the line is too long",
        ),
        (
            ", {id = 3001, local = ]",
            "invalid TOML",
            "(at line 1, column",
        ),
    ] {
        let file = env.write("one-line.toml", &format!("spu = [{line}{tail}\n"));
        let run = env
            .run(&["validate", "-f", file.to_str().unwrap()])
            .expect(3);
        // the message as one line (miette wraps it, with a gutter)
        let flat = run
            .stderr
            .split_whitespace()
            .filter(|w| *w != "│")
            .collect::<Vec<_>>()
            .join(" ");
        assert!(flat.contains(message), "{message}: {}", run.stderr);
        assert!(flat.contains(at), "{at}: {}", run.stderr);
        assert!(
            flat.contains("the line is too long to quote)"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.len() < 2_000, "{} bytes", run.stderr.len());
    }
    // A value as long as the line is quoted by its start and end only.
    let file = env.write(
        "long-host.toml",
        &format!("[[spu]]\nid = 1\nlocal = \"a {}\"\n", "b".repeat(60_000)),
    );
    let run = env
        .run(&["validate", "-f", file.to_str().unwrap()])
        .expect(3);
    assert!(run.stderr.contains("characters left out"), "{}", run.stderr);
    assert!(run.stderr.len() < 2_000, "{} bytes", run.stderr.len());
    // Past the 50 problems shown, the first one left out is placed in words too.
    let mut text: String = (1..=50)
        .map(|i| format!("[[spu]]\nid = {i}\nlocal = \"bad host\"\n"))
        .collect();
    text.push_str(&format!(
        "[[spu]]\nid = 51\nlocal = \"h\"\nbad = 1 # {line}\n"
    ));
    let file = env.write("hidden.toml", &text);
    let run = env
        .run(&["validate", "-f", file.to_str().unwrap()])
        .expect(3);
    assert_says(
        &run.stderr,
        "and 1 more problem, not shown here (the first at line 154, column 1; the line is too long to quote)",
    );
    // A short line beside the long one is still quoted, with its label.
    let file = env.write(
        "two-lines.toml",
        &format!(
            "[[spu]]\nid = 1\nlocal = \"bad host\"\n\n[cluster]\nendpoint = \"x\"\n# {line}\n"
        ),
    );
    let run = env
        .run(&["validate", "-f", file.to_str().unwrap()])
        .expect(3);
    assert!(
        run.stderr.contains("local = \"bad host\""),
        "{}",
        run.stderr
    );
}
