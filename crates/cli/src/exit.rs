//! Exit codes shared by every binary (design.md).

use std::process::ExitCode;

/// The operation succeeded, or the check found no errors.
pub const SUCCESS: u8 = 0;
/// The operation failed, or the check found errors.
pub const FAILURE: u8 = 1;
/// Bad usage, or input that cannot be read or parsed.
pub const USAGE: u8 = 2;

/// The worst of several outcomes (usage > failure > success).
pub fn worst(codes: impl IntoIterator<Item = u8>) -> ExitCode {
    ExitCode::from(codes.into_iter().max().unwrap_or(SUCCESS))
}
/// Stopped by SIGINT (Ctrl-C), after cleaning up (128 + 2).
pub const INTERRUPTED: u8 = 130;
/// Stopped by SIGTERM, after cleaning up (128 + 15).
pub const TERMINATED: u8 = 143;
