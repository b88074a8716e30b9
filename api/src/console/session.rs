//! Signing in to the console: an operator or admin token is exchanged for a
//! session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` behind TLS, scoped
//! to `/console`), kept server-side by its SHA-256 in
//! `carepath.console_sessions`. Every form carries the session's CSRF token
//! (the synchronizer-token pattern of OWASP's CSRF Prevention Cheat Sheet);
//! the sign-in form, which comes before any session, a double-submit cookie.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use rand::RngCore;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::ConsoleState;
use super::layout;
use crate::auth::{Caller, Role, hash};
use carepath_workflows::store::console_sessions;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "carepath_console";
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
        let live = console_sessions::touch(state.pool(), &cookie_sha256, SESSION_IDLE_SECS)
            .await
            .map_err(|_| Turned::Unavailable)?
            .ok_or(Turned::SignIn)?;
        let role = Role::parse(&live.role)
            .filter(|r| *r >= Role::Operator)
            .ok_or(Turned::SignIn)?;
        Ok(Session {
            caller: Caller {
                name: live.token_name,
                role,
            },
            csrf: live.csrf_token,
            cookie_sha256,
        })
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
    Cookie::build((name, value))
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build()
        .to_string()
}

/// `GET /console/sign-in`: the form, with a fresh double-submit cookie.
pub async fn sign_in_page(headers: HeaderMap) -> Response {
    sign_in_form(&headers, StatusCode::OK, None)
}

fn sign_in_form(headers: &HeaderMap, status: StatusCode, problem: Option<&str>) -> Response {
    let nonce = random_hex();
    let set = cookie(SIGN_IN_COOKIE, nonce.clone(), 3600, over_tls(headers));
    (
        status,
        [(header::SET_COOKIE, set)],
        layout::sign_in(&nonce, problem),
    )
        .into_response()
}

/// The sign-in form's fields.
#[derive(serde::Deserialize)]
pub struct SignIn {
    token: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /console/sign-in`: a live operator or admin token opens a session.
/// A product token, an unknown or revoked one, is refused with the form again.
pub async fn sign_in(
    axum::extract::State(state): axum::extract::State<ConsoleState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SignIn>,
) -> Response {
    let expected = cookie_value(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if !same(&form.csrf, &expected) {
        return Turned::Forged.into_response();
    }
    let pool = state.pool();
    let live =
        match carepath_workflows::store::tokens::find_live(pool, &hash(form.token.trim())).await {
            Ok(live) => live,
            Err(_) => return Turned::Unavailable.into_response(),
        };
    let Some(live) = live else {
        return sign_in_form(
            &headers,
            StatusCode::UNAUTHORIZED,
            Some("That token is not valid (unknown or revoked)."),
        );
    };
    if Role::parse(&live.role).is_none_or(|r| r < Role::Operator) {
        return sign_in_form(
            &headers,
            StatusCode::FORBIDDEN,
            Some("Product tokens cannot sign in to the console: use an operator or admin token."),
        );
    }
    let value = random_hex();
    let opened = console_sessions::open(
        pool,
        &hash(&value),
        &live.name,
        &random_hex(),
        SESSION_LIFETIME_SECS,
    )
    .await;
    if opened.is_err() {
        return Turned::Unavailable.into_response();
    }
    // Sessions long over are cleared now and then; sign-ins are rare enough.
    let _ = console_sessions::purge_ended(pool).await;
    tracing::info!(token = %live.name, "console sign-in");
    let secure = over_tls(&headers);
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/console".to_owned()),
            (
                header::SET_COOKIE,
                cookie(SESSION_COOKIE, value, SESSION_LIFETIME_SECS, secure),
            ),
        ],
    )
        .into_response()
}

/// `POST /console/sign-out`: ends the session and clears its cookie.
pub async fn sign_out(
    axum::extract::State(state): axum::extract::State<ConsoleState>,
    headers: HeaderMap,
    Posted(session, _): Posted<serde::de::IgnoredAny>,
) -> Response {
    if console_sessions::sign_out(state.pool(), &session.cookie_sha256)
        .await
        .is_err()
    {
        return Turned::Unavailable.into_response();
    }
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
