//! SQL over carepath's own tables. Queries are kept here, readable, and the
//! engine above speaks in journeys, steps, signals and history events.

pub mod alerts;
pub mod audit;
pub mod history;
pub mod inbox;
pub mod journeys;
pub mod refs;
pub mod signals;
pub mod steps;
pub mod tokens;
