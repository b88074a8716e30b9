//! The console's own extractors.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::response::Response;
use uuid::Uuid;

/// The journey id of a console path (`…/{id}…`); anything that is not a
/// UUID names no journey and is answered with the console's 404 page.
pub struct JourneyPath(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for JourneyPath {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| super::missing())?;
        params
            .iter()
            .find(|(name, _)| name == "id")
            .and_then(|(_, id)| Uuid::parse_str(id).ok())
            .map(JourneyPath)
            .ok_or_else(super::missing)
    }
}
