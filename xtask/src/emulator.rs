//! `cargo xtask emulator [--port P]`: the embedded S3 emulator in the
//! foreground, for trying the tools by hand or pointing other S3 tools at.

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    crate::only_options(args, &["--port"])?;
    let port = match crate::option(args, "--port")? {
        Some(p) => p.parse::<u16>().map_err(|_| format!("--port {p}: not a port number"))?,
        None => 0,
    };
    let emulator = adt_testkit::Emulator::start_on(port).map_err(|e| format!("cannot start the emulator: {e}"))?;
    println!("AWS_ENDPOINT_URL={}", emulator.endpoint());
    println!("AWS_ACCESS_KEY_ID={}", adt_testkit::ACCESS_KEY);
    println!("AWS_SECRET_ACCESS_KEY={}", adt_testkit::SECRET_KEY);
    println!("AWS_REGION={}", adt_testkit::REGION);
    eprintln!(
        "xtask: embedded S3 emulator on {} (path-style, SigV4 checked); Ctrl-C stops it",
        emulator.endpoint()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime
        .block_on(tokio::signal::ctrl_c())
        .map_err(|e| format!("waiting for Ctrl-C: {e}"))?;
    eprintln!("xtask: stopping the emulator");
    drop(emulator);
    Ok(())
}
