pub mod health;
pub mod journeys;
pub mod tokens;
pub mod vendors;
