//! `carepath keys rotate|status`: the data keys that seal PHI at rest,
//! re-wrapped under the key ring's current key-encryption key
//! (`CAREPATH_KEY_RING`, the new key first, the old ones after it), online
//! and resumable ([`carepath_engine::vault::rotate`]).
//!
//! To rotate: put the new KEK first in `CAREPATH_KEY_RING` of every
//! process (workers and API, a rolling restart; they then wrap new keys
//! under it and still unwrap old ones), run `carepath keys rotate` until it
//! reports nothing left, and then drop the old KEK from the ring — and
//! destroy it once no backup taken before the rotation is kept, which is
//! what makes erasures reach those backups.

use std::path::PathBuf;

use anyhow::{Context, Result};
use carepath_workflows::Settings;
use carepath_workflows::engine::store::data_keys;
use carepath_workflows::engine::vault::rotate;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::db;

/// `carepath keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-wrap every data key under the ring's current key-encryption key,
    /// while workers run; stopped anywhere, run it again to finish.
    Rotate(RotateArgs),
    /// How many live data keys each key-encryption key wraps.
    Status(KeysArgs),
}

/// The database, and the configuration that says the mode (development
/// uses its published key ring; production needs `CAREPATH_KEY_RING`).
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    #[arg(long, env = "CAREPATH_CONFIG", hide_env_values = true)]
    config: Option<PathBuf>,
}

/// `carepath keys rotate`.
#[derive(Debug, Args)]
pub struct RotateArgs {
    #[command(flatten)]
    keys: KeysArgs,
    /// Data keys re-wrapped per transaction.
    #[arg(long, default_value_t = 500)]
    batch: i64,
}

/// Runs a `keys` command; prints one JSON object.
///
/// # Errors
/// A configuration or key ring that cannot be read, a data key wrapped
/// under a KEK the ring lacks (named), a database error.
pub async fn run(command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::Rotate(args) => {
            let (pool, settings) = open(&args.keys).await?;
            let vault = settings.vault();
            let done = rotate::run(&pool, &vault, args.batch)
                .await
                .context("rotating the data keys (run it again to resume)")?;
            carepath_workflows::store::audit::record(
                &pool,
                &crate::patients::cli_actor(),
                "keys_rotate",
                &done.current,
                &json!({ "rewrapped": done.rewrapped }),
            )
            .await?;
            let left = data_keys::count_by_kek(&pool).await?;
            println!(
                "{}",
                json!({ "current": done.current, "rewrapped": done.rewrapped, "live": counts(&left) })
            );
        }
        KeysCommand::Status(args) => {
            let (pool, settings) = open(&args).await?;
            let current = settings.vault().wrapper().map(|w| w.current().to_owned());
            let live = data_keys::count_by_kek(&pool).await?;
            println!("{}", json!({ "current": current, "live": counts(&live) }));
        }
    }
    Ok(())
}

async fn open(args: &KeysArgs) -> Result<(sqlx::PgPool, Settings)> {
    let settings = Settings::load(args.config.as_deref())?;
    for warning in settings.warnings() {
        eprintln!("warning: {warning}");
    }
    let pool = db::connect(&args.database_url, 4).await?;
    db::ensure_migrated(&pool).await?;
    Ok((pool, settings))
}

fn counts(per_kek: &[(String, i64)]) -> serde_json::Value {
    per_kek
        .iter()
        .map(|(k, n)| (k.clone(), json!(n)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}
