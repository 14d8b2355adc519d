//! Reading entries in turn, in bounded memory.

use std::io::Read;

use flate2::read::MultiGzDecoder;

use crate::error::ArchiveError;
use crate::header::{self, Header};

/// What a hostile archive may not exceed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A GNU long name or long link target, in bytes (default 64 KiB).
    pub max_name: u64,
    /// One PAX extended header, in bytes (default 1 MiB).
    pub max_pax: u64,
    /// Entries in the archive (default 50 million).
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_name: 64 * 1024,
            max_pax: 1024 * 1024,
            max_entries: 50_000_000,
        }
    }
}

/// A gzip tar being read.
pub struct Reader<R: Read> {
    inner: MultiGzDecoder<R>,
    limits: Limits,
    entries: u64,
    /// Body bytes of the current entry not read yet, and its padding.
    left: u64,
    pad: u64,
    done: bool,
}

/// One entry: its header, and its body to read (or leave: the next
/// `next_entry` skips what is left). Reading the body fails with an
/// `io::Error` when the archive is damaged or ends inside it.
pub struct Entry<'a, R: Read> {
    /// The entry's header, long names and PAX records applied.
    pub header: Header,
    reader: &'a mut Reader<R>,
}

impl<R: Read> Read for Entry<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let r = &mut *self.reader;
        if r.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(r.left).unwrap_or(usize::MAX));
        let n = r.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the archive ends inside an entry",
            ));
        }
        r.left -= n as u64;
        Ok(n)
    }
}

impl<R: Read> Reader<R> {
    /// A reader of the gzip tar `reader`, refusing what exceeds `limits`.
    /// It returns no error itself: input that is not gzip, or is damaged,
    /// is refused by `next_entry`.
    pub fn new(reader: R, limits: Limits) -> Reader<R> {
        Reader {
            inner: MultiGzDecoder::new(reader),
            limits,
            entries: 0,
            left: 0,
            pad: 0,
            done: false,
        }
    }

    /// Entries handed out so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// The next entry, or None after the end-of-archive blocks, once the
    /// whole gzip stream has been read and checked.
    pub fn next_entry(&mut self) -> Result<Option<Entry<'_, R>>, ArchiveError> {
        if self.done {
            return Ok(None);
        }
        let rest = self.left + self.pad;
        self.skip(rest)?;
        self.left = 0;
        self.pad = 0;
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax: Vec<PaxRecord> = Vec::new();
        loop {
            let number = self.entries + 1;
            let Some(block) = self.read_block()? else {
                return Err(ArchiveError::corrupt("it ends without the end-of-archive blocks"));
            };
            if header::is_zero(&block) {
                // The rest (the second zero block, record padding) is read
                // to the end so the gzip CRC and length are checked, and
                // anything after the last gzip member is refused.
                std::io::copy(&mut self.inner, &mut std::io::sink()).map_err(ArchiveError::from_io)?;
                self.done = true;
                return Ok(None);
            }
            let block = header::parse(&block).map_err(|e| ArchiveError::corrupt(format!("entry {number}: {e}")))?;
            match block.flag {
                b'L' => {
                    long_name = Some(trim_nul(self.read_meta(
                        block.size,
                        self.limits.max_name,
                        number,
                        "long name",
                    )?))
                }
                b'K' => {
                    long_link = Some(trim_nul(self.read_meta(
                        block.size,
                        self.limits.max_name,
                        number,
                        "long link target",
                    )?))
                }
                b'x' => {
                    pax = parse_pax(
                        &self.read_meta(block.size, self.limits.max_pax, number, "PAX header")?,
                        number,
                    )?
                }
                b'g' => {
                    self.read_meta(block.size, self.limits.max_pax, number, "global PAX header")?;
                }
                _ => {
                    let mut h = block.into_header();
                    if let Some(name) = long_name {
                        h.name = name;
                    }
                    if let Some(link) = long_link {
                        h.link = link;
                    }
                    apply_pax(&mut h, &pax, number)?;
                    self.entries += 1;
                    if self.entries > self.limits.max_entries {
                        return Err(ArchiveError::TooManyEntries {
                            limit: self.limits.max_entries,
                        });
                    }
                    self.left = h.size;
                    self.pad = padding(h.size);
                    return Ok(Some(Entry {
                        header: h,
                        reader: self,
                    }));
                }
            }
        }
    }

    /// A 512-byte block, None at the very end of the stream.
    fn read_block(&mut self) -> Result<Option<[u8; 512]>, ArchiveError> {
        let mut block = [0u8; 512];
        let mut filled = 0;
        while filled < 512 {
            let n = self.inner.read(&mut block[filled..]).map_err(ArchiveError::from_io)?;
            if n == 0 {
                return if filled == 0 {
                    Ok(None)
                } else {
                    Err(ArchiveError::corrupt("it ends inside a header"))
                };
            }
            filled += n;
        }
        Ok(Some(block))
    }

    /// A header record's body (with its padding), refused before it is
    /// read when larger than `limit`.
    fn read_meta(&mut self, size: u64, limit: u64, entry: u64, what: &'static str) -> Result<Vec<u8>, ArchiveError> {
        if size > limit {
            return Err(ArchiveError::TooLarge {
                entry,
                what,
                size,
                limit,
            });
        }
        let mut body = Vec::with_capacity(size as usize);
        (&mut self.inner)
            .take(size)
            .read_to_end(&mut body)
            .map_err(ArchiveError::from_io)?;
        if body.len() as u64 != size {
            return Err(ArchiveError::corrupt(format!(
                "entry {entry}: it ends inside its {what}"
            )));
        }
        self.skip(padding(size))?;
        Ok(body)
    }

    fn skip(&mut self, n: u64) -> Result<(), ArchiveError> {
        let skipped =
            std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink()).map_err(ArchiveError::from_io)?;
        if skipped != n {
            return Err(ArchiveError::corrupt("it ends inside an entry"));
        }
        Ok(())
    }
}

fn padding(size: u64) -> u64 {
    (512 - size % 512) % 512
}

fn trim_nul(mut v: Vec<u8>) -> Vec<u8> {
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}

/// One PAX record: key and value, as bytes.
type PaxRecord = (Vec<u8>, Vec<u8>);

/// PAX records: `LENGTH KEY=VALUE\n`, LENGTH counting the whole record.
fn parse_pax(data: &[u8], entry: u64) -> Result<Vec<PaxRecord>, ArchiveError> {
    let bad = || ArchiveError::corrupt(format!("entry {entry}: a PAX record is malformed"));
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if rest.iter().all(|b| *b == 0) {
            break;
        }
        let space = rest.iter().position(|b| *b == b' ').ok_or_else(bad)?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        if len <= space + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(bad());
        }
        let record = &rest[space + 1..len - 1];
        let eq = record.iter().position(|b| *b == b'=').ok_or_else(bad)?;
        out.push((record[..eq].to_vec(), record[eq + 1..].to_vec()));
        rest = &rest[len..];
    }
    Ok(out)
}

fn apply_pax(h: &mut Header, records: &[PaxRecord], entry: u64) -> Result<(), ArchiveError> {
    let number = |v: &[u8]| -> Result<u64, ArchiveError> {
        // Times may carry a fraction: the seconds are kept.
        let whole = v.split(|b| *b == b'.').next().unwrap_or_default();
        std::str::from_utf8(whole)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| ArchiveError::corrupt(format!("entry {entry}: a PAX number is malformed")))
    };
    for (key, value) in records {
        match key.as_slice() {
            b"path" => h.name = value.clone(),
            b"linkpath" => h.link = value.clone(),
            b"size" => h.size = number(value)?,
            b"uid" => h.uid = number(value)?,
            b"gid" => h.gid = number(value)?,
            b"mtime" => h.mtime = number(value)?,
            _ => {}
        }
    }
    Ok(())
}
