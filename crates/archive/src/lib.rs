//! The one reader of backup archives (gzip tar) for every tool: adt-check
//! lists their directories, adt-seed checks and uploads them, adt-backup
//! verifies them, and they must agree on which archives are whole.
//!
//! What it does: reads a gzip stream of any number of members to its end
//! (every member's CRC and length checked; anything after the last member
//! refused), parses ustar, GNU (long names and links, base-256 numbers)
//! and PAX (path, linkpath, size, uid, gid, mtime) headers with their
//! checksums, and hands out each entry's header and body in turn. Memory is
//! bounded whatever the input: a long name or PAX record larger than its
//! limit, or more entries than the limit, is refused with an error naming
//! it. Names and link targets are bytes.
//!
//! Names: [`components`] is the one rule for placing an entry below a
//! root (`./` dropped; absolute names and `..` refused).
//!
//! What it does not do: decide where a name goes (the callers route
//! files), write archives (adt-backup does, with the tar crate).
//!
//! ```no_run
//! let file = std::fs::File::open("backup.tar.gz")?;
//! let mut archive = adt_archive::Reader::new(file, adt_archive::Limits::default());
//! while let Some(mut entry) = archive.next_entry()? {
//!     println!("{:?} {}", entry.header.kind, String::from_utf8_lossy(&entry.header.name));
//!     std::io::copy(&mut entry, &mut std::io::sink())?;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A whole run, on an archive built in memory (here with the tar and
//! flate2 crates, as adt-backup writes them):
//!
//! ```rust
//! use std::io::{Read, Write};
//!
//! use adt_archive::{Kind, Limits, Reader};
//!
//! // A gzip tar holding a directory and one file in it.
//! let mut tar = tar::Builder::new(Vec::new());
//! let mut dir = tar::Header::new_gnu();
//! dir.set_entry_type(tar::EntryType::Directory);
//! dir.set_mode(0o755);
//! dir.set_size(0);
//! tar.append_data(&mut dir, "images/", std::io::empty())?;
//! let mut file = tar::Header::new_gnu();
//! file.set_mode(0o644);
//! file.set_size(5);
//! tar.append_data(&mut file, "images/a.jpg", &b"jpeg!"[..])?;
//! let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
//! gz.write_all(&tar.into_inner()?)?;
//! let bytes = gz.finish()?;
//!
//! // Read it back: each entry's header, and the file's body.
//! let mut archive = Reader::new(&bytes[..], Limits::default());
//! let mut seen = Vec::new();
//! while let Some(mut entry) = archive.next_entry()? {
//!     let mut body = Vec::new();
//!     entry.read_to_end(&mut body)?;
//!     seen.push((entry.header.kind, entry.header.name.clone(), body));
//! }
//! assert_eq!(
//!     seen,
//!     [
//!         (Kind::Dir, b"images/".to_vec(), Vec::new()),
//!         (Kind::File, b"images/a.jpg".to_vec(), b"jpeg!".to_vec()),
//!     ]
//! );
//! assert_eq!(archive.entries(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod error;
mod header;
mod name;
mod reader;

pub use error::ArchiveError;
pub use header::{Header, Kind};
pub use name::{UnsafeName, components};
pub use reader::{Entry, Limits, Reader};
