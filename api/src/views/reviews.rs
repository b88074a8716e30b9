//! The shapes of a person's reviews: an uncertain patient match, and an
//! intake held for review.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr, SchemaFormat};
use uuid::Uuid;

use carepath_workflows::consult::consults::ActivePrescription;
use carepath_workflows::consult::input::Patient;
use carepath_workflows::consult::journey::ReviewAction;
use carepath_workflows::consult::patients::review::{FieldPair, SideBySide};
use carepath_workflows::consult::patients::{Candidate, Field, Hold};

use super::{Reason, documented_as, one_of_words};

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

/// A journey's patient match, as any operator may see it: ids, scores and
/// comparison levels, nothing a person could be recognised by.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchView {
    pub journey_id: Uuid,
    /// Whether the journey waits for a person to decide.
    pub awaiting_review: bool,
    /// `link`, `review` or `create`, as matching decided.
    pub decision: String,
    pub patient_id: Option<Uuid>,
    /// Why a score high enough to link went to review instead; absent when
    /// it did not (or the match predates holds).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<HoldWord>)]
    pub hold: Option<&'static str>,
    /// Patients it resembles, best first: as the registry is now while the
    /// journey waits for review, as recorded once it no longer does.
    pub candidates: Vec<MatchCandidateView>,
}

/// A candidate patient of a match, without PHI.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchCandidateView {
    pub patient_id: Uuid,
    /// The match weight of the patient's best record, in bits (prior included).
    pub score: f64,
    /// The match probability, 2^score / (1 + 2^score).
    pub probability: f64,
    /// How each field of the incoming person compared with that record.
    #[schema(value_type = MatchLevels)]
    pub levels: BTreeMap<String, String>,
}

impl From<Candidate> for MatchCandidateView {
    fn from(c: Candidate) -> Self {
        Self {
            patient_id: c.patient_id,
            score: c.score,
            probability: c.probability,
            levels: c.levels,
        }
    }
}

documented_as!(
    /// Why a link-level score went to review.
    HoldWord => one_of_words(
        "`household` (shares a household's contact or address, not the person's given name \
         or date of birth), `ambiguous` (more than one patient scores as a link) or \
         `blocking_capped` (a blocking key's rows were capped: the true record may be unseen)",
        &Hold::ALL.map(Hold::as_str),
    )
);

documented_as!(
    /// Each compared field's comparison level, by field.
    MatchLevels => {
        let mut levels = ObjectBuilder::new().description(Some(
            "Each compared field's comparison level (`null`: one side has no value); \
             empty for a match recorded before levels were",
        ));
        for field in Field::ALL {
            levels = levels.property(field.name(), one_of_words("Its level", field.levels()));
        }
        levels.into()
    }
);

/// The side-by-side view of a match: PHI, read with a reason.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchPeopleView {
    pub journey_id: Uuid,
    /// Whether the journey waits for a person to decide.
    pub awaiting_review: bool,
    /// The person the journey's intake describes.
    pub incoming: IncomingPersonView,
    /// The match's candidates (as `GET .../patient-match` lists them),
    /// each beside `incoming`.
    pub candidates: Vec<MatchPersonView>,
}

/// The intake's patient, as the journey's input has them.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncomingPersonView {
    pub first_name: String,
    pub last_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// `female`, `male`, `other` or `unknown`.
    pub sex: String,
    pub email: String,
    /// E.164.
    pub phone: String,
    pub address: AddressView,
}

/// A postal address, as the intake gave it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AddressView {
    pub line1: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    pub state: String,
    pub postal_code: String,
}

impl From<Patient> for IncomingPersonView {
    fn from(p: Patient) -> Self {
        let a = p.address;
        Self {
            first_name: p.first_name,
            last_name: p.last_name,
            date_of_birth: p.date_of_birth,
            sex: p.sex.as_str().to_owned(),
            email: p.email,
            phone: p.phone,
            address: AddressView {
                line1: a.line1,
                line2: a.line2,
                city: a.city,
                state: a.state,
                postal_code: a.postal_code,
            },
        }
    }
}

/// A candidate patient beside the incoming person.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchPersonView {
    pub patient_id: Uuid,
    /// The match weight of the patient's best record, in bits.
    pub score: f64,
    /// The match probability, 2^score / (1 + 2^score).
    pub probability: f64,
    /// Every compared field, in this order: `given_name`, `family_name`,
    /// `date_of_birth`, `address`, `phone`, `email`.
    pub fields: Vec<FieldPairView>,
}

impl From<SideBySide> for MatchPersonView {
    fn from(s: SideBySide) -> Self {
        Self {
            patient_id: s.candidate.patient_id,
            score: s.candidate.score,
            probability: s.candidate.probability,
            fields: s.fields.into_iter().map(FieldPairView::from).collect(),
        }
    }
}

/// One field of the incoming person and of a candidate, and how they compared.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldPairView {
    /// The field.
    #[schema(value_type = MatchField)]
    pub field: &'static str,
    /// The incoming person's value, as written (the address on one line).
    pub incoming: Option<String>,
    /// The candidate's value: names as the patient was created, the rest
    /// from the record it was scored on (normalised as compared: E.164
    /// phone, lower-case email, street line and ZIP).
    pub candidate: Option<String>,
    /// How the two compared (`exact`, `nickname`, …; `null`: one side has
    /// no value); null for a match recorded before levels were.
    pub level: Option<String>,
}

impl From<FieldPair> for FieldPairView {
    fn from(p: FieldPair) -> Self {
        Self {
            field: p.field,
            incoming: p.incoming,
            candidate: p.candidate,
            level: p.level,
        }
    }
}

documented_as!(
    /// A field matching compares.
    MatchField => one_of_words(
        "A field matching compares",
        &Field::ALL.map(Field::name),
    )
);

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

/// What an intake collided with.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntakeReviewView {
    pub journey_id: Uuid,
    /// Whether the journey waits for a person to decide.
    pub awaiting_review: bool,
    /// `duplicate_intake` (the patient's consult for the offering is open in
    /// `open_journey_id`) or `active_treatment` (`prescription` is still
    /// within its refill period); absent when the intake collided with nothing.
    pub kind: Option<String>,
    pub open_journey_id: Option<Uuid>,
    /// `{prescription_id, medication, journey_id, written_at, active_until}`.
    #[schema(value_type = Option<Object>)]
    pub prescription: Option<ActivePrescription>,
    /// The actions that apply: `attach` (duplicate intakes only), `proceed`, `close`.
    pub actions: Vec<String>,
}

documented_as!(
    /// What a reviewer does with an intake held for review.
    ReviewActionWord => one_of_words(
        "`attach` (merge into the open consult; duplicate intakes only), \
         `proceed` (open a consult anyway) or `close` (end this intake without a consult)",
        &["attach", "proceed", "close"],
    )
);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntakeReviewRequest {
    #[schema(value_type = ReviewActionWord)]
    pub action: ReviewAction,
    /// Why: recorded in the journey's history with the caller.
    #[schema(value_type = Reason)]
    pub reason: String,
}
