//! Pure rules and types of the customer-data platform.
//!
//! Nothing here performs I/O: no database, no HTTP, no clock reads except
//! where a caller passes "now" in. Values that exist as domain types are valid
//! by construction ("parse, don't validate").

#![forbid(unsafe_code)]

pub mod auth;
pub mod campaign;
pub mod channel;
pub mod clv;
pub mod codes;
pub mod commerce;
pub mod consent;
pub mod error;
pub mod event;
pub mod identity;
pub mod identity_rules;
pub mod import;
pub mod interaction;
pub mod kpis;
pub mod loyalty;
pub mod profile;
pub mod referral;
pub mod resolution;
pub mod rfm;
pub mod schedule;
pub mod segment;
pub mod tracking_plan;
pub mod traits;
pub mod voucher;
pub mod webhook;

pub use channel::Channel;
pub use error::{FieldError, FieldErrors};
pub use event::{EventType, NewEvent, RawEvent};
pub use identity::{Identity, IdentityType};
