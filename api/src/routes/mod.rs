pub mod health;
pub mod inbox;
pub mod intake_review;
pub mod journeys;
pub mod matching;
pub mod tokens;
pub mod vendors;
pub mod webhooks;
