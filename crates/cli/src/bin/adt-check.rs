//! adt-check: validate the asset settings of deployment templates.

use std::path::PathBuf;
use std::process::ExitCode;

use adt_cli::exit;
use adt_cli::output::{OutputFormat, use_color};
use adt_cli::render;
use adt_template::{BackupListing, CheckOptions, Diagnostic, Severity, Template};
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
/// template or archive that cannot be read.
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
    /// applicationsourcecode.tar.gz).
    #[arg(long, value_name = "ARCHIVE")]
    backup: Option<PathBuf>,

    /// The webroot that relative entries are mounted under; merge branches
    /// live in its parent.
    #[arg(long, value_name = "DIR", default_value = adt_template::DEFAULT_WEBROOT)]
    webroot: PathBuf,

    /// Also reach datastore 1 with the template's own credentials and look
    /// at what is stored there: a virgin or baseline build whose asset
    /// buckets already hold objects gets assets-already-stored (ADT's
    /// CheckForAssetsOverwrite; nothing is deleted). Only for a virgin or
    /// baseline template without errors; a datastore that cannot be
    /// reached is exit 1.
    /// Honours AWS_CA_BUNDLE.
    #[arg(long)]
    online: bool,

    /// Output: human (rustc-style, colour on a terminal) or json (one
    /// object per template per line).
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    format: OutputFormat,
}

#[derive(serde::Serialize)]
struct Report<'a> {
    file: &'a str,
    diagnostics: &'a [Diagnostic],
    errors: usize,
    warnings: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(failure) = args.log.start() {
        eprintln!("adt-check: {}", failure.message);
        return ExitCode::from(failure.code);
    }
    let templates: Vec<PathBuf> = args.templates.iter().chain(&args.template_flags).cloned().collect();
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
    let backup = match args.backup.as_deref().map(BackupListing::read).transpose() {
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
        // Only a virgin or baseline build has anything to look up for now.
        let fresh = adt_template::AssetConfig::from_template(&template)
            .build_archive_choice
            .is_some_and(|c| !c.is_temporal());
        let mut online_error = None;
        if let Some(runtime) = runtime.as_ref().filter(|_| errors == 0 && fresh) {
            match runtime.block_on(online(&template, &args.webroot)) {
                Ok(stored) => {
                    let mut with = options.clone();
                    with.stored = Some(stored);
                    diagnostics = adt_template::check(&template, &with);
                }
                Err(e) => online_error = Some(adt_cli::setup::Failure::from(e).message),
            }
        }
        let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
        let warnings = diagnostics.iter().filter(|d| d.severity == Severity::Warning).count();
        let file = template.name();
        match args.format {
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

/// What `--online` looks up for one template: how many objects each asset
/// bucket holds on datastore 1.
async fn online(
    template: &Template,
    webroot: &std::path::Path,
) -> Result<std::collections::BTreeMap<String, u64>, adt_assets::Error> {
    let config = adt_template::AssetConfig::from_template(template);
    let site = adt_assets::Site::from_config(
        template.name(),
        config,
        adt_assets::SiteOptions::new(webroot).with_env(),
    );
    site.stored_assets().await
}
