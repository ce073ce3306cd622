//! Problem packages travel as zip archives (uploaded by admins, stored in NATS by digest). This
//! unpacks one into a directory without trusting it: no absolute paths or `..` (zip slip), no
//! symlinks, files created only where nothing exists yet, and bounded in entries and bytes so a
//! zip bomb stops at the limit instead of filling the disk.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Bounds on what one archive may unpack to.
#[derive(Debug, Clone, Copy)]
pub struct ArchiveLimits {
    pub max_entries: usize,
    pub max_total_bytes: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_entries: 20_000,
            max_total_bytes: 1 << 30,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a zip archive: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("entry {0:?} escapes the package or has an unusable name")]
    UnsafePath(String),
    #[error("entry {0:?} is a symbolic link; packages may not contain links")]
    Symlink(String),
    #[error("more than {0} entries")]
    TooManyEntries(usize),
    #[error("unpacks to more than {0} bytes")]
    TooLarge(u64),
    #[error("entry {0:?} appears twice")]
    Duplicate(String),
    #[error("writing {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ArchiveError + '_ {
    move |source| ArchiveError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Unpacks `bytes` into the empty directory `dest` and returns the package root: `dest` itself,
/// or the single top-level directory when the archive wraps everything in one (as zipping a
/// folder does).
pub fn unpack_zip(bytes: &[u8], dest: &Path, limits: ArchiveLimits) -> Result<PathBuf, ArchiveError> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))?;
    if zip.len() > limits.max_entries {
        return Err(ArchiveError::TooManyEntries(limits.max_entries));
    }
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i)?;
        let name = entry.name()?.into_owned();
        let relative = entry
            .enclosed_name()
            .ok_or_else(|| ArchiveError::UnsafePath(name.clone()))?;
        if entry.is_symlink() {
            return Err(ArchiveError::Symlink(name));
        }
        let path = dest.join(&relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&path).map_err(io(&path))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        // `create_new` refuses an existing path, a symlink included: nothing is overwritten.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => ArchiveError::Duplicate(name.clone()),
                _ => ArchiveError::Io {
                    path: path.clone(),
                    source: e,
                },
            })?;
        // Count what is actually inflated, not what the header claims.
        let budget = limits.max_total_bytes - total;
        let mut limited = (&mut entry).take(budget + 1);
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = limited.read(&mut buf).map_err(io(&path))?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > limits.max_total_bytes {
                return Err(ArchiveError::TooLarge(limits.max_total_bytes));
            }
            file.write_all(&buf[..n]).map_err(io(&path))?;
        }
    }
    package_root(dest)
}

/// Files or folders only a package root has (a DOMjudge package may lack `problem.yaml`).
const ROOT_MARKERS: [&str; 3] = ["problem.yaml", crate::domjudge::INI_FILE, "data"];

fn package_root(dest: &Path) -> Result<PathBuf, ArchiveError> {
    if ROOT_MARKERS.iter().any(|m| dest.join(m).exists()) {
        return Ok(dest.to_owned());
    }
    let entries: Vec<_> = std::fs::read_dir(dest)
        .map_err(io(dest))?
        .filter_map(Result::ok)
        .collect();
    match entries.as_slice() {
        [only] if only.file_type().is_ok_and(|t| t.is_dir()) => Ok(only.path()),
        _ => Ok(dest.to_owned()),
    }
}

/// The bytes of the file at `path` inside the package zipped in `bytes` (`path` relative to the
/// package root, which may be the archive's single top folder, as [`unpack_zip`] finds it);
/// `None` when there is no such file. At most `max_bytes` are read.
pub fn read_file(bytes: &[u8], path: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, ArchiveError> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))?;
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect();
    let at_root = ROOT_MARKERS.iter().any(|m| {
        names
            .iter()
            .any(|n| n == m || n.strip_prefix(m).is_some_and(|r| r.starts_with('/')))
    });
    let wanted: Option<String> = if at_root {
        Some(path.to_owned())
    } else {
        // The single top folder, if there is one.
        let mut tops = names.iter().filter_map(|n| n.split_once('/').map(|(top, _)| top));
        let first = tops.next().map(str::to_owned);
        first
            .filter(|f| tops.all(|t| t == f))
            .map(|f| format!("{f}/{path}"))
    };
    let Some(wanted) = wanted else {
        return Ok(None);
    };
    let mut entry = match zip.by_name(&wanted) {
        Ok(e) if e.is_file() => e,
        Ok(_) | Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    (&mut entry)
        .take(max_bytes + 1)
        .read_to_end(&mut out)
        .map_err(io(Path::new(path)))?;
    if out.len() as u64 > max_bytes {
        return Err(ArchiveError::TooLarge(max_bytes));
    }
    Ok(Some(out))
}

/// Zips a package directory (files and directories only; links are refused), entries in
/// lexicographic order so the same tree always gives the same bytes and digest.
pub fn pack_zip(dir: &Path) -> Result<Vec<u8>, ArchiveError> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for relative in files {
        let name = relative.to_string_lossy().replace('\\', "/");
        out.start_file(name, options)?;
        let path = dir.join(&relative);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        out.write_all(&bytes).map_err(io(&path))?;
    }
    Ok(out.finish()?.into_inner())
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), ArchiveError> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let kind = entry.file_type().map_err(io(dir))?;
        let path = entry.path();
        let relative = path.strip_prefix(root).expect("walked from the root").to_owned();
        if kind.is_symlink() {
            return Err(ArchiveError::Symlink(relative.to_string_lossy().into_owned()));
        } else if kind.is_dir() {
            collect(root, &path, files)?;
        } else {
            files.push(relative);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in entries {
            out.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            out.write_all(data).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    #[test]
    fn round_trip_of_an_example() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/problems/aplusb");
        let bytes = pack_zip(&example).unwrap();
        assert_eq!(bytes, pack_zip(&example).unwrap(), "packing is deterministic");
        let dir = tempfile::tempdir().unwrap();
        let root = unpack_zip(&bytes, dir.path(), ArchiveLimits::default()).unwrap();
        assert!(root.join("problem.yaml").exists());
        crate::ProblemPackage::load(&root).unwrap();
    }

    #[test]
    fn a_wrapping_folder_is_the_root() {
        let bytes = zip_of(&[
            ("pkg/problem.yaml", b"name: x\n"),
            ("pkg/data/sample/1.in", b"1\n"),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let root = unpack_zip(&bytes, dir.path(), ArchiveLimits::default()).unwrap();
        assert_eq!(root, dir.path().join("pkg"));
    }

    #[test]
    fn one_file_is_read_from_a_wrapped_or_flat_package() {
        let wrapped = zip_of(&[("pkg/data/sample/1.in", b"1\n"), ("pkg/problem.pdf", b"%PDF")]);
        let flat = zip_of(&[("domjudge-problem.ini", b""), ("problem.pdf", b"%PDF")]);
        for bytes in [&wrapped, &flat] {
            assert_eq!(
                read_file(bytes, "problem.pdf", 10).unwrap().as_deref(),
                Some(&b"%PDF"[..])
            );
            assert_eq!(read_file(bytes, "problem.html", 10).unwrap(), None);
            assert!(matches!(
                read_file(bytes, "problem.pdf", 3),
                Err(ArchiveError::TooLarge(3))
            ));
        }
        // Unpacking finds the same root without a problem.yaml.
        let dir = tempfile::tempdir().unwrap();
        let root = unpack_zip(&wrapped, dir.path(), ArchiveLimits::default()).unwrap();
        assert_eq!(root, dir.path().join("pkg"));
    }

    #[test]
    fn hostile_archives_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let slip = zip_of(&[("../evil", b"x")]);
        assert!(matches!(
            unpack_zip(&slip, dir.path(), ArchiveLimits::default()),
            Err(ArchiveError::UnsafePath(_))
        ));
        // An absolute name is taken relative to the package: it stays inside.
        let absolute = zip_of(&[("/etc/evil", b"x")]);
        let dir = tempfile::tempdir().unwrap();
        unpack_zip(&absolute, dir.path(), ArchiveLimits::default()).unwrap();
        assert!(dir.path().join("etc/evil").exists());
        assert!(!Path::new("/etc/evil").exists());

        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        out.add_symlink("link", "/etc/shadow", zip::write::SimpleFileOptions::default())
            .unwrap();
        let link = out.finish().unwrap().into_inner();
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            unpack_zip(&link, dir.path(), ArchiveLimits::default()),
            Err(ArchiveError::Symlink(_))
        ));

        let bomb = zip_of(&[("big", &vec![0u8; 2 << 20])]);
        let dir = tempfile::tempdir().unwrap();
        let small = ArchiveLimits {
            max_entries: 10,
            max_total_bytes: 1 << 20,
        };
        assert!(matches!(
            unpack_zip(&bomb, dir.path(), small),
            Err(ArchiveError::TooLarge(_))
        ));

        assert!(unpack_zip(b"not a zip", dir.path(), ArchiveLimits::default()).is_err());
    }
}
