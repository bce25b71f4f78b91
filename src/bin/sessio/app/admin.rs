//! The operator's commands: `sessio user add|del|passwd|list` and
//! `sessio session list|purge`. With the server stopped, a command opens the
//! store itself; while the server runs (the store admits one process) it is
//! sent over the server's control socket ([`crate::control`]) and the server
//! runs it ([`answer`]). Either way [`execute`] does the work, so the two
//! agree. Deleting a user or changing their password ends their sessions;
//! in a running server their sockets are disconnected, on every node of the
//! cluster, before the command returns, as a logout does (the command says
//! so when a node did not confirm it).

use std::fmt;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use sessio::accounts::{AccountError, Accounts};
use sessio::session::{now_ms, Store, StoreError, StoreKey};
use sessio::socketio::admin::NAMESPACE as ADMIN_NAMESPACE;

use super::data_dir::{open_accounts, open_db, open_session_store};
use super::error::StartError;
use super::App;
use crate::config::Config;
use crate::control::{self, CallError, ParseError, Reply, Request};

/// Why an operator command failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum AdminError {
    Start(StartError),
    Request(ParseError),
    /// The password could not be read from the terminal or stdin.
    Password(String),
    Account(AccountError),
    Store(StoreError),
    NoUser(String),
    /// A server holds the data directory, and its control socket did not answer.
    Unreachable(PathBuf, CallError),
    /// The running server refused the command; its reason.
    Refused(String),
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::Start(e) => e.fmt(f),
            AdminError::Request(e) => e.fmt(f),
            AdminError::Password(e) => write!(f, "password: {e}"),
            AdminError::Account(e) => e.fmt(f),
            AdminError::Store(e) => e.fmt(f),
            AdminError::NoUser(name) => write!(f, "no user {name}"),
            AdminError::Unreachable(dir, e) => write!(
                f,
                "data directory {} is locked by another sessio instance, which does not answer: {e}",
                dir.display()
            ),
            AdminError::Refused(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for AdminError {}

impl From<AccountError> for AdminError {
    fn from(e: AccountError) -> AdminError {
        AdminError::Account(e)
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> AdminError {
        AdminError::Store(e)
    }
}

/// What a command did.
pub struct Outcome {
    /// What to show the operator.
    pub text: String,
    /// The sessions it ended: their sockets go too.
    pub ended: Vec<StoreKey>,
    /// The operator's line for the server's log, when something changed.
    pub change: Option<String>,
}

impl Outcome {
    fn shown(text: String) -> Outcome {
        Outcome {
            text,
            ended: Vec::new(),
            change: None,
        }
    }
}

/// Runs a command on the store. Blocks (hashing, store writes): off the
/// executor.
pub fn execute(
    accounts: &Accounts,
    store: &dyn Store,
    request: &Request,
) -> Result<Outcome, AdminError> {
    let outcome = match request {
        Request::UserAdd { name, password } => {
            let user = accounts.register(name, password)?;
            Outcome {
                text: format!("added {} (id {})\n", user.username, user.id),
                ended: Vec::new(),
                change: Some(format!("added user {name}")),
            }
        }
        Request::UserDel { name } => {
            if !accounts.delete(name)? {
                return Err(AdminError::NoUser(name.clone()));
            }
            let ended = end_sessions_of(store, name)?;
            let n = ended.len();
            Outcome {
                text: format!("deleted {name} (ended {n} sessions)\n"),
                ended,
                change: Some(format!("deleted user {name}, ended {n} sessions")),
            }
        }
        Request::UserPasswd { name, password } => {
            if !accounts.set_password(name, password)? {
                return Err(AdminError::NoUser(name.clone()));
            }
            let ended = end_sessions_of(store, name)?;
            let n = ended.len();
            Outcome {
                text: format!("changed the password of {name} (ended {n} sessions)\n"),
                ended,
                change: Some(format!(
                    "changed the password of user {name}, ended {n} sessions"
                )),
            }
        }
        Request::UserList => {
            let mut text = String::new();
            for user in accounts.list()? {
                let created = sessio::clock::iso(user.created_at_ms as i64);
                text.push_str(&format!("{}\t{}\t{created}\n", user.id, user.username));
            }
            Outcome::shown(text)
        }
        Request::SessionList => {
            let mut text = String::new();
            for (key, record) in store.list()? {
                let user = record.data.get("username").and_then(|u| u.as_str());
                let expires = sessio::clock::iso(record.expires_at_ms as i64);
                text.push_str(&format!(
                    "{key}\t{}\texpires {expires}\n",
                    user.unwrap_or("-")
                ));
            }
            Outcome::shown(text)
        }
        Request::SessionPurge { all: false } => {
            let n = store.purge_expired(now_ms())?;
            Outcome {
                text: format!("purged {n} expired sessions\n"),
                ended: Vec::new(),
                change: Some(format!("purged {n} expired sessions")),
            }
        }
        Request::SessionPurge { all: true } => {
            let ended = store.clear()?;
            let n = ended.len();
            Outcome {
                text: format!("purged all {n} sessions\n"),
                ended,
                change: Some(format!("purged all {n} sessions")),
            }
        }
    };
    Ok(outcome)
}

/// Removes the sessions of the user `name` (those whose `username` is
/// theirs); returns their keys.
fn end_sessions_of(store: &dyn Store, name: &str) -> Result<Vec<StoreKey>, StoreError> {
    let mut ended = Vec::new();
    for (key, record) in store.list()? {
        let theirs = record.data.get("username").and_then(|u| u.as_str()) == Some(name);
        if theirs && store.remove(&key)? {
            ended.push(key);
        }
    }
    Ok(ended)
}

/// The running server's answer to a request from its control socket: runs
/// it, disconnects the sockets of the sessions it ended on every node, and
/// logs one line.
pub async fn answer(app: App, request: Request) -> Reply {
    // A password is hashed: as many at once as the API allows.
    let _hashing = match request.password() {
        Some(_) => Some(app.hashing.acquire().await),
        None => None,
    };
    let command = request.to_string();
    // The Admin UI's account loses its access too.
    let admin_ui = match &request {
        Request::UserDel { name } | Request::UserPasswd { name, .. } => {
            app.config.admin_user.as_ref() == Some(name)
        }
        _ => false,
    };
    let (accounts, sessions) = (app.accounts.clone(), app.sessions.clone());
    let done =
        sessio::blocking::unblock(move || execute(&accounts, sessions.store(), &request)).await;
    match done {
        Ok(mut outcome) => {
            if let Some(nsp) = app.io.of(ADMIN_NAMESPACE).filter(|_| admin_ui) {
                nsp.all().disconnect_sockets(true);
            }
            if let Some(nsp) = app.io.of("/") {
                let gone = sessio::socket_session::disconnect_ended(&nsp, &outcome.ended).await;
                if let Err(unconfirmed) = gone {
                    log::warn!("operator: {command}: {unconfirmed}");
                    outcome.text.push_str(&format!("warning: {unconfirmed}\n"));
                }
            }
            if let Some(change) = &outcome.change {
                log::info!("operator: {change}");
            }
            Reply::Done(outcome.text)
        }
        Err(err) => {
            log::info!("operator: {command} refused: {err}");
            Reply::Failed(err.to_string())
        }
    }
}

/// `sessio user ...` and `sessio session ...`, from the command's words
/// (`["user", "add", "ann"]`): on the store when no server holds it, else
/// through the server. Returns the text to print.
pub fn command(config: &Config, words: &[&str]) -> Result<String, AdminError> {
    let password = if Request::takes_password(words) {
        Some(read_password()?)
    } else {
        None
    };
    let request = Request::from_words(words, password).map_err(AdminError::Request)?;
    match open_db(config) {
        Ok(db) => {
            let accounts = open_accounts(config, &db).map_err(AdminError::Start)?;
            let store = open_session_store(config, &db).map_err(AdminError::Start)?;
            execute(&accounts, &*store, &request).map(|outcome| outcome.text)
        }
        Err(StartError::Locked(dir)) => match control::call(&config.data_dir, &request) {
            Ok(Reply::Done(text)) => Ok(text),
            Ok(Reply::Failed(why)) => Err(AdminError::Refused(why)),
            Err(err) => Err(AdminError::Unreachable(dir, err)),
        },
        Err(err) => Err(AdminError::Start(err)),
    }
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
