//! The telehealth journey (`async_consult`, ARCHITECTURE §4) and its parts.

pub mod canonical;
pub mod config;
pub mod consults;
pub mod fhir;
pub mod input;
pub mod intake;
pub mod journey;
pub mod patients;

pub use journey::AsyncConsult;
