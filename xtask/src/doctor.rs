//! `cargo xtask doctor`: what the tests and the mount tools need, what is
//! present, and the command that installs what is missing.

pub(crate) fn run() -> Result<(), String> {
    let all = crate::prereq::all();
    let width = all.iter().map(|p| p.name.len()).max().unwrap_or(0);
    let mut missing = 0;
    for p in &all {
        if p.present {
            println!("ok       {:width$}  {}", p.name, p.why);
        } else {
            missing += 1;
            println!("MISSING  {:width$}  {}\n         install: {}", p.name, p.why, p.install);
        }
    }
    if missing == 0 {
        println!("\neverything is present");
        Ok(())
    } else {
        Err(format!(
            "{missing} prerequisite(s) missing; `cargo xtask test` installs them when run as root on Debian"
        ))
    }
}
