//! What the telehealth journeys are found by ([`carepath_engine::search`]):
//! the kinds of identifier they index, the terms a consult's input gives,
//! and how an operator's query is read as each kind.
//!
//! The patient's external id, email and phone are PHI: indexed and searched
//! only as keyed hashes. The vendors' ids (case, order, prescription, the
//! network's patient) are not, and are stored as they are.

use carepath_engine::SearchTerm;

use crate::consult::canonical;
use crate::consult::input::Patient;
use crate::webhooks::{CASE, ORDER};

/// A prescription the clinical network wrote (its id).
pub const PRESCRIPTION: &str = "prescription";
/// The clinical network's patient (its id).
pub const CLINICAL_PATIENT: &str = "clinical_patient";
/// The brand's id for its patient (PHI: keyed).
pub const PATIENT_EXTERNAL_ID: &str = "patient_external_id";
/// The patient's email (PHI: keyed), in [`canonical::email`]'s form.
pub const EMAIL: &str = "email";
/// The patient's phone (PHI: keyed), in E.164 ([`canonical::phone`]).
pub const PHONE: &str = "phone";

/// The kinds of identifier stored as keyed hashes of PHI: what erasing a
/// journey's PHI forgets ([`carepath_engine::vault::erase::Erasure::forget_kinds`]).
pub const PHI_KINDS: [&str; 3] = [PATIENT_EXTERNAL_ID, EMAIL, PHONE];

/// The terms a consult is indexed by as it starts: its patient's external
/// id, email and phone, keyed. `patient` is the canonical input's.
pub fn input_terms(patient: &Patient) -> Vec<SearchTerm> {
    vec![
        SearchTerm::keyed(PATIENT_EXTERNAL_ID, patient.external_id.trim()),
        SearchTerm::keyed(EMAIL, patient.email.as_str()),
        SearchTerm::keyed(PHONE, patient.phone.as_str()),
    ]
}

/// `query` read as each kind a consult is indexed by: as a vendor's id, as
/// a patient's external id, and — when it reads as one — as an email or a
/// phone number in canonical form.
pub fn candidates(query: &str) -> Vec<SearchTerm> {
    let q = query.trim();
    let mut terms: Vec<SearchTerm> = [CASE, ORDER, PRESCRIPTION, CLINICAL_PATIENT]
        .into_iter()
        .map(|kind| SearchTerm::clear(kind, q))
        .collect();
    terms.push(SearchTerm::keyed(PATIENT_EXTERNAL_ID, q));
    if let Some(email) = canonical::email(q) {
        terms.push(SearchTerm::keyed(EMAIL, email));
    }
    if let Some(phone) = canonical::phone(q) {
        terms.push(SearchTerm::keyed(PHONE, phone));
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_read_as_an_email_or_phone_only_when_it_is_one() {
        let kinds =
            |q: &str| -> Vec<String> { candidates(q).into_iter().map(|t| t.kind).collect() };
        assert!(!kinds("case_123").contains(&EMAIL.to_owned()));
        assert!(kinds("Ann@Example.COM").contains(&EMAIL.to_owned()));
        let phone = candidates("(415) 555-0100");
        assert!(
            phone
                .iter()
                .any(|t| t.kind == PHONE && t.value == "+14155550100" && t.keyed)
        );
        let email = candidates(" ann@Example.com ");
        assert!(
            email
                .iter()
                .any(|t| t.kind == EMAIL && t.value == "ann@example.com")
        );
    }
}
