//! Reading which directories a webroot backup holds (a gzip tar whose root
//! is the webroot; names may start with `./`), without unpacking it.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use crate::error::TemplateError;

/// The directories of a webroot backup, read once and checked against any
/// number of templates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackupListing {
    dirs: BTreeSet<String>,
}

impl BackupListing {
    /// Reads every entry header of the gzip tar at `path`. A corrupt or
    /// truncated archive is an error, never a partial listing.
    pub fn read(path: &Path) -> Result<BackupListing, TemplateError> {
        Ok(BackupListing {
            dirs: directories(path)?,
        })
    }

    /// True when the archive holds directory `dir` (relative to its root).
    pub fn has_dir(&self, dir: &str) -> bool {
        self.dirs.contains(dir)
    }
}

/// Every directory in the archive, relative to its root, without `./` or a
/// trailing `/`; directories implied by a file's path count too.
fn directories(path: &Path) -> Result<BTreeSet<String>, TemplateError> {
    let fail = |source: adt_archive::ArchiveError| TemplateError::Archive {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|e| fail(adt_archive::ArchiveError::Io(e)))?;
    // The same reader as adt-seed and adt-backup verify: they agree on
    // which archives are whole.
    let mut archive = adt_archive::Reader::new(BufReader::new(file), adt_archive::Limits::default());
    let mut dirs = BTreeSet::new();
    while let Some(entry) = archive.next_entry().map_err(fail)? {
        let name = String::from_utf8_lossy(&entry.header.name).into_owned();
        let is_dir = entry.header.kind == adt_archive::Kind::Dir;
        let name = name.trim_start_matches("./").trim_end_matches('/');
        let mut parts: Vec<&str> = name.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
        if !is_dir {
            parts.pop();
        }
        for end in 1..=parts.len() {
            dirs.insert(parts[..end].join("/"));
        }
    }
    Ok(dirs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_explicit_and_implied_directories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar.gz");
        let gz = flate2::write::GzEncoder::new(File::create(&path).unwrap(), flate2::Compression::fast());
        let mut builder = tar::Builder::new(gz);
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header.clone(), "./wp-content/uploads/a.png", &b"x"[..])
            .unwrap();
        builder.append_data(&mut header, "index.php", &b"x"[..]).unwrap();
        builder.into_inner().unwrap().finish().unwrap();
        let dirs = directories(&path).unwrap();
        assert_eq!(
            dirs.into_iter().collect::<Vec<_>>(),
            ["wp-content", "wp-content/uploads"]
        );
    }

    #[test]
    fn every_gzip_member_is_read() {
        // adt-backup writes one gzip member per 2 MiB chunk, as pigz does.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("multi.tar.gz");
        let mut tar_bytes = Vec::new();
        {
            let mut builder = tar::Builder::new(&mut tar_bytes);
            let mut header = tar::Header::new_gnu();
            header.set_size(1);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header.clone(), "first/a.png", &b"x"[..])
                .unwrap();
            builder.append_data(&mut header, "second/b.png", &b"x"[..]).unwrap();
            builder.finish().unwrap();
        }
        let mut out = Vec::new();
        for half in [&tar_bytes[..1024], &tar_bytes[1024..]] {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut gz, half).unwrap();
            out.extend(gz.finish().unwrap());
        }
        std::fs::write(&path, out).unwrap();
        let dirs = directories(&path).unwrap();
        assert_eq!(dirs.into_iter().collect::<Vec<_>>(), ["first", "second"]);
    }

    #[test]
    fn corrupt_archive_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.tar.gz");
        std::fs::write(&path, b"not gzip at all").unwrap();
        assert!(matches!(directories(&path), Err(TemplateError::Archive { .. })));
        assert!(directories(&dir.path().join("missing.tar.gz")).is_err());
    }
}
