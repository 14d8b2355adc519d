//! `create`: the webroot as a gzip tar (entries `./...`, the marker file
//! at the root), leaving out the exclusion set. The walk checks the set
//! and the mount table before it touches a path, so nothing inside an
//! excluded directory or a mount is ever listed or stat'ed (reading a FUSE
//! mount would download its bucket), and it never crosses into another
//! filesystem. Every directory and file is opened relative to its parent's
//! handle without following links (adt-localfs), so a hostile user of the
//! webroot cannot make root archive what lies outside it. Names are bytes
//! and archived as they are. The archive is written 0600 to a fresh
//! temporary file and renamed. Report lists show names with
//! `display_name` (non-UTF-8 bytes escaped).

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use adt_localfs::MountTable;
use adt_localfs::{Dir, Event, Flow, LocalError, Stat, display_name};
use serde::Serialize;
use tar::{EntryType, Header};

use adt_template::MARKER;

use crate::error::{BackupError, io};
use crate::exclude::Exclusions;
use crate::gzip::ParallelGz;

/// What `create` put in, and what it met on the way.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CreateReport {
    /// Regular files archived (the marker file `create` adds not counted).
    pub files: u64,
    /// Directories archived below the webroot (the webroot's own `./` not
    /// counted).
    pub directories: u64,
    /// Symbolic links archived as links (never followed).
    pub symlinks: u64,
    /// Bytes of file content archived, at the sizes the files had when
    /// opened.
    pub bytes: u64,
    /// Excluded directories found in the webroot, left out unread.
    pub excluded: Vec<String>,
    /// Files whose size changed while they were read (archived at the size
    /// they had when opened, padded or cut), and entries replaced while the
    /// walk read them (a directory or file swapped for a link or a FIFO:
    /// not followed, not archived).
    pub changed: Vec<String>,
    /// Paths that disappeared during the walk.
    pub vanished: Vec<String>,
    /// Directories on another filesystem, not entered.
    pub other_filesystems: Vec<String>,
    /// Sockets, fifos and devices, not archived.
    pub special: Vec<String>,
    /// Directories nested deeper than the walk goes, not entered.
    pub too_deep: Vec<String>,
    /// Entries that could not be read (a lease, another user's FUSE mount,
    /// an I/O error), with why: left out; the rest is archived.
    pub unreadable: Vec<String>,
}

/// Writes the backup of `webroot` to `output`. `level` is the gzip level
/// (1 fastest, 9 smallest; ADT's `tar czf` uses 6).
///
/// `webroot` must be the directory `exclusions` were computed for, given
/// canonically (no link, no `..`: the mount table and the exclusions name
/// real paths). The walk opens everything relative to directory handles
/// and never follows a link: a directory swapped for a link while the
/// walk runs is reported in `changed`, not entered; a FIFO is never opened
/// for reading. The archive is written 0600 under a fresh name beside
/// `output` (`O_EXCL|O_NOFOLLOW`) and renamed into place.
pub fn create(
    webroot: &Path,
    exclusions: &Exclusions,
    table: &MountTable,
    output: &Path,
    level: u32,
) -> Result<CreateReport, BackupError> {
    create_until(webroot, exclusions, table, output, level, &AtomicBool::new(false))
}

/// `create`, stopping with `BackupError::Interrupted` (and no file left
/// behind, temporary or final) once `stop` is set.
pub fn create_until(
    webroot: &Path,
    exclusions: &Exclusions,
    table: &MountTable,
    output: &Path,
    level: u32,
    stop: &AtomicBool,
) -> Result<CreateReport, BackupError> {
    tracing::info!(webroot = %webroot.display(), output = %output.display(), "creating a backup");
    let canonical = adt_localfs::canonical_dir(webroot).map_err(|_| BackupError::NoWebroot(webroot.to_path_buf()))?;
    if canonical != webroot || canonical != exclusions.webroot {
        return Err(BackupError::NotCanonical {
            given: webroot.to_path_buf(),
            canonical,
        });
    }
    let root = match Dir::open(&canonical) {
        Ok(dir) => dir,
        Err(LocalError::NotADirectory { .. } | LocalError::Missing { .. }) => {
            return Err(BackupError::NoWebroot(webroot.to_path_buf()));
        }
        Err(e) => return Err(e.into()),
    };
    let name = output
        .file_name()
        .ok_or_else(|| io(output, "names no file"))?
        .to_os_string();
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::env::current_dir().map_err(|e| io(output, e))?,
    };
    let parent = adt_localfs::canonical_dir(&parent)?;
    if parent.join(&name).starts_with(&canonical) {
        return Err(BackupError::OutputInWebroot(output.to_path_buf()));
    }
    let out_dir = Dir::open(&parent)?;
    let mut partial = out_dir.create_private(&name)?;
    let report = write_archive(&root, exclusions, table, partial.file(), level, stop).map_err(|e| match e {
        _ if stop.load(Ordering::SeqCst) => BackupError::Interrupted,
        Failure::Archive(e) => io(&partial.path(), e),
        Failure::Backup(e) => e,
    })?;
    partial.persist(&name)?;
    Ok(report)
}

/// The innermost cause of a local error, for a report line.
fn cause(e: &LocalError) -> String {
    match e {
        LocalError::Io { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

enum Failure {
    /// Writing the archive failed.
    Archive(std::io::Error),
    /// Reading the webroot failed.
    Backup(BackupError),
}

impl From<LocalError> for Failure {
    fn from(e: LocalError) -> Failure {
        Failure::Backup(e.into())
    }
}

fn header(stat: &Stat, kind: EntryType, size: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(stat.permissions());
    h.set_uid(u64::from(stat.uid));
    h.set_gid(u64::from(stat.gid));
    h.set_mtime(stat.mtime.max(0) as u64);
    h.set_size(size);
    h
}

fn write_archive(
    root: &Dir,
    exclusions: &Exclusions,
    table: &MountTable,
    file: &mut File,
    level: u32,
    stop: &AtomicBool,
) -> Result<CreateReport, Failure> {
    let gz = ParallelGz::new(
        BufWriter::with_capacity(1 << 20, file),
        flate2::Compression::new(level.clamp(1, 9)),
    );
    let mut tar = tar::Builder::new(gz);
    let mut report = CreateReport::default();

    append(
        &mut tar,
        header(root.stat(), EntryType::Directory, 0),
        b"./",
        None,
        std::io::empty(),
    )
    .map_err(Failure::Archive)?;
    let mut marker = header(root.stat(), EntryType::Regular, 0);
    marker.set_mode(0o644);
    append(
        &mut tar,
        marker,
        format!("./{MARKER}").as_bytes(),
        None,
        std::io::empty(),
    )
    .map_err(Failure::Archive)?;

    let mut visit = |event: Event<'_>| -> Result<Flow, Failure> {
        if stop.load(Ordering::SeqCst) {
            return Err(Failure::Backup(BackupError::Interrupted));
        }
        let entry = *event.entry();
        let shown = || display_name(entry.rel);
        let mut name = b"./".to_vec();
        name.extend_from_slice(entry.rel);
        match event {
            Event::Name(_) => {
                // Checked before any stat: an excluded directory or a
                // mount point is never touched.
                if entry.rel == MARKER.as_bytes() {
                    return Ok(Flow::Skip);
                }
                if exclusions.excludes(entry.rel) || table.at(&entry.path()).is_some() {
                    report.excluded.push(shown());
                    return Ok(Flow::Skip);
                }
            }
            Event::Dir(_, stat) => {
                name.push(b'/');
                append(
                    &mut tar,
                    header(stat, EntryType::Directory, 0),
                    &name,
                    None,
                    std::io::empty(),
                )
                .map_err(Failure::Archive)?;
                report.directories += 1;
            }
            Event::Leave(..) => {}
            Event::File(_, _) => match entry.dir.open_file(entry.name, None) {
                Ok(opened) => {
                    let stat = opened.stat;
                    let mut body = Exact {
                        inner: opened.file,
                        left: stat.size,
                        short: false,
                        stop,
                    };
                    append(
                        &mut tar,
                        header(&stat, EntryType::Regular, stat.size),
                        &name,
                        None,
                        &mut body,
                    )
                    .map_err(Failure::Archive)?;
                    let mut probe = [0u8; 1];
                    if body.short || body.inner.read(&mut probe).is_ok_and(|n| n > 0) {
                        report.changed.push(shown());
                    }
                    report.files += 1;
                    report.bytes += stat.size;
                }
                // Replaced by a link, a FIFO or a device since the listing:
                // never followed, never read.
                Err(e) if e.was_replaced() => report.changed.push(shown()),
                Err(e) if e.is_missing() => report.vanished.push(shown()),
                Err(e) => report.unreadable.push(format!("{} ({})", shown(), cause(&e))),
            },
            Event::Symlink(_, stat) => match entry.dir.read_link(entry.name) {
                Ok(target) => {
                    append(
                        &mut tar,
                        header(stat, EntryType::Symlink, 0),
                        &name,
                        Some(&target),
                        std::io::empty(),
                    )
                    .map_err(Failure::Archive)?;
                    report.symlinks += 1;
                }
                Err(e) if e.is_missing() => report.vanished.push(shown()),
                Err(_) => report.changed.push(shown()),
            },
            Event::Special(..) => report.special.push(shown()),
            Event::Vanished(_) => report.vanished.push(shown()),
            Event::Changed(_) => report.changed.push(shown()),
            Event::OtherFilesystem(..) => report.other_filesystems.push(shown()),
            Event::TooDeep(_) => report.too_deep.push(shown()),
            Event::Unreadable(_, e) => report.unreadable.push(format!("{} ({})", shown(), cause(e))),
        }
        Ok(Flow::Continue)
    };
    adt_localfs::walk(root, &mut visit)?;
    let gz = tar.into_inner().map_err(Failure::Archive)?;
    let writer = gz.finish().map_err(Failure::Archive)?;
    writer.into_inner().map_err(|e| Failure::Archive(e.into_error()))?;
    Ok(report)
}

/// Appends an entry named exactly `name` (the tar crate would drop the
/// `./` that ADT's restore expects): in the header when it fits, else in a
/// GNU long-name record first, as GNU tar writes them; likewise a long
/// symlink target.
fn append<W: std::io::Write>(
    tar: &mut tar::Builder<W>,
    mut header: Header,
    name: &[u8],
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
    let bytes = name;
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
struct Exact<'a, R> {
    inner: R,
    left: u64,
    short: bool,
    /// Set on a signal: reading fails, so a large file does not hold up
    /// the stop.
    stop: &'a AtomicBool,
}

impl<R: Read> Read for Exact<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        if self.stop.load(Ordering::SeqCst) {
            return Err(std::io::Error::other("interrupted"));
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
