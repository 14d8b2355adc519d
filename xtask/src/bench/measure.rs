//! Wall time and peak resident memory of a child process, the same way for
//! every tool compared: VmHWM from /proc/PID/status, read every 10 ms until
//! the process exits (VmHWM only grows, so the last reading is the peak up
//! to the last 10 ms).

use std::process::Command;
use std::time::{Duration, Instant};

pub(crate) struct Measured {
    pub seconds: f64,
    pub peak_rss_mib: f64,
    pub stdout: String,
}

pub(crate) fn run(label: &str, mut command: Command) -> Result<Measured, String> {
    eprintln!("bench: {label}");
    let started = Instant::now();
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .map_err(|e| format!("{label}: cannot start: {e}"))?;
    let pid = child.id();
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(out) = stdout.as_mut() {
            let _ = std::io::Read::read_to_string(out, &mut text);
        }
        text
    });
    let mut peak_kib = 0u64;
    let status = loop {
        if let Some(kib) = vm_hwm(pid) {
            peak_kib = peak_kib.max(kib);
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("{label}: {e}")),
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let stdout = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("{label} failed ({status})"));
    }
    Ok(Measured {
        seconds,
        peak_rss_mib: peak_kib as f64 / 1024.0,
        stdout,
    })
}

fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
