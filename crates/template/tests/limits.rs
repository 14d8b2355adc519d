//! Memory stays bounded whatever the template file holds (issue 13).

use adt_template::{MAX_TEMPLATE_BYTES, Template, TemplateError};

#[test]
fn a_huge_template_is_refused_without_reading_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.tmpl");
    let line = "export WEBSITE_URL=\"www.example.com\"\n";
    let text = line.repeat((MAX_TEMPLATE_BYTES as usize / line.len()) + 10);
    std::fs::write(&path, text).unwrap();
    let err = Template::read(&path).unwrap_err();
    assert!(matches!(err, TemplateError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("larger than"), "{err}");
    std::fs::write(&path, line).unwrap();
    assert!(Template::read(&path).is_ok());
}
