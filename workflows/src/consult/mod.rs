//! The telehealth journey (`async_consult`, ARCHITECTURE §4) and its parts.

pub mod intake;
pub mod matching;
