//! The statuses `ctl` filters by, as closed lists, so that a typo is
//! refused with the valid values before any request is made. Each list is
//! checked against the API's own in the tests below.
//!
//! Phases stay free text: each workflow names its own (`set_phase` takes
//! any string), and there is no list of them to check against.

use clap::ValueEnum;

/// A journey status (`ctl list --status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum JourneyStatus {
    Running,
    Waiting,
    Paused,
    Failed,
    Completed,
    Cancelled,
}

/// A status a bulk retry selects (`ctl bulk-retry --status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum RetryableStatus {
    Failed,
    Waiting,
}

/// What `ctl inbox` lists: stored webhooks in a status, or the ones refused
/// at the door (`rejected`, a listing of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum InboxStatus {
    Received,
    Applied,
    Unmatched,
    Parked,
    Ignored,
    Skipped,
    Rejected,
}

/// The value as written on the command line, which is also how the API
/// spells it.
pub(super) fn wire(value: impl ValueEnum) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use carepath_api::views::{INBOX_STATUSES, JOURNEY_STATUSES, RETRYABLE_STATUSES};

    fn names<T: ValueEnum>() -> Vec<String> {
        T::value_variants().iter().cloned().map(wire).collect()
    }

    #[test]
    fn the_lists_are_the_apis() {
        assert_eq!(names::<JourneyStatus>(), JOURNEY_STATUSES);
        assert_eq!(names::<RetryableStatus>(), RETRYABLE_STATUSES);
        let mut inbox = INBOX_STATUSES.to_vec();
        inbox.push("rejected");
        assert_eq!(names::<InboxStatus>(), inbox);
    }
}
