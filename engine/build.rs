//! `sqlx::migrate!` embeds `migrations/` at compile time; without this a new
//! migration file is missed by an incremental build (sqlx's documentation).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
