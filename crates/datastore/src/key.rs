//! Which local names can become object keys. S3 keys are UTF-8 of at most
//! 1024 bytes, and every listing is XML, which cannot carry most control
//! characters: one such key makes the whole bucket unlistable for some
//! clients. A name that fails here is never uploaded (and so never
//! deleted locally as "in the bucket"); the caller reports it by name.

/// The longest key S3 accepts, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// Why a name cannot be a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRefusal {
    /// The name is not valid UTF-8.
    #[error("it is not valid UTF-8")]
    NotUtf8,
    /// The name holds a control character (C0, DEL or C1).
    #[error("it holds a control character")]
    Control,
    /// The name is longer than [`MAX_KEY_BYTES`] bytes.
    #[error("it is longer than {MAX_KEY_BYTES} bytes")]
    TooLong,
    /// The name is empty, or a `/`-separated segment of it is empty, only
    /// whitespace, `.` or `..` (so a leading, trailing or double `/` too).
    #[error("it is empty or has an empty, blank, `.` or `..` segment")]
    BadSegment,
}

/// `name` (a `/`-separated relative path, as bytes) as an object key.
pub fn object_key(name: &[u8]) -> Result<&str, KeyRefusal> {
    let key = std::str::from_utf8(name).map_err(|_| KeyRefusal::NotUtf8)?;
    if key.len() > MAX_KEY_BYTES {
        return Err(KeyRefusal::TooLong);
    }
    if key.chars().any(char::is_control) {
        return Err(KeyRefusal::Control);
    }
    // A blank segment (" ") is legal S3, but the SDK refuses a blank key
    // and tools show such names badly: kept local, named.
    if key.split('/').any(|s| s.trim().is_empty() || s == "." || s == "..") {
        return Err(KeyRefusal::BadSegment);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_listings_or_s3_cannot_carry() {
        assert_eq!(object_key(b"images/a.jpg"), Ok("images/a.jpg"));
        assert_eq!(object_key("caf\u{e9}/\u{1F600}.png".as_bytes()), Ok("café/😀.png"));
        assert_eq!(object_key(b"a\xff"), Err(KeyRefusal::NotUtf8));
        assert_eq!(object_key(b"up\x01load"), Err(KeyRefusal::Control));
        assert_eq!(object_key("a\u{85}b".as_bytes()), Err(KeyRefusal::Control));
        assert_eq!(object_key(b"a\x7fb"), Err(KeyRefusal::Control));
        assert_eq!(object_key(&[b'a'; 1025]), Err(KeyRefusal::TooLong));
        assert!(object_key(&[b'a'; 1024]).is_ok());
        assert_eq!(object_key(b" a/b "), Ok(" a/b "));
        for bad in [&b""[..], b"a//b", b"./a", b"a/..", b"/a", b" ", b"a/  /b"] {
            assert_eq!(object_key(bad), Err(KeyRefusal::BadSegment), "{bad:?}");
        }
    }
}
