//! Bearer tokens, stored hashed, each with a role: `product` (start, read,
//! signal), `operator` (also list, history, actions, vendors), `admin` (also tokens).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use carepath_workflows::Actor;
use carepath_workflows::store::tokens;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Product,
    Operator,
    Admin,
}

impl Role {
    /// The role as stored and written in requests.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Product => "product",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// The role named `s`; `None` for any other text.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "product" => Some(Role::Product),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Who is calling, from a valid bearer token (or a console session).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's name, or the person's id when signed in to the console
    /// through OpenID Connect.
    pub name: String,
    /// What the caller may do.
    pub role: Role,
    /// How the caller proved who it is: names the actor history records.
    pub via: Via,
}

/// How a caller authenticated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Via {
    /// A bearer token: the actor is `token:<name>`.
    #[default]
    Token,
    /// The console's OpenID Connect sign-in: the actor is `oidc:<email>`.
    OpenIdConnect,
}

impl Caller {
    /// 403 unless the caller's role includes `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(role.as_str()))
        }
    }

    /// How the caller appears in history and the operator audit.
    pub fn actor(&self) -> Actor {
        match self.via {
            Via::Token => Actor::new(format!("token:{}", self.name)),
            Via::OpenIdConnect => Actor::new(format!("oidc:{}", self.name)),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(Delegated(caller)) = parts.extensions.get::<Delegated>() {
            return Ok(caller.clone());
        }
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::unauthorized)?;
        let live = tokens::find_live(state.engine.pool(), &hash(token))
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        let role = Role::parse(&live.role).ok_or_else(ApiError::unauthorized)?;
        Ok(Caller {
            name: live.name,
            role,
            via: Via::Token,
        })
    }
}

/// A caller the console has already authenticated by its session cookie,
/// handed to the API in-process with a request (`crate::console`): request
/// extensions cannot be set over HTTP, so only this crate's code can use it.
#[derive(Debug, Clone)]
pub(crate) struct Delegated(pub(crate) Caller);

/// Callers already checked for a role: as the first extractor of a handler,
/// 401 and 403 come before anything about the request itself is looked at.
macro_rules! role_extractor {
    ($name:ident, $role:expr, $doc:literal) => {
        #[doc = $doc]
        pub struct $name(pub Caller);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, Self::Rejection> {
                let caller = Caller::from_request_parts(parts, state).await?;
                caller.require($role)?;
                Ok(Self(caller))
            }
        }

        impl std::ops::Deref for $name {
            type Target = Caller;

            fn deref(&self) -> &Caller {
                &self.0
            }
        }
    };
}

role_extractor!(
    AsProduct,
    Role::Product,
    "A caller whose role includes `product`."
);
role_extractor!(
    AsOperator,
    Role::Operator,
    "A caller whose role includes `operator`."
);
role_extractor!(AsAdmin, Role::Admin, "A caller with the `admin` role.");

/// A token as stored: the hex SHA-256 of its text.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Why a token could not be created.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a token named {0:?} already exists")]
    NameTaken(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Creates a token and returns it; only its hash is stored, so this is the
/// one time it can be read.
///
/// # Errors
/// [`TokenError::NameTaken`] when a token of that name exists (revoked ones
/// too), or the database's.
pub async fn create_token(pool: &PgPool, name: &str, role: Role) -> Result<String, TokenError> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("cp_{}", hex::encode(bytes));
    if !tokens::insert(pool, name, role.as_str(), &hash(&token)).await? {
        return Err(TokenError::NameTaken(name.to_owned()));
    }
    Ok(token)
}

/// Revokes the token named `name`; `false` when there is no such live token.
///
/// # Errors
/// The database's.
pub async fn revoke_token(pool: &PgPool, name: &str) -> Result<bool, sqlx::Error> {
    tokens::revoke(pool, name).await
}
