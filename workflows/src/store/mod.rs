//! SQL over the application's own tables, one module per table: the
//! operator audit and the API's tokens. The engine's tables have their home
//! in [`carepath_engine::store`], re-exported here so callers name one place.

pub mod audit;
pub mod bulk;
pub mod console_sessions;
pub mod tokens;

pub use carepath_engine::store::{
    alerts, arrivals, detail, feed, gauges, history, inbox, journeys, keys, refs, rejections,
    rewind, signals, steps,
};
