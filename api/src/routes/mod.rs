pub mod health;
pub mod inbox;
pub mod journeys;
pub mod matching;
pub mod tokens;
pub mod vendors;
pub mod webhooks;
