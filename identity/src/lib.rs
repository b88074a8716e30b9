//! Patient identity for carepath: is this intake a patient the registry
//! already knows?
#![warn(missing_docs)]

pub mod person;
pub mod synth;

pub use person::{Address, Person};
