//! duplicate-variable and unknown-variable.

use std::collections::HashMap;

use crate::diagnostic::{Diagnostic, Rule, Severity};
use crate::names;
use crate::source::{Format, Template};

pub(super) fn check(t: &Template, out: &mut Vec<Diagnostic>) {
    let descriptor = t.format() == Format::Descriptor;
    let mut first_line: HashMap<&str, u32> = HashMap::new();
    for a in t.assignments() {
        if let Some(first) = first_line.get(a.name.as_str()) {
            out.push(Diagnostic::new(
                Rule::DuplicateVariable,
                Severity::Warning,
                a.key_span,
                format!("{} is set again (first set on line {first}); the last value wins", a.key),
                format!("keep one setting of {} and remove the other", a.key),
            ));
        } else {
            first_line.insert(&a.name, a.key_span.line);
        }
        if names::is_known(&a.name) {
            continue;
        }
        let help = match names::nearest_known(&a.key, descriptor) {
            Some(near) => format!("did you mean `{near}`? ADT ignores `{}`", a.key),
            None => format!("ADT does not read `{}`; check the spelling or remove it", a.key),
        };
        out.push(Diagnostic::new(
            Rule::UnknownVariable,
            Severity::Warning,
            a.key_span,
            format!("unknown variable `{}`", a.key),
            help,
        ));
    }
}
