//! The console's page shell and the small pieces every page uses. Titles and
//! URLs never carry PHI: pages are named by section and short journey id.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use super::call::Refusal;
use super::session::Session;

/// The console's sections, in the navigation's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    Journeys,
    Reviews,
    Inbox,
    Vendors,
    Bulk,
}

impl Section {
    const ALL: [Section; 6] = [
        Section::Overview,
        Section::Journeys,
        Section::Reviews,
        Section::Inbox,
        Section::Vendors,
        Section::Bulk,
    ];

    fn label(self) -> &'static str {
        match self {
            Section::Overview => "Overview",
            Section::Journeys => "Journeys",
            Section::Reviews => "Reviews",
            Section::Inbox => "Inbox",
            Section::Vendors => "Vendors",
            Section::Bulk => "Bulk actions",
        }
    }

    fn href(self) -> &'static str {
        match self {
            Section::Overview => "/console",
            Section::Journeys => "/console/journeys",
            Section::Reviews => "/console/reviews",
            Section::Inbox => "/console/inbox",
            Section::Vendors => "/console/vendors",
            Section::Bulk => "/console/bulk",
        }
    }
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="referrer" content="no-referrer";
            title { (title) " · carepath console" }
            link rel="stylesheet" href="/console/static/console.css";
            link rel="icon" href="/console/static/favicon.svg" type="image/svg+xml";
            script src="/console/static/console.js" defer {}
        }
    }
}

/// A signed-in page: navigation, the signed-in token, sign-out, and `body`.
pub fn page(title: &str, session: &Session, section: Section, body: Markup) -> Markup {
    page_with(title, session, section, None, body)
}

/// What a live page's script follows: the event stream, and the page's own
/// URL to fetch its `#live` region from (the page may be the answer to a POST).
pub struct Live {
    pub page: String,
    pub events: String,
}

/// [`page`], whose `main` names what the script follows to refresh the
/// page's `#live` region.
pub fn page_with(
    title: &str,
    session: &Session,
    section: Section,
    live: Option<&Live>,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#content" { "Skip to content" }
                header.top {
                    span.brand { "carepath" }
                    nav aria-label="Sections" {
                        ul {
                            @for s in Section::ALL {
                                li {
                                    @if s == section {
                                        a href=(s.href()) aria-current="page" { (s.label()) }
                                    } @else {
                                        a href=(s.href()) { (s.label()) }
                                    }
                                }
                            }
                        }
                    }
                    form.signout method="post" action="/console/sign-out" {
                        (csrf(session))
                        span.who { "Signed in as " strong { (session.caller.name) } }
                        button type="submit" { "Sign out" }
                    }
                }
                main #content tabindex="-1" data-events=[live.map(|l| &l.events)] data-page=[live.map(|l| &l.page)] {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The sign-in page; `nonce` is the double-submit value its cookie holds;
/// `sso`, the OpenID Connect provider's label when one is configured.
pub fn sign_in(nonce: &str, problem: Option<&str>, sso: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("Sign in"))
            body.signin {
                main #content {
                    h1 { "carepath console" }
                    @if let Some(problem) = problem {
                        p.error role="alert" { (problem) }
                    }
                    form method="post" action="/console/sign-in" {
                        input type="hidden" name="csrf" value=(nonce);
                        label for="token" { "Operator or admin token" }
                        input #token type="password" name="token" required autocomplete="off" autofocus;
                        p.hint { "Tokens come from " code { "carepath ctl tokens create --role operator --name <you>" } "; product tokens cannot sign in." }
                        button type="submit" { "Sign in" }
                    }
                    @if let Some(label) = sso {
                        p { "or" }
                        p { a.button href="/console/oidc/start" { "Sign in with " (label) } }
                    }
                }
            }
        }
    }
}

/// After an OpenID Connect sign-in: on to the console (a refresh of the
/// page's own, so the new session cookie goes with it).
pub fn signed_in(person: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content="0;url=/console";
                title { "Signed in · carepath console" }
                link rel="stylesheet" href="/console/static/console.css";
            }
            body.signin {
                main #content {
                    h1 { "Signed in" }
                    p { "Signed in as " strong { (person) } ". " a href="/console" { "Continue to the console" } }
                }
            }
        }
    }
}

/// A page with only a message, for requests turned away before a session.
pub fn bare_error(status: StatusCode, message: &str) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head("Refused"))
            body {
                main #content {
                    h1 { "Refused" }
                    p.error role="alert" { (message) }
                    p { a href="/console" { "Back to the console" } }
                }
            }
        }
    };
    (status, markup).into_response()
}

/// The session's CSRF token as a hidden field: every form has one.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// Where a journey action's reason is kept.
pub const IN_HISTORY: &str = "recorded in the journey's history";
/// Where a vendor's or an inbox entry's reason is kept.
pub const IN_AUDIT: &str = "recorded in the operator audit";

/// A required reason field, labelled with where it is kept (`kept`); `id`
/// makes its label unique on the page. At most 1,000 characters, as the API.
pub fn reason(id: &str, kept: &str) -> Markup {
    html! {
        label for=(id) { "Reason (" (kept) ")" }
        input id=(id) type="text" name="reason" required maxlength="1000" autocomplete="off";
    }
}

/// [`reason`] on a page with several: the label names what it is for
/// (`purpose`, the button's words), so each reads differently to a screen reader.
pub fn reason_for(id: &str, purpose: &str, kept: &str) -> Markup {
    html! {
        label for=(id) { "Reason to " (purpose.to_lowercase()) " (" (kept) ")" }
        input id=(id) type="text" name="reason" required maxlength="1000" autocomplete="off";
    }
}

/// The API's refusal: the fields it names, or its message when it names none.
pub fn refusal(r: &Refusal) -> Markup {
    html! {
        div.error role="alert" {
            @if r.fields.is_empty() {
                p { strong { (r.status.as_u16()) } " " (r.message) }
            } @else {
                p { strong { (r.status.as_u16()) } " Refused:" }
                ul {
                    @for (path, message) in &r.fields {
                        li { code { (path) } " " (message) }
                    }
                }
            }
        }
    }
}

/// A notice that an action was done.
pub fn notice(text: &str) -> Markup {
    html! { p.notice role="status" { (text) } }
}

/// The last 8 characters of an id: a UUIDv7's first ones are its creation
/// time, shared by every journey of the same minute.
pub fn short(id: &str) -> &str {
    id.get(id.len().saturating_sub(8)..).unwrap_or(id)
}

/// A link to a journey's page, shown by its short id.
pub fn journey_link(id: &str) -> Markup {
    html! { a.mono href={ "/console/journeys/" (id) } title=(id) { "…" (short(id)) } }
}

/// `ts` (RFC 3339) as a relative time ("4 min ago", "in 2 h"), its exact
/// value in a tooltip; an em dash when absent.
pub fn when(ts: &Value) -> Markup {
    let Some(text) = ts.as_str() else {
        return html! { "—" };
    };
    let Ok(at) = DateTime::parse_from_rfc3339(text) else {
        return html! { (text) };
    };
    html! { time datetime=(text) title=(text) { (relative(at.with_timezone(&Utc), Utc::now())) } }
}

/// `at` relative to `now`, in the largest whole unit.
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds();
    let (n, future) = (secs.unsigned_abs(), secs < 0);
    let span = match n {
        0..=59 => format!("{n} s"),
        60..=3599 => format!("{} min", n / 60),
        3600..=86_399 => format!("{} h", n / 3600),
        _ => format!("{} d", n / 86_400),
    };
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// Milliseconds as a short duration ("850 ms", "3.2 s", "4 min").
pub fn duration_ms(ms: &Value) -> String {
    match ms.as_i64() {
        None => "—".into(),
        Some(ms) if ms < 1000 => format!("{ms} ms"),
        Some(ms) if ms < 60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        Some(ms) if ms < 3_600_000 => format!("{} min", ms / 60_000),
        Some(ms) => format!("{:.1} h", ms as f64 / 3_600_000.0),
    }
}

/// A status as a labelled badge (colour is never the only signal).
pub fn status(s: &str) -> Markup {
    html! { span class={ "badge s-" (s) } { (s) } }
}

/// A JSON value as readable text: strings bare, others as compact JSON.
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Pretty JSON in a `<pre>`, for step outputs and events.
pub fn json_block(v: &Value) -> Markup {
    let pretty = serde_json::to_string_pretty(v).unwrap_or_default();
    html! { pre.json { (pretty) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_naturally() {
        let now = Utc::now();
        assert_eq!(relative(now - chrono::Duration::seconds(5), now), "5 s ago");
        assert_eq!(
            relative(now - chrono::Duration::minutes(7), now),
            "7 min ago"
        );
        assert_eq!(relative(now + chrono::Duration::hours(3), now), "in 3 h");
        assert_eq!(relative(now - chrono::Duration::days(40), now), "40 d ago");
    }

    #[test]
    fn short_ids_are_the_tail() {
        assert_eq!(short("0192f1c2-aaaa-7bbb-8ccc-1234567890ab"), "567890ab");
        assert_eq!(short("abc"), "abc");
    }
}
