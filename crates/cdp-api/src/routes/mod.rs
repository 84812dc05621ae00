pub mod analytics;
pub mod events;
pub mod health;
pub mod keys;
pub mod profiles;
pub mod rfm;
pub mod sources;
pub mod token;
