//! Copying files into and out of a sandbox without trusting what a program left there.
//!
//! A program owns `/box` and can plant symbolic links in it (`output -> /etc/shadow`). Every open
//! here is relative to a directory descriptor with `O_NOFOLLOW`, so a link is never followed:
//! opening one fails with `ELOOP`. Only regular files and directories are copied; anything else is
//! skipped. This is how the 2024 Judge0 sandbox escapes worked, and why none of them applies.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn open_at(dir: Option<&OwnedFd>, name: &OsStr, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let c = std::ffi::CString::new(name.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in file name"))?;
    let dirfd = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: openat with a valid C string; the result is checked.
    let fd = unsafe {
        libc::openat(
            dirfd,
            c.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    open_at(None, path.as_os_str(), libc::O_RDONLY | libc::O_DIRECTORY, 0)
}

/// Removes everything inside `dir` (not `dir` itself). Links are removed, never followed.
pub fn empty_dir(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            // std's remove_dir_all does not follow links (CVE-2022-21658 fixed in 1.58.1).
            fs::remove_dir_all(&path)?;
        } else {
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Creates `dir/name` (which must not exist) with `contents`.
pub fn write_new(dir: &Path, name: &str, contents: &[u8], mode: u32) -> io::Result<()> {
    let d = open_dir(dir)?;
    let fd = open_at(
        Some(&d),
        OsStr::new(name),
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
        mode,
    )?;
    File::from(fd).write_all(contents)
}

/// Reads the regular file `dir/name`, at most `limit` bytes; `None` when it is missing, a link or
/// not a regular file.
pub fn read_regular(dir: &Path, name: &str, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let d = open_dir(dir)?;
    let fd = match open_at(Some(&d), OsStr::new(name), libc::O_RDONLY | libc::O_NONBLOCK, 0) {
        Ok(fd) => fd,
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ELOOP) => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    let file = File::from(fd);
    if !file.metadata()?.is_file() {
        return Ok(None);
    }
    let mut buf = Vec::new();
    file.take(limit).read_to_end(&mut buf)?;
    Ok(Some(buf))
}

/// A tree of regular files taken out of a sandbox: (relative path, contents, executable).
pub type FileTree = Vec<(String, Vec<u8>, bool)>;

/// Takes every regular file under `dir` (recursively, links skipped), at most `limit` bytes in
/// total.
pub fn read_tree(dir: &Path, limit: u64) -> io::Result<FileTree> {
    let mut out = Vec::new();
    let mut total = 0;
    read_tree_at(&open_dir(dir)?, "", limit, &mut total, &mut out)?;
    Ok(out)
}

fn read_tree_at(
    dir: &OwnedFd,
    prefix: &str,
    limit: u64,
    total: &mut u64,
    out: &mut FileTree,
) -> io::Result<()> {
    let dup = open_at(Some(dir), OsStr::new("."), libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let listing = fs::read_dir(format!("/proc/self/fd/{}", dup.as_raw_fd()))?;
    for entry in listing {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name_str) = name.to_str() else {
            continue;
        };
        let rel = format!("{prefix}{name_str}");
        let ft = entry.file_type()?;
        if ft.is_dir() {
            let sub = open_at(Some(dir), &name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
            read_tree_at(&sub, &format!("{rel}/"), limit, total, out)?;
        } else if ft.is_file() {
            let fd = match open_at(Some(dir), &name, libc::O_RDONLY | libc::O_NONBLOCK, 0) {
                Ok(fd) => fd,
                Err(_) => continue,
            };
            let file = File::from(fd);
            let meta = file.metadata()?;
            if !meta.is_file() {
                continue;
            }
            *total += meta.len();
            if *total > limit {
                return Err(io::Error::other(format!(
                    "compiled program larger than {limit} bytes"
                )));
            }
            let mut buf = Vec::with_capacity(meta.len() as usize);
            file.take(limit).read_to_end(&mut buf)?;
            use std::os::unix::fs::PermissionsExt;
            out.push((rel, buf, meta.permissions().mode() & 0o111 != 0));
        }
    }
    Ok(())
}

/// Writes `tree` under `dir` (which the judge owns and the sandbox only reads).
pub fn write_tree(dir: &Path, tree: &FileTree) -> io::Result<()> {
    for (rel, contents, exec) in tree {
        if rel.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
            continue;
        }
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let (parent, name) = match rel.rsplit_once('/') {
            Some((p, n)) => (dir.join(p), n),
            None => (dir.to_owned(), rel.as_str()),
        };
        write_new(&parent, name, contents, if *exec { 0o755 } else { 0o644 })?;
    }
    Ok(())
}
