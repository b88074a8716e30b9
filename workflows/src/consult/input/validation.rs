//! Checking a start request (`ConsultInput::parse`) and reading a stored
//! one back (`ConsultInput::from_stored`), both to the canonical form.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::{ConsultInput, MAX_REFILLS, Patient, QuestionnaireAnswers};
use crate::consult::canonical::{self, DateRule};
use crate::consult::intake::{Problem, Questionnaires, eligibility};

/// Fields a start request once carried and no longer means anything by: a
/// start request naming one is accepted and the field dropped at the door
/// (never stored, never sent to a vendor), so clients written against the
/// old contract keep working; a journey stored with one runs on without it.
/// (`scenario` told the sandbox's clinicians what to decide, and was sent to
/// the clinical network; the sandbox's own controls say it now:
/// `POST /_sandbox/scenarios`.)
const RETIRED_FIELDS: [&str; 1] = ["scenario"];

impl ConsultInput {
    /// Parses and checks `input` at `now` (injected, so tests can pin it);
    /// the canonical form, or every problem by field path.
    pub fn parse(
        input: &Value,
        questionnaires: &Questionnaires,
        now: DateTime<Utc>,
    ) -> Result<Self, Vec<Problem>> {
        let input = without_retired(input);
        let mut parsed: Self =
            serde_path_to_error::deserialize(&input).map_err(|e| vec![shape_problem(&e)])?;
        let mut problems = Vec::new();
        let (dob, state) = parsed.patient.canonicalise(DateRule::Strict, &mut problems);
        parsed.check_fields(&mut problems);
        problems.extend(eligibility(dob, state, now));
        parsed
            .questionnaire
            .canonicalise(questionnaires, &mut problems);
        if problems.is_empty() {
            Ok(parsed)
        } else {
            Err(problems)
        }
    }

    /// The free-text fields' bounds, the offering id's spelling, the photo's
    /// type and the refills.
    fn check_fields(&self, problems: &mut Vec<Problem>) {
        let mut required = |path: &str, value: &str| {
            if value.trim().is_empty() {
                problems.push((path.to_owned(), "must not be empty".to_owned()));
            } else if value.chars().count() > 200 {
                problems.push((path.to_owned(), "must be at most 200 characters".to_owned()));
            }
        };
        let p = &self.patient;
        required("patient.external_id", &p.external_id);
        required("patient.first_name", &p.first_name);
        required("patient.last_name", &p.last_name);
        required("patient.address.line1", &p.address.line1);
        required("patient.address.city", &p.address.city);
        required("offering.id", &self.offering.id);
        required("payment_reference", &self.payment_reference);
        required("photo_id.file_name", &self.photo_id.file_name);
        required("photo_id.url", &self.photo_id.url);
        // Free text that reaches an index (the registry's contacts) or a
        // vendor (the ship-to) is bounded like everything else.
        required("patient.email", &p.email);
        required("patient.phone", &p.phone);
        if let Some(line2) = &p.address.line2 {
            required("patient.address.line2", line2);
        }
        // The offering is what one open consult per patient is keyed on: one
        // spelling per offering, so "GLP1_Monthly " cannot open a second.
        if !is_offering_id(&self.offering.id) {
            problems.push((
                "offering.id".into(),
                "must be an offering id: 1 to 100 lower-case letters, digits, '_', '-' or '.'"
                    .into(),
            ));
        }
        if !matches!(
            self.photo_id.content_type.as_str(),
            "image/jpeg" | "image/png" | "application/pdf"
        ) {
            problems.push((
                "photo_id.content_type".into(),
                "must be image/jpeg, image/png or application/pdf".into(),
            ));
        }
        if self.offering.refills > MAX_REFILLS {
            problems.push((
                "offering.refills".into(),
                format!("must be at most {MAX_REFILLS}"),
            ));
        }
    }

    /// A journey's stored input, as it runs. Input stored since validation
    /// returned the canonical form is unchanged by this; input stored before
    /// is brought to the canonical form wherever it has one (dates as the
    /// lenient rule of the time read them), so a journey in flight across
    /// the change sends vendors canonical values too. What has no canonical
    /// form is left as it is, for the journey's own validation to refuse.
    /// A retired field (`scenario`) is dropped. Errors: the stored input
    /// does not have the shape of a start request (the path says where).
    pub fn from_stored(
        input: &Value,
        questionnaires: &Questionnaires,
    ) -> Result<Self, serde_path_to_error::Error<serde_json::Error>> {
        let input = without_retired(input);
        let mut intake: Self = serde_path_to_error::deserialize(&input)?;
        intake
            .patient
            .canonicalise(DateRule::Legacy, &mut Vec::new());
        let q = &mut intake.questionnaire;
        if let Some(Ok(answers)) = questionnaires
            .get(&q.id, q.version)
            .map(|v| v.canonical(&q.answers, DateRule::Legacy))
        {
            q.answers = answers;
        }
        Ok(intake)
    }
}

/// `input` without the [`RETIRED_FIELDS`].
fn without_retired(input: &Value) -> Value {
    let mut input = input.clone();
    if let Some(fields) = input.as_object_mut() {
        for retired in RETIRED_FIELDS {
            fields.remove(retired);
        }
    }
    input
}

impl QuestionnaireAnswers {
    /// Replaces the answers by their canonical form in the version the
    /// patient answered; reports a questionnaire or version that does not
    /// exist, or answers that do not fit it.
    fn canonicalise(&mut self, questionnaires: &Questionnaires, problems: &mut Vec<Problem>) {
        match questionnaires.get(&self.id, self.version) {
            Some(version) => match version.canonical(&self.answers, DateRule::Strict) {
                Ok(answers) => self.answers = answers,
                Err(p) => problems.extend(p),
            },
            None if questionnaires.latest(&self.id).is_some() => problems.push((
                "questionnaire.version".into(),
                format!("{} has no version {}", self.id, self.version),
            )),
            None => problems.push((
                "questionnaire.id".into(),
                "is not a known questionnaire".into(),
            )),
        }
    }
}

/// A request that does not have the start request's shape, as a problem:
/// the field's path (serde names a missing one in its message, not its path).
fn shape_problem(e: &serde_path_to_error::Error<serde_json::Error>) -> Problem {
    let path = e.path().to_string();
    let message = without_value(&e.inner().to_string());
    let path = match message.strip_prefix("missing field `") {
        Some(rest) => {
            let field = rest.split('`').next().unwrap_or_default();
            if path == "." {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            }
        }
        None => path,
    };
    (path, message)
}

impl Patient {
    /// Parses and checks one patient object (the start request's `patient`,
    /// as `carepath patients import` reads a line): its canonical form, or
    /// every problem by field path (`address.postal_code`). Eligibility is
    /// not checked: a registry holds whoever the brand has.
    pub fn parse(input: &Value) -> Result<Self, Vec<Problem>> {
        let mut parsed: Self =
            serde_path_to_error::deserialize(input).map_err(|e| vec![shape_problem(&e)])?;
        let mut problems = Vec::new();
        parsed.canonicalise(DateRule::Strict, &mut problems);
        for (path, value) in [
            ("patient.external_id", &parsed.external_id),
            ("patient.first_name", &parsed.first_name),
            ("patient.last_name", &parsed.last_name),
            ("patient.address.line1", &parsed.address.line1),
        ] {
            if value.trim().is_empty() {
                problems.push((path.to_owned(), "must not be empty".to_owned()));
            } else if value.chars().count() > 200 {
                problems.push((path.to_owned(), "must be at most 200 characters".to_owned()));
            }
        }
        for (path, _) in &mut problems {
            if let Some(rest) = path.strip_prefix("patient.") {
                *path = rest.to_owned();
            }
        }
        if problems.is_empty() {
            Ok(parsed)
        } else {
            Err(problems)
        }
    }

    /// Replaces each identity field by its canonical form; a field without
    /// one is kept as given and reported. Returns the date of birth and the
    /// state, when they have a canonical form, for eligibility.
    fn canonicalise(
        &mut self,
        dates: DateRule,
        problems: &mut Vec<Problem>,
    ) -> (Option<NaiveDate>, Option<&'static str>) {
        let mut refuse = |field: &str, message: &str| {
            problems.push((format!("patient.{field}"), message.to_owned()));
        };
        // A control character inside a value (a NUL above all: PostgreSQL's
        // text refuses it) is nobody's name, address or contact; around it,
        // whitespace is trimmed as always.
        for (field, value) in [
            ("external_id", &self.external_id),
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
            ("email", &self.email),
            ("phone", &self.phone),
            ("address.line1", &self.address.line1),
            ("address.city", &self.address.city),
            ("address.postal_code", &self.address.postal_code),
        ] {
            if value.trim().chars().any(char::is_control) {
                refuse(field, "must not contain control characters");
            }
        }
        if self
            .address
            .line2
            .as_deref()
            .is_some_and(|l| l.trim().chars().any(char::is_control))
        {
            refuse("address.line2", "must not contain control characters");
        }
        self.first_name = canonical::text(&self.first_name);
        self.last_name = canonical::text(&self.last_name);
        let dob = dates.read(&self.date_of_birth);
        match dob {
            Some(d) => self.date_of_birth = canonical::date_text(d),
            None => refuse("date_of_birth", "must be a date written YYYY-MM-DD"),
        }
        match canonical::email(&self.email) {
            Some(e) => self.email = e,
            None => refuse("email", "must be an email address"),
        }
        match canonical::phone(&self.phone) {
            Some(p) => self.phone = p,
            None => refuse(
                "phone",
                "must be a phone number: E.164 (+ and the country code) or 10 US digits",
            ),
        }
        let a = &mut self.address;
        a.line1 = canonical::text(&a.line1);
        a.line2 = a
            .line2
            .as_deref()
            .map(canonical::text)
            .filter(|l| !l.is_empty());
        a.city = canonical::text(&a.city);
        let state = canonical::state(&a.state);
        match state {
            Some(s) => a.state = s.to_owned(),
            None => refuse(
                "address.state",
                "must be the two-letter code of a US state or DC",
            ),
        }
        match canonical::postal_code(&a.postal_code) {
            Some(z) => a.postal_code = z,
            None => refuse(
                "address.postal_code",
                "must be a US ZIP code (12345 or 12345-6789)",
            ),
        }
        (dob, state)
    }
}

/// An offering id as the brand's catalogue writes it.
fn is_offering_id(id: &str) -> bool {
    (1..=100).contains(&id.len())
        && id.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.')
        })
}

/// serde quotes the offending value (`invalid type: string "Ann", expected
/// u32`); what the patient wrote is not repeated back in an error.
fn without_value(message: &str) -> String {
    if message.starts_with("unknown variant")
        && let Some((_, expected)) = message.split_once(", expected ")
    {
        return format!("must be {expected}");
    }
    if (message.starts_with("invalid type:") || message.starts_with("invalid value:"))
        && let Some((_, expected)) = message.split_once(", expected ")
    {
        return format!("must be {expected}");
    }
    message.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub fn sample() -> Value {
        json!({
            "patient": {
                "external_id": "brand-1", "first_name": "Ann", "last_name": "Lee",
                "date_of_birth": "1990-02-01", "sex": "female",
                "email": "ann@example.com", "phone": "+14155550100",
                "address": { "line1": "1 Main St", "city": "Oakland", "state": "CA", "postal_code": "94601" }
            },
            "questionnaire": { "id": "weight_management", "version": 1, "answers": {
                "height_cm": 170, "weight_kg": 95, "goal": "lose_weight", "diabetes": false, "pregnant": false } },
            "offering": { "id": "glp1_monthly", "refills": 2 },
            "payment_reference": "pay_1",
            "photo_id": { "file_name": "id.jpg", "content_type": "image/jpeg", "url": "https://files.example/id.jpg" }
        })
    }

    /// Noon in California on 2026-11-23.
    fn now() -> DateTime<Utc> {
        at("2026-11-23T20:00:00Z")
    }

    fn at(instant: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(instant)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{instant}: {e}"))
    }

    fn parse_at(input: &Value, now: DateTime<Utc>) -> Result<ConsultInput, Vec<Problem>> {
        let q = Questionnaires::bundled().unwrap_or_else(|e| panic!("{e}"));
        ConsultInput::parse(input, &q, now)
    }

    fn problems(input: &Value) -> Vec<String> {
        match parse_at(input, now()) {
            Ok(_) => vec![],
            Err(p) => p.into_iter().map(|(path, _)| path).collect(),
        }
    }

    /// The canonical JSON `input` becomes, failing the test on any problem.
    fn canonical(input: &Value) -> Value {
        let parsed = parse_at(input, now()).unwrap_or_else(|p| panic!("{p:?}"));
        serde_json::to_value(parsed).unwrap_or_else(|e| panic!("{e}"))
    }

    fn with_patient(field: &str, value: &str) -> Value {
        let mut input = sample();
        match field.strip_prefix("address.") {
            Some(f) => input["patient"]["address"][f] = json!(value),
            None => input["patient"][field] = json!(value),
        }
        input
    }

    /// Only `field` is refused, and its message does not repeat the value.
    fn refused_alone(field: &str, value: &str, now: DateTime<Utc>) -> String {
        match parse_at(&with_patient(field, value), now) {
            Ok(_) => panic!("{field} {value:?} was accepted"),
            Err(p) => {
                let paths: Vec<&str> = p.iter().map(|(path, _)| path.as_str()).collect();
                assert_eq!(paths, vec![format!("patient.{field}")], "{value:?}");
                assert!(
                    !p[0].1.contains(value.trim()),
                    "{:?} quotes the value",
                    p[0]
                );
                p[0].1.clone()
            }
        }
    }

    #[test]
    fn a_good_request_passes() {
        assert_eq!(problems(&sample()), Vec::<String>::new());
    }

    #[test]
    fn one_spelling_per_offering_and_bounded_free_text() {
        for offering in [
            "GLP1_Monthly",
            "glp1_monthly ",
            "glp1_monthly\t",
            " glp1",
            "",
            "a b",
        ] {
            let mut bad = sample();
            bad["offering"]["id"] = json!(offering);
            assert!(
                problems(&bad).contains(&"offering.id".to_owned()),
                "{offering:?}"
            );
        }
        let mut ok = sample();
        ok["offering"]["id"] = json!("glp1-monthly.v2");
        assert_eq!(problems(&ok), Vec::<String>::new());
        for (field, path) in [("email", "patient.email"), ("phone", "patient.phone")] {
            let mut long = sample();
            long["patient"][field] = json!(format!("{}@example.com", "a".repeat(4000)));
            assert!(problems(&long).contains(&path.to_owned()), "{field}");
        }
        let mut long = sample();
        long["patient"]["address"]["line2"] = json!("x".repeat(100_000));
        assert_eq!(problems(&long), vec!["patient.address.line2"]);
    }

    #[test]
    fn shape_errors_name_the_field() {
        let mut missing = sample();
        missing["patient"]
            .as_object_mut()
            .map(|p| p.remove("email"));
        assert_eq!(problems(&missing), vec!["patient.email"]);
        let mut wrong_type = sample();
        wrong_type["offering"]["refills"] = json!("two");
        assert_eq!(problems(&wrong_type), vec!["offering.refills"]);
        let mut unknown = sample();
        unknown["patient"]["ssn"] = json!("123");
        assert_eq!(problems(&unknown), vec!["patient.ssn"]);
    }

    #[test]
    fn a_retired_field_is_dropped_at_the_start_and_from_a_stored_journey() {
        let mut legacy = sample();
        legacy["scenario"] = json!("decline");
        let started = parse_at(&legacy, now()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(serde_json::to_value(started).ok(), Some(sample()));
        let q = Questionnaires::bundled().unwrap_or_else(|e| panic!("{e}"));
        let stored = ConsultInput::from_stored(&legacy, &q).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(serde_json::to_value(stored).ok(), Some(sample()));
    }

    #[test]
    fn every_semantic_problem_is_reported_at_once() {
        let mut bad = sample();
        bad["patient"]["date_of_birth"] = json!("2015-01-01");
        bad["patient"]["address"]["state"] = json!("PR");
        bad["patient"]["address"]["postal_code"] = json!("ABCDE");
        bad["questionnaire"]["answers"]["goal"] = json!("fly");
        bad["offering"]["refills"] = json!(40);
        assert_eq!(
            problems(&bad),
            vec![
                "patient.address.state",
                "patient.address.postal_code",
                "offering.refills",
                "patient.date_of_birth",
                "questionnaire.answers.goal"
            ]
        );
        let mut unknown_version = sample();
        unknown_version["questionnaire"]["version"] = json!(9);
        assert_eq!(problems(&unknown_version), vec!["questionnaire.version"]);
    }

    #[test]
    fn a_date_of_birth_not_written_yyyy_mm_dd_is_refused() {
        for poison in [
            "+1990-02-01",
            "1990-2-1",
            "1990-02-1",
            "1990-02-01T00:00:00",
            "19900201",
            "02/01/1990",
            "1 Feb 1990",
            "1990-02-30",
        ] {
            let message = refused_alone("date_of_birth", poison, now());
            assert_eq!(message, "must be a date written YYYY-MM-DD");
        }
    }

    #[test]
    fn implausible_and_underage_dates_of_birth_are_refused() {
        // On 2026-11-23 in California: (age, born).
        for (age, born) in [
            ("18", "2008-11-23"),
            ("120", "1906-11-23"),
            ("65", "1961-06-30"),
        ] {
            assert_eq!(
                problems(&with_patient("date_of_birth", born)),
                Vec::<String>::new(),
                "{age}"
            );
        }
        for (born, why) in [
            ("2026-11-23", "the patient must be 18 or older"),
            ("2008-11-24", "the patient must be 18 or older"),
            ("1905-11-22", "is more than 120 years ago"),
            ("0001-01-01", "is more than 120 years ago"),
            ("2026-11-24", "is in the future"),
            ("2031-05-05", "is in the future"),
        ] {
            assert_eq!(refused_alone("date_of_birth", born, now()), why, "{born}");
        }
    }

    #[test]
    fn age_is_counted_on_the_patients_local_date_not_utc() {
        // Turns 18 on 2026-11-24. At 05:00 UTC it is still the 23rd in
        // California (21:00) but already the 24th in New York (00:00).
        let (before, after) = (at("2026-11-24T05:00:00Z"), at("2026-11-24T09:00:00Z"));
        let turning = |state: &str| {
            let mut input = with_patient("date_of_birth", "2008-11-24");
            input["patient"]["address"]["state"] = json!(state);
            input
        };
        assert!(parse_at(&turning("CA"), before).is_err());
        assert!(parse_at(&turning("CA"), after).is_ok());
        assert!(parse_at(&turning("NY"), before).is_ok());
        // Texas spans two zones: at 06:30 UTC it is the 24th in Houston but
        // still the 23rd in El Paso, so not yet anywhere in the state.
        assert!(parse_at(&turning("TX"), at("2026-11-24T06:30:00Z")).is_err());
        assert!(parse_at(&turning("TX"), at("2026-11-24T07:00:00Z")).is_ok());
        // The future is local too: born "tomorrow" in UTC is today in California.
        let mut newborn_tomorrow = with_patient("date_of_birth", "2026-11-24");
        newborn_tomorrow["patient"]["address"]["state"] = json!("CA");
        let p = parse_at(&newborn_tomorrow, before)
            .err()
            .unwrap_or_default();
        assert_eq!(p.first().map(|m| m.1.as_str()), Some("is in the future"));
    }

    #[test]
    fn identity_fields_leave_in_one_spelling() {
        for (field, given, sent) in [
            ("phone", "(415) 555-0100", "+14155550100"),
            ("phone", "415.555.0100", "+14155550100"),
            ("phone", "1-415-555-0100", "+14155550100"),
            ("phone", "+44 20 7946 0958", "+442079460958"),
            ("email", " Ann.Lee@Example.COM ", "Ann.Lee@example.com"),
            ("first_name", "  Ann ", "Ann"),
            ("last_name", "Lee\t", "Lee"),
            ("date_of_birth", " 1990-02-01 ", "1990-02-01"),
            ("address.state", "ca", "CA"),
            ("address.state", " CA ", "CA"),
            ("address.state", "Ny", "NY"),
            ("address.postal_code", " 94601 ", "94601"),
            ("address.postal_code", "946011234", "94601-1234"),
            ("address.city", " Oakland ", "Oakland"),
        ] {
            let out = canonical(&with_patient(field, given));
            let got = match field.strip_prefix("address.") {
                Some(f) => &out["patient"]["address"][f],
                None => &out["patient"][field],
            };
            assert_eq!(got, sent, "{field} {given:?}");
        }
        for (field, poison) in [
            ("phone", "555-0100"),
            ("phone", "(415) 555-0100 x2"),
            ("phone", "(115) 555-0100"),
            ("email", "ann@example"),
            ("email", "ann lee@example.com"),
            ("address.state", "PR"),
            ("address.state", "Calif."),
            ("address.postal_code", "9460"),
            ("address.postal_code", "94601-12"),
        ] {
            refused_alone(field, poison, now());
        }
    }

    #[test]
    fn two_spellings_of_one_request_are_one_canonical_request() {
        let mut messy = sample();
        let p = &mut messy["patient"];
        p["first_name"] = json!(" Ann");
        p["email"] = json!("ann@EXAMPLE.com ");
        p["phone"] = json!("(415) 555-0100");
        p["address"]["state"] = json!(" ca");
        p["address"]["postal_code"] = json!("94601 ");
        p["address"]["line2"] = json!("  ");
        let (a, b) = (canonical(&sample()), canonical(&messy));
        assert_eq!(a, b);
        // The canonical form is its own canonical form, and the sample is canonical.
        assert_eq!(canonical(&a), a);
        assert_eq!(a, sample());
    }

    #[test]
    fn questionnaire_dates_follow_the_same_rule() {
        let derm = |first_noticed: &str| {
            let mut input = sample();
            input["questionnaire"] = json!({ "id": "dermatology", "version": 2, "answers": {
                "concern": "acne", "duration_months": 6, "tried_treatments": false,
                "photo_id_uploaded": true, "first_noticed": first_noticed } });
            input
        };
        assert_eq!(
            canonical(&derm(" 2024-03-01"))["questionnaire"]["answers"]["first_noticed"],
            "2024-03-01"
        );
        for poison in ["+2024-03-01", "2024-3-1", "20240301", "2024-03-01T00:00:00"] {
            assert_eq!(
                problems(&derm(poison)),
                vec!["questionnaire.answers.first_noticed"],
                "{poison}"
            );
        }
    }

    #[test]
    fn a_journey_stored_before_canonical_inputs_is_sent_on_canonical() {
        let q = Questionnaires::bundled().unwrap_or_else(|e| panic!("{e}"));
        let mut legacy = sample();
        let p = &mut legacy["patient"];
        p["date_of_birth"] = json!("+1990-2-1");
        p["phone"] = json!("(415) 555-0100");
        p["address"]["state"] = json!("ca");
        let stored = ConsultInput::from_stored(&legacy, &q).unwrap_or_else(|e| panic!("{e}"));
        let stored = serde_json::to_value(stored).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(stored, sample());
        // And what is canonical already is untouched.
        let again = ConsultInput::from_stored(&sample(), &q).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(serde_json::to_value(again).ok(), Some(sample()));
    }
}
