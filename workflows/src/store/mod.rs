//! SQL over carepath's own tables, one module per table (or family of
//! tables). Queries are kept here, readable, and the engine and the API above
//! speak in journeys, steps, signals, history events, inbox entries and tokens.

pub mod alerts;
pub mod audit;
pub mod history;
pub mod inbox;
pub mod journeys;
pub mod refs;
pub mod signals;
pub mod steps;
pub mod tokens;
