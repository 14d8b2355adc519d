//! Man pages and shell completions for packaging (`cargo xtask dist`):
//! each binary writes its own from its clap definition when its only
//! arguments are `--generate-dist-files DIR` (not in `--help`: it is for
//! the build, not for users), and does nothing else then.

use std::io::Write;
use std::path::Path;

/// The argument that asks for the files.
pub const FLAG: &str = "--generate-dist-files";

/// When the arguments are exactly `--generate-dist-files DIR`: writes
/// `DIR/man/NAME.1` (and `NAME-SUBCOMMAND.1` for each subcommand) and
/// bash, zsh and fish completions under `DIR/completions/`, each a new
/// file (never through a link or over one already there), and returns the
/// exit code to end with. None (doing nothing) otherwise.
pub fn generate<A: clap::CommandFactory>() -> Option<std::process::ExitCode> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let [flag, dir] = &args[..] else { return None };
    if flag != FLAG {
        return None;
    }
    let mut command = A::command();
    let name = command.get_name().to_string();
    Some(match write(&mut command, &name, Path::new(dir)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "{name}: cannot write the man pages and completions to {}: {e}",
                Path::new(dir).display()
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
    create_new(&man.join(format!("{name}.1")), &page)?;
    // One page per subcommand too (`man adt-mount-units`).
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        // A process that ends right after: the name may live forever.
        let sub_name: &'static str = Box::leak(format!("{name}-{}", sub.get_name()).into_boxed_str());
        let mut text = Vec::new();
        clap_mangen::Man::new(sub.clone().name(sub_name)).render(&mut text)?;
        create_new(&man.join(format!("{sub_name}.1")), &text)?;
    }
    for (shell, file) in [
        (Shell::Bash, format!("{name}.bash")),
        (Shell::Zsh, format!("_{name}")),
        (Shell::Fish, format!("{name}.fish")),
    ] {
        let mut script = Vec::new();
        clap_complete::generate(shell, command, name, &mut script);
        create_new(&completions.join(file), &script)?;
    }
    Ok(())
}

/// Writes a new file, 0644: `O_CREAT|O_EXCL` fails on anything already
/// there, a link included.
fn create_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    file.write_all(bytes)
}
