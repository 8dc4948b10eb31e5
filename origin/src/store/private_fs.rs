//! Owner-only files and directories. The data directory holds the master key, the databases
//! (password hashes, sealed keys, sessions) and the development outbox (live codes and links):
//! nothing in it may be readable by other local users, whatever the process umask.
//!
//! SQLite creates its `-wal` and `-shm` files with the permissions of the main database file,
//! so a database created (or tightened) here at 0600 keeps its companions at 0600 too.

use std::path::Path;

/// Creates `dir` if needed and makes it 0700.
pub fn dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Creates `file` (empty) if it does not exist and makes it and any existing SQLite companions
/// (`-wal`, `-shm`, `-journal`) 0600.
pub fn file(file: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    drop(opts.open(file)?);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut all = vec![file.to_path_buf()];
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut name = file.as_os_str().to_owned();
            name.push(suffix);
            all.push(name.into());
        }
        for p in all.iter().filter(|p| p.exists()) {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// Opens `file` for appending, creating it 0600.
pub fn append(file: &Path) -> std::io::Result<std::fs::File> {
    self::file(file)?;
    std::fs::OpenOptions::new().append(true).open(file)
}
