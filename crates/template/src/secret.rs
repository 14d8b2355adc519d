use std::fmt;

/// A credential read from a template. Debug and Display never show it; the
/// value is only reachable through [`Secret::expose`], so every place that
/// hands a key to a client or writes it to a 0600 file is easy to find.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps the credential `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The credential itself. Every call is a place a key leaves this type:
    /// keep it out of messages and logs.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the credential is empty (the template gives none).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_formats_the_value() {
        let s = Secret::new("AKIAEXAMPLE");
        assert!(!format!("{s:?} {s} {s:#?}").contains("AKIA"));
        assert_eq!(s.expose(), "AKIAEXAMPLE");
    }
}
