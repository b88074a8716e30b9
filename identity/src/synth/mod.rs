//! Labelled synthetic patient data, for evaluating record linkage and for
//! benchmarks.
//!
//! [`population`] makes a registry-like population: people in households
//! (singles, couples, families with adult children, twins, "Jr" sons) who
//! share an address and sometimes a phone or an email, with realistic name
//! frequencies (common US names weighted Zipf-like plus a long tail of rare
//! ones), ages 18–90 and US addresses, phones and emails that are unique
//! unless shared within a household.
//!
//! [`generate`] makes such a registry and probes: intakes of returning
//! patients, changed in the ways of a [`Scenario`] (a typo, a nickname, a
//! move, a new surname…) with the registry record they are as truth, and
//! intakes of new people, some easy to mistake for a registry person (a
//! namesake, a twin, a household member, a junior).
//!
//! Everything is deterministic for a seed; the geography (cities, ZIP codes)
//! is the same for every seed.

mod geo;
mod names;
mod newcomers;
mod people;
mod places;
mod variants;
mod world;

use std::collections::{HashMap, VecDeque};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::person::Person;
use world::World;

/// What a probe is, for the report: returning patients and new people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// Returning, unchanged but for formatting (case, phone style, email case).
    Identical,
    /// Returning, one letter of the given name wrong (not the first).
    GivenNameTypo,
    /// Returning, one letter of the family name wrong (not the first).
    FamilyNameTypo,
    /// Returning under a nickname (Robert → Bob).
    Nickname,
    /// Returning, given and family name swapped.
    NamesSwapped,
    /// Returning, one digit of the date of birth wrong (still a valid date).
    DobDigitTypo,
    /// Returning, day and month of the date of birth swapped.
    DobDayMonthSwapped,
    /// Returning with a new phone.
    NewPhone,
    /// Returning with a new email.
    NewEmail,
    /// Returning with a new phone and a new email, at the same address.
    NewPhoneAndEmail,
    /// Returning from a new address (street, city, ZIP), same phone and email.
    Moved,
    /// Returning with a new address, phone and email: only names and date
    /// of birth are left.
    MovedNewContacts,
    /// Returning, the family name gained or lost a hyphenated part; new email.
    HyphenatedSurname,
    /// Returning under another family name (marriage); same address.
    ChangedSurname,
    /// Returning under another given and family name; same address and phone.
    BothNamesChanged,
    /// Returning, names written with or without accents, apostrophes,
    /// spaces, or in upper case.
    AccentsAndPunctuation,
    /// New: someone from a fresh household.
    NewPerson,
    /// New: same given and family name as a registry person, another date
    /// of birth, address and contacts.
    Namesake,
    /// New: same names and date of birth as a registry person (common
    /// names), another address, phone and email.
    NamesakeSameBirthday,
    /// New: a registry person's twin: same date of birth, surname, address
    /// and phone, another given name.
    Twin,
    /// New: a registry person's spouse, sibling or parent at their address.
    HouseholdMember,
    /// New: a registry man's son or father of the same names at his
    /// address, born 20–40 years apart.
    Junior,
}

impl Scenario {
    /// Every scenario: the returning ones, then the new people.
    pub const ALL: &'static [Scenario] = &[
        Scenario::Identical,
        Scenario::GivenNameTypo,
        Scenario::FamilyNameTypo,
        Scenario::Nickname,
        Scenario::NamesSwapped,
        Scenario::DobDigitTypo,
        Scenario::DobDayMonthSwapped,
        Scenario::NewPhone,
        Scenario::NewEmail,
        Scenario::NewPhoneAndEmail,
        Scenario::Moved,
        Scenario::MovedNewContacts,
        Scenario::HyphenatedSurname,
        Scenario::ChangedSurname,
        Scenario::BothNamesChanged,
        Scenario::AccentsAndPunctuation,
        Scenario::NewPerson,
        Scenario::Namesake,
        Scenario::NamesakeSameBirthday,
        Scenario::Twin,
        Scenario::HouseholdMember,
        Scenario::Junior,
    ];

    /// The snake_case name, as serialized.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Identical => "identical",
            Scenario::GivenNameTypo => "given_name_typo",
            Scenario::FamilyNameTypo => "family_name_typo",
            Scenario::Nickname => "nickname",
            Scenario::NamesSwapped => "names_swapped",
            Scenario::DobDigitTypo => "dob_digit_typo",
            Scenario::DobDayMonthSwapped => "dob_day_month_swapped",
            Scenario::NewPhone => "new_phone",
            Scenario::NewEmail => "new_email",
            Scenario::NewPhoneAndEmail => "new_phone_and_email",
            Scenario::Moved => "moved",
            Scenario::MovedNewContacts => "moved_new_contacts",
            Scenario::HyphenatedSurname => "hyphenated_surname",
            Scenario::ChangedSurname => "changed_surname",
            Scenario::BothNamesChanged => "both_names_changed",
            Scenario::AccentsAndPunctuation => "accents_and_punctuation",
            Scenario::NewPerson => "new_person",
            Scenario::Namesake => "namesake",
            Scenario::NamesakeSameBirthday => "namesake_same_birthday",
            Scenario::Twin => "twin",
            Scenario::HouseholdMember => "household_member",
            Scenario::Junior => "junior",
        }
    }

    /// Whether the probe is a registry person coming back (its truth is
    /// that person's external_id).
    pub fn returning(self) -> bool {
        self < Scenario::NewPerson
    }

    /// Whether the probe is a returning patient whose address (line 1 and
    /// postal code) is unchanged; other fields may have typos.
    pub fn keeps_address(self) -> bool {
        self.returning() && !matches!(self, Scenario::Moved | Scenario::MovedNewContacts)
    }

    /// The relative frequency of the scenario in a realistic intake
    /// stream (returning patients relative among themselves, new people
    /// among themselves).
    pub fn weight(self) -> u32 {
        match self {
            Scenario::Identical => 40,
            Scenario::NewPhone | Scenario::NewEmail => 8,
            Scenario::NewPhoneAndEmail | Scenario::Moved => 6,
            Scenario::GivenNameTypo
            | Scenario::FamilyNameTypo
            | Scenario::Nickname
            | Scenario::AccentsAndPunctuation => 4,
            Scenario::ChangedSurname => 3,
            Scenario::DobDigitTypo | Scenario::DobDayMonthSwapped | Scenario::HyphenatedSurname => {
                2
            }
            // Moving and changing both phone and email between two visits:
            // each happens to roughly one adult in ten a year, all three
            // together to about one returning patient in a hundred.
            Scenario::NamesSwapped | Scenario::BothNamesChanged | Scenario::MovedNewContacts => 1,
            Scenario::NewPerson => 60,
            Scenario::Namesake => 5,
            Scenario::NamesakeSameBirthday | Scenario::Junior => 1,
            Scenario::Twin => 2,
            Scenario::HouseholdMember => 8,
        }
    }
}

/// One incoming intake with its truth.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Probe {
    /// How the intake was made.
    pub scenario: Scenario,
    /// The intake, with an external_id of its own (`probe-<scenario>-00042`).
    pub person: Person,
    /// The external_id of the registry record this intake is; `None` for a
    /// new person.
    pub truth: Option<String>,
}

/// A registry and the intakes to match against it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EvalSet {
    /// The registry: `registry_size` people, `reg-000001` on.
    pub registry: Vec<Person>,
    /// The probes, grouped by scenario in [`Scenario::ALL`] order.
    pub probes: Vec<Probe>,
}

/// A registry of `registry_size` people (external_ids `reg-000001` on; the
/// same people as [`population`] gives for the seed) and
/// `probes_per_scenario` probes of each scenario (external_ids
/// `probe-<scenario>-00001` on). The registry people a scenario's probes
/// start from are drawn at random, each at most once per scenario; a
/// scenario whose eligible registry people run out (a small registry) has
/// fewer probes. Deterministic for a seed.
pub fn generate(seed: u64, registry_size: usize, probes_per_scenario: usize) -> EvalSet {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut world = World::new();
    let registry = people::populate(&mut world, &mut rng, registry_size).people;
    let mut probes = Vec::with_capacity(probes_per_scenario * Scenario::ALL.len());
    for &s in Scenario::ALL {
        scenario_probes(
            &mut world,
            &mut rng,
            s,
            &registry,
            probes_per_scenario,
            &mut probes,
        );
    }
    EvalSet { registry, probes }
}

/// `size` people in households (external_ids `reg-000001` on), with the
/// distributions of [`generate`]'s registry. Deterministic for a seed.
pub fn population(seed: u64, size: usize) -> Vec<Person> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut world = World::new();
    people::populate(&mut world, &mut rng, size).people
}

/// Up to `n` probes of scenario `s`, pushed to `out`.
fn scenario_probes(
    world: &mut World,
    rng: &mut StdRng,
    s: Scenario,
    registry: &[Person],
    n: usize,
    out: &mut Vec<Probe>,
) {
    let mut originals = Originals::new(s, registry);
    // A new person must not be somebody the registry holds already (a twin
    // drawn with the name the original's real twin has) — except the
    // namesake born the same day, who shares exactly that by design.
    let key = |p: &Person| {
        (
            p.first_name.to_lowercase(),
            p.last_name.to_lowercase(),
            p.date_of_birth.clone(),
        )
    };
    let known: std::collections::HashSet<_> =
        if s.returning() || s == Scenario::NamesakeSameBirthday {
            Default::default()
        } else {
            registry.iter().map(key).collect()
        };
    let mut made = 0;
    let mut failures = 0;
    while made < n && failures <= 10 * n {
        let (person, truth) = if s == Scenario::NewPerson {
            (newcomers::new_person(world, rng), None)
        } else {
            let Some(i) = originals.next(world, rng, registry) else {
                break;
            };
            let truth = s.returning().then(|| registry[i].external_id.clone());
            (variants::make(world, rng, s, &registry[i]), truth)
        };
        let Some(mut person) = person.filter(|p| !known.contains(&key(p))) else {
            failures += 1;
            continue;
        };
        made += 1;
        person.external_id = format!("probe-{}-{made:05}", s.name());
        out.push(Probe {
            scenario: s,
            person,
            truth,
        });
    }
}

/// The indexes `0..len` in random order, each once: a Fisher–Yates shuffle
/// done lazily, with the swapped places in a map, so that drawing `k` costs
/// O(k) whatever `len`.
struct Shuffled {
    len: usize,
    next: usize,
    moved: HashMap<usize, usize>,
}

impl Shuffled {
    fn next(&mut self, rng: &mut StdRng) -> Option<usize> {
        if self.next >= self.len {
            return None;
        }
        let j = rng.random_range(self.next..self.len);
        let at_j = self.moved.get(&j).copied().unwrap_or(j);
        let at_next = self.moved.get(&self.next).copied().unwrap_or(self.next);
        self.moved.insert(j, at_next);
        self.next += 1;
        Some(at_j)
    }
}

/// The registry people a scenario's probes start from, drawn at random
/// and each once: the eligible ones, a share of them from those the
/// scenario prefers. People drawn but not wanted yet wait in a queue.
struct Originals {
    scenario: Scenario,
    share: f64,
    order: Shuffled,
    preferred: VecDeque<usize>,
    others: VecDeque<usize>,
}

impl Originals {
    fn new(s: Scenario, registry: &[Person]) -> Self {
        Originals {
            scenario: s,
            share: variants::preferred_share(s),
            order: Shuffled {
                len: registry.len(),
                next: 0,
                moved: HashMap::new(),
            },
            preferred: VecDeque::new(),
            others: VecDeque::new(),
        }
    }

    fn next(&mut self, world: &World, rng: &mut StdRng, registry: &[Person]) -> Option<usize> {
        let s = self.scenario;
        let want_preferred = self.share > 0.0 && rng.random_bool(self.share);
        loop {
            let queue = if want_preferred {
                &mut self.preferred
            } else {
                &mut self.others
            };
            if let Some(i) = queue.pop_front() {
                return Some(i);
            }
            let Some(i) = self.order.next(rng) else {
                return self
                    .preferred
                    .pop_front()
                    .or_else(|| self.others.pop_front());
            };
            let p = &registry[i];
            if !variants::eligible(world, s, p) {
                continue;
            }
            if self.share > 0.0 && variants::preferred(world, s, p) {
                self.preferred.push_back(i);
            } else {
                self.others.push_back(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::geo::street_part;
    use super::names::{ACCENTED, FEMALE, LOOKALIKE_TWINS, MALE, NICKNAMES, SURNAMES};
    use super::world::{MAX_DOB, MIN_DOB, parse_dob, phone_digits, plain};
    use super::*;
    use std::collections::{HashMap, HashSet};
    use std::sync::OnceLock;
    use std::time::Instant;

    const PER_SCENARIO: usize = 40;

    /// One shared evaluation set for the tests that only read it.
    fn set() -> &'static EvalSet {
        static SET: OnceLock<EvalSet> = OnceLock::new();
        SET.get_or_init(|| generate(3, 20_000, PER_SCENARIO))
    }

    /// Lowercase ASCII letters and digits only: what formatting leaves alone.
    fn norm(name: &str) -> String {
        plain(name)
            .to_lowercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect()
    }

    /// Whether `p` equals `o` once `undo` copies the changed fields back.
    fn equal_but(p: &Person, o: &Person, undo: impl Fn(&mut Person, &Person)) -> bool {
        let mut q = p.clone();
        q.external_id = o.external_id.clone();
        undo(&mut q, o);
        q == *o
    }

    fn digits(phone: &str) -> u64 {
        phone_digits(phone).unwrap_or_else(|| panic!("not a phone: {phone}"))
    }

    fn surname_parts(last: &str) -> Vec<String> {
        last.split('-').map(norm).collect()
    }

    struct Index<'a> {
        by_id: HashMap<&'a str, &'a Person>,
        by_address: HashMap<(&'a str, &'a str), Vec<&'a Person>>,
        by_names: HashMap<(String, String), Vec<&'a Person>>,
        phones: HashSet<u64>,
        emails: HashSet<String>,
    }

    fn index(registry: &[Person]) -> Index<'_> {
        let mut ix = Index {
            by_id: HashMap::new(),
            by_address: HashMap::new(),
            by_names: HashMap::new(),
            phones: HashSet::new(),
            emails: HashSet::new(),
        };
        for p in registry {
            ix.by_id.insert(&p.external_id, p);
            let address = (p.address.line1.as_str(), p.address.postal_code.as_str());
            ix.by_address.entry(address).or_default().push(p);
            let names = (p.first_name.clone(), p.last_name.clone());
            ix.by_names.entry(names).or_default().push(p);
            ix.phones.insert(digits(&p.phone));
            ix.emails.insert(p.email.to_lowercase());
        }
        ix
    }

    fn days_apart(a: &str, b: &str) -> i64 {
        match (parse_dob(a), parse_dob(b)) {
            (Some(a), Some(b)) => (a - b).num_days().abs(),
            _ => panic!("bad dates {a} {b}"),
        }
    }

    fn fresh_contacts(p: &Person, ix: &Index) -> bool {
        !ix.phones.contains(&digits(&p.phone)) && !ix.emails.contains(&p.email.to_lowercase())
    }

    /// The defining property of a returning scenario, `p` made from `o`.
    fn returning_holds(s: Scenario, p: &Person, o: &Person, ix: &Index) -> bool {
        let new_phone =
            digits(&p.phone) != digits(&o.phone) && !ix.phones.contains(&digits(&p.phone));
        let new_email = !ix.emails.contains(&p.email.to_lowercase());
        match s {
            Scenario::Identical => {
                equal_but(p, o, |q, o| {
                    q.first_name = o.first_name.clone();
                    q.last_name = o.last_name.clone();
                    q.phone = o.phone.clone();
                    q.email = o.email.clone();
                }) && p.first_name.to_lowercase() == o.first_name.to_lowercase()
                    && p.last_name.to_lowercase() == o.last_name.to_lowercase()
                    && digits(&p.phone) == digits(&o.phone)
                    && p.email.eq_ignore_ascii_case(&o.email)
            }
            Scenario::GivenNameTypo | Scenario::FamilyNameTypo => {
                let given = s == Scenario::GivenNameTypo;
                let (a, b) = if given {
                    (&p.first_name, &o.first_name)
                } else {
                    (&p.last_name, &o.last_name)
                };
                strsim::osa_distance(a, b) == 1
                    && a.chars().next() == b.chars().next()
                    && b.chars().count() >= 4
                    && equal_but(p, o, |q, o| {
                        q.first_name = o.first_name.clone();
                        q.last_name = o.last_name.clone();
                    })
            }
            Scenario::Nickname => {
                NICKNAMES.contains(&(plain(&o.first_name).as_str(), p.first_name.as_str()))
                    && equal_but(p, o, |q, o| q.first_name = o.first_name.clone())
            }
            Scenario::NamesSwapped => {
                p.first_name == o.last_name
                    && p.last_name == o.first_name
                    && p.first_name != p.last_name
                    && equal_but(p, o, |q, o| {
                        q.first_name = o.first_name.clone();
                        q.last_name = o.last_name.clone();
                    })
            }
            Scenario::DobDigitTypo => {
                let diff = p.date_of_birth.bytes().zip(o.date_of_birth.bytes());
                let diff = diff.filter(|(a, b)| a != b).count();
                diff == 1
                    && days_apart(&p.date_of_birth, &o.date_of_birth) <= 11 * 366
                    && equal_but(p, o, |q, o| q.date_of_birth = o.date_of_birth.clone())
            }
            Scenario::DobDayMonthSwapped => {
                let (y, m, d) = (
                    &o.date_of_birth[..4],
                    &o.date_of_birth[5..7],
                    &o.date_of_birth[8..],
                );
                p.date_of_birth == format!("{y}-{d}-{m}")
                    && m != d
                    && equal_but(p, o, |q, o| q.date_of_birth = o.date_of_birth.clone())
            }
            Scenario::NewPhone => new_phone && equal_but(p, o, |q, o| q.phone = o.phone.clone()),
            Scenario::NewEmail => new_email && equal_but(p, o, |q, o| q.email = o.email.clone()),
            Scenario::NewPhoneAndEmail => {
                new_phone
                    && new_email
                    && equal_but(p, o, |q, o| {
                        q.phone = o.phone.clone();
                        q.email = o.email.clone();
                    })
            }
            Scenario::Moved | Scenario::MovedNewContacts => {
                let moved = p.address.city != o.address.city
                    && p.address.postal_code != o.address.postal_code
                    && street_part(&p.address.line1) != street_part(&o.address.line1);
                let contacts = if s == Scenario::Moved {
                    p.phone == o.phone && p.email == o.email
                } else {
                    new_phone && new_email
                };
                moved
                    && contacts
                    && equal_but(p, o, |q, o| {
                        q.address = o.address.clone();
                        q.phone = o.phone.clone();
                        q.email = o.email.clone();
                    })
            }
            Scenario::HyphenatedSurname => {
                let (new, old) = (surname_parts(&p.last_name), surname_parts(&o.last_name));
                let gained = new.len() == 2 && old.len() == 1 && new.contains(&old[0]);
                let lost = new.len() == 1 && old.len() >= 2 && old.contains(&new[0]);
                (gained || lost)
                    && new_email
                    && equal_but(p, o, |q, o| {
                        q.last_name = o.last_name.clone();
                        q.email = o.email.clone();
                    })
            }
            Scenario::ChangedSurname => {
                let old = surname_parts(&o.last_name);
                !surname_parts(&p.last_name).iter().any(|n| old.contains(n))
                    && (p.email == o.email || new_email)
                    && equal_but(p, o, |q, o| {
                        q.last_name = o.last_name.clone();
                        q.email = o.email.clone();
                    })
            }
            Scenario::BothNamesChanged => {
                norm(&p.last_name) != norm(&o.last_name)
                    && !variants::related_names(&p.first_name, &o.first_name)
                    && equal_but(p, o, |q, o| {
                        q.first_name = o.first_name.clone();
                        q.last_name = o.last_name.clone();
                    })
            }
            Scenario::AccentsAndPunctuation => {
                (p.first_name != o.first_name || p.last_name != o.last_name)
                    && norm(&p.first_name) == norm(&o.first_name)
                    && norm(&p.last_name) == norm(&o.last_name)
                    && equal_but(p, o, |q, o| {
                        q.first_name = o.first_name.clone();
                        q.last_name = o.last_name.clone();
                    })
            }
            _ => false,
        }
    }

    /// The defining property of a new-person scenario: some registry person
    /// `p` is a namesake, twin, household member or junior of.
    fn newcomer_holds(s: Scenario, p: &Person, ix: &Index) -> bool {
        let address = (p.address.line1.as_str(), p.address.postal_code.as_str());
        let housemates = ix.by_address.get(&address).map_or(&[][..], |v| &v[..]);
        let names = (p.first_name.clone(), p.last_name.clone());
        let namesakes = ix.by_names.get(&names).map_or(&[][..], |v| &v[..]);
        let away = !housemates.iter().any(|r| r.address == p.address) && fresh_contacts(p, ix);
        match s {
            Scenario::NewPerson => away,
            Scenario::Namesake => {
                away && namesakes.iter().any(|r| r.date_of_birth != p.date_of_birth)
            }
            Scenario::NamesakeSameBirthday => {
                away && namesakes.iter().any(|r| r.date_of_birth == p.date_of_birth)
            }
            Scenario::Twin => housemates.iter().any(|r| {
                r.date_of_birth == p.date_of_birth
                    && r.last_name == p.last_name
                    && r.phone == p.phone
                    && r.address == p.address
                    && !variants::related_names(&r.first_name, &p.first_name)
            }),
            Scenario::HouseholdMember => housemates.iter().any(|r| {
                days_apart(&r.date_of_birth, &p.date_of_birth) >= 730
                    && r.address == p.address
                    && !variants::related_names(&r.first_name, &p.first_name)
            }),
            Scenario::Junior => housemates.iter().any(|r| {
                let apart = days_apart(&r.date_of_birth, &p.date_of_birth);
                r.first_name == p.first_name
                    && r.last_name == p.last_name
                    && r.phone == p.phone
                    && r.sex == "male"
                    && (20 * 365..=40 * 366).contains(&apart)
            }),
            _ => false,
        }
    }

    #[test]
    fn every_scenario_has_its_defining_property() {
        let set = set();
        let ix = index(&set.registry);
        let mut counts: HashMap<Scenario, usize> = HashMap::new();
        for probe in &set.probes {
            *counts.entry(probe.scenario).or_default() += 1;
            let holds = match &probe.truth {
                Some(truth) => {
                    let original = ix.by_id.get(truth.as_str()).expect("truth in registry");
                    returning_holds(probe.scenario, &probe.person, original, &ix)
                }
                None => newcomer_holds(probe.scenario, &probe.person, &ix),
            };
            assert!(holds, "{:?} does not hold: {:#?}", probe.scenario, probe);
        }
        for s in Scenario::ALL {
            assert_eq!(counts.get(s), Some(&PER_SCENARIO), "{s:?}");
        }
    }

    #[test]
    fn truths_are_registry_people_once_per_scenario() {
        let set = set();
        let ids: HashSet<&str> = set
            .registry
            .iter()
            .map(|p| p.external_id.as_str())
            .collect();
        let mut seen = HashSet::new();
        for probe in &set.probes {
            assert_eq!(probe.truth.is_some(), probe.scenario.returning());
            if let Some(truth) = &probe.truth {
                assert!(ids.contains(truth.as_str()), "{truth}");
                assert!(seen.insert((probe.scenario, truth)), "{truth} twice");
            }
        }
    }

    #[test]
    fn external_ids_are_unique_and_well_formed() {
        let set = set();
        let mut ids = HashSet::new();
        for (i, p) in set.registry.iter().enumerate() {
            assert_eq!(p.external_id, format!("reg-{:06}", i + 1));
            assert!(ids.insert(p.external_id.as_str()));
        }
        for probe in &set.probes {
            let prefix = format!("probe-{}-", probe.scenario.name());
            let id = &probe.person.external_id;
            assert!(
                id.starts_with(&prefix) && id.len() == prefix.len() + 5,
                "{id}"
            );
            assert!(ids.insert(id.as_str()), "{id} twice");
        }
    }

    #[test]
    fn dates_of_birth_are_valid_and_adult() {
        let set = set();
        for p in &set.registry {
            let dob = parse_dob(&p.date_of_birth).expect("valid date");
            assert_eq!(p.date_of_birth.len(), 10);
            assert!((MIN_DOB..=MAX_DOB).contains(&dob), "{}", p.date_of_birth);
        }
        for probe in &set.probes {
            let dob = parse_dob(&probe.person.date_of_birth).expect("valid date");
            assert_eq!(probe.person.date_of_birth.len(), 10);
            if !probe.scenario.returning() {
                assert!((MIN_DOB..=MAX_DOB).contains(&dob), "{probe:?}");
            }
        }
    }

    #[test]
    fn same_seed_same_output_and_registry_is_the_population() {
        let a = generate(11, 3000, 10);
        assert_eq!(a, generate(11, 3000, 10));
        assert_ne!(a, generate(12, 3000, 10));
        assert_eq!(a.registry, population(11, 3000));
        assert_eq!(population(5, 700), population(5, 700));
    }

    #[test]
    fn small_registries_give_what_they_can() {
        let empty = generate(1, 0, 5);
        let kinds: HashSet<Scenario> = empty.probes.iter().map(|p| p.scenario).collect();
        assert_eq!(kinds, HashSet::from([Scenario::NewPerson]));
        let tiny = generate(1, 10, 20);
        assert!(
            tiny.probes
                .iter()
                .filter(|p| p.scenario == Scenario::Identical)
                .count()
                == 10
        );
    }

    #[test]
    fn unrelated_people_share_no_phone_or_email() {
        let mut world = World::new();
        let mut rng = StdRng::seed_from_u64(9);
        let pop = people::populate(&mut world, &mut rng, 50_000);
        let mut phone_home: HashMap<u64, u32> = HashMap::new();
        let mut email_home: HashMap<String, u32> = HashMap::new();
        let mut address_home: HashMap<(&str, Option<&str>, &str), u32> = HashMap::new();
        for (p, &h) in pop.people.iter().zip(&pop.household) {
            assert_eq!(*phone_home.entry(digits(&p.phone)).or_insert(h), h, "{p:?}");
            assert_eq!(
                *email_home.entry(p.email.to_lowercase()).or_insert(h),
                h,
                "{p:?}"
            );
            let a = &p.address;
            let key = (a.line1.as_str(), a.line2.as_deref(), a.postal_code.as_str());
            assert_eq!(*address_home.entry(key).or_insert(h), h, "{p:?}");
        }
    }

    #[test]
    fn population_looks_like_a_population() {
        let mut world = World::new();
        let mut rng = StdRng::seed_from_u64(5);
        let pop = people::populate(&mut world, &mut rng, 100_000);
        let n = pop.people.len() as f64;
        let mut surnames: HashMap<&str, usize> = HashMap::new();
        let mut zip_city: HashMap<&str, (&str, &str)> = HashMap::new();
        let mut households: HashMap<u32, Vec<&Person>> = HashMap::new();
        for (p, &h) in pop.people.iter().zip(&pop.household) {
            *surnames.entry(p.last_name.as_str()).or_default() += 1;
            let city = (p.address.city.as_str(), p.address.state.as_str());
            assert_eq!(
                *zip_city.entry(&p.address.postal_code).or_insert(city),
                city
            );
            households.entry(h).or_default().push(p);
        }
        let share = |count: usize| count as f64 / n;
        let smith = share(surnames.get("Smith").copied().unwrap_or(0));
        assert!((0.006..0.016).contains(&smith), "Smith {smith}");
        let common: usize = SURNAMES.iter().filter_map(|s| surnames.get(s)).sum();
        assert!(
            (0.5..0.7).contains(&share(common)),
            "common surnames {}",
            share(common)
        );
        let few = surnames.values().filter(|&&c| c <= 3).count();
        assert!(
            few as f64 > 0.5 * surnames.len() as f64,
            "rare surnames {few}"
        );
        let hyphenated = pop
            .people
            .iter()
            .filter(|p| p.last_name.contains('-'))
            .count();
        assert!(
            (0.015..0.06).contains(&share(hyphenated)),
            "hyphenated {}",
            share(hyphenated)
        );
        let odd_sex = pop
            .people
            .iter()
            .filter(|p| p.sex == "other" || p.sex == "unknown");
        assert!((0.003..0.02).contains(&share(odd_sex.count())));
        let singles = households.values().filter(|h| h.len() == 1).count();
        let single_share = singles as f64 / households.len() as f64;
        assert!(
            (0.40..0.50).contains(&single_share),
            "singles {single_share}"
        );
        let (twins, juniors, phones, emails) = household_counts(&households);
        let many = (households.len() - singles) as f64;
        assert!(
            twins > 50 && juniors > 100,
            "twins {twins}, juniors {juniors}"
        );
        assert!(
            (0.25..0.35).contains(&(phones as f64 / many)),
            "shared phones {phones}"
        );
        assert!(
            (0.07..0.13).contains(&(emails as f64 / many)),
            "shared emails {emails}"
        );
        assert!(
            (1500..5000).contains(&zip_city.len()),
            "{} ZIPs",
            zip_city.len()
        );
        let apartments = pop
            .people
            .iter()
            .filter(|p| p.address.line2.is_some())
            .count();
        assert!((0.15..0.25).contains(&share(apartments)));
        eprintln!(
            "Smith {smith:.4}, common surnames {:.3}, {} surnames, {few} seen ≤3 times, \
             hyphenated {:.3}, households {}, singles {single_share:.3}, twins {twins}, \
             juniors {juniors}, ZIPs {}",
            share(common),
            surnames.len(),
            share(hyphenated),
            households.len(),
            zip_city.len()
        );
    }

    /// Twin pairs, juniors, households sharing a phone, sharing an email.
    fn household_counts(households: &HashMap<u32, Vec<&Person>>) -> (usize, usize, usize, usize) {
        let (mut twins, mut juniors, mut phones, mut emails) = (0, 0, 0, 0);
        for members in households.values().filter(|h| h.len() > 1) {
            for (i, a) in members.iter().enumerate() {
                for b in &members[i + 1..] {
                    if a.date_of_birth == b.date_of_birth && a.first_name != b.first_name {
                        twins += 1;
                    }
                    if a.first_name == b.first_name && a.last_name == b.last_name {
                        assert!(days_apart(&a.date_of_birth, &b.date_of_birth) >= 20 * 365);
                        juniors += 1;
                    }
                }
            }
            phones += usize::from(members.iter().all(|m| m.phone == members[0].phone));
            emails += usize::from(members.iter().all(|m| m.email == members[0].email));
        }
        (twins, juniors, phones, emails)
    }

    #[test]
    fn name_lists_are_sound() {
        for list in [SURNAMES, FEMALE, MALE] {
            let distinct: HashSet<&str> = list.iter().copied().collect();
            assert_eq!(distinct.len(), list.len());
        }
        assert!((300..=420).contains(&SURNAMES.len()));
        assert!(FEMALE.len() >= 290 && MALE.len() >= 290);
        assert!(FEMALE.iter().all(|f| !MALE.contains(f)));
        let formal: HashSet<&str> = NICKNAMES.iter().map(|(f, _)| *f).collect();
        assert!(NICKNAMES.len() >= 40 && formal.len() >= 40);
        let common: HashSet<&str> = FEMALE.iter().chain(MALE).copied().collect();
        assert!(
            formal.iter().all(|f| common.contains(f)),
            "formal names are drawn"
        );
        let known = NICKNAMES
            .iter()
            .filter(|(f, n)| nicknamer::nicknames(f).contains(&n.to_lowercase()))
            .count();
        assert!(known * 10 >= NICKNAMES.len() * 9, "nicknamer knows {known}");
        for (a, _, b, _) in LOOKALIKE_TWINS {
            assert!(!variants::related_names(a, b), "{a}/{b} are nicknames");
        }
        for (plain_name, accented) in ACCENTED {
            assert_ne!(plain_name, accented);
            assert_eq!(plain(accented), *plain_name);
        }
        let weights: u32 = Scenario::ALL.iter().map(|s| s.weight()).sum();
        assert_eq!(weights, 96 + 77, "returning 96, new people 77");
        let names: HashSet<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names.len(), 22);
        for s in Scenario::ALL {
            let json = serde_json::to_string(s).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", s.name()));
        }
    }

    #[test]
    fn a_large_set_is_made_in_linear_time() {
        let started = Instant::now();
        let small = generate(7, 10_000, 50);
        let small_time = started.elapsed();
        let started = Instant::now();
        let set = generate(7, 100_000, 50);
        let time = started.elapsed();
        assert_eq!(set.registry.len(), 100_000);
        assert_eq!(set.probes.len(), 50 * Scenario::ALL.len());
        assert_eq!(small.probes.len(), 50 * Scenario::ALL.len());
        eprintln!("generate(7, 10_000, 50): {small_time:?}; generate(7, 100_000, 50): {time:?}");
        // Ten times the people, well under a hundred times the time.
        assert!(time < small_time * 30 + std::time::Duration::from_secs(2));
    }

    /// `cargo test --release -p carepath-identity -- --ignored --nocapture`
    #[test]
    #[ignore = "timing: run in release builds"]
    fn a_million_people_in_a_few_seconds() {
        let started = Instant::now();
        let people = population(1, 1_000_000);
        let time = started.elapsed();
        assert_eq!(people.len(), 1_000_000);
        eprintln!("population(1, 1_000_000): {time:?}");
    }

    #[test]
    #[ignore = "timing: run in release builds"]
    fn a_million_people_and_their_probes() {
        let started = Instant::now();
        let set = generate(1, 1_000_000, 100);
        eprintln!("generate(1, 1_000_000, 100): {:?}", started.elapsed());
        assert_eq!(set.probes.len(), 100 * Scenario::ALL.len());
    }

    /// A few probes of each scenario next to their original
    /// (`-- --nocapture` shows them).
    #[test]
    fn samples() {
        let set = generate(2, 5_000, 2);
        let ix = index(&set.registry);
        for probe in &set.probes {
            let p = &probe.person;
            let original = probe.truth.as_deref().and_then(|t| ix.by_id.get(t));
            let show = |p: &Person| {
                format!(
                    "{} {} | {} | {} | {} | {} | {}, {}, {} {}",
                    p.first_name,
                    p.last_name,
                    p.date_of_birth,
                    p.sex,
                    p.phone,
                    p.email,
                    p.address.line1,
                    p.address.line2.as_deref().unwrap_or("-"),
                    p.address.city,
                    p.address.postal_code
                )
            };
            eprintln!("{:<24} {}", probe.scenario.name(), show(p));
            if let Some(o) = original {
                eprintln!("{:<24} {}", "  was", show(o));
            }
        }
    }
}
