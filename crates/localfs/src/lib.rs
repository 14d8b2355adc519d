//! Safe local filesystem access for tools that run as root inside
//! directories other users control (a webroot, its asset directories).
//!
//! What it does: opens directories and files relative to directory handles,
//! one component at a time, never following a symbolic link (`O_NOFOLLOW`),
//! never blocking on a FIFO (`O_NONBLOCK`), and checking after every open
//! (`fstat`) that what was opened is what the walk saw (type, device,
//! inode); walks a tree depth first in name order without crossing into
//! another filesystem; handles names as bytes; creates private files
//! (`O_CREAT|O_EXCL|O_NOFOLLOW`, 0600) under unpredictable names and renames
//! them into place; removes a file only if it is still the file that was
//! checked; refuses private directories with the wrong owner or mode
//! instead of changing them; gives restored files, links and directories
//! their owner, mode and time through handles ([`Attributes`]).
//!
//! What it does not do: decide what to back up, upload or delete (the
//! callers do), or anything over the network. Linux only.
//!
//! ```no_run
//! use adt_localfs::{Dir, Event, Flow, walk};
//! let root = Dir::open(std::path::Path::new("/var/www/html"))?;
//! walk(&root, &mut |event: Event<'_>| -> Result<Flow, adt_localfs::LocalError> {
//!     if let Event::File(entry, _) = event {
//!         println!("{}", adt_localfs::display_name(entry.rel));
//!     }
//!     Ok(Flow::Continue)
//! })?;
//! # Ok::<(), adt_localfs::LocalError>(())
//! ```
//!
//! A whole run on a small tree made for it in a directory of its own under
//! the temporary directory (no root needed):
//!
//! ```rust
//! use std::io::Read;
//!
//! use adt_localfs::{Dir, Event, Flow, canonical_dir, display_name, walk};
//!
//! let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
//! let base = std::env::temp_dir().join(format!("adt-localfs-doc-{}-{nanos}", std::process::id()));
//! std::fs::create_dir(&base)?;
//! std::fs::create_dir_all(base.join("images/thumbs"))?;
//! std::fs::write(base.join("images/a.jpg"), b"jpeg!")?;
//! std::fs::write(base.join("images/thumbs/a.jpg"), b"tiny")?;
//! std::os::unix::fs::symlink("a.jpg", base.join("images/link.jpg"))?;
//!
//! // The temporary directory may be reached through a link: make the path
//! // canonical once, then open it from `/` one component at a time.
//! let root = Dir::open(&canonical_dir(&base)?)?;
//! let mut seen = Vec::new();
//! let walked = walk(&root, &mut |event: Event<'_>| -> Result<Flow, Box<dyn std::error::Error>> {
//!     let rel = display_name(event.entry().rel);
//!     match event {
//!         // Leave out a directory: its entries are never read.
//!         Event::Dir(..) if rel == "images/thumbs" => return Ok(Flow::Skip),
//!         Event::Dir(..) => seen.push(format!("dir {rel}")),
//!         // Open a file relative to its directory; it must still be the
//!         // file the walk saw.
//!         Event::File(entry, stat) => {
//!             let mut opened = entry.dir.open_file(entry.name, Some(stat))?;
//!             let mut body = String::new();
//!             opened.file.read_to_string(&mut body)?;
//!             seen.push(format!("file {rel}: {body}"));
//!         }
//!         // A link is reported, never followed.
//!         Event::Symlink(entry, _) => {
//!             let target = entry.dir.read_link(entry.name)?;
//!             seen.push(format!("link {rel} -> {}", display_name(&target)));
//!         }
//!         Event::Leave(_, _, names) => seen.push(format!("leave {rel} ({names} names)")),
//!         _ => {}
//!     }
//!     Ok(Flow::Continue)
//! });
//! std::fs::remove_dir_all(&base)?;
//! walked?;
//! assert_eq!(
//!     seen,
//!     [
//!         "dir images",
//!         "file images/a.jpg: jpeg!",
//!         "link images/link.jpg -> a.jpg",
//!         "leave images (3 names)",
//!     ]
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod attrs;
mod dir;
mod error;
mod mounttable;
mod name;
mod private;
mod stat;
mod walk;

pub use attrs::{Attributes, NOBODY};
pub use dir::{Dir, Opened, open_regular_file};
pub use error::LocalError;
pub use mounttable::{MountInfo, MountTable};
pub use name::{display_name, join_rel};
pub use private::{PrivateFile, canonical_dir, ensure_private_dir, write_private};
pub use stat::{Kind, Stat};
pub use walk::{Entry, Event, Flow, MAX_DEPTH, walk};
