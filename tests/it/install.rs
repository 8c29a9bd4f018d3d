//! `install-extension`: the running binary copied where the fluvio CLI finds extensions,
//! under the name it runs for `fluvio endpoints`, and still a working binary there.

use std::path::Path;
use std::process::Command;

use crate::support::cli::Env;

/// Runs an installed binary's `metadata` (what `fluvio help` reads) and checks it.
fn metadata_of(binary: &Path) {
    let out = Command::new(binary)
        .arg("metadata")
        .output()
        .expect("run the installed binary");
    assert!(out.status.success(), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    assert_eq!(doc["title"], "endpoints");
    assert_eq!(doc["package"], "fluvio-endpoints");
    assert_eq!(doc["version"], env!("CARGO_PKG_VERSION"));
}

/// The installed file is the binary, byte for byte, executable, and alone in `dir`.
fn installed_in(dir: &Path) {
    let installed = dir.join("fluvio-endpoints");
    let original = std::fs::read(env!("CARGO_BIN_EXE_fluvio-endpoints")).unwrap();
    assert!(
        std::fs::read(&installed).unwrap() == original,
        "a copy of the binary"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&installed).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "executable: {mode:o}");
    }
    let names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["fluvio-endpoints"], "no temporary file left");
    metadata_of(&installed);
}

#[test]
fn installs_into_the_directory_given_and_again_over_itself() {
    let env = Env::new();
    let dir = env.home().join("some").join("extensions");
    let dir_arg = dir.to_str().unwrap();
    let run = env.run(&["install-extension", "--dir", dir_arg]).expect(0);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("fluvio endpoints"), "{}", run.stderr);
    installed_in(&dir);
    // an older file in place is replaced
    std::fs::write(dir.join("fluvio-endpoints"), "old").unwrap();
    env.run(&["install-extension", "--dir", dir_arg]).expect(0);
    installed_in(&dir);
}

#[test]
fn installs_into_fluvio_extensions_dir_else_the_home() {
    let env = Env::new();
    let dir = env.home().join("from-env");
    let run = env
        .command(&["install-extension"])
        .env("FLUVIO_EXTENSIONS_DIR", &dir)
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    installed_in(&dir);
    assert!(!env.home().join(".fluvio").exists());

    let run = env
        .command(&["install-extension"])
        .env_remove("FLUVIO_EXTENSIONS_DIR")
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    installed_in(&env.home().join(".fluvio").join("extensions"));
}

#[test]
fn a_directory_that_cannot_be_made_is_a_clear_error() {
    let env = Env::new();
    let file = env.write("not-a-dir", "x");
    let dir = file.join("extensions");
    let run = env
        .run(&["install-extension", "--dir", dir.to_str().unwrap()])
        .expect(1);
    assert!(
        run.stderr.contains("cannot write") && run.stderr.contains("not-a-dir"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}
