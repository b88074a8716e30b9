//! What the API reads and writes, as documented in /openapi.json.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr, SchemaFormat};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use carepath_workflows::Journey;
use carepath_workflows::storable::MAX_MAGNITUDE;
use carepath_workflows::store::history::HistoryEvent;
use carepath_workflows::store::steps::StepRecord;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// A registered workflow, e.g. `async_consult`.
    #[schema(value_type = Key, example = "noop")]
    pub workflow: String,
    /// The caller's key for this start: the same key again returns the same journey.
    #[schema(value_type = Key)]
    pub idempotency_key: String,
    /// The workflow's input, checked by the workflow (a 422 names what it refuses).
    #[schema(value_type = StorableObject)]
    pub input: Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalRequest {
    /// Deduplicates: the same event id again is acknowledged and not applied twice.
    #[schema(value_type = Key)]
    pub event_id: String,
    /// What the signal carries, checked by the journey's workflow (a 422
    /// names what it refuses). Default `null`.
    #[serde(default)]
    #[schema(value_type = Storable)]
    pub payload: Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// Why: recorded in the journey's history with the caller.
    #[schema(value_type = Reason)]
    pub reason: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryFilter {
    #[schema(value_type = Option<RetryableStatus>)]
    pub status: Option<String>,
    #[schema(value_type = Option<FilterText>)]
    pub phase: Option<String>,
    /// Journeys waiting on this vendor.
    #[schema(value_type = Option<FilterText>)]
    pub vendor: Option<String>,
    /// Journeys whose last error contains this text.
    #[schema(value_type = Option<FilterText>)]
    pub error_contains: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRetryRequest {
    pub filter: RetryFilter,
    #[schema(value_type = Reason)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkRetryResult {
    /// The journeys retried.
    pub retried: Vec<Uuid>,
    /// Journeys that matched but could not be retried (their status changed meanwhile).
    pub skipped: Vec<Uuid>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(inline, value_type = Option<JourneyStatusName>)]
    pub status: Option<String>,
    #[param(inline, value_type = Option<FilterText>)]
    pub phase: Option<String>,
    #[param(inline, value_type = Option<FilterText>)]
    pub workflow: Option<String>,
    /// Journeys waiting on this vendor.
    #[param(inline, value_type = Option<FilterText>)]
    pub vendor: Option<String>,
    /// Only journeys that should have moved by now.
    pub overdue: Option<bool>,
    /// 1–500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    #[param(inline, value_type = Option<JourneyCursor>)]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepView {
    pub key: String,
    pub kind: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<StepRecord> for StepView {
    fn from(s: StepRecord) -> Self {
        Self {
            key: s.key,
            kind: s.kind.to_string(),
            status: s.status.to_string(),
            attempts: s.attempts,
            last_error: s.last_error,
            due_at: s.due_at,
            started_at: s.started_at,
            finished_at: s.finished_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JourneyView {
    pub id: Uuid,
    pub workflow: String,
    pub version: i32,
    /// running, waiting, paused, failed, completed or cancelled.
    pub status: String,
    pub phase: String,
    /// What a waiting journey waits for: `timer:<step>`, `signal:<name>`,
    /// `retry:<step>`, `vendor:<name>`, `code:<workflow>@v<version>`.
    pub waiting_for: Option<String>,
    pub wake_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub output: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Present on `GET /v1/journeys/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepView>>,
}

impl From<Journey> for JourneyView {
    fn from(j: Journey) -> Self {
        Self {
            id: j.id,
            workflow: j.workflow,
            version: j.version,
            status: j.status.as_str().to_owned(),
            phase: j.phase,
            waiting_for: j.waiting_for.map(|w| w.to_string()),
            wake_at: j.wake_at,
            attempts: j.attempts,
            last_error: j.last_error,
            output: j.output,
            created_at: j.created_at,
            updated_at: j.updated_at,
            finished_at: j.finished_at,
            steps: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page {
    pub items: Vec<JourneyView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEventView {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub kind: String,
    pub detail: Value,
    pub prev_hash: String,
    pub hash: String,
}

impl From<HistoryEvent> for HistoryEventView {
    fn from(e: HistoryEvent) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            kind: e.kind,
            detail: e.detail,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    pub events: Vec<HistoryEventView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyView {
    pub ok: bool,
    pub events: usize,
    pub broken_at: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignalAccepted {
    pub journey_id: Uuid,
    pub event_id: String,
    /// `false` when this event id had already been received.
    pub applied: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InputView {
    pub journey_id: Uuid,
    pub input: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VendorView {
    pub name: String,
    /// `open` while the vendor is on hold (breaker open, 429, operator pause), else `closed`.
    pub breaker: String,
    pub on_hold_until: Option<DateTime<Utc>>,
    pub hold_reason: Option<String>,
    pub rate_per_sec: f64,
    pub burst: u32,
    /// Journeys running now that last touched this vendor is not tracked; this
    /// counts journeys waiting on it.
    pub waiting_journeys: i64,
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VendorsView {
    pub vendors: Vec<VendorView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    #[schema(value_type = TokenName)]
    pub name: String,
    pub role: crate::auth::Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    pub name: String,
    pub role: crate::auth::Role,
    /// Shown once; only its hash is stored.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchDecisionRequest {
    /// `link` (to `patient_id`) or `create` (a new patient).
    pub action: String,
    #[serde(default)]
    pub patient_id: Option<Uuid>,
    /// Why: recorded in the journey's history with the caller.
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MatchView {
    pub journey_id: Uuid,
    /// Whether the journey waits for a person to decide.
    pub awaiting_review: bool,
    /// `link`, `review` or `new`, as matching decided.
    pub decision: String,
    pub patient_id: Option<Uuid>,
    /// Patients it resembles, best first: `{patient_id, score}`.
    pub candidates: Vec<Value>,
}

// What the handlers enforce on text, said in the document: schema-only types
// that fields and parameters name with `value_type`, built from the same
// limits and lists the handlers check, so the two cannot drift apart.

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
fn text_pattern(excluded: &[char], not_blank: bool) -> String {
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

/// Any JSON value carepath stores (a journey's input, a signal's payload):
/// no NUL character in any string or key and no number of 1e308 or more in
/// magnitude, at every depth (`carepath_workflows::storable`). The API also
/// refuses nesting deeper than 32 levels, which this schema does not say.
pub struct Storable;

impl utoipa::PartialSchema for Storable {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::Null, Type::Boolean])),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .exclusive_minimum(Some(-MAX_MAGNITUDE))
                    .exclusive_maximum(Some(MAX_MAGNITUDE)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(text_pattern(&[], false))),
            )
            .item(ArrayBuilder::new().items(Ref::from_schema_name("Storable")))
            .item(storable_object())
            .description(Some(
                "Any JSON without the NUL character in a string or key, numbers below 1e308 in \
                 magnitude, nested at most 32 deep",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Storable {}

/// A JSON object carepath can store: keys without NUL, [`Storable`] values.
fn storable_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(text_pattern(&[], false))),
        ))
        .additional_properties(Some(Ref::from_schema_name("Storable")))
}

/// A journey's input: a [`Storable`] object.
pub struct StorableObject;

impl utoipa::PartialSchema for StorableObject {
    fn schema() -> RefOr<Schema> {
        storable_object()
            .description(Some(
                "An object of any JSON without the NUL character in a string or key, numbers \
                 below 1e308 in magnitude, nested at most 32 deep",
            ))
            .into()
    }
}

impl utoipa::ToSchema for StorableObject {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            "Storable".into(),
            <Storable as utoipa::PartialSchema>::schema(),
        ));
    }
}

/// How an operator settles an uncertain patient match: link to one patient,
/// or have a new one created.
impl utoipa::PartialSchema for MatchDecisionRequest {
    fn schema() -> RefOr<Schema> {
        let reason = RefOr::Ref(Ref::from_schema_name("Reason"));
        let link = ObjectBuilder::new()
            .property(
                "action",
                one_of_words("Link the journey to a patient", &["link"]),
            )
            .required("action")
            .property(
                "patient_id",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Uuid,
                    )))
                    .description(Some("An existing patient")),
            )
            .required("patient_id")
            .property("reason", reason.clone())
            .required("reason")
            .additional_properties(Some(
                utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
            ));
        let create = ObjectBuilder::new()
            .property(
                "action",
                one_of_words("Have a new patient created", &["create"]),
            )
            .required("action")
            .property(
                "patient_id",
                ObjectBuilder::new()
                    .schema_type(Type::Null)
                    .description(Some("Absent (or null): a new patient gets a new id")),
            )
            .property("reason", reason)
            .required("reason")
            .additional_properties(Some(
                utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
            ));
        OneOfBuilder::new()
            .item(link)
            .item(create)
            .description(Some(
                "`link` (to `patient_id`) or `create` (a new patient), with the operator's reason",
            ))
            .into()
    }
}

impl utoipa::ToSchema for MatchDecisionRequest {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("Reason".into(), <Reason as utoipa::PartialSchema>::schema()));
    }
}

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
