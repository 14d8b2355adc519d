//! `--format human|json`, and whether to colour human output.

use std::io::IsTerminal;

/// How results are printed: for people, or one JSON object per line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Text for people (the default).
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// `--format human|json` and its alias `--json`, the same on every binary
/// (global: before or after a subcommand).
#[derive(Clone, Copy, Debug, clap::Args)]
pub struct FormatArgs {
    /// human or json (one JSON object per line).
    #[arg(long, value_enum, default_value_t = OutputFormat::Human, global = true)]
    format: OutputFormat,
    /// The same as --format json.
    #[arg(long, global = true, conflicts_with = "format")]
    json: bool,
}

impl FormatArgs {
    /// The format asked for.
    pub fn get(&self) -> OutputFormat {
        if self.json { OutputFormat::Json } else { self.format }
    }
}

/// Colour only when stdout is a terminal and NO_COLOR is unset.
pub fn use_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Prints `value` as one line of JSON. A value that cannot be JSON (a
/// path that is not UTF-8) is a failure with a message, never a panic.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<(), crate::setup::Failure> {
    let text = serde_json::to_string(value).map_err(|e| {
        crate::setup::Failure::new(crate::exit::FAILURE, format!("cannot write the result as JSON: {e}"))
    })?;
    println!("{text}");
    Ok(())
}
