//! Installing a pulled module so that a power cut never leaves a half-written file: each
//! file is written beside its destination under a temporary name, fsynced, and renamed over
//! it (rename is atomic within a filesystem), then the directory is fsynced so the renames
//! themselves survive. The `.sig` is renamed first and the module last: the module's rename
//! is the commit point a watcher of the module file sees, with its signature already there.
//! A cut between the two renames leaves the old module with the new `.sig`: refused at load
//! (a bad signature), never run.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::artifact::Module;

/// Writes `module` as `path` and its signature as `path.sig`.
pub fn install(path: &Path, module: &Module) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut sig_path = path.as_os_str().to_owned();
    sig_path.push(".sig");
    let sig_path = PathBuf::from(sig_path);

    let sig_tmp = write_temp(&dir, &sig_path, &module.signature)?;
    let module_tmp = match write_temp(&dir, path, &module.bytes) {
        Ok(t) => t,
        Err(e) => {
            let _ = std::fs::remove_file(&sig_tmp);
            return Err(e);
        }
    };
    let renamed = std::fs::rename(&sig_tmp, &sig_path)
        .with_context(|| format!("renaming {} to {}", sig_tmp.display(), sig_path.display()))
        .and_then(|()| {
            std::fs::rename(&module_tmp, path)
                .with_context(|| format!("renaming {} to {}", module_tmp.display(), path.display()))
        });
    if let Err(e) = renamed {
        let _ = std::fs::remove_file(&sig_tmp);
        let _ = std::fs::remove_file(&module_tmp);
        return Err(e);
    }
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing directory {}", dir.display()))?;
    Ok(())
}

/// Moves an installed module and its `.sig` from `from` to `to` in the same directory
/// (a staged roll-out that proved itself), in the same order and with the same sync.
pub fn promote(from: &Path, to: &Path) -> Result<()> {
    let sig = |p: &Path| {
        let mut s = p.as_os_str().to_owned();
        s.push(".sig");
        PathBuf::from(s)
    };
    std::fs::rename(sig(from), sig(to))
        .with_context(|| format!("renaming {} to {}", sig(from).display(), sig(to).display()))?;
    std::fs::rename(from, to)
        .with_context(|| format!("renaming {} to {}", from.display(), to.display()))?;
    let dir = match to.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing directory {}", dir.display()))
}

/// `bytes` in a new file `.NAME.pull-PID` in `dir`, synced to disk.
fn write_temp(dir: &Path, dest: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let name = dest
        .file_name()
        .with_context(|| format!("{} names no file", dest.display()))?;
    let tmp = dir.join(format!(
        ".{}.pull-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp); // left by a killed pull of this same pid
    let write = || -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    write().with_context(|| format!("writing {}", tmp.display()))?;
    Ok(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(bytes: &[u8]) -> Module {
        Module {
            name: "m.aot".into(),
            bytes: bytes.to_vec(),
            signature: b"sig".to_vec(),
        }
    }

    #[test]
    fn replaces_module_and_signature_leaving_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.aot");
        install(&path, &module(b"one")).unwrap();
        install(&path, &module(b"two")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read(dir.path().join("m.aot.sig")).unwrap(), b"sig");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn promote_moves_module_and_signature() {
        let dir = tempfile::tempdir().unwrap();
        let staged = dir.path().join(".m.aot.rollout");
        let path = dir.path().join("m.aot");
        install(&path, &module(b"old")).unwrap();
        install(&staged, &module(b"new")).unwrap();
        promote(&staged, &path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert!(!staged.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_failed_install_keeps_the_old_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.aot");
        install(&path, &module(b"old")).unwrap();
        // A directory where the module's temporary goes: the second write fails.
        std::fs::create_dir(
            dir.path()
                .join(format!(".m.aot.pull-{}", std::process::id())),
        )
        .unwrap();
        assert!(install(&path, &module(b"new")).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert!(!dir
            .path()
            .join(format!(".m.aot.sig.pull-{}", std::process::id()))
            .exists());
    }
}
