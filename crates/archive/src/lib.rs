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
//! What it does not do: decide what a name means (the callers refuse `..`
//! or route files), write archives (adt-backup does, with the tar crate).
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

mod error;
mod header;
mod reader;

pub use error::ArchiveError;
pub use header::{Header, Kind};
pub use reader::{Entry, Limits, Reader};
