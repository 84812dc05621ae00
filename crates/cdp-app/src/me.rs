//! Customer self-service: who a customer token may be issued for, and
//! which profile a customer's own requests reach.

use crate::caller::{Caller, Principal};
use crate::store::ProfileStore;
use crate::{App, AppError, AppResult};

/// Whom a customer token is for.
#[derive(Debug, Clone)]
pub enum CustomerTarget {
    /// An identity as the app knows it (normalised like an event's).
    Identity {
        kind: String,
        value: String,
    },
    ProfileId(String),
}

impl Principal {
    /// The profile a customer token names; forbidden to any other caller.
    pub fn customer_profile(&self) -> AppResult<&str> {
        match &self.caller {
            Caller::Customer { profile_id } => Ok(profile_id),
            _ => Err(AppError::Forbidden("`/me` answers customer tokens only".into())),
        }
    }
}

impl App {
    /// The live profile a customer token is issued for (merges followed).
    pub fn customer_token_subject(&self, target: &CustomerTarget) -> AppResult<String> {
        match target {
            CustomerTarget::Identity { kind, value } => Ok(self.find_by_identity(kind, value, "identity.")?.profile.id),
            CustomerTarget::ProfileId(id) => {
                Ok(self.db.read_statement(|c| ProfileStore::resolve(c, id)).map_err(AppError::or_missing("profile"))?.id)
            }
        }
    }
}
