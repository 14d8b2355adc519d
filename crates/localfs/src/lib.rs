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
//! instead of changing them.
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

mod dir;
mod error;
mod mounttable;
mod name;
mod private;
mod stat;
mod walk;

pub use dir::{Dir, Opened};
pub use error::LocalError;
pub use mounttable::{MountInfo, MountTable};
pub use name::{display_name, join_rel};
pub use private::{PrivateFile, canonical_dir, ensure_private_dir, write_private};
pub use stat::{Kind, Stat};
pub use walk::{Entry, Event, Flow, MAX_DEPTH, walk};
