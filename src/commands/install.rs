//! `install-extension`: makes the running binary a fluvio CLI extension, so that
//! `fluvio endpoints ...` runs it and `fluvio help` lists it (through the hidden `metadata`
//! command). The fluvio CLI looks for `fluvio-<name>` executables in
//! `$FLUVIO_EXTENSIONS_DIR`, else `~/.fluvio/extensions`.
//!
//! The copy is atomic: the binary is written to a temporary file in the target directory
//! and renamed over `fluvio-endpoints`, so a concurrent `fluvio endpoints` runs either the
//! old binary or the new one, never a half-written file.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::commands::Ctx;
use crate::error::{Error, Result};
use crate::ops::RunOutcome;

/// The name the fluvio CLI runs for `fluvio endpoints`.
pub const EXTENSION_NAME: &str = "fluvio-endpoints";

/// The fluvio CLI's extension directory: `$FLUVIO_EXTENSIONS_DIR`, else
/// `~/.fluvio/extensions`.
fn default_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("FLUVIO_EXTENSIONS_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    // An empty HOME names no directory here.
    std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    crate::profile::fluvio_home().map(|fluvio| fluvio.join("extensions"))
}

/// Copies the running binary into `dir` (or the default) as `fluvio-endpoints`.
pub fn run(ctx: &Ctx, dir: Option<&Path>) -> Result<RunOutcome> {
    let dir = match dir {
        Some(dir) => dir.to_path_buf(),
        None => default_dir().ok_or_else(|| Error::WriteFile {
            path: PathBuf::from("~/.fluvio/extensions"),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "neither FLUVIO_EXTENSIONS_DIR nor HOME is set; pass --dir",
            ),
        })?,
    };
    let source = std::env::current_exe().map_err(|source| Error::ReadFile {
        path: PathBuf::from("/proc/self/exe"),
        source,
        help: "install-extension copies the running executable, which it could not find",
    })?;
    let target = dir.join(EXTENSION_NAME);
    install(&source, &dir, &target)?;
    ctx.printer.note(&format!(
        "Installed {} as a fluvio extension: run `fluvio endpoints --help`.\n",
        target.display()
    ));
    Ok(RunOutcome::default())
}

fn install(source: &Path, dir: &Path, target: &Path) -> Result<()> {
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::WriteFile { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write_err(dir))?;
    let bytes = std::fs::read(source).map_err(|e| Error::ReadFile {
        path: source.to_path_buf(),
        source: e,
        help: "install-extension copies the running executable, which it could not read",
    })?;
    let mut temp = tempfile::Builder::new()
        .prefix(".fluvio-endpoints.")
        .tempfile_in(dir)
        .map_err(write_err(dir))?;
    temp.write_all(&bytes).map_err(write_err(temp.path()))?;
    temp.as_file().sync_all().map_err(write_err(temp.path()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(write_err(temp.path()))?;
    }
    temp.persist(target).map_err(|e| Error::WriteFile {
        path: target.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}
