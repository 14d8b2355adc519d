//! adt-check: validate the asset settings of deployment templates.

use std::path::PathBuf;
use std::process::ExitCode;

use adt_cli::exit;
use adt_cli::output::{OutputFormat, use_color};
use adt_cli::render;
use adt_template::{BackupListing, CheckOptions, Diagnostic, Rule, Severity, Template};
use clap::Parser;

/// Check the asset settings of ADT deployment templates.
///
/// Reads each TEMPLATE (an ADT .tmpl file, a webserver KEY:value descriptor,
/// or YAML; the format is detected from the content) without executing it,
/// and reports problems with PERSIST_ASSETS_TO_DATASTORE,
/// DIRECTORIES_TO_MOUNT, SYNC_WEBROOTS, BUILD_ARCHIVE_CHOICE, WEBSITE_URL and
/// the S3 settings. Secret values are never printed.
///
/// Exit status: 0 no errors (warnings allowed), 1 errors found (or, with
/// --online, a datastore that cannot be reached), 2 bad usage or a
/// template or archive that cannot be read (or an unknown --explain RULE).
#[derive(Parser, Debug)]
#[command(
    name = "adt-check",
    version,
    after_help = "Rules and examples: docs/template-reference.md"
)]
struct Args {
    #[command(flatten)]
    log: adt_cli::setup::LogArgs,

    /// Templates to check.
    #[arg(value_name = "TEMPLATE")]
    templates: Vec<PathBuf>,

    /// A template to check (same as a positional TEMPLATE; may be repeated).
    #[arg(long = "template", value_name = "PATH")]
    template_flags: Vec<PathBuf>,

    /// Also check that every DIRECTORIES_TO_MOUNT directory exists in this
    /// webroot backup (a gzip tar whose root is the webroot, e.g.
    /// applicationsourcecode.tar.gz; --backup is an old name for it).
    #[arg(long, value_name = "FILE", alias = "backup")]
    archive: Option<PathBuf>,

    /// The webroot that relative entries are mounted under; merge branches
    /// live in its parent.
    #[arg(long, value_name = "DIR", default_value = adt_template::DEFAULT_WEBROOT)]
    webroot: PathBuf,

    /// Also reach every datastore with the template's own keys, and look
    /// at this machine, changing nothing: endpoint reachable, TLS valid,
    /// keys accepted, clock skew, the asset and backup buckets there; when
    /// assets are persisted, the mount tools and versions, /dev/fuse,
    /// user_allow_other in /etc/fuse.conf and the web server's user. A
    /// virgin or baseline build whose asset buckets already hold objects
    /// gets assets-already-stored (ADT's CheckForAssetsOverwrite). Only for
    /// a template without errors; a datastore that cannot be reached is an
    /// error (exit 1). Honours AWS_CA_BUNDLE.
    #[arg(long)]
    online: bool,

    /// List every rule: id, severity, what it finds.
    #[arg(long, conflicts_with_all = ["explain", "online", "archive"])]
    list_rules: bool,

    /// Explain RULE: what it finds, an example, the fix.
    #[arg(long, value_name = "RULE", conflicts_with_all = ["online", "archive"])]
    explain: Option<String>,

    /// Output: human (rustc-style, colour on a terminal) or json (one
    /// object per template per line).
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    format: OutputFormat,

    /// The same as --format json.
    #[arg(long, conflicts_with = "format")]
    json: bool,
}

impl Args {
    /// --format, or json with --json.
    fn output_format(&self) -> OutputFormat {
        if self.json { OutputFormat::Json } else { self.format }
    }
}

#[derive(serde::Serialize)]
struct Report<'a> {
    file: &'a str,
    diagnostics: &'a [Diagnostic],
    errors: usize,
    warnings: usize,
}

fn main() -> ExitCode {
    if let Some(code) = adt_cli::dist::generate::<Args>() {
        return code;
    }
    let args = Args::parse();
    if let Err(failure) = args.log.start() {
        eprintln!("adt-check: {}", failure.message);
        return ExitCode::from(failure.code);
    }
    let templates: Vec<PathBuf> = args.templates.iter().chain(&args.template_flags).cloned().collect();
    if args.list_rules || args.explain.is_some() {
        if !templates.is_empty() {
            eprintln!("error: --list-rules and --explain take no TEMPLATE");
            return ExitCode::from(exit::USAGE);
        }
        return match &args.explain {
            Some(id) => explain(id, args.output_format()),
            None => list_rules(args.output_format()),
        };
    }
    if templates.is_empty() {
        eprintln!(
            "error: no template given\n\nUsage: adt-check [OPTIONS] TEMPLATE...\n\nFor more information, try '--help'."
        );
        return ExitCode::from(exit::USAGE);
    }
    if !args.webroot.is_absolute() || args.webroot.parent().is_none() {
        eprintln!(
            "error: --webroot {} must be an absolute directory below /",
            args.webroot.display()
        );
        return ExitCode::from(exit::USAGE);
    }
    let backup = match args.archive.as_deref().map(BackupListing::read).transpose() {
        Ok(listing) => listing,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let mut options = CheckOptions::new(&args.webroot);
    options.backup = backup;
    let runtime = match args.online.then(adt_cli::setup::runtime).transpose() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}", e.message);
            return ExitCode::from(exit::FAILURE);
        }
    };
    let color = use_color();
    let mut codes = Vec::new();
    for path in &templates {
        let template = match Template::read(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                codes.push(exit::USAGE);
                continue;
            }
        };
        let mut diagnostics = adt_template::check(&template, &options);
        let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
        let mut online_error = None;
        if let Some(runtime) = runtime.as_ref() {
            if errors == 0 {
                let (found, stored) = runtime.block_on(online(&template, &args.webroot));
                match stored {
                    Ok(Some(stored)) => {
                        let mut with = options.clone();
                        with.stored = Some(stored);
                        diagnostics = adt_template::check(&template, &with);
                    }
                    Ok(None) => {}
                    Err(e) => online_error = Some(adt_cli::setup::Failure::from(e).message),
                }
                diagnostics.extend(found);
            } else {
                eprintln!(
                    "note: {}: --online checks skipped: the template has errors",
                    template.name()
                );
            }
        }
        let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
        let warnings = diagnostics.iter().filter(|d| d.severity == Severity::Warning).count();
        let file = template.name();
        match args.output_format() {
            OutputFormat::Json => {
                let report = Report {
                    file,
                    diagnostics: &diagnostics,
                    errors,
                    warnings,
                };
                println!(
                    "{}",
                    serde_json::to_string(&report).expect("a report always serializes")
                );
            }
            OutputFormat::Human => {
                for d in &diagnostics {
                    print!("{}", render::diagnostic(file, d, color));
                }
                print!("{}", render::summary(file, &diagnostics, color));
            }
        }
        if let Some(e) = online_error {
            eprintln!("error: {}: --online: {e}", template.name());
            codes.push(exit::FAILURE);
        }
        codes.push(if errors > 0 { exit::FAILURE } else { exit::SUCCESS });
    }
    exit::worst(codes)
}

/// What `--online` finds for one template: the online rules' findings
/// (every datastore, this machine), and, for a virgin or baseline build
/// whose datastore 1 answered, how many objects each asset bucket holds
/// there.
async fn online(
    template: &Template,
    webroot: &std::path::Path,
) -> (
    Vec<Diagnostic>,
    Result<Option<std::collections::BTreeMap<String, u64>>, adt_assets::Error>,
) {
    let config = adt_template::AssetConfig::from_template(template);
    // Only a virgin or baseline build has stored assets to warn about.
    let fresh = config.build_archive_choice.is_some_and(|c| !c.is_temporal());
    let site = adt_assets::Site::from_config(
        template.name(),
        config,
        adt_assets::SiteOptions::new(webroot).with_env(),
    );
    let report = site
        .check_online(template, &adt_assets::adt_mounts::Machine::system())
        .await;
    let stored = if fresh && report.primary_usable {
        site.stored_assets().await.map(Some)
    } else {
        Ok(None)
    };
    (report.diagnostics, stored)
}

#[derive(serde::Serialize)]
struct RuleLine {
    id: &'static str,
    severity: Severity,
    online: bool,
    summary: &'static str,
}

fn rule_line(rule: Rule) -> RuleLine {
    RuleLine {
        id: rule.id(),
        severity: rule.severity(),
        online: rule.is_online(),
        summary: rule.summary(),
    }
}

/// `--list-rules`: one rule a line (human), or one JSON array.
fn list_rules(format: OutputFormat) -> ExitCode {
    match format {
        OutputFormat::Json => {
            let all: Vec<RuleLine> = Rule::ALL.iter().map(|r| rule_line(*r)).collect();
            println!("{}", serde_json::to_string(&all).expect("rules always serialize"));
        }
        OutputFormat::Human => {
            for rule in Rule::ALL {
                let online = if rule.is_online() { " (--online)" } else { "" };
                println!(
                    "{:<28} {:<8} {}{online}",
                    rule.id(),
                    rule.severity().as_str(),
                    rule.summary()
                );
            }
        }
    }
    ExitCode::from(exit::SUCCESS)
}

/// `--explain RULE`: the rule's long help; an unknown rule is bad usage.
fn explain(id: &str, format: OutputFormat) -> ExitCode {
    let Some(rule) = Rule::from_id(id.trim()) else {
        let hint = match Rule::closest(id) {
            Some(rule) => format!("; did you mean `{}`?", rule.id()),
            None => String::new(),
        };
        eprintln!("error: no rule `{id}`{hint} (adt-check --list-rules lists them)");
        return ExitCode::from(exit::USAGE);
    };
    match format {
        OutputFormat::Json => {
            #[derive(serde::Serialize)]
            struct Explained {
                #[serde(flatten)]
                rule: RuleLine,
                explain: &'static str,
            }
            let out = Explained {
                rule: rule_line(rule),
                explain: rule.explain(),
            };
            println!("{}", serde_json::to_string(&out).expect("a rule always serializes"));
        }
        OutputFormat::Human => println!("{}", rule.explain()),
    }
    ExitCode::from(exit::SUCCESS)
}
