//! Properties: no parser panics on any input, values survive quoting, and
//! every derived bucket name is either legal or reported.

use std::path::Path;

use adt_template::{
    AssetConfig, CheckOptions, Layout, Rule, Template, check, derive_bucket_name, validate_bucket_name,
};
use proptest::prelude::*;

/// Lines that look like templates, with the odd character thrown in.
fn template_text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        "(export )?[A-Z_]{1,12}=\"[ -~]{0,20}\"( #[ -~]{0,8})?",
        "[A-Z]{1,12}:[ -~]{0,20}",
        "[A-Z_]{1,12}: [ -~]{0,20}",
        "#[ -~]{0,20}",
        "\\PC{0,30}",
        "[\"'=:|$\\\\ #]{0,10}",
    ];
    proptest::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #[test]
    fn parsing_and_checking_never_panic(text in template_text(), name in prop_oneof![Just("t.tmpl"), Just("t.dat"), Just("t.yaml")]) {
        if let Ok(template) = Template::parse(name, &text) {
            let found = check(&template, &CheckOptions::default());
            for d in &found {
                prop_assert!(d.line >= 1 && d.column >= 1);
            }
            let _ = AssetConfig::from_template(&template);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(text in "\\PC{0,200}") {
        for name in ["x.tmpl", "x.dat", "x.yml"] {
            if let Ok(t) = Template::parse(name, &text) {
                let _ = check(&t, &CheckOptions::default());
            }
        }
    }

    #[test]
    fn double_quoted_values_read_back(name in "[A-Z][A-Z0-9_]{0,20}", value in "[^\"\\\\$`\n\r]{0,40}") {
        let t = Template::parse("t.tmpl", &format!("export {name}=\"{value}\" # comment\n")).unwrap();
        prop_assert_eq!(t.value(&name), value.as_str());
    }

    #[test]
    fn derived_bucket_names_are_legal_or_reported(
        url in "[a-z]{1,20}(\\.[a-z0-9-]{1,20}){1,3}",
        dir in "[A-Za-z0-9_./-]{1,60}",
    ) {
        let text = format!(
            "WEBSITE_URL=\"{url}\"\nPERSIST_ASSETS_TO_DATASTORE=\"1\"\nDIRECTORIES_TO_MOUNT=\"{dir}\"\n"
        );
        let template = Template::parse("t.tmpl", &text).unwrap();
        let found = check(&template, &CheckOptions::default());
        let config = AssetConfig::from_template(&template);
        let entry_ok = !found.iter().any(|d| d.rule == Rule::InvalidMountEntry);
        let host_ok = !found.iter().any(|d| d.rule == Rule::InvalidWebsiteUrl);
        let reported = found.iter().any(|d| d.rule == Rule::BucketNameInvalid);
        if entry_ok && host_ok {
            let name = derive_bucket_name(&url, &dir);
            let layout = Layout::new(&config, Path::new("/var/www/html"));
            // The checker and the layout agree: legal names make a layout,
            // illegal ones are reported and refuse one.
            prop_assert_eq!(validate_bucket_name(&name).is_err(), reported, "{}", name);
            prop_assert_eq!(layout.is_err(), reported);
            if let Ok(layout) = layout {
                for (_, mount) in layout.mounts() {
                    prop_assert!(validate_bucket_name(&mount.bucket).is_ok());
                }
            }
        }
    }
}

/// Issue 13, case 6: whatever the template's shape (shell, descriptor,
/// YAML block, flow mapping, anchor, tag), no line a snippet can show and
/// no diagnostic holds a secret, or any 8 characters of one.
fn shapes(secret: &str, access: &str) -> Vec<(&'static str, String)> {
    let base = "WEBSITE_URL: www.example.com\nPERSIST_ASSETS_TO_DATASTORE: 1\nDIRECTORIES_TO_MOUNT: images\n";
    vec![
        (
            "t.tmpl",
            format!(
                "export S3_ACCESS_KEY=\"{access}|{access}x\"\nexport S3_SECRET_KEY=\"{secret}\"\nexport NOPE=\"1\"\n"
            ),
        ),
        ("t.dat", format!("S3ACCESSKEY:{access}\nS3SECRETKEY:{secret}\nNOPE:1\n")),
        (
            "t.yaml",
            format!("{base}S3_ACCESS_KEY: '{access}'\nS3_SECRET_KEY: '{secret}'\nNOPE: 1\n"),
        ),
        (
            "t.yaml",
            format!(
                "{{S3_SECRET_KEY: \"{secret}\", S3_ACCESS_KEY: \"{access}\", WEBSITE_URL: \"www.example.com\", NOPE: 1}}\n"
            ),
        ),
        (
            "t.yaml",
            format!("{base}S3_SECRET_KEY: &s \"{secret}\"\nS3_ACCESS_KEY: *s\nNOPE: 1\n"),
        ),
        (
            "t.yaml",
            format!("{base}S3_SECRET_KEY: !!str \"{secret}\"\nS3_ACCESS_KEY: !!str {access}\nNOPE: 1\n"),
        ),
    ]
}

fn leaks(text: &str, secret: &str) -> bool {
    let chars: Vec<char> = secret.chars().collect();
    text.contains(secret) || chars.windows(8).any(|w| text.contains(&w.iter().collect::<String>()))
}

proptest! {
    #[test]
    fn secrets_never_show_in_any_shape(
        secret in "[A-Za-z0-9/+]{12,40}",
        access in "[A-Z0-9]{16,20}",
    ) {
        for (name, text) in shapes(&secret, &access) {
            let Ok(template) = Template::parse(name, &text) else { continue };
            let lines = text.lines().count() as u32;
            for line in 1..=lines {
                let span = adt_template::Span { line, column: 1, len: 1 };
                if let Some(snippet) = template.snippet(span) {
                    for s in [&secret, &access] {
                        prop_assert!(!leaks(&snippet.line, s), "{}: line {} shows a secret: {}\n{}", name, line, snippet.line, text);
                    }
                }
            }
            for d in check(&template, &CheckOptions::default()) {
                let all = format!("{} {} {:?}", d.message, d.help, d.snippet);
                for s in [&secret, &access] {
                    prop_assert!(!leaks(&all, s), "{}: {}", name, all);
                }
            }
        }
    }
}
