//! Webserver descriptors: `KEY:value` lines, keys without underscores
//! (`DIRECTORIESTOMOUNT:images`), mapped onto the template variables.

use super::{Parsed, syntax_error, to_u32};
use crate::names;
use crate::source::{Assignment, Span, Value};

pub(super) fn parse(text: &str) -> Parsed {
    let mut parsed = Parsed {
        assignments: Vec::new(),
        findings: Vec::new(),
    };
    for (index, raw) in text.lines().enumerate() {
        let line_no = to_u32(index + 1);
        let line = raw.trim_end_matches('\r');
        let chars: Vec<char> = line.chars().collect();
        let lead = chars.iter().take_while(|c| c.is_whitespace()).count();
        if lead == chars.len() || chars[lead] == '#' {
            continue;
        }
        let colon = chars.iter().position(|c| *c == ':');
        let key_ok = |end: usize| end > lead && chars[lead..end].iter().all(|c| c.is_ascii_alphanumeric() || *c == '_');
        let Some(colon) = colon.filter(|&end| key_ok(end)) else {
            parsed.findings.push(syntax_error(
                Span {
                    line: line_no,
                    column: to_u32(lead + 1),
                    len: to_u32(chars.len() - lead),
                },
                "expected a descriptor line KEY:value",
                "a webserver descriptor has one KEY:value a line, e.g. DIRECTORIESTOMOUNT:images",
            ));
            continue;
        };
        let key: String = chars[lead..colon].iter().collect();
        let start = colon + 1 + chars[colon + 1..].iter().take_while(|c| c.is_whitespace()).count();
        let end = chars.len() - chars[start..].iter().rev().take_while(|c| c.is_whitespace()).count();
        let text: String = chars[start..end].iter().collect();
        let columns = (start..end).map(|i| to_u32(i + 1)).collect();
        let name = names::from_descriptor_key(&key).map_or_else(|| key.clone(), str::to_string);
        parsed.assignments.push(Assignment {
            name,
            key_span: Span {
                line: line_no,
                column: to_u32(lead + 1),
                len: to_u32(colon - lead),
            },
            key,
            value: Value::new(text, line_no, columns, to_u32(colon + 2)),
        });
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_keys_and_keeps_colons_in_values() {
        let p = parse("DIRECTORIESTOMOUNT:sites/default/files:/var/www/private\nWEBSITEURL:www.a.com\nODD:1\n");
        assert!(p.findings.is_empty());
        assert_eq!(p.assignments[0].name, "DIRECTORIES_TO_MOUNT");
        assert_eq!(p.assignments[0].value.text, "sites/default/files:/var/www/private");
        assert_eq!(p.assignments[0].value.span().column, 20);
        assert_eq!(p.assignments[1].name, "WEBSITE_URL");
        assert_eq!(p.assignments[2].name, "ODD");
        assert_eq!(parse("no colon here\n").findings.len(), 1);
    }
}
