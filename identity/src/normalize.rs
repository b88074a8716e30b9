//! The forms fields are compared in: what a brand's formatting, a keyboard
//! and a form's habits change without changing the person.

use rphonetic::{DoubleMetaphone, Encoder};

/// Lower-case ASCII letters, split at hyphens and spaces:
/// `"Zoë O'Brien-Smith"` → `["zoe", "obrien", "smith"]`.
pub fn name_parts(name: &str) -> Vec<String> {
    deunicode::deunicode(name)
        .to_lowercase()
        .split(|c: char| c == '-' || c.is_whitespace())
        .map(|p| {
            p.chars()
                .filter(char::is_ascii_alphabetic)
                .collect::<String>()
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// The Double Metaphone primary code of a name (`"smyth"` → `"SM0"`), empty
/// for an empty name. Source: Lawrence Philips' Double Metaphone, as
/// implemented by the `rphonetic` crate.
pub fn phonetic(name: &str) -> String {
    if name.is_empty() {
        return String::new();
    }
    DoubleMetaphone::new(None).encode(name)
}

/// A US-default E.164 form of a phone number (`"(415) 555-0100"` →
/// `"+14155550100"`), or `None` if it is not one.
pub fn phone(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    match (raw.trim_start().starts_with('+'), digits.len()) {
        (true, 8..=15) => Some(format!("+{digits}")),
        (false, 10) => Some(format!("+1{digits}")),
        (false, 11) if digits.starts_with('1') => Some(format!("+{digits}")),
        _ => None,
    }
}

/// Lower case, without a `+tag` in the local part; `None` for a blank one.
pub fn email(raw: &str) -> Option<String> {
    // Input refuses control characters; records from before it did may hold
    // some, and the registry's `match_fields` separates fields with one.
    let lower: String = raw
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if lower.is_empty() {
        return None;
    }
    Some(match lower.split_once('@') {
        Some((local, domain)) => {
            let local = local.split('+').next().unwrap_or(local);
            format!("{local}@{domain}")
        }
        None => lower,
    })
}

/// USPS-style abbreviations of the words street lines spell out in full
/// (USPS Publication 28, appendices B and C, the common ones).
const STREET_WORDS: &[(&str, &str)] = &[
    ("street", "st"),
    ("avenue", "ave"),
    ("av", "ave"),
    ("road", "rd"),
    ("drive", "dr"),
    ("lane", "ln"),
    ("court", "ct"),
    ("boulevard", "blvd"),
    ("place", "pl"),
    ("terrace", "ter"),
    ("circle", "cir"),
    ("highway", "hwy"),
    ("parkway", "pkwy"),
    ("square", "sq"),
    ("trail", "trl"),
    ("apartment", "apt"),
    ("suite", "ste"),
    ("north", "n"),
    ("south", "s"),
    ("east", "e"),
    ("west", "w"),
    ("northeast", "ne"),
    ("northwest", "nw"),
    ("southeast", "se"),
    ("southwest", "sw"),
];

/// A street line as words, lower case, punctuation dropped, USPS
/// abbreviations applied: `"12 Oak Street, Apt. 4B"` → `"12 oak st apt 4b"`.
/// `None` for a blank line.
pub fn address_line(line1: &str, line2: Option<&str>) -> Option<String> {
    let text =
        deunicode::deunicode(&format!("{line1} {}", line2.unwrap_or_default())).to_lowercase();
    let words: Vec<&str> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty() && *w != "unit" && *w != "no")
        .map(|w| {
            STREET_WORDS
                .iter()
                .find(|(long, _)| *long == w)
                .map_or(w, |(_, short)| short)
        })
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// The five-digit US ZIP code of a postal code (`"94110-1234"` → `"94110"`),
/// or its upper-case alphanumerics for anything else; `None` when blank.
pub fn postal_code(raw: &str) -> Option<String> {
    let code: String = raw
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    match code.len() {
        0 => None,
        9 if code.chars().all(|c| c.is_ascii_digit()) => Some(code[..5].to_owned()),
        _ => Some(code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_normalise_to_the_forms_compared() {
        assert_eq!(
            name_parts("Zoë O'Brien-Smith"),
            vec!["zoe", "obrien", "smith"]
        );
        assert_eq!(phone("(415) 555-0100").as_deref(), Some("+14155550100"));
        assert_eq!(phone("+44 20 7946 0958").as_deref(), Some("+442079460958"));
        assert_eq!(phone("555-0100"), None);
        assert_eq!(
            email(" Ann.Lee+rx@Example.COM ").as_deref(),
            Some("ann.lee@example.com")
        );
        assert_eq!(
            address_line("12 Oak Street,", Some("Apartment 4B")).as_deref(),
            Some("12 oak st apt 4b")
        );
        assert_eq!(
            address_line("12 oak st", Some("apt 4b")),
            address_line("12 Oak Street", Some("Apt. 4B"))
        );
        assert_eq!(postal_code("94110-1234").as_deref(), Some("94110"));
        assert_eq!(phonetic("smyth"), phonetic("smith"));
    }
}
