//! Signing in to the console: an operator or admin token is exchanged for a
//! session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` behind TLS, scoped
//! to `/console`), kept server-side by its SHA-256 in
//! `carepath.console_sessions`. Every form carries the session's CSRF token
//! (the synchronizer-token pattern of OWASP's CSRF Prevention Cheat Sheet);
//! the sign-in form, which comes before any session, a double-submit cookie.

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use rand::RngCore;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::ConsoleState;
use super::layout;
use crate::auth::{Caller, Role, Via, hash};
use carepath_workflows::store::console_sessions::{self, Holder};
use carepath_workflows::store::{audit, tokens};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "carepath_console";
/// The header the page's script sends with its live refreshes.
pub const LIVE_HEADER: &str = "x-carepath-live";
/// How often a live event stream checks that its session still is (seconds).
const STREAM_CHECK_SECS: u64 = 15;
/// The sign-in form's double-submit cookie.
const SIGN_IN_COOKIE: &str = "carepath_sign_in";
/// A session ends this long after sign-in, however busy (seconds: 12 hours).
pub const SESSION_LIFETIME_SECS: i64 = 12 * 3600;
/// …or after this long without a request (seconds: 30 minutes).
pub const SESSION_IDLE_SECS: i64 = 30 * 60;
/// The largest form the console accepts (bytes).
const FORM_LIMIT: usize = 256 * 1024;

/// A signed-in operator.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token the session was opened with, as the API's caller.
    pub caller: Caller,
    /// The value each of the session's forms carries.
    pub csrf: String,
    cookie_sha256: String,
}

/// Why a console request is turned away.
pub enum Turned {
    /// No live session: to the sign-in page.
    SignIn,
    /// A form without this session's CSRF token.
    Forged,
    /// The database failed.
    Unavailable,
    /// The form could not be read.
    BadForm(String),
}

impl IntoResponse for Turned {
    fn into_response(self) -> Response {
        match self {
            Turned::SignIn => Redirect::to("/console/sign-in").into_response(),
            Turned::Forged => layout::bare_error(
                StatusCode::FORBIDDEN,
                "This form did not come from your console session (it may have expired). \
                 Reload the page and try again.",
            ),
            Turned::Unavailable => layout::bare_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "The database cannot be reached; try again in a moment.",
            ),
            Turned::BadForm(why) => layout::bare_error(StatusCode::BAD_REQUEST, &why),
        }
    }
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

impl FromRequestParts<ConsoleState> for Session {
    type Rejection = Turned;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ConsoleState,
    ) -> Result<Self, Self::Rejection> {
        let value = cookie_value(&parts.headers, SESSION_COOKIE).ok_or(Turned::SignIn)?;
        let cookie_sha256 = hash(&value);
        // What the page's script fetches by itself does not count as activity.
        let by_script =
            parts.headers.contains_key(LIVE_HEADER) || parts.uri.path().ends_with("/events");
        let live = if by_script {
            console_sessions::peek(state.pool(), &cookie_sha256, SESSION_IDLE_SECS).await
        } else {
            console_sessions::touch(state.pool(), &cookie_sha256, SESSION_IDLE_SECS).await
        };
        let live = live
            .map_err(|_| Turned::Unavailable)?
            .ok_or(Turned::SignIn)?;
        let role = Role::parse(&live.role)
            .filter(|r| *r >= Role::Operator)
            .ok_or(Turned::SignIn)?;
        let (name, via) = match (live.token_name, live.person) {
            (Some(token), _) => (token, Via::Token),
            (None, Some(person)) => (person, Via::OpenIdConnect),
            (None, None) => return Err(Turned::SignIn),
        };
        Ok(Session {
            caller: Caller { name, role, via },
            csrf: live.csrf_token,
            cookie_sha256,
        })
    }
}

impl Session {
    /// Resolves once the session has ended (signed out, expired, idle, its
    /// token revoked) or cannot be checked: what a live stream runs until.
    pub(super) async fn ended(self, state: ConsoleState) {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(STREAM_CHECK_SECS)).await;
            match console_sessions::peek(state.pool(), &self.cookie_sha256, SESSION_IDLE_SECS).await
            {
                Ok(Some(_)) => {}
                _ => return,
            }
        }
    }
}

/// A form posted by a signed-in operator, with this session's CSRF token
/// (field `csrf`) checked before anything else is read. `T` is the rest of
/// the form (unknown fields, `csrf` among them, are ignored).
pub struct Posted<T>(pub Session, pub T);

impl<T: DeserializeOwned> FromRequest<ConsoleState> for Posted<T> {
    type Rejection = Turned;

    async fn from_request(req: Request, state: &ConsoleState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, FORM_LIMIT)
            .await
            .map_err(|_| Turned::BadForm("The form is too large.".into()))?;
        let csrf = form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        if !same(&csrf, &session.csrf) {
            return Err(Turned::Forged);
        }
        let form = serde_html_form::from_bytes(&bytes)
            .map_err(|e| Turned::BadForm(format!("The form could not be read: {e}.")))?;
        Ok(Posted(session, form))
    }
}

fn same(a: &str, b: &str) -> bool {
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Whether the browser reached us over TLS (through an ingress that says so):
/// then cookies are `Secure`.
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn cookie(name: &str, value: String, max_age_secs: i64, secure: bool) -> String {
    build_cookie(
        name,
        value,
        "/console",
        SameSite::Strict,
        max_age_secs,
        secure,
    )
}

/// An `HttpOnly` cookie of the console's, under `path`.
fn build_cookie(
    name: &str,
    value: String,
    path: &'static str,
    same_site: SameSite,
    max_age_secs: i64,
    secure: bool,
) -> String {
    Cookie::build((name, value))
        .path(path)
        .http_only(true)
        .same_site(same_site)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build()
        .to_string()
}

/// `GET /console/sign-in`: the form, with a fresh double-submit cookie.
pub async fn sign_in_page(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    sign_in_form(&state, &headers, StatusCode::OK, None)
}

/// The sign-in page answered with `status`, saying `problem` if any.
pub(super) fn sign_in_form(
    state: &ConsoleState,
    headers: &HeaderMap,
    status: StatusCode,
    problem: Option<&str>,
) -> Response {
    // A second tab's form shares the first's value, so both still work.
    let nonce = cookie_value(headers, SIGN_IN_COOKIE)
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(random_hex);
    let set = cookie(SIGN_IN_COOKIE, nonce.clone(), 3600, over_tls(headers));
    let sso = state.oidc.as_ref().map(|o| o.label());
    (
        status,
        [(header::SET_COOKIE, set)],
        layout::sign_in(&nonce, problem, sso),
    )
        .into_response()
}

/// Opens a session for `holder` with `role`: the session cookie to set.
///
/// # Errors
/// [`Turned::Unavailable`] when the database fails.
pub(super) async fn open(
    state: &ConsoleState,
    headers: &HeaderMap,
    holder: Holder<'_>,
    role: Role,
) -> Result<String, Turned> {
    let value = random_hex();
    let pool = state.pool();
    let csrf = random_hex();
    // Signing in again ends the browser's previous session.
    if let Some(previous) = cookie_value(headers, SESSION_COOKIE) {
        let _ = console_sessions::sign_out(pool, &hash(&previous)).await;
    }
    console_sessions::open(
        pool,
        &hash(&value),
        holder,
        role.as_str(),
        &csrf,
        SESSION_LIFETIME_SECS,
    )
    .await
    .map_err(|_| Turned::Unavailable)?;
    // Sessions long over are cleared now and then; sign-ins are rare enough.
    let _ = console_sessions::purge_ended(pool).await;
    let actor = match holder {
        Holder::Token(name) => format!("token:{name}"),
        Holder::Person(id) => format!("oidc:{id}"),
    };
    let detail = serde_json::json!({ "role": role.as_str() });
    audit::record(pool, &actor, "console_sign_in", "console", &detail)
        .await
        .map_err(|_| Turned::Unavailable)?;
    Ok(cookie(
        SESSION_COOKIE,
        value,
        SESSION_LIFETIME_SECS,
        over_tls(headers),
    ))
}

/// A cookie for the OpenID Connect flow (`HttpOnly`, `Path=/console/oidc`):
/// `SameSite=Lax`, since the provider sends the browser back from its site.
pub(super) fn flow_cookie(
    name: &str,
    value: String,
    max_age_secs: i64,
    headers: &HeaderMap,
) -> String {
    let secure = over_tls(headers);
    build_cookie(
        name,
        value,
        "/console/oidc",
        SameSite::Lax,
        max_age_secs,
        secure,
    )
}

/// The value of the request's cookie `name`.
pub(super) fn cookie_of(headers: &HeaderMap, name: &str) -> Option<String> {
    cookie_value(headers, name)
}

/// The sign-in form's fields.
#[derive(serde::Deserialize)]
pub struct SignIn {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /console/sign-in`: a live operator or admin token opens a session.
/// A product token, an unknown or revoked one, is refused with the form again.
pub async fn sign_in(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    // Read leniently: a form that is not one is an unknown token, on the page.
    let form: SignIn = serde_html_form::from_bytes(&body).unwrap_or(SignIn {
        token: String::new(),
        csrf: String::new(),
    });
    let expected = cookie_value(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if !same(&form.csrf, &expected) {
        return Turned::Forged.into_response();
    }
    let found = tokens::find_live(state.pool(), &hash(form.token.trim())).await;
    let Ok(found) = found else {
        return Turned::Unavailable.into_response();
    };
    let Some(live) = found else {
        let problem = "That token is not valid (unknown or revoked).";
        return sign_in_form(&state, &headers, StatusCode::UNAUTHORIZED, Some(problem));
    };
    let Some(role) = Role::parse(&live.role).filter(|r| *r >= Role::Operator) else {
        let problem =
            "Product tokens cannot sign in to the console: use an operator or admin token.";
        return sign_in_form(&state, &headers, StatusCode::FORBIDDEN, Some(problem));
    };
    let set = match open(&state, &headers, Holder::Token(&live.name), role).await {
        Ok(set) => set,
        Err(turned) => return turned.into_response(),
    };
    tracing::info!(token = %live.name, "console sign-in");
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/console".to_owned()),
            (header::SET_COOKIE, set),
        ],
    )
        .into_response()
}

/// `POST /console/sign-out`: ends the session and clears its cookie.
pub async fn sign_out(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Posted(session, _): Posted<serde::de::IgnoredAny>,
) -> Response {
    let pool = state.pool();
    if console_sessions::sign_out(pool, &session.cookie_sha256)
        .await
        .is_err()
    {
        return Turned::Unavailable.into_response();
    }
    let actor = session.caller.actor().0;
    let detail = serde_json::json!({});
    let _ = audit::record(pool, &actor, "console_sign_out", "console", &detail).await;
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/console/sign-in".to_owned()),
            (
                header::SET_COOKIE,
                cookie(SESSION_COOKIE, String::new(), 0, over_tls(&headers)),
            ),
        ],
    )
        .into_response()
}
