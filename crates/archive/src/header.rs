//! One 512-byte tar header block: its fields, checksum and numbers.

/// What an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file (types `0`, NUL and `7`, contiguous, which every tar
    /// extracts as a regular file).
    File,
    /// A hard link (type `1`): its target is in `Header::link`.
    HardLink,
    /// A symbolic link (type `2`): its target is in `Header::link`.
    Symlink,
    /// A character device (type `3`).
    CharDevice,
    /// A block device (type `4`).
    BlockDevice,
    /// A directory (type `5`).
    Dir,
    /// A FIFO (type `6`).
    Fifo,
    /// Any other type (GNU sparse `S`, volume label `V`, ...): its body is
    /// skipped; callers report it.
    Other(u8),
}

impl Kind {
    fn from_flag(flag: u8) -> Kind {
        match flag {
            b'0' | 0 | b'7' => Kind::File,
            b'1' => Kind::HardLink,
            b'2' => Kind::Symlink,
            b'3' => Kind::CharDevice,
            b'4' => Kind::BlockDevice,
            b'5' => Kind::Dir,
            b'6' => Kind::Fifo,
            other => Kind::Other(other),
        }
    }
}

/// An entry's header, long names and PAX records applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The name as stored (bytes; `./` and trailing `/` kept).
    pub name: Vec<u8>,
    /// A link's target (hard or symbolic), else empty.
    pub link: Vec<u8>,
    /// What the entry is.
    pub kind: Kind,
    /// Permission bits (`mode & 0o7777`).
    pub mode: u32,
    /// The owner's user id (a number; the user name is not kept).
    pub uid: u64,
    /// The owner's group id (a number; the group name is not kept).
    pub gid: u64,
    /// Seconds since 1970.
    pub mtime: u64,
    /// Bytes of the body.
    pub size: u64,
}

/// A header block as read, before long names and PAX records apply.
#[derive(Debug)]
pub(crate) struct Block {
    pub flag: u8,
    pub name: Vec<u8>,
    pub link: Vec<u8>,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub size: u64,
}

impl Block {
    pub(crate) fn into_header(self) -> Header {
        Header {
            name: self.name,
            link: self.link,
            kind: Kind::from_flag(self.flag),
            mode: self.mode,
            uid: self.uid,
            gid: self.gid,
            mtime: self.mtime,
            size: self.size,
        }
    }
}

/// Parses a header block; the error says which field is wrong.
pub(crate) fn parse(block: &[u8; 512]) -> Result<Block, String> {
    let stored = number(&block[148..156]).map_err(|_| "its checksum field is not a number".to_string())?;
    let unsigned: u64 = block
        .iter()
        .enumerate()
        .map(|(i, b)| if (148..156).contains(&i) { 32 } else { u64::from(*b) })
        .sum();
    let signed: i64 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                i64::from(*b as i8)
            }
        })
        .sum();
    if stored != unsigned && i64::try_from(stored).ok() != Some(signed) {
        return Err("its header checksum does not match".into());
    }
    let field = |name: &'static str, range: std::ops::Range<usize>| {
        number(&block[range]).map_err(|_| format!("its {name} is not a number"))
    };
    let posix = &block[257..263] == b"ustar\0";
    let mut name = text(&block[0..100]);
    if posix {
        let prefix = text(&block[345..500]);
        if !prefix.is_empty() {
            let mut full = prefix;
            full.push(b'/');
            full.extend_from_slice(&name);
            name = full;
        }
    }
    Ok(Block {
        flag: block[156],
        name,
        link: text(&block[157..257]),
        mode: (field("mode", 100..108)? & 0o7777) as u32,
        uid: field("uid", 108..116)?,
        gid: field("gid", 116..124)?,
        size: field("size", 124..136)?,
        mtime: field("mtime", 136..148)?,
    })
}

/// True for a block of zeros (the end of the archive).
pub(crate) fn is_zero(block: &[u8; 512]) -> bool {
    block.iter().all(|b| *b == 0)
}

/// A NUL-terminated field.
fn text(field: &[u8]) -> Vec<u8> {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    field[..end].to_vec()
}

/// An octal number (spaces and NULs around it), or GNU base-256 (the first
/// byte's high bit set).
pub(crate) fn number(field: &[u8]) -> Result<u64, ()> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        if field[0] & 0x40 != 0 {
            return Err(()); // negative
        }
        let mut value: u64 = u64::from(field[0] & 0x3f);
        for b in &field[1..] {
            value = value.checked_mul(256).ok_or(())?.checked_add(u64::from(*b)).ok_or(())?;
        }
        return Ok(value);
    }
    let digits: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|b| *b == b' ' || *b == 0)
        .take_while(|b| *b != b' ' && *b != 0)
        .collect();
    if digits.is_empty() {
        return Ok(0);
    }
    let mut value: u64 = 0;
    for d in digits {
        if !(b'0'..=b'7').contains(&d) {
            return Err(());
        }
        value = value
            .checked_mul(8)
            .ok_or(())?
            .checked_add(u64::from(d - b'0'))
            .ok_or(())?;
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_octal_and_base_256() {
        assert_eq!(number(b"0000644\0"), Ok(0o644));
        assert_eq!(number(b"  755 \0"), Ok(0o755));
        assert_eq!(number(b"\0\0\0\0"), Ok(0));
        assert_eq!(number(&[0x80, 0, 0, 0, 0, 0, 0, 1, 0]), Ok(256));
        assert!(number(b"12a\0").is_err());
        assert!(number(&[0xff; 12]).is_err());
        assert!(number(b"77777777777777777777777").is_err(), "overflow");
    }
}
