//! What an entry's name means below the directory it is read into: one
//! owner of the rule every reader applies (`./` and empty segments
//! dropped; an absolute name or a `..` refused, never stripped).

/// Why a name cannot be placed below a root.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnsafeName {
    /// The name starts with `/`.
    #[error("is an absolute path")]
    Absolute,
    /// A segment is `..`.
    #[error("contains `..`")]
    ParentDir,
}

/// The segments of an entry's name relative to the archive's root, as
/// bytes: `./images//a.png` gives `images`, `a.png`; `./` gives none (the
/// root itself).
pub fn components(name: &[u8]) -> Result<Vec<&[u8]>, UnsafeName> {
    if name.first() == Some(&b'/') {
        return Err(UnsafeName::Absolute);
    }
    let mut parts = Vec::new();
    for part in name.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return Err(UnsafeName::ParentDir),
            p => parts.push(p),
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_relative_and_escapes_refused() {
        assert_eq!(components(b"./images//a.png").unwrap(), [&b"images"[..], b"a.png"]);
        assert!(components(b"./").unwrap().is_empty());
        assert_eq!(components(b"caf\xe9/").unwrap(), [&b"caf\xe9"[..]]);
        assert_eq!(components(b"/etc/passwd"), Err(UnsafeName::Absolute));
        assert_eq!(components(b"images/../../etc"), Err(UnsafeName::ParentDir));
        assert_eq!(components(b".."), Err(UnsafeName::ParentDir));
        assert_eq!(components(b"a/..b").unwrap(), [&b"a"[..], b"..b"]);
    }
}
