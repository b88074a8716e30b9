//! `ctl tokens create` and `ctl tokens revoke`.

use anyhow::{Context, Result, anyhow};
use reqwest::Method;
use serde_json::json;

use carepath_api::auth::{self, Role};

use super::Output;
use super::client::Api;

/// `ctl tokens create`: written to the database at `database_url` when
/// given (how the first admin token is made), otherwise made through the
/// API; the token is printed, the one time it can be.
pub(super) async fn create(
    api: &Api,
    out: Output,
    role: &str,
    name: &str,
    database_url: Option<String>,
) -> Result<()> {
    let parsed =
        Role::parse(role).ok_or_else(|| anyhow!("--role must be product, operator or admin"))?;
    let token = match database_url {
        Some(url) => {
            let pool = carepath_workflows::db::connect(&url, 1).await?;
            carepath_workflows::db::ensure_migrated(&pool).await?;
            auth::create_token(&pool, name, parsed).await?
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
        Output::Json => println!("{}", json!({ "name": name, "role": role, "token": token })),
        Output::Table | Output::Wide => println!("{token}"),
    }
    Ok(())
}

/// `ctl tokens revoke`.
pub(super) async fn revoke(api: &Api, out: Output, name: &str) -> Result<()> {
    api.call(Method::DELETE, &format!("/v1/tokens/{name}"), None, None)
        .await?;
    if let Output::Table | Output::Wide = out {
        println!("revoked {name}");
    }
    Ok(())
}

/// `ctl console-sign-out <holder> --reason <why>`.
pub(super) async fn end_console_sessions(
    api: &Api,
    out: Output,
    holder: &str,
    reason: &str,
) -> Result<()> {
    let r = api
        .call(
            Method::POST,
            "/v1/console-sessions/end",
            None,
            Some(&json!({ "holder": holder, "reason": reason })),
        )
        .await?;
    match out {
        Output::Json => println!("{r}"),
        Output::Table | Output::Wide => {
            println!("ended {} console session(s) of {holder}", r["ended"]);
        }
    }
    Ok(())
}
