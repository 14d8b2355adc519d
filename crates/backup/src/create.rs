//! `create`: the webroot as a gzip tar (entries `./...`, the marker file
//! at the root), leaving out the exclusion set. The walk checks the set
//! and the mount table before it touches a path, so nothing inside an
//! excluded directory or a mount is ever listed or stat'ed (reading a FUSE
//! mount would download its bucket), and it never crosses into another
//! filesystem. The archive is written to a temporary file and renamed.

use std::fs::File;
use std::io::{BufWriter, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use adt_mount::MountTable;
use serde::Serialize;
use tar::{EntryType, Header, HeaderMode};

use crate::error::{BackupError, io};
use crate::exclude::Exclusions;

/// The marker ADT's restore looks for at the archive's root.
pub const MARKER: &str = "XXXXXX-DO_NOT_REMOVE";

/// What `create` put in, and what it met on the way.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CreateReport {
    pub files: u64,
    pub directories: u64,
    pub symlinks: u64,
    pub bytes: u64,
    /// Excluded directories found in the webroot, left out unread.
    pub excluded: Vec<String>,
    /// Files whose size changed while they were read (archived at the size
    /// they had when the walk reached them, padded or cut).
    pub changed: Vec<String>,
    /// Paths that disappeared during the walk.
    pub vanished: Vec<String>,
    /// Directories on another filesystem, not entered.
    pub other_filesystems: Vec<String>,
    /// Sockets, fifos and devices, not archived.
    pub special: Vec<String>,
}

/// Writes the backup of `webroot` to `output`. `level` is the gzip level
/// (1 fastest, 9 smallest; ADT's `tar czf` uses 6).
pub fn create(
    webroot: &Path,
    exclusions: &Exclusions,
    table: &MountTable,
    output: &Path,
    level: u32,
) -> Result<CreateReport, BackupError> {
    let root = std::fs::metadata(webroot).map_err(|_| BackupError::NoWebroot(webroot.to_path_buf()))?;
    if !root.is_dir() {
        return Err(BackupError::NoWebroot(webroot.to_path_buf()));
    }
    let absolute_output = std::path::absolute(output).map_err(|e| io(output, e))?;
    if absolute_output.starts_with(webroot) {
        return Err(BackupError::OutputInWebroot(output.to_path_buf()));
    }
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = absolute_output.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let result = write_archive(webroot, &root, exclusions, table, &partial, level);
    match result {
        Ok(report) => {
            std::fs::rename(&partial, output).map_err(|e| {
                let _ = std::fs::remove_file(&partial);
                io(output, e)
            })?;
            Ok(report)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

fn write_archive(
    webroot: &Path,
    root: &std::fs::Metadata,
    exclusions: &Exclusions,
    table: &MountTable,
    partial: &Path,
    level: u32,
) -> Result<CreateReport, BackupError> {
    let file = File::create(partial).map_err(|e| io(partial, e))?;
    let gz = flate2::write::GzEncoder::new(
        BufWriter::with_capacity(1 << 20, file),
        flate2::Compression::new(level.clamp(1, 9)),
    );
    let mut tar = tar::Builder::new(gz);
    let fail = |e: std::io::Error| io(partial, e);
    let mut report = CreateReport::default();

    let mut header = Header::new_gnu();
    header.set_metadata_in_mode(root, HeaderMode::Complete);
    append(&mut tar, header, "./", None, std::io::empty()).map_err(fail)?;
    let mut marker = Header::new_gnu();
    marker.set_entry_type(EntryType::Regular);
    marker.set_mode(0o644);
    marker.set_uid(root.uid() as u64);
    marker.set_gid(root.gid() as u64);
    marker.set_mtime(root.mtime().max(0) as u64);
    marker.set_size(0);
    append(&mut tar, marker, &format!("./{MARKER}"), None, std::io::empty()).map_err(fail)?;

    let mut stack: Vec<(PathBuf, String)> = vec![(webroot.to_path_buf(), String::new())];
    while let Some((dir, rel_dir)) = stack.pop() {
        let mut names: Vec<std::ffi::OsString> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.file_name())).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                report.vanished.push(rel_dir);
                continue;
            }
            Err(e) => return Err(io(&dir, e)),
        };
        names.sort();
        let mut subdirs = Vec::new();
        for name in names {
            let name_text = name.to_string_lossy();
            let rel = if rel_dir.is_empty() {
                name_text.to_string()
            } else {
                format!("{rel_dir}/{name_text}")
            };
            if rel == MARKER {
                continue;
            }
            let path = dir.join(&name);
            // Checked before any stat: an excluded directory or a mount
            // point is never touched.
            if exclusions.excludes(&rel) || table.at(&path).is_some() {
                report.excluded.push(rel);
                continue;
            }
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    report.vanished.push(rel);
                    continue;
                }
                Err(e) => return Err(io(&path, e)),
            };
            let kind = meta.file_type();
            if kind.is_dir() {
                if meta.dev() != root.dev() {
                    report.other_filesystems.push(rel);
                    continue;
                }
                let mut h = Header::new_gnu();
                h.set_metadata_in_mode(&meta, HeaderMode::Complete);
                append(&mut tar, h, &format!("./{rel}/"), None, std::io::empty()).map_err(fail)?;
                report.directories += 1;
                subdirs.push((path, rel));
            } else if kind.is_symlink() {
                let target = match std::fs::read_link(&path) {
                    Ok(t) => t,
                    Err(_) => {
                        report.vanished.push(rel);
                        continue;
                    }
                };
                let mut h = Header::new_gnu();
                h.set_metadata_in_mode(&meta, HeaderMode::Complete);
                h.set_size(0);
                let target = target.as_os_str().as_encoded_bytes();
                append(&mut tar, h, &format!("./{rel}"), Some(target), std::io::empty()).map_err(fail)?;
                report.symlinks += 1;
            } else if kind.is_file() {
                let file = match File::open(&path) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        report.vanished.push(rel);
                        continue;
                    }
                    Err(e) => return Err(io(&path, e)),
                };
                let meta = file.metadata().map_err(|e| io(&path, e))?;
                let mut h = Header::new_gnu();
                h.set_metadata_in_mode(&meta, HeaderMode::Complete);
                let mut body = Exact {
                    inner: file,
                    left: meta.len(),
                    short: false,
                };
                append(&mut tar, h, &format!("./{rel}"), None, &mut body).map_err(fail)?;
                let mut probe = [0u8; 1];
                if body.short || body.inner.read(&mut probe).is_ok_and(|n| n > 0) {
                    report.changed.push(rel);
                }
                report.files += 1;
                report.bytes += meta.len();
            } else {
                report.special.push(rel);
            }
        }
        // Depth first, in name order.
        stack.extend(subdirs.into_iter().rev());
    }
    let gz = tar.into_inner().map_err(fail)?;
    let writer = gz.finish().map_err(fail)?;
    let file = writer.into_inner().map_err(|e| io(partial, e.error()))?;
    file.sync_all().map_err(fail)?;
    Ok(report)
}

/// Appends an entry named exactly `name` (the tar crate would drop the
/// `./` that ADT's restore expects): in the header when it fits, else in a
/// GNU long-name record first, as GNU tar writes them; likewise a long
/// symlink target.
fn append<W: std::io::Write>(
    tar: &mut tar::Builder<W>,
    mut header: Header,
    name: &str,
    link: Option<&[u8]>,
    data: impl Read,
) -> std::io::Result<()> {
    let long = |tar: &mut tar::Builder<W>, kind: u8, value: &[u8]| {
        let mut h = Header::new_gnu();
        h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        h.set_entry_type(EntryType::new(kind));
        h.set_mode(0o644);
        h.set_size(value.len() as u64 + 1);
        h.set_cksum();
        let mut body = value.to_vec();
        body.push(0);
        tar.append(&h, body.as_slice())
    };
    let bytes = name.as_bytes();
    if let Some(target) = link {
        if target.len() > 100 {
            long(tar, b'K', target)?;
        }
        let old = header.as_old_mut();
        old.linkname.fill(0);
        let n = target.len().min(100);
        old.linkname[..n].copy_from_slice(&target[..n]);
    }
    if bytes.len() > 100 {
        long(tar, b'L', bytes)?;
    }
    let old = header.as_old_mut();
    old.name.fill(0);
    let n = bytes.len().min(100);
    old.name[..n].copy_from_slice(&bytes[..n]);
    header.set_cksum();
    tar.append(&header, data)
}

/// Exactly `left` bytes of `inner`: padded with zeros if the file shrank
/// while being read, cut if it grew, so the archive stays well formed.
struct Exact<R> {
    inner: R,
    left: u64,
    short: bool,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(self.left as usize);
        let n = if self.short {
            0
        } else {
            self.inner.read(&mut buf[..want])?
        };
        let n = if n == 0 {
            self.short = true;
            buf[..want].fill(0);
            want
        } else {
            n
        };
        self.left -= n as u64;
        Ok(n)
    }
}
