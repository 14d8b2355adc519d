//! Argument parsers the binaries share.

use adt_template::Period;
use clap::builder::{PossibleValuesParser, TypedValueParser};

/// `--period`/`--from-period`: a backup period, its names listed in --help.
pub fn period() -> impl TypedValueParser<Value = Period> {
    PossibleValuesParser::new(Period::names()).try_map(|name| name.parse::<Period>())
}

/// `--tool`: the FUSE tool that mounts each bucket.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ToolArg {
    /// s3fs-fuse (the default).
    S3fs,
    /// rclone mount2.
    Rclone,
    /// goofys.
    Goofys,
    /// geesefs.
    Geesefs,
    /// mount-s3 (Mountpoint for Amazon S3).
    MountS3,
}

impl ToolArg {
    /// The library's name for it.
    pub fn tool(self) -> adt_mounts::Tool {
        use adt_mounts::Tool;
        match self {
            ToolArg::S3fs => Tool::S3fs,
            ToolArg::Rclone => Tool::Rclone,
            ToolArg::Goofys => Tool::Goofys,
            ToolArg::Geesefs => Tool::Geesefs,
            ToolArg::MountS3 => Tool::MountS3,
        }
    }
}
