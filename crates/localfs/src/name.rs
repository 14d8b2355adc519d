//! File names are bytes: helpers to join them and to show them.

/// `parent/name` as bytes (`name` alone when `parent` is empty).
pub fn join_rel(parent: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parent.len() + 1 + name.len());
    if !parent.is_empty() {
        out.extend_from_slice(parent);
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}

/// A name for people and JSON: valid UTF-8 printed as is, except control
/// characters and backslashes, which are escaped (`\n`, `\x01`, `\\`), as
/// is every byte that is not UTF-8 (`\xff`). Two different names never
/// show the same.
pub fn display_name(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() => {
                    for b in c.to_string().bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shows_bytes_escaped() {
        assert_eq!(display_name(b"images/a.jpg"), "images/a.jpg");
        assert_eq!(display_name(b"up\x01load"), "up\\x01load");
        assert_eq!(display_name(b"caf\xe9"), "caf\\xe9");
        assert_eq!(display_name("café".as_bytes()), "café");
        assert_eq!(display_name(b"a\\x01"), "a\\\\x01");
        assert_eq!(display_name(b"line\nbreak"), "line\\nbreak");
    }

    proptest! {
        #[test]
        fn different_names_show_differently(a in proptest::collection::vec(any::<u8>(), 0..12), b in proptest::collection::vec(any::<u8>(), 0..12)) {
            prop_assume!(a != b);
            prop_assert_ne!(display_name(&a), display_name(&b));
        }
    }
}
