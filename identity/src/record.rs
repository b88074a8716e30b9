//! A person in the form matching compares: normalised once, when they
//! arrive, and stored that way, so a comparison never re-normalises.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::Person;
use crate::normalize;

/// A normalised person. Built by [`Record::of`]; stored by the registry
/// column for column (and read back from `match_fields`, a text of those
/// columns written with them: `patients/match_fields.rs` in the workflows
/// crate), so a [`Record`] read back compares as it was built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Record {
    /// Given name parts, space-separated, lower-case ASCII (`"mary ann"`).
    pub given: String,
    /// Double Metaphone of the first given-name part.
    pub given_code: String,
    /// Family name parts, space-separated (`"garcia lopez"`).
    pub family: String,
    /// Double Metaphone of the family name written as one word.
    pub family_code: String,
    /// Date of birth; `None` when it did not parse.
    pub dob: Option<NaiveDate>,
    /// E.164 phone.
    pub phone: Option<String>,
    /// Lower-case email without a `+tag`.
    pub email: Option<String>,
    /// Street line with USPS abbreviations (`"12 oak st apt 4b"`).
    pub address_line: Option<String>,
    /// Five-digit ZIP.
    pub postal_code: Option<String>,
    /// `f` or `m`; `None` for other or unknown. Not weighed: it only keeps
    /// twins of different sex apart (see `decision::household_hold`).
    #[serde(default)]
    pub sex: Option<char>,
}

/// The longest a normalised name or street line is kept, in bytes (emails
/// are bounded by input validation instead). Transliteration
/// can lengthen a name several times over (one CJK character becomes a
/// syllable); the registry files every field of a record in one index
/// entry, which PostgreSQL caps at 2,704 bytes.
pub const MAX_FIELD_BYTES: usize = 120;

/// `s` cut to [`MAX_FIELD_BYTES`] at a character boundary, without a
/// trailing space (what the migration `20261203000001` does to older records:
/// `rtrim(left(s, 120))`, the same on ASCII).
fn bounded(mut s: String) -> String {
    if s.len() > MAX_FIELD_BYTES {
        let mut end = MAX_FIELD_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.truncate(s.trim_end_matches(' ').len());
    }
    s
}

impl Record {
    /// `person`, normalised.
    pub fn of(person: &Person) -> Record {
        let given = normalize::name_parts(&person.first_name);
        let family = normalize::name_parts(&person.last_name);
        Record {
            given_code: normalize::phonetic(given.first().map_or("", String::as_str)),
            given: bounded(given.join(" ")),
            family_code: normalize::phonetic(&family.concat()),
            family: bounded(family.join(" ")),
            dob: NaiveDate::parse_from_str(person.date_of_birth.trim(), "%Y-%m-%d").ok(),
            phone: normalize::phone(&person.phone),
            email: normalize::email(&person.email),
            address_line: normalize::address_line(
                &person.address.line1,
                person.address.line2.as_deref(),
            )
            .map(bounded),
            postal_code: normalize::postal_code(&person.address.postal_code),
            sex: match person.sex.trim().to_ascii_lowercase().as_str() {
                "female" | "f" => Some('f'),
                "male" | "m" => Some('m'),
                _ => None,
            },
        }
    }

    /// The first given-name part (`"mary"` of `"mary ann"`).
    pub fn first_given(&self) -> &str {
        self.given.split(' ').next().unwrap_or_default()
    }

    /// The family name as one word (`"garcialopez"`).
    pub fn family_joined(&self) -> std::borrow::Cow<'_, str> {
        if self.family.contains(' ') {
            self.family.replace(' ', "").into()
        } else {
            self.family.as_str().into()
        }
    }

    /// The year of birth.
    pub fn birth_year(&self) -> Option<i32> {
        self.dob.map(|d| d.year())
    }

    /// The date of birth with day and month exchanged, when that is a
    /// different valid date (`1988-03-04` → `1988-04-03`).
    pub fn dob_swapped(&self) -> Option<NaiveDate> {
        let d = self.dob?;
        NaiveDate::from_ymd_opt(d.year(), d.day(), d.month()).filter(|s| *s != d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transliterated_name_is_kept_within_the_index_entry_bound() {
        let mut person = crate::synth::population(3, 1).remove(0);
        person.first_name = "中".repeat(200);
        person.address.line1 = "Ω".repeat(200);
        let r = Record::of(&person);
        assert!(r.given.len() <= MAX_FIELD_BYTES && r.given.len() > 50);
        assert!(r.address_line.is_some_and(|a| a.len() <= MAX_FIELD_BYTES));
    }
}
