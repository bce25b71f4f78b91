//! The HTTP API of the contract: register, login, logout, me and notify.

use std::time::Duration;

use http_types::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use sessio::accounts::AccountError;
use sessio::clock::now_iso;
use sessio::http::{json_response, read_json};
use sessio::session::Session;

use super::events::is_logged_in;
use super::metrics::Login;
use super::App;

/// The largest API request body.
const MAX_BODY: usize = 64 * 1024;

fn failure(status: StatusCode, error: &str) -> Response {
    json_response(status, &json!({"success": false, "error": error}))
}

/// How long a client is told to wait when the store refuses writes: about how
/// long the store takes to heal once its disk takes writes again.
const RETRY_AFTER_SECS: u32 = 5;

/// The answer to a request the store failed. A disk that refuses writes (full,
/// read-only) is a `503` with `Retry-After`, not logged per request (the store
/// logs going down and coming back up); anything else a `500`, logged.
fn store_failure(disk_fault: bool, err: impl std::fmt::Display) -> Response {
    if disk_fault {
        log::debug!("refused: {err}");
        let mut res = failure(
            StatusCode::ServiceUnavailable,
            sessio::store::WRITES_REFUSED,
        );
        res.insert_header("retry-after", RETRY_AFTER_SECS.to_string());
        return res;
    }
    log::error!("{err}");
    failure(StatusCode::InternalServerError, "session store unavailable")
}

/// Answers a request under `/api/`.
pub async fn handle(app: &App, mut req: Request) -> Response {
    let route = (req.method(), req.url().path().to_owned());
    let changes_state = req.method() != Method::Get && req.method() != Method::Head;
    if changes_state {
        if let Err(foreign) = app.origins.check(&req) {
            log::warn!("refused {} {}: {foreign}", req.method(), route.1);
            return failure(StatusCode::Forbidden, "cross-site request refused");
        }
    }
    match (route.0, route.1.as_str()) {
        (Method::Post, "/api/register") => register(app, &mut req).await,
        (Method::Post, "/api/login") => login(app, &mut req).await,
        (Method::Post, "/api/logout") => logout(app, &req).await,
        (Method::Get, "/api/me") => me(app, &req).await,
        (Method::Post, "/api/notify") => notify(app, &mut req).await,
        (_, "/api/register" | "/api/login" | "/api/logout" | "/api/me" | "/api/notify") => {
            failure(StatusCode::MethodNotAllowed, "method not allowed")
        }
        _ => failure(StatusCode::NotFound, "not found"),
    }
}

/// Why a request is answered 400.
struct BadRequest(String);

impl From<BadRequest> for Response {
    fn from(bad: BadRequest) -> Response {
        failure(StatusCode::BadRequest, &bad.0)
    }
}

/// The JSON body. The contract answers every unusable body, an oversized one
/// too, with 400.
async fn body(req: &mut Request) -> Result<Value, BadRequest> {
    read_json(req, MAX_BODY)
        .await
        .map_err(|err| BadRequest(err.to_string()))
}

/// The `username` and `password` strings of a body.
fn credentials(body: &Value) -> Result<(String, String), BadRequest> {
    match (body.get("username"), body.get("password")) {
        (Some(Value::String(u)), Some(Value::String(p))) => Ok((u.clone(), p.clone())),
        _ => Err(BadRequest("username and password are required".into())),
    }
}

async fn register(app: &App, req: &mut Request) -> Response {
    if !app.config.registration {
        return failure(StatusCode::Forbidden, "registration is closed");
    }
    let (username, password) = match body(req).await.and_then(|b| credentials(&b)) {
        Ok(pair) => pair,
        Err(bad) => return bad.into(),
    };
    let accounts = app.accounts.clone();
    let name = username.clone();
    let _hashing = app.hashing.acquire().await;
    match sessio::blocking::unblock(move || accounts.register(&name, &password)).await {
        Ok(_) => {
            app.counters.registrations.inc();
            log::info!("registered user {username}");
            json_response(
                StatusCode::Created,
                &json!({"success": true, "username": username}),
            )
        }
        Err(AccountError::Invalid(why)) => failure(StatusCode::BadRequest, &why.to_string()),
        Err(AccountError::Taken) => failure(StatusCode::Conflict, "username taken"),
        Err(err) => store_failure(err.is_disk_fault(), err),
    }
}

async fn login(app: &App, req: &mut Request) -> Response {
    let ip = app.client_ip(req);
    let (username, password) = match body(req).await.and_then(|b| credentials(&b)) {
        Ok(pair) => pair,
        Err(bad) => return bad.into(),
    };
    // The counters may be in Redis: off the executor.
    let checked = {
        let (app, name) = (app.clone(), username.clone());
        sessio::blocking::unblock(move || app.throttle.check(&name, ip)).await
    };
    match checked {
        Ok(delay) => {
            if delay > Duration::ZERO {
                smol::Timer::after(delay).await;
            }
        }
        Err(retry) => {
            app.counters.login(Login::Throttled);
            log::warn!("login throttled for {username:?} from {ip}");
            let mut res = failure(
                StatusCode::TooManyRequests,
                "too many failed logins, try again later",
            );
            res.insert_header("retry-after", retry.after_secs.to_string());
            return res;
        }
    };
    let (counted, name) = (app.clone(), username.clone());
    let hashing = app.hashing.acquire().await;
    let verified = sessio::blocking::unblock(move || {
        let verified = counted.accounts.verify(&name, &password);
        match &verified {
            Ok(_) => counted.throttle.success(&name, ip),
            Err(AccountError::InvalidCredentials | AccountError::Invalid(_)) => {
                counted.throttle.failure(&name, ip)
            }
            Err(_) => {}
        }
        verified
    })
    .await;
    drop(hashing);
    let user = match verified {
        Ok(user) => user,
        Err(AccountError::InvalidCredentials | AccountError::Invalid(_)) => {
            app.counters.login(Login::Failed);
            log::info!("failed login for {username:?} from {ip}");
            return failure(StatusCode::Unauthorized, "invalid credentials");
        }
        Err(err) => return store_failure(err.is_disk_fault(), err),
    };
    let sessions = app.sessions.clone();
    let cookie_header = req.header("cookie").map(|v| v.as_str().to_owned());
    let committed = sessio::blocking::unblock(move || {
        let mut session = sessions.load(cookie_header.as_deref());
        let old_room = session.room_key();
        sessions.regenerate(&mut session)?;
        session.insert("userId".into(), json!(user.id));
        session.insert("username".into(), json!(user.username));
        session.insert("isLoggedIn".into(), json!(true));
        session.insert("loginTime".into(), json!(now_iso()));
        sessions
            .commit(&mut session)
            .map(|cookie| (cookie, old_room))
    })
    .await;
    let (cookie, old_room) = match committed {
        Ok(pair) => pair,
        Err(err) => return store_failure(err.is_disk_fault(), err),
    };
    if let Some(room) = old_room {
        // The pre-login session is gone: so are its sockets.
        app.io.to(&room).disconnect_sockets(true);
    }
    app.counters.login(Login::Ok);
    log::info!("user {username} logged in from {ip}");
    let mut res = json_response(
        StatusCode::Ok,
        &json!({"success": true, "message": "Logged in", "username": username}),
    );
    if let Some(cookie) = cookie {
        res.insert_header("set-cookie", cookie);
    }
    res
}

async fn logout(app: &App, req: &Request) -> Response {
    let sessions = app.sessions.clone();
    let cookie_header = req.header("cookie").map(|v| v.as_str().to_owned());
    let destroyed = sessio::blocking::unblock(move || {
        let mut session = sessions.load(cookie_header.as_deref());
        let room = session.room_key();
        sessions.destroy(&mut session).map(|cookie| (cookie, room))
    })
    .await;
    let (cookie, room) = match destroyed {
        Ok(pair) => pair,
        Err(err) => return store_failure(err.is_disk_fault(), err),
    };
    if let Some(room) = room {
        app.io.to(&room).disconnect_sockets(true);
    }
    let mut res = json_response(
        StatusCode::Ok,
        &json!({"success": true, "message": "Logged out"}),
    );
    res.insert_header("set-cookie", cookie);
    res
}

/// The request's session, read off the executor.
async fn load_session(app: &App, req: &Request) -> Session {
    let sessions = app.sessions.clone();
    let cookie_header = req.header("cookie").map(|v| v.as_str().to_owned());
    sessio::blocking::unblock(move || sessions.load(cookie_header.as_deref())).await
}

/// Commits the session at the end of a request (rolling expiry), off the
/// executor, adding its cookie to the response when one is due.
async fn renew(app: &App, mut session: Session, res: &mut Response) {
    let sessions = app.sessions.clone();
    match sessio::blocking::unblock(move || sessions.commit(&mut session)).await {
        Ok(Some(cookie)) => {
            res.insert_header("set-cookie", cookie);
        }
        Ok(None) => {}
        // The store logs going down; a session not renewed meanwhile keeps its expiry.
        Err(err) if err.is_disk_fault() => log::debug!("cannot renew a session: {err}"),
        Err(err) => log::warn!("cannot renew a session: {err}"),
    }
}

async fn me(app: &App, req: &Request) -> Response {
    let session = load_session(app, req).await;
    if !is_logged_in(&session) {
        return failure(StatusCode::Unauthorized, "Authentication required");
    }
    let field = |key| session.get(key).cloned().unwrap_or(Value::Null);
    let body = json!({
        "username": field("username"),
        "userId": field("userId"),
        "loginTime": field("loginTime"),
        "count": session.get("count").cloned().unwrap_or(json!(0)),
    });
    let mut res = json_response(StatusCode::Ok, &body);
    renew(app, session, &mut res).await;
    res
}

async fn notify(app: &App, req: &mut Request) -> Response {
    let session = load_session(app, req).await;
    if !is_logged_in(&session) {
        return failure(StatusCode::Unauthorized, "Authentication required");
    }
    let body = match body(req).await {
        Ok(body) => body,
        Err(bad) => return bad.into(),
    };
    let message = match body.get("message") {
        None | Some(Value::Null) => "You have a new notification!".to_owned(),
        Some(Value::String(m)) if !m.is_empty() && m.encode_utf16().count() <= 2000 => m.clone(),
        Some(_) => {
            return failure(
                StatusCode::BadRequest,
                "message must be a string of 1 to 2000 characters",
            )
        }
    };
    if let Some(room) = session.room_key() {
        app.io
            .to(&room)
            .emit("notification", json!({"message": message}));
    }
    let mut res = json_response(StatusCode::Ok, &json!({"success": true}));
    renew(app, session, &mut res).await;
    res
}
