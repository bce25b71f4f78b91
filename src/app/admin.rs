//! The operator's commands: `sessio user add|del|list` and
//! `sessio session list|purge`. They open the store directly, so the server
//! must be stopped while they run (the store allows one process at a time).

use std::fmt;
use std::io::{BufRead, IsTerminal};

use super::start::{open_db, StartError};
use crate::accounts::Accounts;
use crate::config::Config;
use crate::session::{now_ms, SledStore, Store};

/// Why an operator command failed.
#[derive(Debug)]
pub enum AdminError {
    Start(StartError),
    Usage(&'static str),
    Password(String),
    Failed(String),
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::Start(e) => write!(f, "{e} (stop the server first?)"),
            AdminError::Usage(u) => write!(f, "usage: {u}"),
            AdminError::Password(e) => write!(f, "password: {e}"),
            AdminError::Failed(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for AdminError {}

fn failed(e: impl fmt::Display) -> AdminError {
    AdminError::Failed(e.to_string())
}

/// Reads a password from the terminal (asked twice) or one line of stdin.
fn read_password() -> Result<String, AdminError> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")
            .map_err(|e| AdminError::Password(e.to_string()))?;
        let again = rpassword::prompt_password("Again: ")
            .map_err(|e| AdminError::Password(e.to_string()))?;
        if first != again {
            return Err(AdminError::Password("the two entries differ".into()));
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| AdminError::Password(e.to_string()))?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

/// `sessio user add NAME | del NAME | list`.
pub fn user(config: &Config, args: &[String]) -> Result<(), AdminError> {
    const USAGE: &str = "sessio user add NAME | user del NAME | user list";
    let db = open_db(config).map_err(AdminError::Start)?;
    let accounts = Accounts::open(&db).map_err(failed)?;
    match args {
        [cmd, name] if cmd == "add" => {
            let password = read_password()?;
            let user = accounts.register(name, &password).map_err(failed)?;
            println!("added {} (id {})", user.username, user.id);
        }
        [cmd, name] if cmd == "del" => {
            if !accounts.delete(name).map_err(failed)? {
                return Err(AdminError::Failed(format!("no user {name}")));
            }
            println!("deleted {name}");
        }
        [cmd] if cmd == "list" => {
            for user in accounts.list().map_err(failed)? {
                println!(
                    "{}\t{}\t{}",
                    user.id,
                    user.username,
                    super::clock::iso(user.created_at_ms as i64)
                );
            }
        }
        _ => return Err(AdminError::Usage(USAGE)),
    }
    db.sync().map_err(failed)
}

/// `sessio session list | purge [--all]`.
pub fn session(config: &Config, args: &[String]) -> Result<(), AdminError> {
    const USAGE: &str = "sessio session list | session purge [--all]";
    let db = open_db(config).map_err(AdminError::Start)?;
    let store = SledStore::open(&db).map_err(failed)?;
    match args {
        [cmd] if cmd == "list" => {
            for (key, record) in store.list().map_err(failed)? {
                let user = record
                    .data
                    .get("username")
                    .and_then(|u| u.as_str())
                    .unwrap_or("-");
                let expires = super::clock::iso(record.expires_at_ms as i64);
                println!("{key}\t{user}\texpires {expires}");
            }
        }
        [cmd] if cmd == "purge" => {
            let n = store.purge_expired(now_ms()).map_err(failed)?;
            println!("purged {n} expired sessions");
        }
        [cmd, all] if cmd == "purge" && all == "--all" => {
            let n = store.purge_expired(u64::MAX).map_err(failed)?;
            println!("purged all {n} sessions");
        }
        _ => return Err(AdminError::Usage(USAGE)),
    }
    db.sync().map_err(failed)
}
