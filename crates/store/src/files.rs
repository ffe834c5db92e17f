//! File modes of the data directory: it holds the SQLite database (every service and result),
//! the lock file and the secret key, so nobody but the owner may read it.
//!
//! Modes are enforced at every start, not only when a file is created: a directory restored
//! from a backup, or created by hand with a permissive umask, is fixed with a warning. A file
//! whose mode cannot be fixed is reported; only the key file is refused (see `crypto`).

use std::path::Path;

use crate::error::{Result, StoreError};

/// The SQLite file names in the data directory.
pub(crate) const SQLITE_FILES: [&str; 3] = ["opsdeck.db", "opsdeck.db-wal", "opsdeck.db-shm"];

/// Creates the data directory with mode 0700, or tightens an existing one.
pub(crate) fn prepare_data_dir(dir: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
        .map_err(|e| StoreError::io("cannot create the data directory", dir, e))?;
    tighten(dir, 0o700, "data directory");
    Ok(())
}

/// Opens (mode 0600) and locks `opsdeckd.lock`, so a second instance on the same SQLite data
/// directory fails fast.
pub(crate) fn lock_data_dir(dir: &Path) -> Result<std::fs::File> {
    let path = dir.join("opsdeckd.lock");
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let f = opts
        .open(&path)
        .map_err(|e| StoreError::io("cannot open the lock file", &path, e))?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(StoreError::Locked { path }),
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(StoreError::io("cannot lock", &path, e));
        }
    }
    tighten(&path, 0o600, "lock file");
    Ok(f)
}

/// Creates the SQLite database file with mode 0600 before SQLite opens it (SQLite gives its WAL
/// and shared-memory files the database file's mode), and tightens existing ones.
pub(crate) fn prepare_sqlite_files(dir: &Path) -> Result<()> {
    let db = dir.join(SQLITE_FILES[0]);
    if !db.exists() {
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).truncate(false).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        opts.open(&db)
            .map_err(|e| StoreError::io("cannot create the database file", &db, e))?;
    }
    for name in SQLITE_FILES {
        let path = dir.join(name);
        if path.exists() {
            tighten(&path, 0o600, "database file");
        }
    }
    Ok(())
}

/// Removes group and other permission bits beyond `mode`; `true` when the mode is (now) tight.
pub(crate) fn tighten(path: &Path, mode: u32, what: &str) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else {
            return false;
        };
        let current = meta.permissions().mode() & 0o777;
        if current & 0o077 == 0 {
            return true;
        }
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
            Ok(()) => {
                tracing::warn!(
                    path = %path.display(),
                    was = format!("{current:o}"),
                    now = format!("{mode:o}"),
                    "the {what} was readable by other users; its mode was tightened"
                );
                true
            }
            Err(e) => {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{current:o}"),
                    error = %e,
                    "the {what} is readable by other users and its mode cannot be changed; fix it (chmod {mode:o})"
                );
                false
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode, what);
        true
    }
}
