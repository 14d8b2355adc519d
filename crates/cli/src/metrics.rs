//! `--metrics-file PATH`: what a run did, in Prometheus's text exposition
//! format, for the node exporter's textfile collector. The one owner of
//! that format: families with `# HELP` and `# TYPE`, samples with escaped
//! labels, the file written atomically, and the previous file's counters
//! carried over.
//!
//! Every run writes, whether it succeeded or failed, the same five
//! families, `adt_<job>_…`: `last_run_timestamp_seconds` (when the run
//! ended), `success` (1 when it exited 0), `duration_seconds`,
//! `last_success_timestamp_seconds` (on a failed run, the previous file's;
//! 0 before any success) and `failures_total` (the previous file's, plus
//! one on failure). The binaries add their own families from their
//! reports ([`Recorder::metrics`]).
//!
//! The file is written as root into a directory another user may write:
//! the new file is created under a random name with
//! `O_CREAT|O_EXCL|O_NOFOLLOW`, made 0644, written, fsynced and renamed
//! over PATH, so a link planted at PATH is replaced, never followed; the
//! previous file is read without following a link, at most 1 MiB of it.
//!
//! A metrics file that cannot be written never hides the run's own result:
//! after a failed run it is a warning on stderr and the run's failure
//! stands; after a successful run it is the failure (exit 1), so that a
//! cron job whose monitoring went blind says so.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use adt_localfs::{Dir, Kind, LocalError};

use crate::exit;
use crate::setup::Failure;

/// The most of a previous metrics file read for its counters.
pub const PREVIOUS_LIMIT: u64 = 1024 * 1024;

/// Why the metrics file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// PATH names no file (it ends in `/`, `.` or `..`).
    #[error("--metrics-file {}: give the path of a file", path.display())]
    NoFileName {
        /// The path given.
        path: PathBuf,
    },
    /// The directory PATH is in does not exist.
    #[error("--metrics-file {}: the directory {} does not exist", path.display(), dir.display())]
    MissingDirectory {
        /// The path given.
        path: PathBuf,
        /// Its directory.
        dir: PathBuf,
    },
    /// PATH is a directory.
    #[error("--metrics-file {}: is a directory", path.display())]
    IsADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// Opening, creating or renaming failed.
    #[error("--metrics-file: {0}")]
    Local(#[from] LocalError),
    /// Writing the new file failed.
    #[error("--metrics-file: cannot {op} {}: {source}", path.display())]
    Write {
        /// The new file.
        path: PathBuf,
        /// What failed (`chmod`, `write`).
        op: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

impl MetricsError {
    /// A path that cannot be used is bad input (exit 2); a write that
    /// failed is a failure (exit 1).
    pub fn exit_code(&self) -> u8 {
        match self {
            MetricsError::Local(_) | MetricsError::Write { .. } => exit::FAILURE,
            _ => exit::USAGE,
        }
    }
}

impl From<MetricsError> for Failure {
    fn from(e: MetricsError) -> Failure {
        Failure::new(e.exit_code(), e.to_string())
    }
}

/// Whether a family's value can only go up (across runs) or anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// A value now.
    Gauge,
    /// A count that only grows.
    Counter,
}

/// Samples of one metric name, with its HELP and TYPE.
#[derive(Debug)]
pub struct Family {
    name: String,
    help: String,
    kind: Type,
    samples: Vec<(Vec<(String, String)>, f64)>,
}

impl Family {
    /// Adds a sample with these labels (name, value; the value is escaped
    /// when rendered).
    pub fn sample(&mut self, labels: &[(&str, &str)], value: f64) -> &mut Family {
        let labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.samples.push((labels, value));
        self
    }
}

/// A set of metric families, rendered in the order they were added.
#[derive(Debug, Default)]
pub struct Metrics {
    families: Vec<Family>,
}

impl Metrics {
    /// An empty set.
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// The gauge `name`, added the first time with `help`.
    pub fn gauge(&mut self, name: &str, help: &str) -> &mut Family {
        self.family(name, help, Type::Gauge)
    }

    /// The counter `name`, added the first time with `help`.
    pub fn counter(&mut self, name: &str, help: &str) -> &mut Family {
        self.family(name, help, Type::Counter)
    }

    fn family(&mut self, name: &str, help: &str, kind: Type) -> &mut Family {
        debug_assert!(valid_name(name), "metric name {name}");
        let at = match self.families.iter().position(|f| f.name == name) {
            Some(at) => at,
            None => {
                self.families.push(Family {
                    name: name.to_string(),
                    help: help.to_string(),
                    kind,
                    samples: Vec::new(),
                });
                self.families.len() - 1
            }
        };
        &mut self.families[at]
    }

    /// The text exposition format; families without samples are left out.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in self.families.iter().filter(|f| !f.samples.is_empty()) {
            let kind = match f.kind {
                Type::Gauge => "gauge",
                Type::Counter => "counter",
            };
            let _ = writeln!(out, "# HELP {} {}", f.name, escape_help(&f.help));
            let _ = writeln!(out, "# TYPE {} {kind}", f.name);
            for (labels, value) in &f.samples {
                let _ = writeln!(out, "{} {}", series(&f.name, labels), number(*value));
            }
        }
        out
    }
}

/// `name{label="value",...}`, the way a sample line starts.
fn series(name: &str, labels: &[(String, String)]) -> String {
    if labels.is_empty() {
        return name.to_string();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
        .collect();
    format!("{name}{{{}}}", inner.join(","))
}

/// A label value escaped: backslash, double quote and newline.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// HELP text escaped: backslash and newline.
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A path (bytes) as a label value: invalid UTF-8 shown lossily.
pub fn path_label(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Where the metrics file goes: its directory, opened once, and its name.
#[derive(Debug)]
struct Target {
    dir: Dir,
    name: OsString,
}

impl Target {
    /// Checks PATH before the run: its directory exists (it is opened
    /// now) and PATH is not a directory.
    fn open(path: &Path) -> Result<Target, MetricsError> {
        let no_name = || MetricsError::NoFileName { path: path.into() };
        let name = match path.components().next_back() {
            Some(std::path::Component::Normal(name)) if !path.as_os_str().as_encoded_bytes().ends_with(b"/") => name,
            _ => return Err(no_name()),
        };
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let missing = || MetricsError::MissingDirectory {
            path: path.into(),
            dir: parent.into(),
        };
        let canonical =
            adt_localfs::canonical_dir(parent).map_err(|e| if e.is_missing() { missing() } else { e.into() })?;
        let dir = Dir::open(&canonical).map_err(|e| match e {
            LocalError::NotADirectory { .. } => missing(),
            e if e.is_missing() => missing(),
            e => e.into(),
        })?;
        if dir.stat_at(name)?.is_some_and(|s| s.kind == Kind::Dir) {
            return Err(MetricsError::IsADirectory { path: path.into() });
        }
        Ok(Target {
            dir,
            name: name.to_os_string(),
        })
    }

    /// The previous file's text: None when there is none, it is a link or
    /// not a regular file, or it is larger than [`PREVIOUS_LIMIT`].
    fn previous(&self) -> Option<String> {
        let opened = self.dir.open_file(&self.name, None).ok()?;
        let mut bytes = Vec::new();
        opened.file.take(PREVIOUS_LIMIT + 1).read_to_end(&mut bytes).ok()?;
        if bytes.len() as u64 > PREVIOUS_LIMIT {
            return None;
        }
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Writes `text` whole under a new name, 0644, fsynced, renamed over PATH.
    fn write(&self, text: &str) -> Result<(), MetricsError> {
        let mut file = self.dir.create_private(&self.name)?;
        let path = file.path();
        let failed = |op: &'static str, source: std::io::Error| MetricsError::Write {
            path: path.clone(),
            op,
            source,
        };
        if let Err(e) = rustix::fs::fchmod(&*file.file(), rustix::fs::Mode::from_raw_mode(0o644)) {
            return Err(failed("chmod", e.into()));
        }
        if let Err(e) = file.file().write_all(text.as_bytes()) {
            return Err(failed("write", e));
        }
        file.persist(OsStr::new(&self.name))?;
        Ok(())
    }
}

/// The value of the sample `series` (as [`Metrics::render`] writes it)
/// in a previous file's text: None when absent, or not a finite number
/// of at least 0.
pub fn previous_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .find(|(s, _)| s.trim_end() == series)
        .and_then(|(_, v)| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
}

/// One run's metrics: started before the run, filled from its reports,
/// written when it ends (with `--metrics-file`; otherwise nothing is
/// written).
#[derive(Debug)]
pub struct Recorder {
    target: Option<Target>,
    job: String,
    labels: Vec<(String, String)>,
    clock: Instant,
    metrics: Metrics,
}

impl Recorder {
    /// Starts the clock for job `job` (`adt_<job>_…`), whose per-run
    /// samples carry `labels`. With `path`, checks it now: a missing
    /// directory is bad input (exit 2) before anything is done.
    pub fn start(job: &str, labels: &[(&str, &str)], path: Option<&Path>) -> Result<Recorder, Failure> {
        let target = path.map(Target::open).transpose()?;
        Ok(Recorder {
            target,
            job: job.to_string(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            clock: Instant::now(),
            metrics: Metrics::new(),
        })
    }

    /// The job's own families, for the binary to fill.
    pub fn metrics(&mut self) -> &mut Metrics {
        &mut self.metrics
    }

    /// Writes the metrics file (if asked for) for the run that ended with
    /// `result`, and returns the result to conclude with: the run's own,
    /// or, when only the metrics file failed, that failure.
    pub fn finish(self, program: &str, result: Result<u8, Failure>) -> Result<u8, Failure> {
        let Some(target) = &self.target else {
            return result;
        };
        let ok = matches!(result, Ok(exit::SUCCESS));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let text = self.render(ok, now, target.previous().as_deref());
        match (target.write(&text), result) {
            (Ok(()), result) => result,
            (Err(e), Ok(code)) if code == exit::SUCCESS => Err(e.into()),
            (Err(e), result) => {
                eprintln!("{program}: warning: the metrics file was not written: {e}");
                result
            }
        }
    }

    /// The whole file: the per-run families, then the job's.
    fn render(&self, ok: bool, now: f64, previous: Option<&str>) -> String {
        let job = &self.job;
        let name = |what: &str| format!("adt_{job}_{what}");
        let carried = |what: &str| previous.and_then(|text| previous_value(text, &series(&name(what), &self.labels)));
        let last_success = if ok {
            now
        } else {
            carried("last_success_timestamp_seconds").unwrap_or(0.0)
        };
        let failures = carried("failures_total").unwrap_or(0.0) + if ok { 0.0 } else { 1.0 };
        let labels: Vec<(&str, &str)> = self.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut run = Metrics::new();
        run.gauge(
            &name("last_run_timestamp_seconds"),
            "When the last run ended (Unix time).",
        )
        .sample(&labels, now);
        run.gauge(&name("success"), "1 when the last run succeeded (exit 0), else 0.")
            .sample(&labels, if ok { 1.0 } else { 0.0 });
        run.gauge(&name("duration_seconds"), "How long the last run took.")
            .sample(&labels, self.clock.elapsed().as_secs_f64());
        run.gauge(
            &name("last_success_timestamp_seconds"),
            "When the last successful run ended (Unix time; 0 before any).",
        )
        .sample(&labels, last_success);
        run.counter(&name("failures_total"), "Failed runs, carried over from run to run.")
            .sample(&labels, failures);
        run.render() + &self.metrics.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_help_are_escaped() {
        let mut m = Metrics::new();
        m.gauge("adt_test_value", "Help with \\ and\na newline.")
            .sample(&[("path", "a\\b\"c\nd"), ("bucket", "plain")], 2.0);
        let text = m.render();
        assert_eq!(
            text,
            "# HELP adt_test_value Help with \\\\ and\\na newline.\n\
             # TYPE adt_test_value gauge\n\
             adt_test_value{path=\"a\\\\b\\\"c\\nd\",bucket=\"plain\"} 2\n"
        );
    }

    #[test]
    fn numbers_are_rendered_as_prometheus_reads_them() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NEG_INFINITY), "-Inf");
        assert!(valid_name("adt_seed_success"));
        assert!(!valid_name("adt-seed"));
        assert!(!valid_name("9adt"));
    }

    fn recorder(labels: &[(&str, &str)]) -> Recorder {
        Recorder::start("job", labels, None).unwrap()
    }

    #[test]
    fn a_failure_carries_last_success_over_and_counts_itself() {
        let r = recorder(&[("period", "hour\"ly")]);
        let first = r.render(true, 1000.0, None);
        assert_eq!(
            previous_value(&first, "adt_job_last_success_timestamp_seconds{period=\"hour\\\"ly\"}"),
            Some(1000.0)
        );
        assert_eq!(
            previous_value(&first, "adt_job_failures_total{period=\"hour\\\"ly\"}"),
            Some(0.0)
        );
        let second = r.render(false, 2000.0, Some(&first));
        let third = r.render(false, 3000.0, Some(&second));
        let value = |text: &str, what: &str| previous_value(text, &format!("adt_job_{what}{{period=\"hour\\\"ly\"}}"));
        assert_eq!(value(&third, "last_success_timestamp_seconds"), Some(1000.0));
        assert_eq!(value(&third, "failures_total"), Some(2.0));
        assert_eq!(value(&third, "success"), Some(0.0));
        assert_eq!(value(&third, "last_run_timestamp_seconds"), Some(3000.0));
        // A success keeps the count and moves last_success.
        let fourth = r.render(true, 4000.0, Some(&third));
        assert_eq!(value(&fourth, "failures_total"), Some(2.0));
        assert_eq!(value(&fourth, "last_success_timestamp_seconds"), Some(4000.0));
    }

    #[test]
    fn carry_over_ignores_other_series_and_garbage() {
        let r = recorder(&[("period", "daily")]);
        let previous = "adt_job_failures_total{period=\"hourly\"} 7\n\
                        adt_job_failures_total{period=\"daily\"} NaN\n\
                        # adt_job_last_success_timestamp_seconds{period=\"daily\"} 5\n\
                        adt_job_last_success_timestamp_seconds{period=\"daily\"} -3\n";
        let text = r.render(false, 10.0, Some(previous));
        let value = |what: &str| previous_value(&text, &format!("adt_job_{what}{{period=\"daily\"}}"));
        assert_eq!(value("failures_total"), Some(1.0));
        assert_eq!(value("last_success_timestamp_seconds"), Some(0.0));
    }

    #[test]
    fn the_file_is_written_0644_over_a_link_without_following_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "adt_job_failures_total 41\n").unwrap();
        let path = dir.path().join("job.prom");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let r = Recorder::start("job", &[], Some(&path)).unwrap();
        assert_eq!(r.finish("test", Err(Failure::new(1, "boom"))).unwrap_err().code, 1);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "adt_job_failures_total 41\n");
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o644);
        let text = std::fs::read_to_string(&path).unwrap();
        // The link's target was not read either: the count starts at 1.
        assert_eq!(previous_value(&text, "adt_job_failures_total"), Some(1.0));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 2, "no temporary file left");
    }

    #[test]
    fn a_missing_directory_is_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let err = Recorder::start("job", &[], Some(&dir.path().join("nope/job.prom"))).unwrap_err();
        assert_eq!(err.code, exit::USAGE);
        assert!(err.message.contains("does not exist"), "{}", err.message);
        let err = Recorder::start("job", &[], Some(dir.path())).unwrap_err();
        assert_eq!(err.code, exit::USAGE);
    }
}
