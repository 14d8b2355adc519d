//! ADT `.tmpl` files: one `export NAME="value"` a line, read the way a
//! POSIX shell would read a simple assignment, without running anything.

use super::{Parsed, syntax_error, syntax_warning, to_u32};
use crate::diagnostic::Diagnostic;
use crate::source::{Assignment, Span, Value};

pub(super) fn parse(text: &str) -> Parsed {
    let mut parsed = Parsed {
        assignments: Vec::new(),
        findings: Vec::new(),
    };
    for (index, line) in text.lines().enumerate() {
        let line_no = to_u32(index + 1);
        let chars: Vec<char> = line.trim_end_matches('\r').chars().collect();
        let mut reader = LineReader {
            line: line_no,
            chars: &chars,
            at: 0,
            warnings: Vec::new(),
        };
        match reader.assignment() {
            Ok(Some(a)) => parsed.assignments.push(a),
            Ok(None) => {}
            Err(d) => parsed.findings.push(d),
        }
        parsed.findings.append(&mut reader.warnings);
    }
    parsed
}

struct LineReader<'a> {
    line: u32,
    chars: &'a [char],
    at: usize,
    warnings: Vec<Diagnostic>,
}

const EXAMPLE: &str = "write one setting a line, as export NAME=\"value\"";

impl LineReader<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn column(&self) -> u32 {
        to_u32(self.at + 1)
    }

    fn span_here(&self, len: usize) -> Span {
        Span {
            line: self.line,
            column: self.column(),
            len: to_u32(len.max(1)),
        }
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(|c| c == ' ' || c == '\t') {
            self.at += 1;
        }
    }

    fn rest_len(&self) -> usize {
        self.chars.len() - self.at
    }

    fn assignment(&mut self) -> Result<Option<Assignment>, Diagnostic> {
        self.skip_blanks();
        match self.peek() {
            None | Some('#') => return Ok(None),
            _ => {}
        }
        let word_start = self.at;
        if self.chars[self.at..].starts_with(&['e', 'x', 'p', 'o', 'r', 't'])
            && matches!(self.chars.get(self.at + 6), Some(' ' | '\t'))
        {
            self.at += 6;
            self.skip_blanks();
        }
        let name_start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.at += 1;
        }
        let name: String = self.chars[name_start..self.at].iter().collect();
        let key_span = Span {
            line: self.line,
            column: to_u32(name_start + 1),
            len: to_u32(name.chars().count().max(1)),
        };
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            self.at = name_start;
            return Err(syntax_error(
                self.span_here(self.rest_len()),
                "expected a setting NAME=\"value\", found something a shell would run as a command",
                format!("{EXAMPLE}; adt reads templates and never executes them"),
            ));
        }
        match self.peek() {
            Some('=') => self.at += 1,
            None if name_start > word_start => {
                self.warnings.push(syntax_warning(
                    key_span,
                    format!("`export {name}` sets no value"),
                    format!("give it a value, export {name}=\"...\", or remove the line"),
                ));
                return Ok(None);
            }
            Some(' ' | '\t') => {
                let blank = self.at;
                self.skip_blanks();
                if self.peek() == Some('=') {
                    self.at = blank;
                    return Err(syntax_error(
                        self.span_here(1),
                        format!("spaces around `=` in the setting of {name}"),
                        format!("a shell reads `{name} = ...` as a command; write {name}=\"value\" with no spaces"),
                    ));
                }
                self.at = word_start;
                return Err(syntax_error(
                    self.span_here(self.rest_len()),
                    "expected a setting NAME=\"value\", found something a shell would run as a command",
                    format!("{EXAMPLE}; adt reads templates and never executes them"),
                ));
            }
            _ => {
                return Err(syntax_error(
                    self.span_here(1),
                    format!("unexpected `{}` in the name of a setting", self.peek().unwrap_or(' ')),
                    "names are letters, digits and `_`, followed by `=`",
                ));
            }
        }
        let value = self.value(&name)?;
        self.skip_blanks();
        match self.peek() {
            None | Some('#') => Ok(Some(Assignment {
                key: name.clone(),
                name,
                key_span,
                value,
            })),
            Some(_) => Err(syntax_error(
                self.span_here(self.rest_len()),
                format!("unexpected text after the value of {name}"),
                "one setting a line; a comment after a value starts with ` #`",
            )),
        }
    }

    /// The value after `=`: quoted and unquoted pieces up to the first
    /// unquoted blank.
    fn value(&mut self, name: &str) -> Result<Value, Diagnostic> {
        let anchor = self.column();
        let mut text = String::new();
        let mut columns = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' => break,
                '"' => self.double_quoted(name, &mut text, &mut columns)?,
                '\'' => {
                    let open = self.at;
                    self.at += 1;
                    loop {
                        match self.peek() {
                            None => return Err(self.unterminated(open, '\'', name)),
                            Some('\'') => break,
                            Some(c) => {
                                text.push(c);
                                columns.push(self.column());
                                self.at += 1;
                            }
                        }
                    }
                    self.at += 1;
                }
                '\\' => {
                    self.at += 1;
                    if let Some(c) = self.peek() {
                        text.push(c);
                        columns.push(self.column());
                        self.at += 1;
                    }
                }
                '|' | ';' | '&' | '<' | '>' | '(' | ')' | '`' => {
                    return Err(syntax_error(
                        self.span_here(1),
                        format!("unquoted `{c}` in the value of {name}: a shell would run what follows as a command"),
                        format!("put the value in double quotes: {name}=\"...\""),
                    ));
                }
                '$' => {
                    self.expansion_warning(name);
                    text.push(c);
                    columns.push(self.column());
                    self.at += 1;
                }
                _ => {
                    text.push(c);
                    columns.push(self.column());
                    self.at += 1;
                }
            }
        }
        Ok(Value::new(text, self.line, columns, anchor))
    }

    fn double_quoted(&mut self, name: &str, text: &mut String, columns: &mut Vec<u32>) -> Result<(), Diagnostic> {
        let open = self.at;
        self.at += 1;
        loop {
            match self.peek() {
                None => return Err(self.unterminated(open, '"', name)),
                Some('"') => break,
                Some('\\') if matches!(self.chars.get(self.at + 1), Some('"' | '\\' | '$' | '`')) => {
                    self.at += 1;
                    text.push(self.chars[self.at]);
                    columns.push(self.column());
                    self.at += 1;
                }
                Some(c) => {
                    if c == '$' || c == '`' {
                        self.expansion_warning(name);
                    }
                    text.push(c);
                    columns.push(self.column());
                    self.at += 1;
                }
            }
        }
        self.at += 1;
        Ok(())
    }

    fn unterminated(&self, open: usize, quote: char, name: &str) -> Diagnostic {
        syntax_error(
            Span {
                line: self.line,
                column: to_u32(open + 1),
                len: 1,
            },
            format!("the value of {name} opens a quote {quote} that is never closed"),
            format!("close it on the same line: {name}={quote}value{quote} (values cannot span lines)"),
        )
    }

    fn expansion_warning(&mut self, name: &str) {
        let span = self.span_here(1);
        if self.warnings.iter().any(|w| w.line == span.line) {
            return;
        }
        self.warnings.push(syntax_warning(
            span,
            format!("the value of {name} has a shell expansion; ADT's shell would expand it, adt reads it literally"),
            "write the final value itself, or escape it as \\$ inside double quotes",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Result<Assignment, String> {
        let mut parsed = parse(line);
        if let Some(d) = parsed.findings.iter().find(|d| d.severity == crate::Severity::Error) {
            return Err(d.message.clone());
        }
        parsed.assignments.pop().ok_or_else(|| "nothing".into())
    }

    #[test]
    fn reads_adt_forms() {
        let a = one("export S3_HOST_BASE=\"gb-lon-1.linodeobjects.com\"").unwrap();
        assert_eq!(
            (a.name.as_str(), a.value.text.as_str()),
            ("S3_HOST_BASE", "gb-lon-1.linodeobjects.com")
        );
        assert_eq!(
            a.value.span(),
            Span {
                line: 1,
                column: 22,
                len: 26
            }
        );
        let a = one("export S3_LOCATION=\"US\" #For linode, this always needs to be set to \"US\"").unwrap();
        assert_eq!(a.value.text, "US");
        assert_eq!(one("SYNC_WEBROOTS=0").unwrap().value.text, "0");
        assert_eq!(one("  APPLICATION='joomla'   # note").unwrap().value.text, "joomla");
        assert_eq!(one("DIRECTORIES_TO_MOUNT=\"\"").unwrap().value.text, "");
        assert_eq!(one("A=\"x\"'y'z").unwrap().value.text, "xyz");
        assert_eq!(one("A=\"a\\\"b\"").unwrap().value.text, "a\"b");
        assert_eq!(one("A=b#c").unwrap().value.text, "b#c");
        assert_eq!(one("A=x\r").unwrap().value.text, "x");
    }

    #[test]
    fn rejects_what_a_shell_would_run() {
        assert!(one("export A=\"x").unwrap_err().contains("never closed"));
        assert!(one("A = 1").unwrap_err().contains("spaces around"));
        assert!(one("A=key1|key2").unwrap_err().contains("unquoted `|`"));
        assert!(one("A=\"1\" B=\"2\"").unwrap_err().contains("after the value"));
        assert!(one("rm -rf /").unwrap_err().contains("command"));
        assert!(one("1A=3").unwrap_err().contains("command"));
    }

    #[test]
    fn columns_follow_quotes_and_escapes() {
        let a = one("X=\"a\\$b\"").unwrap();
        assert_eq!(a.value.text, "a$b");
        assert_eq!(a.value.sub_span(2, 1).column, 7);
    }
}
