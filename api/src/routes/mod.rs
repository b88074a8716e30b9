pub mod health;
pub mod inbox;
pub mod journeys;
pub mod tokens;
pub mod vendors;
pub mod webhooks;
