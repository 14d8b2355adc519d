//! Path names in the journal. File names are bytes; the journal is JSON.
//! A path is written as text where it is UTF-8, with `%` and every byte
//! that is not UTF-8 written `%XX`, so any name round-trips exactly.
//! Paths are relative to the webroot, `/`-separated; one that is empty,
//! absolute, or holds an empty, `.` or `..` component is refused when read.

/// The journal form of `path`.
pub fn encode(path: &[u8]) -> String {
    let mut out = String::with_capacity(path.len());
    for chunk in path.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '%' {
                out.push_str("%25");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The bytes of a journal path, or why it is refused.
pub fn decode(text: &str) -> Result<Vec<u8>, &'static str> {
    let raw = text.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hex = raw
                .get(i + 1..i + 3)
                .ok_or("has a `%` not followed by two hex digits")?;
            let hex = std::str::from_utf8(hex).map_err(|_| "has a `%` not followed by two hex digits")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "has a `%` not followed by two hex digits")?);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    check(&out)?;
    // One form per path: `%61` or `%2f` for what is written plainly would
    // give one file two names.
    if encode(&out) != text {
        return Err("is not written the one way a path is written");
    }
    Ok(out)
}

/// Refuses a path that is not a plain relative path below the webroot.
pub fn check(path: &[u8]) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("is empty");
    }
    if path.contains(&0) {
        return Err("holds a NUL byte");
    }
    if path[0] == b'/' {
        return Err("is absolute");
    }
    for part in path.split(|b| *b == b'/') {
        match part {
            b"" => return Err("has an empty component"),
            b"." | b".." => return Err("has a `.` or `..` component"),
            _ => {}
        }
    }
    Ok(())
}

/// The order paths are walked in: component by component, each compared as
/// bytes (a directory comes right before its contents).
pub fn walk_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.split(|c| *c == b'/').cmp(b.split(|c| *c == b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refuses_escapes() {
        for bad in ["", "/etc/passwd", "a/../b", "..", "a//b", "./a", "a/", "%2"] {
            assert!(decode(bad).is_err(), "{bad}");
        }
        assert!(decode("a%2Fb").is_err(), "a `/` is written plainly");
        assert!(decode("%61").is_err(), "one form per path");
        assert!(decode("%2E%2E/x").is_err(), "`..` however written");
        assert_eq!(decode("caf%E9").unwrap(), b"caf\xe9");
        assert_eq!(decode("100%25").unwrap(), b"100%");
    }

    #[test]
    fn order_puts_a_directory_before_its_contents() {
        let mut v: Vec<&[u8]> = vec![b"a-b", b"a/b", b"a", b"a/b/c", b"b"];
        v.sort_by(|a, b| walk_order(a, b));
        assert_eq!(v, [&b"a"[..], b"a/b", b"a/b/c", b"a-b", b"b"]);
    }

    proptest! {
        #[test]
        fn any_name_round_trips(parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..12), 1..4)) {
            let parts: Vec<Vec<u8>> = parts
                .into_iter()
                .map(|p| p.into_iter().map(|b| if b == b'/' || b == 0 { b'x' } else { b }).collect())
                .filter(|p: &Vec<u8>| p != b"." && p != b"..")
                .collect();
            prop_assume!(!parts.is_empty());
            let path = parts.join(&b'/');
            prop_assert_eq!(decode(&encode(&path)).unwrap(), path);
        }
    }
}
