//! What the handlers enforce on text, said in the document: schema-only
//! types that fields and parameters name with `value_type`, built from the
//! same limits and lists the handlers check, so the two cannot drift apart.

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{RefOr, SchemaFormat};

/// The longest name or key the API accepts: workflow names, idempotency
/// keys, signal names and event ids.
pub const MAX_KEY: usize = 200;
/// The longest reason an operator can give.
pub const MAX_REASON: usize = 1000;
/// The longest token name.
pub const MAX_TOKEN_NAME: usize = 100;

/// The characters `str::trim` removes (`char::is_whitespace`, Unicode
/// White_Space), as inclusive ranges: a value made only of these is blank.
const WHITESPACE: [(char, char); 10] = [
    ('\u{9}', '\u{d}'),
    (' ', ' '),
    ('\u{85}', '\u{85}'),
    ('\u{a0}', '\u{a0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200a}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202f}', '\u{202f}'),
    ('\u{205f}', '\u{205f}'),
    ('\u{3000}', '\u{3000}'),
];

/// An ECMA-262 pattern for text with no NUL character, none of `excluded`
/// and, when `not_blank`, a character that is not whitespace. Escapes only
/// (`\uXXXX`), so the pattern reads the same in every regex dialect a
/// client's validator may use.
pub(super) fn text_pattern(excluded: &[char], not_blank: bool) -> String {
    let escape = |c: char| format!("\\u{:04x}", u32::from(c));
    let mut forbidden = escape('\0');
    for c in excluded {
        forbidden.push_str(&escape(*c));
    }
    if !not_blank {
        return format!("^[^{forbidden}]*$");
    }
    let mut visible = forbidden.clone();
    for (from, to) in WHITESPACE {
        visible.push_str(&escape(from));
        if to != from {
            visible.push('-');
            visible.push_str(&escape(to));
        }
    }
    format!("^[^{forbidden}]*[^{visible}][^{forbidden}]*$")
}

/// Text as `bounded()` in the routes accepts it: 1 to `max` characters, not
/// only whitespace, no NUL, none of `excluded`; described as `about` and then
/// those rules.
fn bounded_text(about: &str, max: usize, excluded: &[char]) -> RefOr<Schema> {
    let also: String = excluded.iter().map(|c| format!(" or `{c}`")).collect();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(format!(
            "{about}1 to {max} characters, not only whitespace, without NUL{also}"
        )))
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(text_pattern(excluded, true)))
        .into()
}

/// One of `values`, exactly.
pub(crate) fn one_of_words<S: AsRef<str>>(description: &str, values: &[S]) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values.iter().map(|v| v.as_ref().to_owned())))
        .into()
}

/// A type that exists in the document only: `$schema` says what the handlers
/// accept where a field or parameter names it with `value_type`.
macro_rules! documented_as {
    ($(#[$meta:meta])* $name:ident => $schema:expr) => {
        $(#[$meta])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $schema
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}
pub(crate) use documented_as;

documented_as!(
    /// A name or key: 1 to 200 characters, not only whitespace, no NUL.
    Key => bounded_text("", MAX_KEY, &[])
);

documented_as!(
    /// A signal name in a path: a [`Key`] without a dot (dotted names are
    /// vendor events, which arrive only through webhooks).
    SignalName => bounded_text(
        "A signal the journey's workflow receives (`<vendor>.<topic>` events arrive only \
         through /webhooks/{vendor}): ",
        MAX_KEY,
        &['.'],
    )
);

documented_as!(
    /// An operator's reason: 1 to 1000 characters, not only whitespace, no NUL.
    Reason => bounded_text("Why, recorded with the caller: ", MAX_REASON, &[])
);

documented_as!(
    /// A token's name: 1 to 100 characters, not only whitespace, no NUL.
    TokenName => bounded_text("", MAX_TOKEN_NAME, &[])
);

documented_as!(
    /// A filter's text: anything without NUL (no stored value holds one).
    FilterText => ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("Matched as given; without NUL"))
        .pattern(Some(text_pattern(&[], false)))
        .into()
);

documented_as!(
    /// A cursor of the journeys listing: a journey id.
    JourneyCursor => ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Uuid)))
        .description(Some("The previous page's `next_cursor`"))
        .into()
);

documented_as!(
    /// A cursor of the inbox listing: an entry id.
    InboxCursor => ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64)))
        .description(Some("The previous page's `next_cursor`"))
        .into()
);

/// Every journey status, as stored and listed.
pub const JOURNEY_STATUSES: [&str; 6] = [
    "running",
    "waiting",
    "paused",
    "failed",
    "completed",
    "cancelled",
];

documented_as!(
    /// A journey status.
    JourneyStatusName => one_of_words("A journey status", &JOURNEY_STATUSES)
);

/// The statuses a bulk retry can select.
pub const RETRYABLE_STATUSES: [&str; 2] = ["failed", "waiting"];

documented_as!(
    /// The status a bulk retry selects.
    RetryableStatus => one_of_words(
        "The journeys to retry: `failed` (the default) or `waiting`",
        &RETRYABLE_STATUSES,
    )
);

documented_as!(
    /// A vendor carepath talks to.
    VendorName => one_of_words(
        "A vendor carepath talks to",
        &carepath_activities::config::VENDORS,
    )
);

#[cfg(test)]
mod tests {
    use super::*;

    /// The document's whitespace is exactly what `str::trim` removes.
    #[test]
    fn whitespace_table_is_rusts() {
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            let listed = WHITESPACE
                .iter()
                .any(|(from, to)| (*from..=*to).contains(&c));
            assert_eq!(listed, c.is_whitespace(), "U+{:04X}", u32::from(c));
        }
    }

    /// Every journey status is listed, and each listed one parses.
    #[test]
    fn journey_statuses_are_complete() {
        use carepath_workflows::JourneyStatus as S;
        for name in JOURNEY_STATUSES {
            let status: S = name.parse().expect(name);
            // Exhaustive: a new status fails to compile here until listed.
            match status {
                S::Running | S::Waiting | S::Paused | S::Failed | S::Completed | S::Cancelled => {}
            }
        }
        assert_eq!(JOURNEY_STATUSES.len(), 6);
    }
}
