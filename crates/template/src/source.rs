//! A parsed template: its assignments, each value with the position of
//! every character, and the source lines (secrets masked) for snippets.

use std::fmt;
use std::path::Path;

use crate::diagnostic::{Diagnostic, Snippet};
use crate::error::TemplateError;
use crate::names;
use crate::parse;

/// A place in the template: 1-based line and column (in characters), and how
/// many characters a caret should underline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Span {
    /// The line, 1-based.
    pub line: u32,
    /// The column, 1-based, in characters.
    pub column: u32,
    /// How many characters to underline.
    pub len: u32,
}

/// A value as the template gives it, with the source column of each of its
/// characters (quotes and escapes make these differ from a plain offset).
#[derive(Clone, PartialEq, Eq)]
pub struct Value {
    /// The value, quotes removed and escapes undone (a YAML number or
    /// boolean as its text, a YAML null as empty).
    pub text: String,
    /// The line it is on, 1-based.
    pub line: u32,
    columns: Vec<u32>,
    /// Where an empty value sits (its opening quote, or just after `=`).
    anchor: u32,
}

impl Value {
    pub(crate) fn new(text: String, line: u32, columns: Vec<u32>, anchor: u32) -> Self {
        debug_assert_eq!(text.chars().count(), columns.len());
        Value {
            text,
            line,
            columns,
            anchor,
        }
    }

    /// The whole value.
    pub fn span(&self) -> Span {
        self.sub_span(0, self.columns.len())
    }

    /// The characters `start..start + len` of the value (char offsets).
    pub fn sub_span(&self, start: usize, len: usize) -> Span {
        let first = self.columns.get(start).copied();
        let last = self.columns.get((start + len).saturating_sub(1)).copied();
        // Past the end (an empty last entry): just after the last character.
        let after_end = self.columns.last().map_or(self.anchor, |c| c + 1);
        match (first, last) {
            (Some(first), Some(last)) if len > 0 => Span {
                line: self.line,
                column: first,
                len: last.saturating_sub(first) + 1,
            },
            _ => Span {
                line: self.line,
                column: first.unwrap_or(after_end),
                len: 1,
            },
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Value")
            .field("text", &self.text)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

/// One `NAME=value` (or `KEY:value`, or `KEY: value`) setting.
#[derive(Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The variable, in its template spelling (descriptor keys are mapped
    /// onto it when known).
    pub name: String,
    /// The key as written in the file.
    pub key: String,
    /// Where the key is written.
    pub key_span: Span,
    /// The value, with its position.
    pub value: Value,
}

impl fmt::Debug for Assignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Assignment");
        s.field("name", &self.name).field("line", &self.value.line);
        if names::is_secret_name(&self.name) || names::is_secret_name(&self.key) {
            s.field("value", &"<redacted>");
        } else {
            s.field("value", &self.value.text);
        }
        s.finish()
    }
}

/// The three formats a template can come in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// ADT `.tmpl`: `export NAME="value"` lines.
    Shell,
    /// Webserver descriptor: `KEY:value` lines, underscores removed from keys.
    Descriptor,
    /// YAML mapping of variable names to values.
    Yaml,
}

impl Format {
    /// The format's name in lower case (`shell`, `descriptor`, `yaml`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Shell => "shell",
            Format::Descriptor => "descriptor",
            Format::Yaml => "yaml",
        }
    }
}

/// A template as read: never executed, only parsed.
#[derive(Clone)]
pub struct Template {
    name: String,
    format: Format,
    /// Source lines with every secret value masked, for snippets.
    display_lines: Vec<String>,
    assignments: Vec<Assignment>,
    /// Syntax findings met while parsing.
    pub(crate) findings: Vec<Diagnostic>,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("assignments", &self.assignments)
            .finish_non_exhaustive()
    }
}

/// The largest template read, in bytes.
pub const MAX_TEMPLATE_BYTES: u64 = 1024 * 1024;

impl Template {
    /// Reads and parses the file at `path`; the format is detected from its
    /// content, with the file name as a tie-breaker.
    pub fn read(path: &Path) -> Result<Template, TemplateError> {
        use std::io::Read;
        let read = |source| TemplateError::Read {
            path: path.to_path_buf(),
            source,
        };
        // ADT's largest templates are a few KiB: memory stays bounded
        // whatever the file (a device, a huge file) holds.
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .map_err(read)?
            .take(MAX_TEMPLATE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read)?;
        if bytes.len() as u64 > MAX_TEMPLATE_BYTES {
            return Err(TemplateError::TooLarge {
                path: path.to_path_buf(),
                limit: MAX_TEMPLATE_BYTES,
            });
        }
        let name = path.display().to_string();
        let text = String::from_utf8(bytes).map_err(|e| TemplateError::NotText {
            path: name.clone(),
            offset: e.utf8_error().valid_up_to(),
        })?;
        Template::parse(&name, &text)
    }

    /// Parses `text`; `name` is the file name used in messages and for
    /// telling the format apart when content alone does not.
    pub fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let format = parse::detect(name, text);
        let parsed = parse::parse(format, name, text)?;
        let display_lines = mask_secrets(text, &parsed.assignments);
        Ok(Template {
            name: name.to_string(),
            format,
            display_lines,
            assignments: parsed.assignments,
            findings: parsed.findings,
        })
    }

    /// The name given to [`Template::parse`] (the path, for
    /// [`Template::read`]), used in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The format the template was read as.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Every assignment, in file order (duplicates included).
    pub fn assignments(&self) -> &[Assignment] {
        &self.assignments
    }

    /// The effective assignment of `name`: the last one, as a shell sourcing
    /// the file would see it.
    pub fn get(&self, name: &str) -> Option<&Assignment> {
        self.assignments.iter().rev().find(|a| a.name == name)
    }

    /// The value of `name`, or "" when unset.
    pub fn value(&self, name: &str) -> &str {
        self.get(name).map(|a| a.value.text.as_str()).unwrap_or("")
    }

    /// The line of `span` with secrets masked, and where its caret goes.
    pub fn snippet(&self, span: Span) -> Option<Snippet> {
        let line = self.display_lines.get(span.line.checked_sub(1)? as usize)?;
        Some(Snippet {
            line: line.clone(),
            caret_column: span.column.max(1),
            caret_len: span.len.max(1),
        })
    }
}

/// The source lines with each secret value's characters replaced by `*`
/// (`|` separators kept, so a chained value still shows its shape). Lines
/// that did not parse but name something secret are masked after their
/// first `=` or `:`.
fn mask_secrets(text: &str, assignments: &[Assignment]) -> Vec<String> {
    let mut lines: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
    let mut masked_lines = std::collections::HashSet::new();
    for a in assignments {
        if !(names::is_secret_name(&a.name) || names::is_secret_name(&a.key)) {
            continue;
        }
        let Some(line) = lines.get_mut(a.value.line as usize - 1) else {
            continue;
        };
        masked_lines.insert(a.value.line);
        for (i, ch) in a.value.text.chars().enumerate() {
            let column = a.value.sub_span(i, 1).column as usize;
            if ch != '|'
                && let Some(c) = line.get_mut(column - 1)
            {
                *c = '*';
            }
        }
    }
    for (index, line) in lines.iter_mut().enumerate() {
        if masked_lines.contains(&(index as u32 + 1)) {
            continue;
        }
        let text: String = line.iter().collect();
        let Some(split) = line.iter().position(|c| *c == '=' || *c == ':') else {
            continue;
        };
        if text.trim_start().starts_with('#') || !names::is_secret_name(&text[..text.find(['=', ':']).unwrap_or(0)]) {
            continue;
        }
        for c in &mut line[split + 1..] {
            if !c.is_whitespace() && !matches!(c, '|' | '"' | '\'') {
                *c = '*';
            }
        }
    }
    let original: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
    mask_by_value(&original, &mut lines, assignments);
    lines.into_iter().map(|l| l.into_iter().collect()).collect()
}

/// The positions above come from spans, which some shapes of YAML (flow
/// mappings, anchors, tags) do not give exactly. So, wherever they are in
/// the text: every secret value (and each `|`-separated part of one) is
/// masked where it occurs, and anything after `SECRET_NAME:` or
/// `SECRET_NAME=` inside a line (a flow mapping's `{KEY: value, ...}`) is
/// masked up to the next `,` or `}`.
/// Positions are found in `original` (the text before any masking) and
/// masked in `lines`.
fn mask_by_value(original: &[Vec<char>], lines: &mut [Vec<char>], assignments: &[Assignment]) {
    let secret = |a: &&Assignment| names::is_secret_name(&a.name) || names::is_secret_name(&a.key);
    let mut values: Vec<Vec<char>> = Vec::new();
    let mut keys: Vec<Vec<char>> = Vec::new();
    for a in assignments.iter().filter(secret) {
        keys.push(a.key.chars().collect());
        values.push(a.value.text.chars().collect());
        values.extend(a.value.text.split('|').map(|t| t.trim().chars().collect()));
    }
    values.retain(|v| v.len() >= 3);
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values.dedup();
    for (source, line) in original.iter().zip(lines.iter_mut()) {
        for value in &values {
            let mut at = 0;
            while at + value.len() <= source.len() {
                if source[at..at + value.len()] == value[..] {
                    // `|` separators stay, as above.
                    for k in at..at + value.len() {
                        if source[k] != '|' {
                            line[k] = '*';
                        }
                    }
                    at += value.len();
                } else {
                    at += 1;
                }
            }
        }
        for key in keys.iter().filter(|k| !k.is_empty()) {
            let mut at = 0;
            while at + key.len() <= source.len() {
                if source[at..at + key.len()] != key[..] {
                    at += 1;
                    continue;
                }
                let mut i = at + key.len();
                while i < source.len() && matches!(source[i], '"' | '\'' | ' ' | '\t') {
                    i += 1;
                }
                if i < source.len() && matches!(source[i], ':' | '=') {
                    i += 1;
                    while i < source.len() && !matches!(source[i], ',' | '}') {
                        if !source[i].is_whitespace() && !matches!(source[i], '"' | '\'' | '|') {
                            line[i] = '*';
                        }
                        i += 1;
                    }
                }
                at += key.len();
            }
        }
    }
}
