//! Reports for people (`--format human`): one function per report, so
//! the binaries only choose between this and JSON. A report's text goes
//! to stdout, its warnings to stderr ([`Rendered::print`]).

use adt_replication::Destination;
use adt_seeder::Summary;

/// A report for people: its text, and its warnings apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// What goes to stdout.
    pub text: String,
    /// What goes to stderr, one `PROGRAM: warning: ...` line each.
    pub warnings: Vec<String>,
}

impl Rendered {
    /// Prints the text on stdout and each warning on stderr.
    pub fn print(&self, program: &str) {
        print!("{}", self.text);
        for w in &self.warnings {
            eprintln!("{program}: warning: {w}");
        }
    }
}

/// What a seed did (or would do, in a dry run).
pub fn seed(s: &Summary, archive: &str) -> Rendered {
    let mut out = String::new();
    for (bucket, key, bytes) in &s.planned {
        out.push_str(&format!("would upload s3://{bucket}/{key} ({bytes} bytes)\n"));
    }
    let verb = if s.dry_run {
        "dry run, nothing written"
    } else if s.already_seeded {
        "already seeded from this archive"
    } else {
        "seeded"
    };
    out.push_str(&format!("{verb}: {archive}\n"));
    let width = s.buckets.iter().map(|b| b.bucket.len()).max().unwrap_or(6).max(6);
    out.push_str(&format!(
        "  {:width$}  {:>8} {:>8} {:>8} {:>9} {:>12}  entry\n",
        "bucket", "objects", "uploaded", "skipped", "conflicts", "bytes"
    ));
    for b in &s.buckets {
        out.push_str(&format!(
            "  {:width$}  {:>8} {:>8} {:>8} {:>9} {:>12}  {}\n",
            b.bucket, b.objects, b.uploaded, b.skipped, b.conflicts, b.bytes, b.entry
        ));
    }
    if s.conflicts() > 0 {
        out.push_str("conflicts (objects that differ from the backup; kept, --overwrite replaces them):\n");
        for b in &s.buckets {
            for key in &b.conflict_keys {
                out.push_str(&format!("  s3://{}/{key}\n", b.bucket));
            }
        }
    }
    Rendered {
        text: out,
        warnings: s.warnings.clone(),
    }
}

/// What a replication did (or would do, in a dry run).
pub fn replicate(r: &adt_replication::Report, primary: &str, destinations: &[Destination]) -> Rendered {
    let mut out = String::new();
    for b in &r.buckets {
        for key in &b.copy_keys {
            out.push_str(&format!(
                "would copy s3://{}/{key} to datastore {}\n",
                b.bucket, b.destination
            ));
        }
        for key in &b.delete_keys {
            out.push_str(&format!(
                "would delete s3://{}/{key} from datastore {}\n",
                b.bucket, b.destination
            ));
        }
    }
    let verb = if r.dry_run {
        "dry run, nothing changed"
    } else {
        "replicated"
    };
    out.push_str(&format!("{verb}: from datastore 1 ({primary})\n"));
    for d in destinations {
        out.push_str(&format!("  to datastore {} ({})\n", d.number, d.endpoint()));
    }
    let width = r.buckets.iter().map(|b| b.bucket.len()).max().unwrap_or(6).max(6);
    out.push_str(&format!(
        "  {:width$}  {:>4} {:>8} {:>8} {:>8} {:>12} {:>6} {:>5}\n",
        "bucket", "to", "copied", "skipped", "deleted", "bytes", "failed", "kept"
    ));
    for b in &r.buckets {
        let created = if b.created { "  (bucket created)" } else { "" };
        out.push_str(&format!(
            "  {:width$}  {:>4} {:>8} {:>8} {:>8} {:>12} {:>6} {:>5}{created}\n",
            b.bucket, b.destination, b.copied, b.skipped, b.deleted, b.bytes, b.failed, b.preserved
        ));
    }
    if r.buckets.iter().any(|b| b.preserved > 0) {
        out.push_str("  (kept: destination versions replaced or deleted, kept under .adt-replaced/)\n");
    }
    Rendered {
        text: out,
        warnings: r.warnings.clone(),
    }
}

/// `s3://BUCKET/KEY` on S3, `URL/BUCKET/KEY` on another store.
pub fn location(store: &adt_datastore::Store, bucket: &str, key: &str) -> String {
    let url = store.endpoint().url();
    if url.starts_with("http://") || url.starts_with("https://") {
        format!("s3://{bucket}/{key}")
    } else {
        format!("{}/{bucket}/{key}", url.trim_end_matches('/'))
    }
}

/// What went into a backup archive, and what was met on the way.
pub fn created(output: &std::path::Path, report: &adt_backups::CreateReport) -> Rendered {
    let out = format!(
        "{}: {} files ({} bytes), {} directories, {} symlinks; left out: {}\n",
        output.display(),
        report.files,
        report.bytes,
        report.directories,
        report.symlinks,
        if report.excluded.is_empty() {
            "nothing".to_string()
        } else {
            report.excluded.join(", ")
        }
    );
    let mut warnings = Vec::new();
    for (what, list) in [
        ("changed while read", &report.changed),
        ("vanished during the walk", &report.vanished),
        ("on another filesystem, not entered", &report.other_filesystems),
        ("sockets, fifos or devices, not archived", &report.special),
        ("nested too deep, not entered", &report.too_deep),
        ("unreadable, left out", &report.unreadable),
    ] {
        if !list.is_empty() {
            warnings.push(format!("{what}: {}", list.join(", ")));
        }
    }
    Rendered { text: out, warnings }
}

/// A mount run's actions; its warnings apart.
pub fn mount_report(report: &adt_mounts::Report) -> Rendered {
    let mut out = String::new();
    for a in &report.actions {
        out.push_str(&format!("{a}\n"));
    }
    Rendered {
        text: out,
        warnings: report.warnings.clone(),
    }
}

/// Each mount point's state, then the moved-aside directories, then those
/// named like them but not on record.
pub fn mount_status(
    mounts: &[adt_mounts::MountState],
    retired: &[adt_mounts::Retired],
    unrecorded: &[adt_mounts::Retired],
) -> String {
    let mut out = String::new();
    for m in mounts {
        out.push_str(&format!(
            "{:9}  {}  ({}, {})\n",
            m.state,
            m.mountpoint.display(),
            m.tool,
            m.bucket.as_deref().unwrap_or("merge")
        ));
    }
    for r in retired {
        out.push_str(&format!(
            "retired    {} (was {})\n",
            r.retired.display(),
            r.mountpoint.display()
        ));
    }
    for r in unrecorded {
        out.push_str(&format!(
            "unrecorded {} (named as retired from {}, not on record: review it, then `adt-mount mount --adopt-retired`)\n",
            r.retired.display(),
            r.mountpoint.display()
        ));
    }
    out
}

/// One sync cycle, for people: counts, then the paths (at most 20 each).
pub fn sync_cycle(r: &adt_assets::adt_webroot_sync::CycleReport) -> String {
    let mut out = String::new();
    let list = |out: &mut String, what: &str, paths: &[String], count: u64| {
        for p in paths.iter().take(20) {
            out.push_str(&format!("  {what} {p}\n"));
        }
        if count > 20 {
            out.push_str(&format!("  ... and {} more\n", count - 20));
        }
    };
    out.push_str(&format!(
        "node {}: applied {} change{} from other nodes, published {} in {} batch{}\n",
        r.node,
        r.applied_count,
        if r.applied_count == 1 { "" } else { "s" },
        r.published_count,
        r.batches,
        if r.batches == 1 { "" } else { "es" },
    ));
    list(&mut out, "applied", &r.applied, r.applied_count);
    list(&mut out, "published", &r.published, r.published_count);
    if r.more {
        out.push_str("  more changes of other nodes wait for the next cycle\n");
    }
    for c in &r.conflicts {
        out.push_str(&format!(
            "  conflict {}: version {} won, {} kept in the bucket\n",
            c.path, c.winner, c.loser
        ));
    }
    for why in &r.refused {
        out.push_str(&format!("  not applied: {why}\n"));
    }
    if r.retrying > 0 {
        out.push_str(&format!(
            "  {} refused change(s) will be tried again next cycle\n",
            r.retrying
        ));
    }
    if r.unsettled > 0 {
        out.push_str(&format!(
            "  {} file(s) still changing: published once settled\n",
            r.unsettled
        ));
    }
    if r.skipped > 0 {
        out.push_str(&format!("  {} link(s), FIFO(s) or device(s) not synced\n", r.skipped));
    }
    out
}

/// Every node's sync status, for people.
pub fn sync_status(r: &adt_assets::adt_webroot_sync::StatusReport, me: Option<&str>) -> String {
    let mut out = String::new();
    if r.nodes.is_empty() {
        out.push_str("no node has run a sync cycle yet\n");
    }
    for n in &r.nodes {
        let behind: u64 = n.behind.values().sum();
        out.push_str(&format!(
            "{}{}: batch {}, {} batch{} behind, last cycle {} s ago{}\n",
            n.status.node,
            if Some(n.status.node.as_str()) == me {
                " (this node)"
            } else {
                ""
            },
            n.status.seq,
            behind,
            if behind == 1 { "" } else { "es" },
            n.idle_seconds,
            match &n.status.paused {
                Some(why) => format!(", PAUSED: {why}"),
                None => String::new(),
            }
        ));
    }
    out.push_str(&format!("{} conflict(s) kept\n", r.conflict_count));
    for c in r.conflicts.iter().take(20) {
        out.push_str(&format!("  {}: {} won over {}\n", c.path, c.winner, c.loser));
    }
    out
}

/// `adt-backup list`: one block per period.
pub fn backups(listed: &[adt_assets::adt_backups::StoredBackups]) -> String {
    let mut out = String::new();
    for b in listed {
        if !b.exists {
            out.push_str(&format!("{}: no bucket (never backed up)\n", b.bucket));
            continue;
        }
        out.push_str(&format!("{}:\n", b.bucket));
        let object = |o: &Option<adt_assets::adt_backups::StoredObject>| match o {
            Some(o) => format!("{} bytes, {}", o.bytes, when(o.last_modified)),
            None => "none".to_string(),
        };
        out.push_str(&format!("  current   {}\n", object(&b.current)));
        out.push_str(&format!("  previous  {}\n", object(&b.previous)));
        if let Some(lock) = &b.lock {
            out.push_str(&format!(
                "  lock      {} ({})\n",
                when(lock.last_modified),
                if b.lock_stale {
                    "stale: its upload died; the next upload takes it over"
                } else {
                    "an upload is running"
                }
            ));
        }
        for t in &b.temporary {
            out.push_str(&format!(
                "  temporary {} ({} bytes, {})\n",
                t.key,
                t.bytes,
                when(t.last_modified)
            ));
        }
    }
    out
}

/// A time as `YYYY-MM-DD HH:MM:SS UTC`.
fn when(secs: Option<i64>) -> String {
    let Some(secs) = secs else {
        return "at an unknown time".to_string();
    };
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    // Civil date from days since 1970 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// `adt-backup restore`: what came from where.
pub fn restored(r: &adt_assets::RestoreReport) -> String {
    let a = &r.archive;
    let mut out = format!(
        "restored {} into {}{}: {} files ({} bytes), {} directories, {} links{}\n",
        r.source,
        a.target.display(),
        if a.resumed { " (carried on)" } else { "" },
        a.files,
        a.bytes,
        a.directories,
        a.symlinks + a.hard_links,
        if a.unchanged > 0 {
            format!(", {} already there", a.unchanged)
        } else {
            String::new()
        }
    );
    if a.not_restored > 0 {
        out.push_str(&format!(
            "not restored ({} FIFOs, devices or unknown types): {}\n",
            a.not_restored,
            a.not_restored_names.join(", ")
        ));
    }
    for d in &r.downloaded {
        out.push_str(&format!(
            "downloaded {}: {} files ({} bytes), {} directories{}{}\n",
            d.bucket,
            d.files,
            d.bytes,
            d.directories,
            if d.unchanged > 0 {
                format!(", {} already there", d.unchanged)
            } else {
                String::new()
            },
            if d.refused > 0 {
                format!("; {} keys refused: {}", d.refused, d.refused_keys.join(", "))
            } else {
                String::new()
            }
        ));
    }
    for m in &r.mounted {
        out.push_str(m);
        out.push('\n');
    }
    out
}
