//! SQL over the application's own tables; the engine's tables have their
//! home in [`carepath_engine::store`], re-exported here so callers name one
//! place.

pub mod audit;

pub use carepath_engine::store::{alerts, history, inbox, journeys, refs, signals, steps};
