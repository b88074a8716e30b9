//! The one written form of each identity field carepath accepts and sends
//! on: a value a vendor receives is the canonical form of what was
//! validated, never the spelling the brand happened to send. Each function
//! returns `None` for a value that has no canonical form; callers report
//! that by field path, without the value (PHI).

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::{America, Pacific, Tz};

/// How dates are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateRule {
    /// Exactly `YYYY-MM-DD`: what the API takes.
    Strict,
    /// What chrono's `%Y-%m-%d` accepted before the strict rule (`+1990-02-01`,
    /// `1990-2-1`), for journeys started then: it is the date that
    /// validation judged, so re-writing it canonically keeps its meaning.
    Legacy,
}

impl DateRule {
    /// The date `raw` names under this rule.
    pub fn read(self, raw: &str) -> Option<NaiveDate> {
        match self {
            DateRule::Strict => date(raw),
            DateRule::Legacy => {
                date(raw).or_else(|| NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").ok())
            }
        }
    }
}

/// A calendar date written exactly `YYYY-MM-DD` (surrounding whitespace
/// aside). Other spellings (`+1990-02-01`, `1990-2-1`, `19900201`,
/// `1990-02-01T00:00:00`, `02/01/1990`) are refused rather than guessed at:
/// they come from a brand's bug, and a misread date of birth links the
/// wrong chart.
pub fn date(raw: &str) -> Option<NaiveDate> {
    let b = raw.trim().as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    if !(digits(0..4) && digits(5..7) && digits(8..10)) {
        return None;
    }
    let number =
        |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    let year = i32::try_from(number(0..4)).ok()?;
    NaiveDate::from_ymd_opt(year, number(5..7), number(8..10))
}

/// `date` as it is sent on.
pub fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// A phone number in E.164: `+` and the digits, a US number without a
/// country code taken as `+1`. Only the characters people write numbers with
/// are allowed (so `415-555-0100 ext 2` or a letter is not silently dropped),
/// and a North American number must have a real area code and exchange
/// (neither starts with 0 or 1).
pub fn phone(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let body = raw.strip_prefix('+').unwrap_or(raw);
    if !body
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
    {
        return None;
    }
    let e164 = carepath_identity::normalize::phone(raw)?;
    if e164.starts_with("+0") {
        return None;
    }
    if let Some(national) = e164.strip_prefix("+1") {
        let b = national.as_bytes();
        if b.len() != 10 || b[0] < b'2' || b[3] < b'2' {
            return None;
        }
    }
    Some(e164)
}

/// An email address, trimmed, with its domain lower-cased (the local part
/// is the mailbox owner's and may be case-sensitive).
pub fn email(raw: &str) -> Option<String> {
    let e = raw.trim();
    let (local, domain) = e.rsplit_once('@')?;
    let ok = !local.is_empty()
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !e.contains(char::is_whitespace);
    ok.then(|| format!("{local}@{}", domain.to_lowercase()))
}

/// A US ZIP code: `12345` or `12345-6789` (ZIP+4 written without the hyphen,
/// or with a space, is given one).
pub fn postal_code(raw: &str) -> Option<String> {
    let code = raw.trim();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let (zip, plus4) = match code.split_once(['-', ' ']) {
        Some((a, b)) => (a, Some(b)),
        None if code.len() == 9 => match (code.get(..5), code.get(5..)) {
            (Some(a), Some(b)) => (a, Some(b)),
            _ => return None,
        },
        None => (code, None),
    };
    match plus4 {
        Some(p) if digits(zip, 5) && digits(p, 4) => Some(format!("{zip}-{p}")),
        None if digits(zip, 5) => Some(zip.to_owned()),
        _ => None,
    }
}

/// A US state's (or DC's) postal code, trimmed and upper-cased: `ca` → `CA`.
/// Territories are not states (their licensing is separate).
pub fn state(raw: &str) -> Option<&'static str> {
    let code = raw.trim().to_ascii_uppercase();
    STATES.iter().find(|(s, _)| *s == code).map(|(s, _)| *s)
}

/// Free text such as a name or an address line: without surrounding
/// whitespace, which is a typing accident, never part of a name.
pub fn text(raw: &str) -> String {
    raw.trim().to_owned()
}

/// The time zone a state's local date is judged in. For a state spanning
/// several zones it is the westernmost — the one whose date rolls over last
/// — so a patient is never judged a year older (18, say) before that is true
/// everywhere in their state. Unknown codes get Hawaii's zone, the last date
/// of any state, for the same reason.
pub fn state_zone(state: &str) -> Tz {
    STATES
        .iter()
        .find(|(s, _)| *s == state)
        .map_or(Pacific::Honolulu, |(_, tz)| *tz)
}

/// The date it is at `now` in `state` (see [`state_zone`]).
pub fn local_date(state: &str, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&state_zone(state)).date_naive()
}

/// The 50 states and DC, each with its westernmost zone (Arizona's is
/// Phoenix's, which has no daylight saving time and so is never ahead of the
/// Navajo Nation's).
const STATES: [(&str, Tz); 51] = [
    ("AK", America::Adak),
    ("AL", America::Chicago),
    ("AR", America::Chicago),
    ("AZ", America::Phoenix),
    ("CA", America::Los_Angeles),
    ("CO", America::Denver),
    ("CT", America::New_York),
    ("DC", America::New_York),
    ("DE", America::New_York),
    ("FL", America::Chicago),
    ("GA", America::New_York),
    ("HI", Pacific::Honolulu),
    ("IA", America::Chicago),
    ("ID", America::Los_Angeles),
    ("IL", America::Chicago),
    ("IN", America::Chicago),
    ("KS", America::Denver),
    ("KY", America::Chicago),
    ("LA", America::Chicago),
    ("MA", America::New_York),
    ("MD", America::New_York),
    ("ME", America::New_York),
    ("MI", America::Chicago),
    ("MN", America::Chicago),
    ("MO", America::Chicago),
    ("MS", America::Chicago),
    ("MT", America::Denver),
    ("NC", America::New_York),
    ("ND", America::Denver),
    ("NE", America::Denver),
    ("NH", America::New_York),
    ("NJ", America::New_York),
    ("NM", America::Denver),
    ("NV", America::Los_Angeles),
    ("NY", America::New_York),
    ("OH", America::New_York),
    ("OK", America::Chicago),
    ("OR", America::Los_Angeles),
    ("PA", America::New_York),
    ("RI", America::New_York),
    ("SC", America::New_York),
    ("SD", America::Denver),
    ("TN", America::Chicago),
    ("TX", America::Denver),
    ("UT", America::Denver),
    ("VA", America::New_York),
    ("VT", America::New_York),
    ("WA", America::Los_Angeles),
    ("WI", America::Chicago),
    ("WV", America::New_York),
    ("WY", America::Denver),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consult::intake::SERVED_STATES;

    #[test]
    fn only_yyyy_mm_dd_is_a_date() {
        let d = NaiveDate::from_ymd_opt(1990, 2, 1);
        assert_eq!(date("1990-02-01"), d);
        assert_eq!(
            date(" 1990-02-01\n"),
            d,
            "surrounding whitespace is not the date"
        );
        for poison in [
            "+1990-02-01",
            "1990-2-1",
            "1990-02-1",
            "1990-02-01T00:00:00",
            "1990-02-01Z",
            "19900201",
            "02/01/1990",
            "1990/02/01",
            "1990-13-01",
            "1990-02-30",
            "-990-02-01",
            "１９９０-02-01",
            "",
        ] {
            assert_eq!(date(poison), None, "{poison:?}");
        }
        // Legacy journeys keep the date the lenient rule judged.
        for old in ["+1990-02-01", "1990-2-1", "1990-02-01"] {
            assert_eq!(DateRule::Legacy.read(old), d, "{old:?}");
            assert_eq!(
                DateRule::Legacy.read(old).map(date_text).as_deref(),
                Some("1990-02-01")
            );
        }
        assert_eq!(DateRule::Strict.read("+1990-02-01"), None);
    }

    #[test]
    fn phones_become_e164() {
        for spelling in [
            "(415) 555-0100",
            "415-555-0100",
            "415.555.0100",
            "4155550100",
            "1 415 555 0100",
            "+1 (415) 555-0100",
            " +14155550100 ",
        ] {
            assert_eq!(
                phone(spelling).as_deref(),
                Some("+14155550100"),
                "{spelling:?}"
            );
        }
        assert_eq!(phone("+44 20 7946 0958").as_deref(), Some("+442079460958"));
        for poison in [
            "555-0100",
            "415-555-0100 ext 2",
            "1-800-FLOWERS",
            "(015) 555-0100",
            "(415) 155-0100",
            "+1 415 555 01000",
            "+0 20 7946 0958",
            "+",
            "",
        ] {
            assert_eq!(phone(poison), None, "{poison:?}");
        }
    }

    #[test]
    fn states_zips_and_emails_have_one_spelling() {
        for s in ["ca", " CA ", "Ca", "CA"] {
            assert_eq!(state(s), Some("CA"), "{s:?}");
        }
        for poison in ["PR", "GU", "California", "C A", "", "XX"] {
            assert_eq!(state(poison), None, "{poison:?}");
        }
        for (raw, zip) in [
            ("94601", "94601"),
            (" 94601 ", "94601"),
            ("94601-1234", "94601-1234"),
            ("946011234", "94601-1234"),
            ("94601 1234", "94601-1234"),
        ] {
            assert_eq!(postal_code(raw).as_deref(), Some(zip), "{raw:?}");
        }
        for poison in [
            "9460",
            "ABCDE",
            "94601-12",
            "94601-",
            "9460112345",
            "94601--1234",
        ] {
            assert_eq!(postal_code(poison), None, "{poison:?}");
        }
        assert_eq!(
            email(" Maria.G@Example.COM ").as_deref(),
            Some("Maria.G@example.com")
        );
        for poison in [
            "ann@example",
            "ann",
            "@example.com",
            "ann@.com",
            "a b@example.com",
            "ann@example..com",
        ] {
            assert_eq!(email(poison), None, "{poison:?}");
        }
    }

    #[test]
    fn every_served_state_has_a_zone_of_its_own() {
        for s in SERVED_STATES {
            assert_eq!(state(s), Some(*s));
        }
        assert_eq!(state_zone("CA"), America::Los_Angeles);
        // Unknown: the latest date of any state.
        assert_eq!(state_zone("PR"), Pacific::Honolulu);
    }
}
