//! End-to-end tests over HTTP against a real server. One binary (it links
//! once); run against SQLite by default and PostgreSQL with
//! CDP_TEST_DATABASE=postgres (scripts/test runs both).

mod activation;
mod auth;
mod campaigns;
mod cli;
mod consent;
mod demo;
mod errors;
mod identity;
mod identity_rules;
mod imports;
mod interaction;
mod loyalty;
mod openapi;
mod ops;
mod privacy;
mod programmes;
mod segments;
mod timeline;
mod tracking;
mod tracking_plans;
mod undo;
mod value;
