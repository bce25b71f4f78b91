//! The Admin UI's login for the app: `--admin-user NAME` names the one
//! account (made with `sessio user add`) whose password the UI's login is
//! checked against, with failures throttled as the API's logins are; a
//! UI's login ends when that account is deleted or its password changes.

use std::net::{IpAddr, Ipv4Addr};

use sessio::accounts::{AccountError, Accounts, LoginThrottle, ThrottleConfig};
use sessio::socketio::admin::AdminAuth;
use sessio::socketio::Handshake;

pub(crate) struct AccountLogin {
    pub(crate) username: String,
    pub(crate) accounts: Accounts,
    pub(crate) throttle: LoginThrottle,
    pub(crate) trust_proxy: bool,
}

impl AccountLogin {
    pub(crate) fn new(username: String, accounts: Accounts, trust_proxy: bool) -> AccountLogin {
        AccountLogin {
            username,
            accounts,
            throttle: LoginThrottle::new(ThrottleConfig::default()),
            trust_proxy,
        }
    }
}

impl AdminAuth for AccountLogin {
    /// Runs in connect middleware, off the executor: the hash may take its time.
    fn login(&self, username: &str, password: &str, handshake: &Handshake) -> bool {
        let forwarded = handshake.header("x-forwarded-for");
        let ip = sessio::http::client_ip(handshake.address(), forwarded, self.trust_proxy)
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        if self.throttle.check(username, ip).is_err() {
            log::warn!("admin UI login throttled for {username:?} from {ip}");
            return false;
        }
        // Another account's right password is as wrong as a wrong one, and
        // takes as long.
        let verified = self.accounts.verify(username, password);
        match verified {
            Ok(_) if username == self.username => {
                self.throttle.success(username, ip);
                log::info!("admin UI: {username} logged in from {ip}");
                true
            }
            Ok(_) | Err(AccountError::InvalidCredentials | AccountError::Invalid(_)) => {
                self.throttle.failure(username, ip);
                log::info!("admin UI: failed login for {username:?} from {ip}");
                false
            }
            Err(err) => {
                log::error!("admin UI: login for {username:?} could not be checked: {err}");
                false
            }
        }
    }

    /// The account's password stamp: a UI's login ends when the account is
    /// deleted or its password changes.
    fn credentials_version(&self, username: &str) -> Option<String> {
        if username != self.username {
            return None;
        }
        match self.accounts.password_stamp(username) {
            Ok(stamp) => stamp.map(|s| s.iter().map(|b| format!("{b:02x}")).collect()),
            Err(err) => {
                log::error!("admin UI: account {username:?} could not be read: {err}");
                None
            }
        }
    }
}
