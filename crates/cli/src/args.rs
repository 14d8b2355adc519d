//! Argument parsers the binaries share.

use adt_template::Period;
use clap::builder::{PossibleValuesParser, TypedValueParser};

/// `--period`/`--from-period`: a backup period, its names listed in --help.
pub fn period() -> impl TypedValueParser<Value = Period> {
    PossibleValuesParser::new(Period::names()).try_map(|name| name.parse::<Period>())
}
