//! `cargo xtask emulator [--port P]`: the embedded S3 emulator in the
//! foreground, for trying the tools by hand or pointing other S3 tools at.

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The port to listen on, on 127.0.0.1; 0 takes a free one
    #[arg(long, value_name = "P", default_value_t = 0)]
    port: u16,
}

pub(crate) fn run(args: &Args) -> Result<(), String> {
    let emulator = adt_testkit::Emulator::start_on(args.port).map_err(|e| format!("cannot start the emulator: {e}"))?;
    println!("AWS_ENDPOINT_URL={}", emulator.endpoint());
    println!("AWS_ACCESS_KEY_ID={}", adt_testkit::ACCESS_KEY);
    println!("AWS_SECRET_ACCESS_KEY={}", adt_testkit::SECRET_KEY);
    println!("AWS_REGION={}", adt_testkit::REGION);
    eprintln!(
        "xtask: embedded S3 emulator on {} (path-style, SigV4 checked); Ctrl-C or kill stops it",
        emulator.endpoint()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    // Ctrl-C or `kill` (SIGTERM): either way the emulator is dropped below,
    // which deletes its spill files (objects over 512 KiB live in $TMPDIR).
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| format!("waiting for SIGTERM: {e}"))?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.map_err(|e| format!("waiting for Ctrl-C: {e}")),
            _ = term.recv() => Ok(()),
        }
    })?;
    eprintln!("xtask: stopping the emulator");
    drop(emulator);
    Ok(())
}

/// `xtask emulator` as a child process: its own process group, so a
/// Ctrl-C at the terminal does not stop it before whatever uses it has
/// cleaned up; its spill files (objects over 512 KiB) in `tmp`, not /tmp.
/// Dropping it stops it with SIGINT, so it deletes them, and removes `tmp`.
pub(crate) struct EmulatorProcess {
    child: std::process::Child,
    pub endpoint: String,
    tmp: std::path::PathBuf,
}

impl EmulatorProcess {
    /// Starts `xtask` (a path to this binary, debug or release) as an emulator.
    pub(crate) fn start(xtask: &std::path::Path, tmp: &std::path::Path) -> Result<EmulatorProcess, String> {
        use std::os::unix::process::CommandExt;
        std::fs::create_dir_all(tmp).map_err(|e| format!("create {}: {e}", tmp.display()))?;
        let mut child = std::process::Command::new(xtask)
            .arg("emulator")
            .env("TMPDIR", tmp)
            .process_group(0)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the emulator: {e}"))?;
        let stdout = child.stdout.take().ok_or("no emulator stdout")?;
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
        let endpoint = lines
            .find_map(|l| l.ok()?.strip_prefix("AWS_ENDPOINT_URL=").map(str::to_string))
            .ok_or("the emulator printed no endpoint")?;
        // Keep reading: a closed pipe would kill the emulator at its next line.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(EmulatorProcess {
            child,
            endpoint,
            tmp: tmp.to_path_buf(),
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        stop(&mut self.child);
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// SIGINT, then up to 5 s for the process to exit, then SIGKILL.
pub(crate) fn stop(child: &mut std::process::Child) {
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}
