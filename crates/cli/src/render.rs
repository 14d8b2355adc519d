//! Diagnostics in the style of rustc: severity and rule, file:line:column,
//! the source line (secrets already masked by the library), a caret under
//! the offending value, and the help.

use std::fmt::Write;

use adt_template::{Diagnostic, Severity};

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

fn severity_color(s: Severity) -> &'static str {
    match s {
        Severity::Error => "1;31",
        Severity::Warning => "1;33",
        Severity::Info => "1;36",
    }
}

/// One diagnostic as a block of text ending in a blank line.
pub fn diagnostic(file: &str, d: &Diagnostic, color: bool) -> String {
    let p = Paint { on: color };
    let mut out = String::new();
    let head = format!("{}[{}]", d.severity.as_str(), d.rule);
    let _ = writeln!(
        out,
        "{}{}",
        p.wrap(severity_color(d.severity), &head),
        p.wrap("1", &format!(": {}", d.message))
    );
    let gutter = " ".repeat(d.line.to_string().len());
    let _ = writeln!(out, "{gutter}{} {file}:{}:{}", p.wrap("1;34", "-->"), d.line, d.column);
    if let Some(snippet) = &d.snippet {
        let bar = p.wrap("1;34", "|");
        // Tabs become one space so char columns line up with the caret.
        let line = snippet.line.replace('\t', " ");
        let _ = writeln!(out, "{gutter} {bar}");
        let _ = writeln!(out, "{} {bar} {line}", p.wrap("1;34", &d.line.to_string()));
        let pad = " ".repeat(snippet.caret_column.saturating_sub(1) as usize);
        let carets = "^".repeat(snippet.caret_len.max(1) as usize);
        let _ = writeln!(
            out,
            "{gutter} {bar} {pad}{}",
            p.wrap(severity_color(d.severity), &carets)
        );
    }
    let _ = writeln!(
        out,
        "{gutter} {} {}",
        p.wrap("1;34", "="),
        p.wrap("1", &format!("help: {}", d.help))
    );
    out.push('\n');
    out
}

/// The closing line for one file.
pub fn summary(file: &str, diagnostics: &[Diagnostic], color: bool) -> String {
    let count = |s: Severity| diagnostics.iter().filter(|d| d.severity == s).count();
    let (errors, warnings, infos) = (count(Severity::Error), count(Severity::Warning), count(Severity::Info));
    let p = Paint { on: color };
    if diagnostics.is_empty() {
        return format!("{file}: {}\n", p.wrap("1;32", "ok, no findings"));
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let text = format!(
        "{}, {}, {infos} info",
        plural(errors, "error"),
        plural(warnings, "warning")
    );
    let code = if errors > 0 { "1;31" } else { "1;33" };
    format!("{file}: {}\n", p.wrap(code, &text))
}
