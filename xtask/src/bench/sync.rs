//! `cargo xtask bench sync`: adt-sync on a generated webroot against the
//! embedded emulator (through a proxy that counts requests), three nodes:
//! a cycle with nothing changed, 100 changed files reaching two peers in
//! one cycle each, peak memory; and ADT's way of finding and shipping the
//! same changes (rsync --dry-run --checksum against a shadow copy, then
//! tar czf of the changed files) on the same change set.

use std::path::Path;
use std::process::Command;

use super::measure::{self, Measured};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// PHP-like files in the generated webroot
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    files: usize,
}

fn median(mut v: Vec<Measured>) -> Measured {
    v.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    v.swap_remove(v.len() / 2)
}

pub(crate) fn run(args: Args) -> Result<(), String> {
    let files = args.files;
    if adt_testkit::which("rsync").is_none() || adt_testkit::which("tar").is_none() {
        return Err("the benchmark needs rsync and tar: cargo xtask doctor".into());
    }
    super::build_release(&["adt-sync"])?;
    let root = crate::workspace_root();
    let adt_sync = crate::target_dir().join("release/adt-sync");
    let generated = root.join(format!("target/bench/sync-{files}"));
    if !generated.join("index.php").exists() {
        super::backup::generate(&generated, files)?;
    }
    let work = root.join(format!("target/bench/sync-{files}-run"));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let copy = |to: &Path| -> Result<(), String> {
        let status = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", generated.display()))
            .arg(to)
            .status()
            .map_err(|e| e.to_string())?;
        status
            .success()
            .then_some(())
            .ok_or_else(|| format!("cp -a into {}", to.display()))
    };
    let nodes = ["a", "b", "c"];
    for n in nodes {
        std::fs::create_dir_all(work.join(n).join("html")).map_err(|e| e.to_string())?;
    }
    // a holds the site; b and c start empty and receive it.
    copy(&work.join("a/html"))?;

    let emulator = adt_testkit::Emulator::start().map_err(|e| e.to_string())?;
    let proxy = adt_testkit::FaultProxy::start(&emulator.endpoint()).map_err(|e| e.to_string())?;
    let template = work.join("site.tmpl");
    std::fs::write(
        &template,
        format!(
            "WEBSITE_URL=\"bench.io\"\nAPPLICATION=\"joomla\"\nSYNC_WEBROOTS=\"1\"\nS3_ACCESS_KEY=\"{}\"\nS3_SECRET_KEY=\"{}\"\nS3_HOST_BASE=\"{}\"\n",
            adt_testkit::ACCESS_KEY,
            adt_testkit::SECRET_KEY,
            proxy.endpoint()
        ),
    )
    .map_err(|e| e.to_string())?;
    let cycle = |node: &str| {
        let mut c = Command::new(&adt_sync);
        c.args(["run", "--settle", "0", "--format", "json", "--template"])
            .arg(&template)
            .arg("--webroot")
            .arg(work.join(node).join("html"))
            .arg("--state-dir")
            .arg(work.join(node).join("state"))
            .args(["--node-id", &format!("bench-{node}")]);
        c
    };
    let count = |m: &Measured, field: &str| -> usize {
        serde_json::from_str::<serde_json::Value>(&m.stdout)
            .ok()
            .and_then(|v| v[field].as_array().map(Vec::len))
            .unwrap_or(0)
    };

    // The first cycles: a publishes everything; b and c apply it, a window
    // of changes per cycle, until nothing more waits.
    let first = measure::run("adt-sync run on a: publish the whole webroot", cycle("a"))?;
    let catch_up = |node: &str| -> Result<(Measured, u32), String> {
        let mut total = Measured {
            seconds: 0.0,
            peak_rss_mib: 0.0,
            stdout: String::new(),
        };
        let mut cycles = 0;
        loop {
            cycles += 1;
            let m = measure::run(
                &format!("adt-sync run on {node}: apply the webroot ({cycles})"),
                cycle(node),
            )?;
            total.seconds += m.seconds;
            total.peak_rss_mib = total.peak_rss_mib.max(m.peak_rss_mib);
            let more = serde_json::from_str::<serde_json::Value>(&m.stdout)
                .map(|v| v["more"] == true)
                .unwrap_or(false);
            if !more {
                return Ok((total, cycles));
            }
        }
    };
    let (first_b, cycles_b) = catch_up("b")?;
    let _ = catch_up("c")?;

    // Nothing changed.
    let mut idle = Vec::new();
    let mut idle_requests = 0;
    for round in 1..=3 {
        let before = proxy.requests().len();
        idle.push(measure::run(
            &format!("adt-sync run on a, nothing changed ({round})"),
            cycle("a"),
        )?);
        idle_requests = proxy.requests().len() - before;
    }
    let idle = median(idle);

    // 100 files changed on a: one cycle on a publishes them, one cycle on
    // each peer applies them. Three rounds, each with new content.
    let mut publish = Vec::new();
    let mut apply_b = Vec::new();
    let mut apply_c = Vec::new();
    let mut reached = true;
    let changed: Vec<String> = (0..100)
        .map(|i| {
            format!(
                "components/com_{}/src/{}/file{}.php",
                (i * 7 + 1) % 97,
                (i * 7 + 1) % 13,
                i * 7 + 1
            )
        })
        .collect();
    for round in 1..=3 {
        for rel in &changed {
            let p = work.join("a/html").join(rel);
            if p.exists() {
                std::fs::write(&p, format!("<?php // round {round} of {rel}\n")).map_err(|e| e.to_string())?;
            }
        }
        let p = measure::run(&format!("adt-sync run on a: publish 100 changes ({round})"), cycle("a"))?;
        let b = measure::run(&format!("adt-sync run on b: apply them ({round})"), cycle("b"))?;
        let c = measure::run(&format!("adt-sync run on c: apply them ({round})"), cycle("c"))?;
        let expected = changed.iter().filter(|r| work.join("a/html").join(r).exists()).count();
        reached &=
            count(&p, "published") == expected && count(&b, "applied") == expected && count(&c, "applied") == expected;
        publish.push(p);
        apply_b.push(b);
        apply_c.push(c);
    }
    let identical = Command::new("diff")
        .args(["-r", "-q"])
        .arg(work.join("a/html"))
        .arg(work.join("c/html"))
        .status()
        .map_err(|e| e.to_string())?
        .success();
    let (publish, apply_b, apply_c) = (median(publish), median(apply_b), median(apply_c));

    // Catch-up: a writes a snapshot (and, b and c having applied
    // everything, collects its batches); a brand-new node d restores it.
    let mut snap = cycle("a");
    snap.args(["--snapshot-batches", "1"]);
    let snapshot = measure::run("adt-sync run on a: write a snapshot, collect", snap)?;
    let wrote_snapshot = serde_json::from_str::<serde_json::Value>(&snapshot.stdout)
        .map(|v| v["snapshot"] == true)
        .unwrap_or(false);
    std::fs::create_dir_all(work.join("d").join("html")).map_err(|e| e.to_string())?;
    let (restore, _) = catch_up("d")?;
    let restored_identical = Command::new("diff")
        .args(["-r", "-q"])
        .arg(work.join("a/html"))
        .arg(work.join("d/html"))
        .status()
        .map_err(|e| e.to_string())?
        .success();

    // ADT's way on the same change set: a shadow copy /var/www/html1,
    // `rsync --dry-run --checksum` to find the changes, tar czf to ship them.
    let shadow = work.join("shadow");
    std::fs::create_dir_all(&shadow).map_err(|e| e.to_string())?;
    copy(&shadow)?;
    let dry_run = || {
        let mut c = Command::new("rsync");
        c.args(["-a", "--dry-run", "--checksum", "--delete", "--out-format=%n"])
            .arg(format!("{}/", work.join("a/html").display()))
            .arg(format!("{}/", shadow.display()));
        c
    };
    // Bring the shadow up to date, as ADT's controller does after a run.
    let update_shadow = || -> Result<(), String> {
        let status = Command::new("rsync")
            .args(["-a", "--delete"])
            .arg(format!("{}/", work.join("a/html").display()))
            .arg(format!("{}/", shadow.display()))
            .status()
            .map_err(|e| e.to_string())?;
        status
            .success()
            .then_some(())
            .ok_or_else(|| "rsync into the shadow copy failed".to_string())
    };
    let mut adt_idle = Vec::new();
    update_shadow()?;
    for round in 1..=3 {
        adt_idle.push(measure::run(
            &format!("rsync --dry-run --checksum, nothing changed ({round})"),
            dry_run(),
        )?);
    }
    let adt_idle = median(adt_idle);
    let mut adt_change = Vec::new();
    for round in 1..=3 {
        for rel in &changed {
            let p = work.join("a/html").join(rel);
            if p.exists() {
                std::fs::write(&p, format!("<?php // adt round {round} of {rel}\n")).map_err(|e| e.to_string())?;
            }
        }
        let found = measure::run(&format!("rsync --dry-run --checksum, 100 changed ({round})"), dry_run())?;
        let list = work.join("changed.list");
        std::fs::write(&list, &found.stdout).map_err(|e| e.to_string())?;
        let mut tar = Command::new("tar");
        tar.arg("czf")
            .arg(work.join("additions.tar.gz"))
            .arg("-C")
            .arg(work.join("a/html"))
            .arg("--no-recursion")
            .arg("-T")
            .arg(&list);
        let packed = measure::run(&format!("tar czf of the changed files ({round})"), tar)?;
        update_shadow()?;
        adt_change.push(Measured {
            seconds: found.seconds + packed.seconds,
            peak_rss_mib: found.peak_rss_mib.max(packed.peak_rss_mib),
            stdout: String::new(),
        });
    }
    let adt_change = median(adt_change);
    let peak = [
        &first, &first_b, &idle, &publish, &apply_b, &apply_c, &snapshot, &restore,
    ]
    .iter()
    .map(|m| m.peak_rss_mib)
    .fold(0.0, f64::max);
    let memory_target = if files >= 200_000 {
        "target < 100 MiB at 200,000 files"
    } else {
        "the target is checked at 200,000 files: --files 200000"
    };
    println!(
        "{files} files in the webroot, three nodes, embedded emulator behind a counting proxy, --settle 0\n\n\
         | run | wall time (s) | peak RSS (MiB) |\n| --- | ---: | ---: |\n\
         | a: first cycle, publishes the webroot | {:.2} | {:.1} |\n\
         | b: first cycles, apply the webroot ({cycles_b} cycles) | {:.2} | {:.1} |\n\
         | a: nothing changed (median of 3) | {:.3} | {:.1} |\n\
         | a: publish 100 changed files (median of 3) | {:.3} | {:.1} |\n\
         | b: apply them, one cycle (median of 3) | {:.3} | {:.1} |\n\
         | c: apply them, one cycle (median of 3) | {:.3} | {:.1} |\n\
         | a: write a snapshot and collect the batches | {:.2} | {:.1} |\n\
         | d (new): restore the snapshot, catch up | {:.2} | {:.1} |\n\
         | ADT: rsync --dry-run --checksum vs the shadow, nothing changed (median of 3) | {:.3} | {:.1} |\n\
         | ADT: rsync --dry-run --checksum + tar czf, 100 changed (median of 3) | {:.3} | {:.1} |\n\n\
         Targets:\n\
         - a cycle with nothing changed: {:.3} s (target < 0.5 s at 20,000 files): {}\n\
         - requests in a cycle with nothing changed: {idle_requests} (target O(1): the same at any size)\n\
         - 100 changed files reach both peers in one cycle each: {}\n\
         - webroots identical after the rounds: {}\n\
         - a new node restored from the snapshot is identical: {}\n\
         - peak RSS of any adt-sync run: {peak:.1} MiB ({memory_target}): {}\n\
         - finding changes, nothing changed: adt-sync {:.1}x faster than ADT's rsync --dry-run --checksum\n\
         - publishing 100 changes: adt-sync {:.1}x faster than ADT's rsync --dry-run --checksum + tar czf\n",
        first.seconds,
        first.peak_rss_mib,
        first_b.seconds,
        first_b.peak_rss_mib,
        idle.seconds,
        idle.peak_rss_mib,
        publish.seconds,
        publish.peak_rss_mib,
        apply_b.seconds,
        apply_b.peak_rss_mib,
        apply_c.seconds,
        apply_c.peak_rss_mib,
        snapshot.seconds,
        snapshot.peak_rss_mib,
        restore.seconds,
        restore.peak_rss_mib,
        adt_idle.seconds,
        adt_idle.peak_rss_mib,
        adt_change.seconds,
        adt_change.peak_rss_mib,
        idle.seconds,
        match (files <= 20_000, idle.seconds < 0.5) {
            (false, _) => "the target is for 20,000 files",
            (true, true) => "met",
            (true, false) => "NOT met",
        },
        if reached { "met" } else { "NOT met" },
        if identical { "yes" } else { "NO" },
        if wrote_snapshot && restored_identical {
            "yes"
        } else {
            "NO"
        },
        if peak < 100.0 { "met" } else { "NOT met" },
        adt_idle.seconds / idle.seconds,
        adt_change.seconds / publish.seconds,
    );
    Ok(())
}
