//! `GET /console/oidc/start` and `/console/oidc/callback`: signing in to the
//! console through the deployment's OpenID Connect provider ([`super::oidc`]).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use serde::Deserialize;

use super::ConsoleState;
use super::layout;
use super::oidc::Flow;
use super::session::{cookie_of, flow_cookie, open, sign_in_form};
use crate::auth::Role;
use carepath_workflows::store::console_sessions::Holder;

/// The cookie that carries the flow to the provider and back.
const FLOW_COOKIE: &str = "carepath_oidc";
/// How long a person may take at the provider (seconds).
const FLOW_SECS: i64 = 600;

/// `GET /console/oidc/start`: to the provider, with a fresh state, nonce and PKCE challenge.
pub async fn start(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    let Some(oidc) = state.oidc.clone() else {
        return crate::console::missing();
    };
    match oidc.start().await {
        Ok((url, flow)) => (
            StatusCode::SEE_OTHER,
            AppendHeaders([
                (header::LOCATION, url),
                (
                    header::SET_COOKIE,
                    flow_cookie(FLOW_COOKIE, flow.to_cookie(), FLOW_SECS, &headers),
                ),
            ]),
        )
            .into_response(),
        Err(e) => sign_in_form(
            &state,
            &headers,
            StatusCode::BAD_GATEWAY,
            Some(&e.to_string()),
        ),
    }
}

/// What the provider sends the browser back with (OpenID Connect Core
/// 1.0 §3.1.2.5 and §3.1.2.6).
#[derive(Debug, Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /console/oidc/callback`: checks the state, exchanges the code, checks
/// the ID token and opens a session for the person it names.
pub async fn callback(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Query(back): Query<Callback>,
) -> Response {
    let Some(oidc) = state.oidc.clone() else {
        return crate::console::missing();
    };
    if let Some(error) = back.error {
        // Anyone can send a browser here with any text: only an error code
        // of the standard's shape is shown, never the free-text description.
        let code = Some(error)
            .filter(|e| e.len() <= 40 && e.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
            .unwrap_or_else(|| "an error".into());
        let problem = format!("The identity provider did not sign you in ({code}).");
        return sign_in_form(&state, &headers, StatusCode::UNAUTHORIZED, Some(&problem));
    }
    let flow = cookie_of(&headers, FLOW_COOKIE).and_then(|v| Flow::from_cookie(&v));
    let (Some(flow), Some(code), Some(returned)) = (flow, back.code, back.state) else {
        let problem = "That sign-in expired or was not started here; sign in again.";
        return sign_in_form(&state, &headers, StatusCode::BAD_REQUEST, Some(problem));
    };
    let person = match oidc.finish(flow, &returned, code).await {
        Ok(person) => person,
        Err(e) => {
            return sign_in_form(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                Some(&e.to_string()),
            );
        }
    };
    let set = match open(&state, &headers, Holder::Person(&person.id), Role::Operator).await {
        Ok(set) => set,
        Err(turned) => return turned.into_response(),
    };
    tracing::info!(person = %person.id, "console sign-in through OpenID Connect");
    // A page rather than a redirect: the browser came here from the
    // provider's site, and a SameSite=Strict cookie may not go with a
    // redirect that continues that navigation; the page's own does.
    (
        AppendHeaders([
            (header::SET_COOKIE, set),
            (
                header::SET_COOKIE,
                flow_cookie(FLOW_COOKIE, String::new(), 0, &headers),
            ),
        ]),
        layout::signed_in(&person.id),
    )
        .into_response()
}
