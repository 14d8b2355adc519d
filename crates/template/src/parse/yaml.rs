//! YAML templates, for tools that generate configuration: a mapping whose
//! keys are the template variables and whose values are strings or numbers.
//! Positions come from a scan of the top-level `KEY:` lines, since the YAML
//! value tree does not keep them.

use super::{Parsed, syntax_error, to_u32};
use crate::error::TemplateError;
use crate::source::{Assignment, Span, Value};

pub(super) fn parse(name: &str, text: &str) -> Result<Parsed, TemplateError> {
    let mut parsed = Parsed {
        assignments: Vec::new(),
        findings: Vec::new(),
    };
    let document: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        TemplateError::Yaml {
            path: name.to_string(),
            line,
            column,
            message: e.to_string(),
        }
    })?;
    let mapping = match document {
        serde_yaml::Value::Mapping(m) => m,
        serde_yaml::Value::Null => return Ok(parsed),
        other => {
            return Err(TemplateError::YamlShape {
                path: name.to_string(),
                found: kind(&other),
            });
        }
    };
    let lines: Vec<&str> = text.lines().collect();
    for (key, value) in mapping {
        let key = match key {
            serde_yaml::Value::String(s) => s,
            other => {
                return Err(TemplateError::YamlShape {
                    path: name.to_string(),
                    found: kind(&other),
                });
            }
        };
        let (line_no, key_column, value_column) = locate(&lines, &key);
        let key_span = Span {
            line: line_no,
            column: key_column,
            len: to_u32(key.chars().count().max(1)),
        };
        let text = match value {
            serde_yaml::Value::String(s) => s,
            serde_yaml::Value::Number(n) => n.to_string(),
            serde_yaml::Value::Bool(b) => b.to_string(),
            serde_yaml::Value::Null => String::new(),
            other => {
                parsed.findings.push(syntax_error(
                    key_span,
                    format!("{key} is a YAML {}; settings are strings or numbers", kind(&other)),
                    format!("write it as {key}: \"value\""),
                ));
                continue;
            }
        };
        let columns = (0..text.chars().count()).map(|i| value_column + to_u32(i)).collect();
        parsed.assignments.push(Assignment {
            name: key.clone(),
            key,
            key_span,
            value: Value::new(text, line_no, columns, value_column),
        });
    }
    Ok(parsed)
}

/// Line, key column and value column of the top-level `key:` line.
fn locate(lines: &[&str], key: &str) -> (u32, u32, u32) {
    for (index, line) in lines.iter().enumerate() {
        let bare = line.strip_prefix(key).filter(|rest| rest.trim_start().starts_with(':'));
        let quoted = ['"', '\''].iter().find_map(|q| {
            line.strip_prefix(*q)
                .and_then(|l| l.strip_prefix(key))
                .and_then(|l| l.strip_prefix(*q))
                .filter(|rest| rest.trim_start().starts_with(':'))
        });
        if let Some(rest) = bare.or(quoted) {
            let after_colon = rest.trim_start()[1..].to_string();
            let blanks = after_colon.len() - after_colon.trim_start().len();
            let mut offset = line.chars().count() - after_colon.chars().count() + blanks;
            if after_colon.trim_start().starts_with(['"', '\'']) {
                offset += 1;
            }
            return (to_u32(index + 1), 1, to_u32(offset + 1));
        }
    }
    (1, 1, 1)
}

fn kind(value: &serde_yaml::Value) -> &'static str {
    match value {
        serde_yaml::Value::Null => "null",
        serde_yaml::Value::Bool(_) => "boolean",
        serde_yaml::Value::Number(_) => "number",
        serde_yaml::Value::String(_) => "string",
        serde_yaml::Value::Sequence(_) => "list",
        serde_yaml::Value::Mapping(_) => "mapping",
        serde_yaml::Value::Tagged(_) => "tagged value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_strings_and_numbers_with_positions() {
        let p = parse(
            "t.yaml",
            "---\nWEBSITE_URL: \"www.a.com\"\nPERSIST_ASSETS_TO_DATASTORE: 1\nEMPTY:\n",
        )
        .unwrap();
        assert_eq!(p.assignments[0].value.text, "www.a.com");
        assert_eq!(
            p.assignments[0].value.span(),
            Span {
                line: 2,
                column: 15,
                len: 9
            }
        );
        assert_eq!(p.assignments[1].value.text, "1");
        assert_eq!(p.assignments[1].value.span().column, 30);
        assert_eq!(p.assignments[2].value.text, "");
    }

    #[test]
    fn refuses_what_is_not_a_mapping() {
        assert!(matches!(
            parse("t.yaml", "- a\n- b\n"),
            Err(TemplateError::YamlShape { .. })
        ));
        assert!(matches!(parse("t.yaml", "A: [1\n"), Err(TemplateError::Yaml { .. })));
        let p = parse("t.yaml", "A: [1, 2]\n").unwrap();
        assert_eq!(p.findings.len(), 1);
    }
}
