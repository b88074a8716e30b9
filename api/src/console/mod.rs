//! The operator console at `/console`: server-rendered pages (maud) over the
//! same API operators script against, for people who will not install a CLI.
//!
//! - [`session`]: sign-in with a token, the session cookie, CSRF; [`sso`] and
//!   [`oidc`]: sign-in through an OpenID Connect provider, if configured.
//! - [`call`]: the API, called in-process as the signed-in token.
//! - [`layout`]: the page shell and shared pieces.
//! - one module per section: [`overview`], [`journeys`] (list and search),
//!   [`journey`] (one journey's page and its actions), [`reviews`], [`inbox`],
//!   [`vendors`], [`bulk`].
//!
//! Every response is `Cache-Control: no-store` (pages show PHI on demand),
//! under a Content-Security-Policy that allows only this origin's stylesheet
//! and script: no inline script or style, no framing.

mod bulk;
mod call;
mod counts;
mod extract;
mod inbox;
mod journey;
mod journeys;
mod layout;
pub mod oidc;
mod overview;
mod reviews;
mod session;
mod sso;
mod vendors;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sqlx::PgPool;
use std::sync::Arc;

use crate::AppState;
use call::Api;
pub use session::{SESSION_COOKIE, SESSION_IDLE_SECS, SESSION_LIFETIME_SECS};

/// What the console's handlers share: the application, the API to call and
/// the OpenID Connect provider, if sign-in through one is configured.
#[derive(Clone)]
pub struct ConsoleState {
    app: AppState,
    api: Api,
    oidc: Option<Arc<oidc::Oidc>>,
    counts: Arc<counts::CountsCache>,
}

/// How the console is set up beyond the API's state.
#[derive(Debug, Clone, Default)]
pub struct ConsoleConfig {
    /// Sign-in through an OpenID Connect provider, besides tokens.
    pub oidc: Option<oidc::OidcSettings>,
}

impl ConsoleState {
    fn pool(&self) -> &PgPool {
        self.app.engine.pool()
    }
}

/// The Content-Security-Policy of every console response.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

const STYLESHEET: &str = include_str!("assets/console.css");
const SCRIPT: &str = include_str!("assets/console.js");
const FAVICON: &str = include_str!("assets/favicon.svg");

/// The console's routes, under `/console`. `api`: the API's own router (with
/// its state), which the console calls in-process.
pub fn router(app: AppState, api: Router, config: ConsoleConfig) -> Router {
    let state = ConsoleState {
        app,
        api: Api::new(api),
        oidc: config.oidc.map(oidc::Oidc::new),
        counts: Arc::default(),
    };
    Router::new()
        .route("/console", get(overview::page))
        .route(
            "/console/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/console/sign-out", post(session::sign_out))
        .route("/console/oidc/start", get(sso::start))
        .route("/console/oidc/callback", get(sso::callback))
        .route("/console/static/console.css", get(stylesheet))
        .route("/console/static/console.js", get(script))
        .route("/console/static/favicon.svg", get(favicon))
        .route("/console/journeys", get(journeys::list))
        .route("/console/journeys/search", post(journeys::search))
        .route("/console/journeys/{id}", get(journey::page))
        .route("/console/journeys/{id}/events", get(journey::events))
        .route("/console/journeys/{id}/reveal", post(journey::reveal))
        .route("/console/journeys/{id}/act/{action}", post(journey::act))
        .route("/console/reviews", get(reviews::list))
        .route("/console/reviews/{id}", get(reviews::page))
        .route("/console/reviews/{id}/people", post(reviews::people))
        .route("/console/reviews/{id}/decide", post(reviews::decide))
        .route("/console/inbox", get(inbox::list))
        .route("/console/inbox/act", post(inbox::act))
        .route(
            "/console/inbox/rejections/replay",
            post(inbox::replay_rejection),
        )
        .route("/console/vendors", get(vendors::list))
        .route("/console/vendors/{name}/{action}", post(vendors::act))
        .route("/console/bulk", get(bulk::form))
        .route("/console/bulk/preview", post(bulk::preview))
        .route("/console/bulk/confirm", post(bulk::confirm))
        .route("/console/", get(not_found))
        .route("/console/{*rest}", get(not_found).post(not_found))
        .layer(middleware::from_fn(guarded))
        .with_state(state)
}

/// Headers on every console response: nothing cached, nothing framed,
/// nothing sniffed, no referrer, and the strict CSP.
async fn guarded(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = [
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLESHEET,
    )
}

async fn favicon() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "image/svg+xml")], FAVICON)
}

/// Any other address under `/console`: a page, not the API's JSON.
async fn not_found() -> Response {
    missing()
}

/// The console's 404 page.
pub(crate) fn missing() -> Response {
    layout::bare_error(
        axum::http::StatusCode::NOT_FOUND,
        "There is no such page in the console.",
    )
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}
