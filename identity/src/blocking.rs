//! Blocking: which registry records are compared with an incoming person.
//! Several keys, so that a record is found when any one of them survives the
//! slips a returning patient makes: their date of birth (or its day–month
//! swap), phonetic family name with birth year, ZIP with given-name initial,
//! phone, email.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::record::Record;

/// At most this many rows are read for one key value; a key that reaches it
/// is reported (`capped`) and the decision cannot be "create".
pub const MAX_ROWS_PER_KEY: usize = 2_000;

/// One blocking key value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(tag = "key", content = "value", rename_all = "snake_case")]
pub enum BlockKey {
    /// Date of birth.
    Dob(NaiveDate),
    /// Double Metaphone of the family name, and birth year.
    FamilyCodeYear(String, i32),
    /// ZIP and the given name's first letter.
    PostalInitial(String, char),
    /// E.164 phone.
    Phone(String),
    /// Normalised email.
    Email(String),
}

impl BlockKey {
    /// The key's kind, for reports (`"dob"`).
    pub fn kind(&self) -> &'static str {
        match self {
            BlockKey::Dob(_) => "dob",
            BlockKey::FamilyCodeYear(..) => "family_code_year",
            BlockKey::PostalInitial(..) => "postal_initial",
            BlockKey::Phone(_) => "phone",
            BlockKey::Email(_) => "email",
        }
    }

    /// A stable text for the key, for advisory locks (`"dob:1988-03-14"`).
    pub fn text(&self) -> String {
        match self {
            BlockKey::Dob(d) => format!("dob:{d}"),
            BlockKey::FamilyCodeYear(c, y) => format!("fcy:{c}:{y}"),
            BlockKey::PostalInitial(p, i) => format!("pi:{p}:{i}"),
            BlockKey::Phone(p) => format!("phone:{p}"),
            BlockKey::Email(e) => format!("email:{e}"),
        }
    }
}

/// The keys a stored record is filed under.
pub fn stored_keys(r: &Record) -> Vec<BlockKey> {
    let mut keys = Vec::with_capacity(5);
    if let Some(d) = r.dob {
        keys.push(BlockKey::Dob(d));
    }
    if let (Some(y), false) = (r.birth_year(), r.family_code.is_empty()) {
        keys.push(BlockKey::FamilyCodeYear(r.family_code.clone(), y));
    }
    if let (Some(p), Some(i)) = (&r.postal_code, r.first_given().chars().next()) {
        keys.push(BlockKey::PostalInitial(p.clone(), i));
    }
    if let Some(p) = &r.phone {
        keys.push(BlockKey::Phone(p.clone()));
    }
    if let Some(e) = &r.email {
        keys.push(BlockKey::Email(e.clone()));
    }
    keys
}

/// The keys to look an incoming person up by: their own, plus the day–month
/// swap of their date of birth. Sorted, so that locks taken in this order
/// cannot deadlock.
pub fn lookup_keys(r: &Record) -> Vec<BlockKey> {
    let mut keys = stored_keys(r);
    if let Some(s) = r.dob_swapped() {
        keys.push(BlockKey::Dob(s));
    }
    keys.sort();
    keys.dedup();
    keys
}

/// An in-memory registry indexed by blocking key: what the evaluation and
/// estimation use, with the same keys and cap as the database.
#[derive(Debug, Default)]
pub struct BlockIndex {
    index: HashMap<BlockKey, Vec<usize>>,
}

impl BlockIndex {
    /// Files record number `id` under its keys.
    pub fn insert(&mut self, id: usize, r: &Record) {
        for key in stored_keys(r) {
            self.index.entry(key).or_default().push(id);
        }
    }

    /// The record numbers sharing any lookup key with `r` (each once), and
    /// whether a key's rows were capped at [`MAX_ROWS_PER_KEY`].
    pub fn candidates(&self, r: &Record) -> (Vec<usize>, bool) {
        let mut found = Vec::new();
        let mut capped = false;
        for key in lookup_keys(r) {
            if let Some(ids) = self.index.get(&key) {
                capped |= ids.len() > MAX_ROWS_PER_KEY;
                found.extend(ids.iter().take(MAX_ROWS_PER_KEY));
            }
        }
        found.sort_unstable();
        found.dedup();
        (found, capped)
    }

    /// The blocks of one kind, for estimation: each key's record numbers.
    pub fn blocks(&self, kind: &str) -> impl Iterator<Item = &Vec<usize>> {
        self.index
            .iter()
            .filter(move |(k, _)| k.kind() == kind)
            .map(|(_, v)| v)
    }
}
