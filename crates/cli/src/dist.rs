//! Man pages and shell completions for packaging (`cargo xtask dist`):
//! each binary writes its own from its clap definition when started with
//! `ADT_DIST_DIR=DIR` in its environment, and does nothing else.

use std::path::Path;

/// When `ADT_DIST_DIR` is set: writes `DIR/man/NAME.1` and completions
/// for bash, zsh and fish under `DIR/completions/`, and returns the exit
/// code to end with. None (doing nothing) when it is unset.
pub fn generate<A: clap::CommandFactory>() -> Option<std::process::ExitCode> {
    let dir = std::env::var_os("ADT_DIST_DIR")?;
    let mut command = A::command();
    let name = command.get_name().to_string();
    Some(match write(&mut command, &name, Path::new(&dir)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "{name}: cannot write the man page and completions to {}: {e}",
                Path::new(&dir).display()
            );
            std::process::ExitCode::from(crate::exit::FAILURE)
        }
    })
}

fn write(command: &mut clap::Command, name: &str, dir: &Path) -> std::io::Result<()> {
    use clap_complete::Shell;
    let man = dir.join("man");
    let completions = dir.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    command.build();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    // One page per subcommand too (`man adt-mount-units`).
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        // A process that ends right after: the name may live forever.
        let sub_name: &'static str = Box::leak(format!("{name}-{}", sub.get_name()).into_boxed_str());
        let mut text = Vec::new();
        clap_mangen::Man::new(sub.clone().name(sub_name)).render(&mut text)?;
        std::fs::write(man.join(format!("{sub_name}.1")), text)?;
    }
    std::fs::write(man.join(format!("{name}.1")), page)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, command, name, &completions)?;
    }
    Ok(())
}
