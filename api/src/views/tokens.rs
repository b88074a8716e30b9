//! The tokens' shapes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::TokenName;

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
