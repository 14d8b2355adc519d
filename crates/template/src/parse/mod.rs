//! The three template parsers and the format detection in front of them.
//! Parsers never fail on a bad line: they record a `syntax` finding and go
//! on, so one typo does not hide the rest of the file.

mod descriptor;
mod shell;
mod yaml;

use crate::diagnostic::{Diagnostic, Rule, Severity};
use crate::error::TemplateError;
use crate::source::{Assignment, Format, Span};

pub(crate) struct Parsed {
    pub assignments: Vec<Assignment>,
    pub findings: Vec<Diagnostic>,
}

pub(crate) fn parse(format: Format, name: &str, text: &str) -> Result<Parsed, TemplateError> {
    match format {
        Format::Shell => Ok(shell::parse(text)),
        Format::Descriptor => Ok(descriptor::parse(text)),
        Format::Yaml => yaml::parse(name, text),
    }
}

/// Tells the format from the content: the kind of line most common among
/// the significant ones wins; the file name settles a tie.
pub(crate) fn detect(name: &str, text: &str) -> Format {
    let (mut shell, mut descriptor, mut yaml) = (0usize, 0usize, 0usize);
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if line == "---" {
            yaml += 1;
            continue;
        }
        let key_end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(line.len());
        let rest = &line[key_end..];
        let starts_shell = trimmed.starts_with("export ") || (key_end > 0 && rest.starts_with('='));
        if starts_shell {
            shell += 1;
        } else if key_end > 0 && rest.starts_with(':') {
            let after = &rest[1..];
            if after.is_empty() || after.starts_with([' ', '\t']) {
                // `KEY:` or `KEY: value`: YAML style, unless the key is a
                // descriptor key (no underscores) with nothing after it.
                if after.is_empty() && !line[..key_end].contains('_') {
                    descriptor += 1;
                } else {
                    yaml += 1;
                }
            } else {
                descriptor += 1;
            }
        }
    }
    let lower = name.to_ascii_lowercase();
    let named_yaml = lower.ends_with(".yaml") || lower.ends_with(".yml");
    let best = shell.max(descriptor).max(yaml);
    if best == 0 {
        return if named_yaml { Format::Yaml } else { Format::Shell };
    }
    let mut winners = Vec::new();
    if shell == best {
        winners.push(Format::Shell);
    }
    if descriptor == best {
        winners.push(Format::Descriptor);
    }
    if yaml == best {
        winners.push(Format::Yaml);
    }
    if named_yaml && winners.contains(&Format::Yaml) {
        Format::Yaml
    } else {
        winners[0]
    }
}

pub(crate) fn syntax_error(span: Span, message: impl Into<String>, help: impl Into<String>) -> Diagnostic {
    Diagnostic::new(Rule::Syntax, Severity::Error, span, message, help)
}

pub(crate) fn syntax_warning(span: Span, message: impl Into<String>, help: impl Into<String>) -> Diagnostic {
    Diagnostic::new(Rule::Syntax, Severity::Warning, span, message, help)
}

/// Line numbers and char columns are 1-based u32 throughout.
pub(crate) fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_content() {
        assert_eq!(detect("x.tmpl", "export A=\"1\"\n"), Format::Shell);
        assert_eq!(detect("x.tmpl", "A=1\n"), Format::Shell);
        assert_eq!(
            detect("webserver.dat", "DIRECTORIESTOMOUNT:images\nWEBSITEURL:a.b\n"),
            Format::Descriptor
        );
        assert_eq!(
            detect("x.tmpl", "DIRECTORIESTOMOUNT:images\nPERSISTASSETSTODATASTORE:\n"),
            Format::Descriptor
        );
        assert_eq!(detect("x", "---\nWEBSITE_URL: www.a.com\n"), Format::Yaml);
        assert_eq!(detect("x.yaml", "WEBSITE_URL: www.a.com\n"), Format::Yaml);
        assert_eq!(detect("x.yml", ""), Format::Yaml);
        assert_eq!(detect("x", "# nothing\n\n"), Format::Shell);
    }
}
