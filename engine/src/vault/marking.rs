//! Which of a workflow's payloads are PHI, and so sealed at rest: the
//! workflow marks its own ([`Workflow::sensitivity`](crate::Workflow::sensitivity));
//! what it leaves unmarked follows the engine's default
//! ([`EngineConfig::seal_unmarked`](crate::EngineConfig::seal_unmarked)).

/// A payload a journey stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload<'a> {
    /// The journey's input.
    Input,
    /// What the workflow returned.
    Output,
    /// The output of the step with this key (without `#n`).
    Step(&'a str),
    /// The payload of a signal of this name, and the wait's output that
    /// carries it.
    Signal(&'a str),
}

/// Whether a payload holds PHI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensitivity {
    /// It does: sealed whenever encryption is on.
    Phi,
    /// It does not (ids, statuses, times): stored plain.
    NotPhi,
    /// The workflow does not say: the engine's default decides.
    Unmarked,
}

impl Sensitivity {
    /// Whether a payload so marked is sealed, `unmarked` being the default.
    pub fn sealed(self, unmarked: bool) -> bool {
        match self {
            Self::Phi => true,
            Self::NotPhi => false,
            Self::Unmarked => unmarked,
        }
    }
}

/// A step key without its occurrence suffix (`submit_case#2` → `submit_case`).
pub fn base_key(key: &str) -> &str {
    key.split_once('#').map_or(key, |(base, _)| base)
}
