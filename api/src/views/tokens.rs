//! The tokens' shapes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Reason, TokenName};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    #[schema(value_type = TokenName)]
    pub name: String,
    pub role: crate::auth::Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    pub name: String,
    pub role: crate::auth::Role,
    /// Shown once; only its hash is stored.
    pub token: String,
}

/// Whose console sessions to end, and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndSessionsRequest {
    /// `token:<name>` or `oidc:<email>`, as history names the actor.
    #[schema(max_length = 300, pattern = "^(token|oidc):.+$")]
    pub holder: String,
    /// Why: recorded in the operator audit with the caller.
    #[schema(value_type = Reason)]
    pub reason: String,
}

/// How many console sessions were ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsEnded {
    pub holder: String,
    pub ended: u64,
}
