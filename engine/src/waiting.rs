//! What a waiting journey waits for, typed; stored in `journeys.waiting_for`
//! and shown to operators as `<kind>:<detail>` (`signal:clinical.case`), the
//! same text on the wire and in the database. Everything that asks "is it
//! waiting for a timer?" matches on [`WaitingFor`] instead of a prefix.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};

/// What a waiting (or paused) journey waits for.
///
/// Parsing never fails: text of a kind this code does not know (written by a
/// newer version, or named by the application) is kept as [`Self::Other`]
/// and shown as it was stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WaitingFor {
    /// A durable timer (`ctx.sleep`) at the step `key`: `timer:<key>`.
    Timer {
        /// The timer's step key (`follow_up#2`).
        key: String,
    },
    /// A signal (`ctx.wait_signal`), with or without a timeout: `signal:<name>`.
    Signal {
        /// The signal's name (`clinical.case`).
        name: String,
    },
    /// The next attempt of the failing step `key`, at the journey's wake time:
    /// `retry:<key>`.
    Retry {
        /// The failing step's key.
        key: String,
    },
    /// A vendor on hold (a 429's Retry-After, an open circuit breaker, an
    /// operator's pause): `vendor:<vendor>`. No attempt is counted meanwhile.
    Vendor {
        /// The vendor's name as configured (`clinical`).
        vendor: String,
    },
    /// A worker that has this journey's workflow version (a rolling deploy):
    /// `code:<workflow>@v<version>`.
    Code {
        /// The workflow's name.
        workflow: String,
        /// The version the journey is pinned to.
        version: i32,
    },
    /// Anything else a step names when it reports [`crate::StepError::Unavailable`]
    /// (`consult:<journey id>`: another journey's progress), kept verbatim.
    Other(String),
}

impl WaitingFor {
    /// A wait on the signal `name`.
    pub fn signal(name: &str) -> Self {
        Self::Signal {
            name: name.to_owned(),
        }
    }

    /// A wait on the vendor `vendor`'s hold.
    pub fn vendor(vendor: &str) -> Self {
        Self::Vendor {
            vendor: vendor.to_owned(),
        }
    }

    /// Whether an operator's `retry` may run the journey now: a step waiting
    /// to be tried again, or a vendor hold waited out.
    pub fn is_retry(&self) -> bool {
        matches!(self, Self::Retry { .. } | Self::Vendor { .. })
    }
}

impl fmt::Display for WaitingFor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timer { key } => write!(f, "timer:{key}"),
            Self::Signal { name } => write!(f, "signal:{name}"),
            Self::Retry { key } => write!(f, "retry:{key}"),
            // The same prefix the SQL that finds vendor waits is built on.
            Self::Vendor { vendor } => {
                write!(f, concat!(crate::vendor_wait_prefix!(), "{}"), vendor)
            }
            Self::Code { workflow, version } => write!(f, "code:{workflow}@v{version}"),
            Self::Other(text) => f.write_str(text),
        }
    }
}

impl FromStr for WaitingFor {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((kind, detail)) = s.split_once(':') else {
            return Ok(Self::Other(s.to_owned()));
        };
        let detail = detail.to_owned();
        Ok(match kind {
            "timer" => Self::Timer { key: detail },
            "signal" => Self::Signal { name: detail },
            "retry" => Self::Retry { key: detail },
            "vendor" => Self::Vendor { vendor: detail },
            "code" => match detail
                .rsplit_once("@v")
                .and_then(|(w, v)| Some((w, v.parse().ok()?)))
            {
                Some((workflow, version)) => Self::Code {
                    workflow: workflow.to_owned(),
                    version,
                },
                None => Self::Other(s.to_owned()),
            },
            _ => Self::Other(s.to_owned()),
        })
    }
}

impl Serialize for WaitingFor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Type<Postgres> for WaitingFor {
    fn type_info() -> PgTypeInfo {
        <String as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <String as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for WaitingFor {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <String as Encode<Postgres>>::encode(self.to_string(), buf)
    }
}

impl<'r> Decode<'r, Postgres> for WaitingFor {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Postgres>>::decode(value)?;
        let Ok(parsed) = text.parse();
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_as_written() {
        for text in [
            "timer:follow_up#2",
            "signal:clinical.case",
            "retry:submit_case",
            "vendor:clinical",
            "code:async_consult@v3",
            "consult:0190a1b2-0000-7000-8000-000000000000",
            "no kind at all",
        ] {
            let parsed: WaitingFor = text.parse().unwrap_or_else(|e| match e {});
            assert_eq!(parsed.to_string(), text);
        }
        assert_eq!(
            "code:shape@v2".parse::<WaitingFor>().ok(),
            Some(WaitingFor::Code {
                workflow: "shape".into(),
                version: 2
            })
        );
        assert_eq!(
            "code:no-version".parse::<WaitingFor>().ok(),
            Some(WaitingFor::Other("code:no-version".into()))
        );
    }
}
