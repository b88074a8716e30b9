//! The encounter as FHIR R4 (4.0.1) resources for the EHR: an Encounter, the
//! QuestionnaireResponse the patient gave, and the MedicationRequest when a
//! prescription was written. Resources refer to the patient and to each other
//! by identifier (carepath's ids), so no PHI is copied into references.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::intake::{Kind, Questionnaire};

const SYSTEM: &str = "urn:carepath";

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn identifier(kind: &str, value: &str) -> Value {
    json!({ "system": format!("{SYSTEM}:{kind}"), "value": value })
}

fn patient_ref(patient_id: Uuid) -> Value {
    json!({ "identifier": identifier("patient", &patient_id.to_string()), "type": "Patient" })
}

fn encounter_ref(journey_id: Uuid) -> Value {
    json!({ "identifier": identifier("encounter", &journey_id.to_string()), "type": "Encounter" })
}

/// The asynchronous (store-and-forward) consult: class VR, finished at the decision.
pub fn encounter(
    journey_id: Uuid,
    patient_id: Uuid,
    service: &str,
    submitted_at: DateTime<Utc>,
    decided_at: DateTime<Utc>,
) -> Value {
    json!({
        "resourceType": "Encounter",
        "identifier": [identifier("encounter", &journey_id.to_string())],
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "VR",
            "display": "virtual"
        },
        "serviceType": { "text": service },
        "subject": patient_ref(patient_id),
        "period": { "start": instant(submitted_at), "end": instant(decided_at) }
    })
}

/// The answers in the wording of the version the patient answered.
pub fn questionnaire_response(
    journey_id: Uuid,
    patient_id: Uuid,
    questionnaire: &Questionnaire,
    answers: &Value,
    authored: DateTime<Utc>,
) -> Value {
    let items: Vec<Value> = questionnaire
        .questions
        .iter()
        .filter_map(|q| {
            let answer = answers.get(&q.id)?;
            let values: Vec<Value> = match (q.kind, answer) {
                (Kind::MultiChoice, Value::Array(items)) => {
                    items.iter().map(|i| json!({ "valueString": i })).collect()
                }
                (Kind::Boolean, Value::Bool(b)) => vec![json!({ "valueBoolean": b })],
                (Kind::Number, Value::Number(n)) if n.is_i64() => {
                    vec![json!({ "valueInteger": n })]
                }
                (Kind::Number, Value::Number(n)) => vec![json!({ "valueDecimal": n })],
                (Kind::Date, Value::String(d)) => vec![json!({ "valueDate": d })],
                (_, Value::String(s)) => vec![json!({ "valueString": s })],
                (_, other) => vec![json!({ "valueString": other.to_string() })],
            };
            Some(json!({ "linkId": q.id, "text": q.text, "answer": values }))
        })
        .collect();
    json!({
        "resourceType": "QuestionnaireResponse",
        "identifier": identifier("questionnaire-response", &journey_id.to_string()),
        "questionnaire": format!("{SYSTEM}:questionnaire:{}|{}", questionnaire.id, questionnaire.version),
        "status": "completed",
        "subject": patient_ref(patient_id),
        "encounter": encounter_ref(journey_id),
        "authored": instant(authored),
        "item": items
    })
}

pub struct Prescription<'a> {
    pub id: &'a str,
    pub medication: &'a str,
    pub refills: u32,
    pub clinician_id: Option<&'a str>,
}

pub fn medication_request(
    journey_id: Uuid,
    patient_id: Uuid,
    rx: &Prescription<'_>,
    authored: DateTime<Utc>,
) -> Value {
    let mut resource = json!({
        "resourceType": "MedicationRequest",
        "identifier": [identifier("prescription", rx.id)],
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": { "text": rx.medication },
        "subject": patient_ref(patient_id),
        "encounter": encounter_ref(journey_id),
        "authoredOn": instant(authored),
        "dispenseRequest": { "numberOfRepeatsAllowed": rx.refills }
    });
    if let Some(clinician) = rx.clinician_id {
        resource["requester"] = json!({
            "identifier": { "system": "urn:clinical-network:clinician", "value": clinician },
            "type": "Practitioner"
        });
    }
    resource
}
