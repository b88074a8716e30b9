//! The shapes of a person's reviews: an uncertain patient match, and an
//! intake held for review.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr, SchemaFormat};
use uuid::Uuid;

use carepath_workflows::consult::consults::ActivePrescription;
use carepath_workflows::consult::journey::ReviewAction;

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
