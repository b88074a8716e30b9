//! A small OpenID Connect provider for the console's sign-in test: discovery,
//! a JWKS, an authorization endpoint that signs in one person at once (no
//! login form), and a token endpoint that checks the client's secret and the
//! PKCE verifier and returns an RS256-signed ID token — all with the
//! `openidconnect` crate's provider-side types.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use openidconnect::core::{
    CoreIdToken, CoreIdTokenClaims, CoreIdTokenFields, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreResponseType, CoreRsaPrivateSigningKey, CoreSubjectIdentifierType,
    CoreTokenResponse, CoreTokenType,
};
use openidconnect::{
    AccessToken, Audience, AuthUrl, EmptyAdditionalClaims, EmptyAdditionalProviderMetadata,
    EmptyExtraTokenFields, EndUserEmail, IssuerUrl, JsonWebKeyId, JsonWebKeySetUrl, Nonce,
    PrivateSigningKey, ResponseTypes, StandardClaims, SubjectIdentifier, TokenUrl,
};
use sha2::{Digest, Sha256};

const KEY: &str = include_str!("../fixtures/oidc/idp-test-key.pem");

/// The client carepath is registered as.
pub const CLIENT_ID: &str = "carepath-console";
/// Its secret.
pub const CLIENT_SECRET: &str = "idp-test-client-secret";
/// The person the provider signs in.
pub const PERSON: &str = "dana.reyes@clinic.example";

struct Grant {
    nonce: String,
    challenge: String,
}

struct Provider {
    issuer: String,
    redirect_uri: String,
    grants: Mutex<HashMap<String, Grant>>,
}

/// Serves the provider on a loopback port; its issuer URL. `redirect_uri`
/// is the one client redirect it accepts.
pub async fn start(redirect_uri: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the IdP");
    let issuer = format!("http://{}", listener.local_addr().expect("address"));
    let provider = Arc::new(Provider {
        issuer: issuer.clone(),
        redirect_uri: redirect_uri.to_owned(),
        grants: Mutex::new(HashMap::new()),
    });
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(provider);
    tokio::spawn(async move { axum::serve(listener, app).await });
    issuer
}

fn key() -> CoreRsaPrivateSigningKey {
    CoreRsaPrivateSigningKey::from_pem(KEY, Some(JsonWebKeyId::new("test-key".into())))
        .expect("the test key")
}

async fn discovery(State(p): State<Arc<Provider>>) -> Json<CoreProviderMetadata> {
    let url = |path: &str| format!("{}{path}", p.issuer);
    let metadata = CoreProviderMetadata::new(
        IssuerUrl::new(p.issuer.clone()).expect("issuer"),
        AuthUrl::new(url("/authorize")).expect("auth url"),
        JsonWebKeySetUrl::new(url("/jwks")).expect("jwks url"),
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256],
        EmptyAdditionalProviderMetadata {},
    )
    .set_token_endpoint(Some(TokenUrl::new(url("/token")).expect("token url")));
    Json(metadata)
}

async fn jwks() -> Json<CoreJsonWebKeySet> {
    Json(CoreJsonWebKeySet::new(vec![key().as_verification_key()]))
}

async fn authorize(
    State(p): State<Arc<Provider>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| q.get(k).cloned().unwrap_or_default();
    if field("client_id") != CLIENT_ID
        || field("redirect_uri") != p.redirect_uri
        || field("response_type") != "code"
    {
        return (StatusCode::BAD_REQUEST, "unknown client or redirect").into_response();
    }
    if field("code_challenge_method") != "S256" {
        return (StatusCode::BAD_REQUEST, "PKCE S256 required").into_response();
    }
    let code = format!("code-{}", uuid::Uuid::new_v4().simple());
    let grant = Grant {
        nonce: field("nonce"),
        challenge: field("code_challenge"),
    };
    p.grants.lock().expect("grants").insert(code.clone(), grant);
    let mut back = reqwest::Url::parse(&p.redirect_uri).expect("redirect uri");
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &field("state"));
    Redirect::to(back.as_str()).into_response()
}

async fn token(
    State(p): State<Arc<Provider>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Basic {basic}"));
    if !authorized {
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({ "error": "invalid_client" })),
        )
            .into_response();
    }
    let code = f.get("code").cloned().unwrap_or_default();
    let Some(grant) = p.grants.lock().expect("grants").remove(&code) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": "invalid_grant" })),
        )
            .into_response();
    };
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    if challenge != grant.challenge {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": "invalid_grant", "error_description": "PKCE" })),
        )
            .into_response();
    }
    let access = AccessToken::new(format!("at-{}", uuid::Uuid::new_v4().simple()));
    let now = chrono::Utc::now();
    let claims = CoreIdTokenClaims::new(
        IssuerUrl::new(p.issuer.clone()).expect("issuer"),
        vec![Audience::new(CLIENT_ID.into())],
        now + chrono::Duration::minutes(5),
        now,
        StandardClaims::new(SubjectIdentifier::new("person-0042".into()))
            .set_email(Some(EndUserEmail::new(PERSON.into())))
            .set_email_verified(Some(true)),
        EmptyAdditionalClaims {},
    )
    .set_nonce(Some(Nonce::new(grant.nonce)));
    let id_token = CoreIdToken::new(
        claims,
        &key(),
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Some(&access),
        None,
    )
    .expect("sign the ID token");
    let response = CoreTokenResponse::new(
        access,
        CoreTokenType::Bearer,
        CoreIdTokenFields::new(Some(id_token), EmptyExtraTokenFields {}),
    );
    Json(response).into_response()
}
