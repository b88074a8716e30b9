//! `carepath ctl`: the operator's command line over the HTTP API.

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use comfy_table::Table;
use reqwest::Method;
use serde_json::{Value, json};

use carepath_api::auth::{self, Role};

#[derive(Debug, Args)]
pub struct CtlArgs {
    /// The API's base URL.
    #[arg(
        long,
        env = "CAREPATH_API_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    api: String,
    /// A bearer token (see `ctl tokens create`).
    #[arg(long, env = "CAREPATH_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    #[arg(long, value_enum, default_value_t = Output::Table, global = true)]
    output: Output,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Output {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
enum CtlCommand {
    /// Journeys, newest first, with filters.
    List(ListArgs),
    /// One journey: status, why it waits, and its steps.
    Show { id: String },
    /// A journey's audit history.
    History { id: String },
    /// Checks a journey's history chain.
    Verify { id: String },
    /// Pause a running or waiting journey.
    Pause(ActionArgs),
    /// Resume a paused journey.
    Resume(ActionArgs),
    /// Retry a failed journey, or a waiting step now.
    Retry(ActionArgs),
    /// Cancel a journey.
    Cancel(ActionArgs),
    /// Fire the timer a journey sleeps on now, or end its wait for a signal
    /// now (one waiting on a vendor then asks the vendor at once).
    Wake(ActionArgs),
    /// Retry every journey matching a filter.
    BulkRetry(BulkArgs),
    /// Vendors: hold, rate, waiting journeys, last error.
    Vendors,
    /// Put a vendor on hold until resumed.
    VendorPause {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Lift an operator's (or any) hold on a vendor.
    VendorResume {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Stored webhooks by status: received, applied, unmatched (the
    /// default), parked (could not be processed), ignored, skipped; or
    /// `rejected`: the webhooks refused at the door (a list of its own).
    Inbox {
        #[arg(long, default_value = "unmatched")]
        status: String,
        #[arg(long)]
        vendor: Option<String>,
    },
    /// Route stored webhooks again (e.g. once their journey exists, or after
    /// a fix): one or many ids.
    InboxReplay {
        #[arg(required = true)]
        ids: Vec<i64>,
        #[arg(long)]
        reason: String,
    },
    /// Set stored webhooks aside for good (replay brings them back).
    InboxSkip {
        #[arg(required = true)]
        ids: Vec<i64>,
        #[arg(long)]
        reason: String,
    },
    /// An intake held for review (a duplicate intake, or one over an active
    /// prescription): what it collided with, or (with --attach, --proceed or
    /// --close) the reviewer's decision.
    IntakeReview {
        id: String,
        /// Merge it into the patient's open consult.
        #[arg(long, conflicts_with_all = ["proceed", "close"], requires = "reason")]
        attach: bool,
        /// Open a consult anyway.
        #[arg(long, conflicts_with = "close", requires = "reason")]
        proceed: bool,
        /// End it without a consult.
        #[arg(long, requires = "reason")]
        close: bool,
        #[arg(long)]
        reason: Option<String>,
    },
    /// A journey's patient match: its candidates, or (with --link or
    /// --create) the reviewer's decision for a journey waiting in patient_match_review.
    Match {
        id: String,
        /// Link the journey to this existing patient.
        #[arg(long, conflicts_with = "create", requires = "reason")]
        link: Option<String>,
        /// Create a new patient for the journey.
        #[arg(long, requires = "reason")]
        create: bool,
        #[arg(long)]
        reason: Option<String>,
    },
    /// API tokens.
    Tokens {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Args)]
struct ListArgs {
    #[arg(long)]
    status: Option<String>,
    #[arg(long)]
    phase: Option<String>,
    #[arg(long)]
    workflow: Option<String>,
    #[arg(long)]
    vendor: Option<String>,
    #[arg(long)]
    overdue: bool,
    #[arg(long, default_value_t = 50)]
    limit: u32,
    #[arg(long)]
    cursor: Option<String>,
}

#[derive(Debug, Args)]
struct ActionArgs {
    id: String,
    /// Recorded in the journey's history.
    #[arg(long)]
    reason: String,
}

#[derive(Debug, Args)]
struct BulkArgs {
    #[arg(long, default_value = "failed")]
    status: String,
    #[arg(long)]
    phase: Option<String>,
    #[arg(long)]
    vendor: Option<String>,
    #[arg(long)]
    error_contains: Option<String>,
    #[arg(long)]
    reason: String,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print it once. With DATABASE_URL set it is written
    /// directly (this is how the first admin token is made); otherwise through
    /// the API, as an admin.
    Create {
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: String,
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
    /// Revoke a token by name (through the API, as an admin).
    Revoke { name: String },
}

pub async fn run(args: CtlArgs) -> Result<()> {
    carepath_activities::tls::install_crypto_provider();
    let api = Api {
        base: args.api.trim_end_matches('/').to_owned(),
        token: args.token.clone(),
        http: reqwest::Client::new(),
    };
    let out = args.output;
    match args.command {
        CtlCommand::List(l) => {
            let mut query = vec![("limit", l.limit.to_string())];
            for (k, v) in [
                ("status", l.status),
                ("phase", l.phase),
                ("workflow", l.workflow),
                ("vendor", l.vendor),
                ("cursor", l.cursor),
            ] {
                if let Some(v) = v {
                    query.push((k, v));
                }
            }
            if l.overdue {
                query.push(("overdue", "true".into()));
            }
            let page = api
                .call(Method::GET, "/v1/journeys", Some(&query), None)
                .await?;
            print(out, &page, |p| {
                let mut t = table(&[
                    "id",
                    "workflow",
                    "status",
                    "phase",
                    "waiting for",
                    "wake at",
                    "attempts",
                ]);
                for j in p["items"].as_array().into_iter().flatten() {
                    t.add_row(vec![
                        s(&j["id"]),
                        format!("{}@v{}", s(&j["workflow"]), j["version"]),
                        s(&j["status"]),
                        s(&j["phase"]),
                        s(&j["waiting_for"]),
                        s(&j["wake_at"]),
                        j["attempts"].to_string(),
                    ]);
                }
                let more = p["next_cursor"]
                    .as_str()
                    .map(|c| format!("\nmore: --cursor {c}"))
                    .unwrap_or_default();
                format!("{t}{more}")
            });
        }
        CtlCommand::Show { id } => {
            let j = api
                .call(Method::GET, &format!("/v1/journeys/{id}"), None, None)
                .await?;
            print(out, &j, |j| {
                let mut text = format!(
                    "journey   {}\nworkflow  {}@v{}\nstatus    {}\nphase     {}\nwaits for {}\nwake at   {}\nattempts  {}\nerror     {}\n",
                    s(&j["id"]),
                    s(&j["workflow"]),
                    j["version"],
                    s(&j["status"]),
                    s(&j["phase"]),
                    s(&j["waiting_for"]),
                    s(&j["wake_at"]),
                    j["attempts"],
                    s(&j["last_error"])
                );
                let mut t = table(&["#", "step", "kind", "status", "attempts", "due", "finished"]);
                for (i, st) in j["steps"].as_array().into_iter().flatten().enumerate() {
                    t.add_row(vec![
                        (i + 1).to_string(),
                        s(&st["key"]),
                        s(&st["kind"]),
                        s(&st["status"]),
                        st["attempts"].to_string(),
                        s(&st["due_at"]),
                        s(&st["finished_at"]),
                    ]);
                }
                text.push_str(&t.to_string());
                text
            });
        }
        CtlCommand::History { id } => {
            let h = api
                .call(
                    Method::GET,
                    &format!("/v1/journeys/{id}/history"),
                    None,
                    None,
                )
                .await?;
            print(out, &h, |h| {
                let mut t = table(&["#", "at", "actor", "event", "detail"]);
                for e in h["events"].as_array().into_iter().flatten() {
                    t.add_row(vec![
                        e["seq"].to_string(),
                        s(&e["at"]),
                        s(&e["actor"]),
                        s(&e["kind"]),
                        e["detail"].to_string(),
                    ]);
                }
                t.to_string()
            });
        }
        CtlCommand::Verify { id } => {
            let v = api
                .call(
                    Method::GET,
                    &format!("/v1/journeys/{id}/history/verify"),
                    None,
                    None,
                )
                .await?;
            print(out, &v, |v| {
                format!("chain intact: {} ({} events)", v["ok"], v["events"])
            });
        }
        CtlCommand::Pause(a) => act(&api, out, "pause", a).await?,
        CtlCommand::Resume(a) => act(&api, out, "resume", a).await?,
        CtlCommand::Retry(a) => act(&api, out, "retry", a).await?,
        CtlCommand::Cancel(a) => act(&api, out, "cancel", a).await?,
        CtlCommand::Wake(a) => act(&api, out, "wake", a).await?,
        CtlCommand::BulkRetry(b) => {
            let body = json!({
                "filter": { "status": b.status, "phase": b.phase, "vendor": b.vendor, "error_contains": b.error_contains },
                "reason": b.reason,
            });
            let r = api
                .call(Method::POST, "/v1/ops/retry", None, Some(&body))
                .await?;
            print(out, &r, |r| {
                let n = |k: &str| r[k].as_array().map_or(0, Vec::len);
                format!("retried {}, skipped {}", n("retried"), n("skipped"))
            });
        }
        CtlCommand::Vendors => {
            let v = api.call(Method::GET, "/v1/vendors", None, None).await?;
            print(out, &v, vendors_table);
        }
        CtlCommand::VendorPause { name, reason } => {
            let v = api
                .call(
                    Method::POST,
                    &format!("/v1/vendors/{name}/pause"),
                    None,
                    Some(&json!({ "reason": reason })),
                )
                .await?;
            print(out, &v, vendors_table);
        }
        CtlCommand::VendorResume { name, reason } => {
            let v = api
                .call(
                    Method::POST,
                    &format!("/v1/vendors/{name}/resume"),
                    None,
                    Some(&json!({ "reason": reason })),
                )
                .await?;
            print(out, &v, vendors_table);
        }
        CtlCommand::Inbox { status, vendor } if status == "rejected" => {
            let query: Vec<(&str, String)> = vendor.into_iter().map(|v| ("vendor", v)).collect();
            let page = api
                .call(Method::GET, "/v1/inbox/rejections", Some(&query), None)
                .await?;
            print(out, &page, |p| {
                let mut t = table(&[
                    "rejection",
                    "vendor",
                    "answered",
                    "reason",
                    "bytes",
                    "received",
                ]);
                for i in p["items"].as_array().into_iter().flatten() {
                    t.add_row(vec![
                        i["id"].to_string(),
                        s(&i["vendor"]),
                        i["status_code"].to_string(),
                        s(&i["reason"]),
                        i["body_bytes"].to_string(),
                        s(&i["received_at"]),
                    ]);
                }
                t.to_string()
            });
        }
        CtlCommand::Inbox { status, vendor } => {
            let mut query = vec![("status", status)];
            if let Some(v) = vendor {
                query.push(("vendor", v));
            }
            let page = api
                .call(Method::GET, "/v1/inbox", Some(&query), None)
                .await?;
            print(out, &page, |p| {
                let mut t = table(&[
                    "id",
                    "vendor",
                    "event",
                    "type",
                    "status",
                    "journey",
                    "deliveries",
                    "received",
                    "note",
                ]);
                for i in p["items"].as_array().into_iter().flatten() {
                    t.add_row(vec![
                        i["id"].to_string(),
                        s(&i["vendor"]),
                        s(&i["dedup_key"]),
                        s(&i["event_type"]),
                        s(&i["status"]),
                        s(&i["journey_id"]),
                        i["deliveries"].to_string(),
                        s(&i["received_at"]),
                        s(&i["note"]),
                    ]);
                }
                t.to_string()
            });
        }
        CtlCommand::InboxReplay { ids, reason } => {
            inbox_bulk(
                &api,
                out,
                "replay",
                "queued for routing again",
                &ids,
                &reason,
            )
            .await?;
        }
        CtlCommand::InboxSkip { ids, reason } => {
            inbox_bulk(&api, out, "skip", "skipped", &ids, &reason).await?;
        }
        CtlCommand::IntakeReview {
            id,
            attach,
            proceed,
            close,
            reason,
        } => {
            let path = format!("/v1/journeys/{id}/intake-review");
            let action = [("attach", attach), ("proceed", proceed), ("close", close)]
                .into_iter()
                .find_map(|(name, chosen)| chosen.then_some(name));
            match action {
                Some(action) => {
                    let body = json!({ "action": action, "reason": reason });
                    decide(&api, out, &path, &body).await?;
                }
                None => {
                    let r = api.call(Method::GET, &path, None, None).await?;
                    print(out, &r, |r| {
                        let rx = &r["prescription"];
                        format!(
                            "kind: {}  awaiting review: {}  actions: {}\nopen consult: {}\nactive prescription: {} ({}), written {}, active until {}",
                            s(&r["kind"]),
                            r["awaiting_review"],
                            r["actions"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .map(s)
                                .collect::<Vec<_>>()
                                .join(", "),
                            s(&r["open_journey_id"]),
                            s(&rx["prescription_id"]),
                            s(&rx["medication"]),
                            s(&rx["written_at"]),
                            s(&rx["active_until"]),
                        )
                    });
                }
            }
        }
        CtlCommand::Match {
            id,
            link,
            create,
            reason,
        } => {
            let path = format!("/v1/journeys/{id}/patient-match");
            let decision = match (link, create) {
                (Some(patient), _) => {
                    Some(json!({ "action": "link", "patient_id": patient, "reason": reason }))
                }
                (None, true) => Some(json!({ "action": "create", "reason": reason })),
                (None, false) => None,
            };
            match decision {
                Some(body) => decide(&api, out, &path, &body).await?,
                None => {
                    let m = api.call(Method::GET, &path, None, None).await?;
                    print(out, &m, |m| {
                        let mut t = table(&["candidate patient", "score"]);
                        for c in m["candidates"].as_array().into_iter().flatten() {
                            t.add_row(vec![s(&c["patient_id"]), c["score"].to_string()]);
                        }
                        format!(
                            "decision: {}  patient: {}  awaiting review: {}\n{t}",
                            s(&m["decision"]),
                            s(&m["patient_id"]),
                            m["awaiting_review"]
                        )
                    });
                }
            }
        }
        CtlCommand::Tokens {
            command:
                TokenCommand::Create {
                    role,
                    name,
                    database_url,
                },
        } => {
            let parsed = Role::parse(&role)
                .ok_or_else(|| anyhow!("--role must be product, operator or admin"))?;
            let token = match database_url {
                Some(url) => {
                    let pool = carepath_workflows::db::connect(&url, 1).await?;
                    carepath_workflows::db::ensure_migrated(&pool).await?;
                    auth::create_token(&pool, &name, parsed).await?
                }
                None => {
                    let r = api
                        .call(
                            Method::POST,
                            "/v1/tokens",
                            None,
                            Some(&json!({ "name": name, "role": role })),
                        )
                        .await?;
                    r["token"]
                        .as_str()
                        .map(str::to_owned)
                        .context("the API returned no token")?
                }
            };
            match out {
                Output::Json => {
                    println!("{}", json!({ "name": name, "role": role, "token": token }))
                }
                Output::Table => println!("{token}"),
            }
        }
        CtlCommand::Tokens {
            command: TokenCommand::Revoke { name },
        } => {
            api.call(Method::DELETE, &format!("/v1/tokens/{name}"), None, None)
                .await?;
            if let Output::Table = out {
                println!("revoked {name}");
            }
        }
    }
    Ok(())
}

async fn act(api: &Api, out: Output, action: &str, a: ActionArgs) -> Result<()> {
    let j = api
        .call(
            Method::POST,
            &format!("/v1/journeys/{}/{action}", a.id),
            None,
            Some(&json!({ "reason": a.reason })),
        )
        .await?;
    print(out, &j, |j| {
        format!(
            "{} is now {} ({})",
            s(&j["id"]),
            s(&j["status"]),
            s(&j["phase"])
        )
    });
    Ok(())
}

/// A reviewer's decision (`match`, `intake-review`): posted, then where the
/// journey now is.
async fn decide(api: &Api, out: Output, path: &str, body: &Value) -> Result<()> {
    let j = api.call(Method::POST, path, None, Some(body)).await?;
    print(out, &j, |j| {
        format!(
            "journey {}: {} {}",
            s(&j["id"]),
            s(&j["status"]),
            s(&j["phase"])
        )
    });
    Ok(())
}

/// `inbox-replay` / `inbox-skip`: one call for all the ids, then what was
/// done and what was left as it was.
async fn inbox_bulk(
    api: &Api,
    out: Output,
    action: &str,
    done_text: &str,
    ids: &[i64],
    reason: &str,
) -> Result<()> {
    let r = api
        .call(
            Method::POST,
            &format!("/v1/inbox/{action}"),
            None,
            Some(&json!({ "ids": ids, "reason": reason })),
        )
        .await?;
    print(out, &r, |r| {
        let list = |v: &Value| {
            v.as_array()
                .into_iter()
                .flatten()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut text = format!("{done_text}: {}", list(&r["done"]));
        if r["not_done"].as_array().is_some_and(|a| !a.is_empty()) {
            text.push_str(&format!(
                "\nleft as they were (absent, or in a status this does not apply to): {}",
                list(&r["not_done"])
            ));
        }
        text
    });
    Ok(())
}

fn vendors_table(v: &Value) -> String {
    let mut t = table(&[
        "vendor",
        "breaker",
        "on hold until",
        "reason",
        "rate/s",
        "waiting",
        "last error",
    ]);
    for x in v["vendors"].as_array().into_iter().flatten() {
        t.add_row(vec![
            s(&x["name"]),
            s(&x["breaker"]),
            s(&x["on_hold_until"]),
            s(&x["hold_reason"]),
            x["rate_per_sec"].to_string(),
            x["waiting_journeys"].to_string(),
            s(&x["last_error"]),
        ]);
    }
    t.to_string()
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.set_header(header.to_vec());
    t
}

/// A JSON value as a table cell: strings bare, null empty.
fn s(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn print(out: Output, value: &Value, render: impl Fn(&Value) -> String) {
    match out {
        Output::Json => println!("{value}"),
        Output::Table => println!("{}", render(value)),
    }
}

struct Api {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Api {
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: Option<&[(&str, String)]>,
        body: Option<&Value>,
    ) -> Result<Value> {
        let token = self
            .token
            .as_deref()
            .context("no token: pass --token or set CAREPATH_TOKEN")?;
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(q) = query {
            req = req.query(q);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("calling {}", self.base))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            let e = &value["error"];
            let fields: Vec<String> = e["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| format!("{}: {}", s(&f["path"]), s(&f["message"])))
                .collect();
            let detail = if fields.is_empty() {
                String::new()
            } else {
                format!(" ({})", fields.join("; "))
            };
            bail!(
                "{status}: {}{detail}",
                e["message"].as_str().unwrap_or(&text)
            );
        }
        Ok(value)
    }
}
