//! Repositories: one module per resource, each function one unit of work on
//! a connection the caller holds (inside a transaction when it writes).

pub mod consent;
pub mod ingest;
pub mod interaction;
pub mod keys;
pub mod loyalty;
pub mod orders;
pub mod privacy;
pub mod profiles;
pub mod segments;
pub mod sources;
pub mod users;
pub mod value;
