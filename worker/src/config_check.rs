//! `carepath config check`: reads a configuration file (or the defaults) and
//! the environment exactly as `worker` and `api` will at start, and says what
//! they would refuse and what they would warn about — naming variables,
//! never printing a secret's value.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use carepath_activities::config::AuthConfig;
use carepath_activities::credentials::{self, Mode};
use carepath_workflows::Settings;
use clap::Args;

use crate::db;

/// `carepath config check [--config FILE]`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The configuration file; without one, the defaults (development mode,
    /// every vendor the local sandbox on 127.0.0.1:8090).
    #[arg(long, env = "CAREPATH_CONFIG", hide_env_values = true)]
    config: Option<PathBuf>,
    /// Also check that this database is reachable and migrated.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

/// Prints the report; an error when a worker or the API would refuse to start.
///
/// # Errors
/// The configuration invalid, a secret it names unset (production), or the
/// database unreachable or not migrated.
pub async fn run(args: CheckArgs) -> Result<()> {
    match &args.config {
        Some(path) => println!("configuration: {}", path.display()),
        None => println!("configuration: none (the built-in defaults)"),
    }
    let mut problems = 0;
    let settings = Settings::load(args.config.as_deref());
    match &settings {
        Ok(settings) => {
            describe(settings);
            // What `builtin::registry` refuses: matching without its key.
            if let Err(error) = settings.registry_keys() {
                problems += 1;
                println!("  REFUSED: {error}");
            }
        }
        Err(error) => {
            problems += 1;
            println!("  REFUSED: {error:#}");
        }
    }
    match console_sign_in() {
        Ok(said) => println!("console sign-in: {said}"),
        Err(error) => {
            problems += 1;
            println!("console sign-in: REFUSED (api): {error}");
        }
    }
    match &args.database_url {
        None => {
            problems += 1;
            println!("database: REFUSED: DATABASE_URL is not set (worker and api need it)");
        }
        Some(url) => match reachable(url, settings.as_ref().ok()).await {
            Ok(()) => println!("database: reachable and migrated"),
            Err(error) => {
                problems += 1;
                println!("database: REFUSED: {error:#}");
            }
        },
    }
    if problems > 0 {
        bail!("{problems} problem(s): `carepath worker` and `carepath api` would not start");
    }
    println!("ok: `carepath worker` and `carepath api` would start with this configuration");
    Ok(())
}

/// How the console's operators sign in, as `carepath api` reads it.
fn console_sign_in() -> Result<String, String> {
    let var = |name: &str| std::env::var(name).ok();
    let label = var("CAREPATH_OIDC_LABEL").unwrap_or_else(|| "single sign-on".into());
    let settings = carepath_api::console::oidc::OidcSettings::from_parts(
        var("CAREPATH_OIDC_ISSUER"),
        var("CAREPATH_OIDC_CLIENT_ID"),
        var("CAREPATH_OIDC_CLIENT_SECRET"),
        var("CAREPATH_OIDC_REDIRECT_URL"),
        label,
        var("CAREPATH_OIDC_ALLOWED_DOMAINS"),
    )?;
    Ok(match settings {
        None => "operator and admin tokens (CAREPATH_OIDC_ISSUER not set)".into(),
        Some(oidc) if oidc.allowed_domains.is_empty() => format!(
            "tokens, and OpenID Connect through {} (discovered at the first sign-in); \
             WARNING: anyone the provider signs in gets the operator role \
             (set CAREPATH_OIDC_ALLOWED_DOMAINS to restrict it)",
            oidc.issuer
        ),
        Some(oidc) => format!(
            "tokens, and OpenID Connect through {} for {} (discovered at the first sign-in)",
            oidc.issuer,
            oidc.allowed_domains.join(", ")
        ),
    })
}

async fn reachable(url: &str, settings: Option<&Settings>) -> Result<()> {
    let pool = db::connect(url, 1).await?;
    db::ensure_migrated(&pool).await?;
    if let Some(settings) = settings {
        carepath_workflows::engine::vault::verify::key_ring(&pool, &settings.vault())
            .await
            .context("CAREPATH_KEY_RING cannot unwrap the data keys already stored")?;
    }
    Ok(())
}

fn describe(settings: &Settings) {
    let mode = settings.vendors.mode;
    println!("  mode: {}", mode.as_str());
    for (vendor, profile) in &settings.vendors.vendors {
        let variable = credentials::variable(profile);
        let set =
            credentials::resolve(Mode::Production, vendor, profile, |v| std::env::var(v).ok());
        let credential = match (set.is_ok(), mode) {
            (true, _) => "set",
            (false, Mode::Development) => "not set: the sandbox's development credential",
            (false, Mode::Production) => "NOT SET",
        };
        let auth = match profile.auth {
            AuthConfig::Oauth2 { .. } => "OAuth2 client credentials",
            AuthConfig::ApiKey { .. } => "API key",
        };
        let webhook = if settings.webhook_secrets.of(vendor).is_empty() {
            "none: every webhook refused"
        } else if settings.webhook_secrets.is_development(vendor) {
            "the sandbox's development secret"
        } else {
            "set"
        };
        println!(
            "  vendors.{vendor}: {} — {auth} from {variable} ({credential}); webhook secret: {webhook}",
            without_userinfo(&profile.base_url)
        );
    }
    let vault = settings.vault();
    match vault.wrapper() {
        Some(ring) => println!(
            "  PHI at rest: sealed; new data keys wrapped under KEK {}",
            ring.current()
        ),
        None => println!("  PHI at rest: NOT sealed (no key ring, or encryption turned off)"),
    }
    let r = &settings.retention;
    let period = |p: Option<std::time::Duration>| {
        p.map_or("keep".to_owned(), |d| {
            humantime::format_duration(d).to_string()
        })
    };
    println!(
        "  retention: ended journeys' PHI {}, webhook bodies {}, refused webhooks {}, patients without journeys {}; erased months' steps and history {}",
        period(r.completed_journeys),
        period(r.inbox_bodies),
        period(r.rejected_webhooks),
        period(r.unlinked_patients),
        if r.archive_months && r.completed_journeys.is_some() {
            "archived"
        } else {
            "kept"
        }
    );
    for warning in settings.warnings() {
        println!("  warning: {warning}");
    }
}

/// `url` without a user name or password, should a profile carry one.
fn without_userinfo(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}
