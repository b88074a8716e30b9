//! Optional console sign-in through OpenID Connect (the authorization code
//! flow with PKCE, OpenID Connect Core 1.0 §3.1; RFC 7636), with the
//! `openidconnect` crate: actions are then attributed to a named person
//! (`oidc:<email>`) rather than to a shared token. Who may sign in is the
//! identity provider's decision (the people assigned to the client); each
//! signs in with the `operator` role.
//!
//! The provider is discovered (`/.well-known/openid-configuration`) on the
//! first sign-in, not at start-up, so an identity provider that is down does
//! not stop the API; token sign-in always works.

use std::sync::Arc;

use axum::http::{Request, Response};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};
use std::time::{Duration, Instant};

use tokio::sync::RwLock;

/// How long after reading the provider's keys they may be read again.
const REDISCOVER_AFTER: Duration = Duration::from_secs(60);

/// How to reach the identity provider (`CAREPATH_OIDC_*`). Its `Debug`
/// leaves the client secret out.
#[derive(Clone)]
pub struct OidcSettings {
    /// The issuer URL; its discovery document is `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// The client registered for carepath at the provider.
    pub client_id: String,
    /// Its secret (`client_secret_basic`).
    pub client_secret: String,
    /// Where the provider sends the browser back: the console's
    /// `/console/oidc/callback` as the browser reaches it (registered at the provider).
    pub redirect_url: String,
    /// The sign-in button's words: "Sign in with <label>".
    pub label: String,
    /// Email domains allowed to sign in (`CAREPATH_OIDC_ALLOWED_DOMAINS`,
    /// comma-separated, lower case); empty: whoever the provider vouches for.
    pub allowed_domains: Vec<String>,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[set]")
            .field("redirect_url", &self.redirect_url)
            .field("label", &self.label)
            .field("allowed_domains", &self.allowed_domains)
            .finish()
    }
}

impl OidcSettings {
    /// The settings from their parts as configured (`CAREPATH_OIDC_ISSUER`,
    /// `_CLIENT_ID`, `_CLIENT_SECRET`, `_REDIRECT_URL`, `_LABEL`); `None`
    /// when no issuer is set.
    ///
    /// # Errors
    /// An issuer without the others, or a URL that does not parse, named.
    pub fn from_parts(
        issuer: Option<String>,
        client_id: Option<String>,
        client_secret: Option<String>,
        redirect_url: Option<String>,
        label: String,
        allowed_domains: Option<String>,
    ) -> Result<Option<OidcSettings>, String> {
        let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let Some(issuer) = nonempty(issuer) else {
            return Ok(None);
        };
        let (Some(client_id), Some(client_secret), Some(redirect_url)) = (
            nonempty(client_id),
            nonempty(client_secret),
            nonempty(redirect_url),
        ) else {
            return Err("CAREPATH_OIDC_ISSUER is set: set CAREPATH_OIDC_CLIENT_ID, \
                        CAREPATH_OIDC_CLIENT_SECRET and CAREPATH_OIDC_REDIRECT_URL too (or unset \
                        it: the console then signs in with tokens only)"
                .into());
        };
        IssuerUrl::new(issuer.clone()).map_err(|e| format!("CAREPATH_OIDC_ISSUER: {e}"))?;
        RedirectUrl::new(redirect_url.clone())
            .map_err(|e| format!("CAREPATH_OIDC_REDIRECT_URL: {e}"))?;
        let allowed_domains = allowed_domains
            .unwrap_or_default()
            .split(',')
            .map(|d| d.trim().trim_start_matches('@').to_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        Ok(Some(OidcSettings {
            issuer,
            client_id,
            client_secret,
            redirect_url,
            label,
            allowed_domains,
        }))
    }
}

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The relying party: settings, an HTTP client that never follows
/// redirects (the `openidconnect` docs: following them invites SSRF), and
/// the client built from discovery, once.
pub struct Oidc {
    settings: OidcSettings,
    http: reqwest::Client,
    client: RwLock<Option<(Instant, Arc<Client>)>>,
}

/// What the browser keeps between the redirect to the provider and its
/// return (in an `HttpOnly` cookie): the state it must bring back, the nonce
/// the ID token must carry, and the PKCE verifier.
pub struct Flow {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

impl Flow {
    /// The cookie's value: the three, dot-separated (none contains a dot).
    pub fn to_cookie(&self) -> String {
        format!("{}.{}.{}", self.state, self.nonce, self.verifier)
    }

    /// The flow a cookie holds, if well formed.
    pub fn from_cookie(value: &str) -> Option<Flow> {
        let mut parts = value.splitn(3, '.');
        let (state, nonce, verifier) = (parts.next()?, parts.next()?, parts.next()?);
        Some(Flow {
            state: state.into(),
            nonce: nonce.into(),
            verifier: verifier.into(),
        })
    }
}

/// A person the provider vouched for.
#[derive(Debug, Clone)]
pub struct Person {
    /// Their verified email, else the provider's subject id.
    pub id: String,
}

/// Why a sign-in through the provider failed (shown to the person; no secret in it).
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider could not be reached or described itself wrongly: {0}")]
    Discovery(String),
    #[error("the identity provider refused the sign-in: {0}")]
    Exchange(String),
    #[error("the identity provider's ID token is not valid: {0}")]
    IdToken(String),
    #[error("the sign-in came back without the state it was sent with")]
    State,
    #[error("your account's verified email is not in a domain allowed to sign in to this console")]
    NotAllowed,
}

impl Oidc {
    /// A relying party for `settings`; nothing is fetched yet.
    pub fn new(settings: OidcSettings) -> Arc<Oidc> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Arc::new(Oidc {
            settings,
            http,
            client: RwLock::new(None),
        })
    }

    /// The sign-in button's label.
    pub fn label(&self) -> &str {
        &self.settings.label
    }

    /// The client from the provider's discovery document and keys, read
    /// once and kept.
    async fn client(&self) -> Result<Arc<Client>, OidcError> {
        if let Some((_, client)) = self.client.read().await.as_ref() {
            return Ok(Arc::clone(client));
        }
        self.rediscover().await
    }

    /// Reads the discovery document and keys again (a provider rotates its
    /// signing keys), at most once a minute.
    async fn rediscover(&self) -> Result<Arc<Client>, OidcError> {
        let mut kept = self.client.write().await;
        if let Some((at, client)) = kept.as_ref()
            && at.elapsed() < REDISCOVER_AFTER
        {
            return Ok(Arc::clone(client));
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| OidcError::Discovery(e.to_string()))?;
        let http = self.http.clone();
        let metadata =
            CoreProviderMetadata::discover_async(issuer, &move |r| send(http.clone(), r))
                .await
                .map_err(|e| OidcError::Discovery(e.to_string()))?;
        let redirect = RedirectUrl::new(self.settings.redirect_url.clone())
            .map_err(|e| OidcError::Discovery(e.to_string()))?;
        let client = Arc::new(
            CoreClient::from_provider_metadata(
                metadata,
                ClientId::new(self.settings.client_id.clone()),
                Some(ClientSecret::new(self.settings.client_secret.clone())),
            )
            .set_redirect_uri(redirect),
        );
        *kept = Some((Instant::now(), Arc::clone(&client)));
        Ok(client)
    }

    /// Where to send the browser, and the flow it must keep.
    ///
    /// # Errors
    /// [`OidcError::Discovery`].
    pub async fn start(&self) -> Result<(String, Flow), OidcError> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let flow = Flow {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
        };
        Ok((url.to_string(), flow))
    }

    /// Exchanges the provider's `code` for an ID token and checks it
    /// (signature against the provider's keys, issuer, audience, expiry,
    /// nonce); the person it names.
    ///
    /// # Errors
    /// [`OidcError::State`] when `state` is not the flow's; the exchange's
    /// or the ID token's failure.
    pub async fn finish(&self, flow: Flow, state: &str, code: String) -> Result<Person, OidcError> {
        use subtle::ConstantTimeEq;
        if !bool::from(flow.state.as_bytes().ct_eq(state.as_bytes())) {
            return Err(OidcError::State);
        }
        let client = self.client().await?;
        let http = self.http.clone();
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| OidcError::Exchange(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier))
            .request_async(&move |r| send(http.clone(), r))
            .await
            .map_err(|e| OidcError::Exchange(e.to_string()))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| OidcError::IdToken("none was returned".into()))?;
        let nonce = Nonce::new(flow.nonce);
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => claims,
            // Signed with a key this client has not read yet: read the
            // provider's keys again and check once more.
            Err(_) => {
                let fresh = self.rediscover().await?;
                id_token
                    .claims(&fresh.id_token_verifier(), &nonce)
                    .map_err(|e| OidcError::IdToken(e.to_string()))?
            }
        };
        // Only an email the provider says it verified names the person.
        let email = claims
            .email()
            .filter(|_| claims.email_verified() == Some(true))
            .map(|e| e.as_str().to_lowercase());
        let person = Person {
            id: email
                .clone()
                .unwrap_or_else(|| claims.subject().as_str().to_owned()),
        };
        if !self.settings.allowed_domains.is_empty() {
            let domain = email
                .as_deref()
                .and_then(|e| e.rsplit_once('@'))
                .map(|(_, d)| d);
            if !domain.is_some_and(|d| self.settings.allowed_domains.iter().any(|a| a == d)) {
                return Err(OidcError::NotAllowed);
            }
        }
        Ok(person)
    }
}

/// An HTTP failure talking to the provider.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    Request(#[from] reqwest::Error),
    #[error("{0}")]
    Response(#[from] axum::http::Error),
}

/// One request to the provider with carepath's HTTP client (the
/// `openidconnect` crate takes any async function of this shape).
async fn send(
    http: reqwest::Client,
    request: Request<Vec<u8>>,
) -> Result<Response<Vec<u8>>, HttpError> {
    let (parts, body) = request.into_parts();
    let response = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut answer = Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let body = response.bytes().await?.to_vec();
    Ok(answer.body(body)?)
}
