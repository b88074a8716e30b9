//! What the API reads and writes, as documented in /openapi.json: a module
//! per resource, and the rules on text and stored JSON they share. Every
//! shape is re-exported here, so `crate::views::X` names it wherever it lives.

mod bulk;
mod detail;
mod inbox;
mod journeys;
mod privacy;
mod repair;
mod reviews;
mod search;
mod storable;
mod text;
mod tokens;
mod vendors;

use serde::Serialize;
use utoipa::ToSchema;

pub use bulk::*;
pub use detail::*;
pub use inbox::*;
pub use journeys::*;
pub use privacy::*;
pub use repair::*;
pub use reviews::*;
pub use search::*;
pub use storable::*;
pub use text::*;
pub(crate) use text::{documented_as, one_of_words};
pub use tokens::*;
pub use vendors::*;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
}
