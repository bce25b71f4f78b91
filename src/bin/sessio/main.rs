//! The `sessio` command: `serve` (the default) and the operator's commands.

mod app;
mod config;
mod control;
#[cfg(test)]
mod fuzzing;
mod logger;

use std::path::Path;

use config::Config;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The configuration file read when neither `--config` nor `SESSIO_CONFIG`
/// names one, if it exists: the Debian package's, so that an administrator's
/// `sudo sessio user add NAME` finds the service's data directory.
const DEFAULT_CONFIG: &str = "/etc/sessio/sessio.toml";

const USAGE: &str = "\
sessio: a tiny Socket.IO server with shared cookie sessions

Usage:
  sessio [serve] [OPTIONS]       run the server (the default)
  sessio user add NAME           add a user (password from the terminal or stdin)
  sessio user del NAME           delete a user, ending their sessions
  sessio user passwd NAME        change a password, ending the user's sessions
  sessio user list               list users
  sessio session list            list stored sessions
  sessio session purge [--all]   remove expired (or all) sessions
  sessio --help | --version

The user and session commands take --data-dir too. While the server runs they
go through its control socket (<data-dir>/control.sock, the directory's owner only);
run by root on a data directory another user owns, they act as that user.
Without --config or SESSIO_CONFIG, /etc/sessio/sessio.toml is read if it exists.
";

fn main() {
    return_freed_memory();
    log_panics();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}\n{}", config::help());
        return;
    }
    if args.iter().any(|a| a == "--version" || a == "-V") {
        println!("sessio {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    let (command, rest) = match args.first().map(String::as_str) {
        Some("serve") => ("serve", &args[1..]),
        Some(cmd @ ("user" | "session")) => (cmd, &args[1..]),
        _ => ("serve", &args[..]),
    };
    // Operator commands take their words first, then options.
    let words = rest
        .iter()
        .take_while(|a| !a.starts_with("--") || *a == "--all")
        .count();
    let (words, flags) = if command == "serve" {
        (&rest[..0], rest)
    } else {
        rest.split_at(words)
    };
    let env = |name: &str| {
        std::env::var(name).ok().or_else(|| {
            (name == "SESSIO_CONFIG" && Path::new(DEFAULT_CONFIG).exists())
                .then(|| DEFAULT_CONFIG.to_owned())
        })
    };
    let config = match Config::load(flags, env) {
        Ok(config) => config,
        Err(err) => fail(&err),
    };
    logger::install(config.log_level);
    let result = match command {
        "user" | "session" => {
            if let Err(err) = act_as_owner_of(&config.data_dir) {
                fail(&err);
            }
            let words: Vec<&str> = std::iter::once(command)
                .chain(words.iter().map(String::as_str))
                .collect();
            app::admin::command(&config, &words)
                .map(|text| print!("{text}"))
                .map_err(|e| e.to_string())
        }
        _ => {
            // The global executor reads its thread count on first use. The
            // server runs on its threads; this one only waits, and leaves the
            // I/O reactor to them (so no event is handed between threads).
            std::env::set_var("SMOL_THREADS", config.threads.to_string());
            sessio::blocking::set_threads(config.blocking_threads);
            smol::future::block_on(smol::spawn(app::run(config))).map_err(|e| e.to_string())
        }
    };
    if let Err(err) = result {
        fail(&err);
    }
}

/// A password hash takes 10 MiB for a moment. glibc's malloc would keep such
/// blocks after their first free (it raises its mmap threshold on the fly), so
/// a burst of logins left over 100 MB resident; a fixed threshold makes every
/// large block go back to the system when freed. (musl always returns them.)
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a malloc parameter; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

/// Run by root on a data directory that another user owns (the service's), an
/// operator command switches to that user before it opens anything: files it
/// creates keep their owner, and the running server's control socket, open to
/// the directory's owner only, lets it in.
fn act_as_owner_of(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let Ok(meta) = std::fs::metadata(dir) else {
        return Ok(()); // not made yet: root makes it, as before
    };
    let (uid, gid) = (meta.uid(), meta.gid());
    if uid == 0 {
        return Ok(());
    }
    // SAFETY: system calls on integers (and an empty group list); the C library
    // applies them to every thread of the process.
    let switched = unsafe {
        libc::setgroups(0, std::ptr::null()) == 0
            && libc::setgid(gid) == 0
            && libc::setuid(uid) == 0
    };
    if switched {
        Ok(())
    } else {
        Err(format!(
            "cannot act as uid {uid}, the owner of {}: {}",
            dir.display(),
            std::io::Error::last_os_error()
        ))
    }
}

/// A panic is caught where it costs one connection or one handler (the
/// server goes on); this logs it as one line with where it happened.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let at = info.location().map(ToString::to_string).unwrap_or_default();
        let thread = std::thread::current();
        let thread = thread.name().unwrap_or("unnamed");
        log::error!("panic at {at} (thread {thread}): {message}");
    }));
}

fn fail(err: &dyn std::fmt::Display) -> ! {
    eprintln!("sessio: {err}");
    std::process::exit(1);
}
