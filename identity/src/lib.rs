//! Patient identity for carepath: is this intake a patient the registry
//! already knows, a new one, or a question for a person?
//!
//! A Fellegi–Sunter model: each field of a pair of records is compared into
//! a discrete level ([`compare`]); each level carries a weight log2(m/u)
//! ([`model`]), with m and u estimated on the registry itself ([`estimate`])
//! and exact names weighed by their frequency; the sum, with the prior, is
//! the match weight, and thresholds turn it into link, review or create
//! ([`decision`]), with the rules no score overrides (households and twins
//! are never linked on shared contacts alone). [`blocking`] chooses which
//! records are compared at all. [`synth`] generates labelled registries to
//! measure all of it.
//!
//! ```
//! use carepath_identity::{Address, Decision, Model, Person, Record, matcher};
//!
//! let person = |last: &str, phone: &str| Person {
//!     external_id: "p-1".into(),
//!     first_name: "Adaeze".into(),
//!     last_name: last.into(),
//!     date_of_birth: "1988-03-14".into(),
//!     sex: "female".into(),
//!     email: "ada@example.com".into(),
//!     phone: phone.into(),
//!     address: Address {
//!         line1: "12 Oak Street".into(),
//!         line2: None,
//!         city: "Oakland".into(),
//!         state: "CA".into(),
//!         postal_code: "94607".into(),
//!     },
//! };
//! let stored = Record::of(&person("Okonkwo", "415-555-0100"));
//! let incoming = Record::of(&person("Okonkow", "(628) 555-0199"));
//! let outcome = matcher::rank(&Model::fallback(), &incoming, [("patient-1", &stored)], false);
//! assert_eq!(outcome.decision, Decision::Link);
//! ```
#![warn(missing_docs)]

pub mod blocking;
pub mod compare;
pub mod decision;
pub mod estimate;
pub mod matcher;
pub mod model;
pub mod normalize;
pub mod person;
pub mod record;
pub mod synth;

pub use decision::{Decision, Hold};
pub use model::{Model, Scored};
pub use person::{Address, Person};
pub use record::Record;
