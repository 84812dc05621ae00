//! Who is asking: an API key, an operator or a customer, and what they may do.

use crate::error::{AppError, AppResult};
use crate::store::Origin;
use cdp_domain::auth::{Grants, Role, Scope};
use cdp_domain::Channel;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Key { id: String, source_id: Option<String>, source_channel: Option<Channel> },
    Operator { user_id: String, role: Role },
    Customer { profile_id: String },
}

/// An authenticated caller and what it may do.
#[derive(Debug, Clone)]
pub struct Principal {
    pub caller: Caller,
    pub grants: Grants,
}

impl Principal {
    /// Forbidden unless the caller holds `scope` (admin implies every scope).
    pub fn require(&self, scope: Scope) -> AppResult<()> {
        if self.grants.allows(scope) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!("this credential lacks the `{scope}` scope")))
        }
    }

    /// Who, for logs and audit: never the secret itself.
    pub fn actor(&self) -> String {
        match &self.caller {
            Caller::Key { id, .. } => format!("key:{id}"),
            Caller::Operator { user_id, .. } => format!("user:{user_id}"),
            Caller::Customer { profile_id } => format!("customer:{profile_id}"),
        }
    }

    /// The dedupe scope and source of what this caller sends: a key bound to
    /// a source counts as that source; any other caller as a source of its own.
    pub fn origin(&self) -> Origin {
        match &self.caller {
            Caller::Key { source_id: Some(s), .. } => Origin { source_key: s.clone(), source_id: Some(s.clone()) },
            Caller::Key { id, source_id: None, .. } => Origin { source_key: format!("key:{id}"), source_id: None },
            Caller::Operator { user_id, .. } => Origin { source_key: format!("user:{user_id}"), source_id: None },
            Caller::Customer { profile_id } => Origin { source_key: format!("customer:{profile_id}"), source_id: None },
        }
    }

    /// The channel of the source the caller's key is bound to.
    pub fn source_channel(&self) -> Option<Channel> {
        match &self.caller {
            Caller::Key { source_channel, .. } => *source_channel,
            _ => None,
        }
    }

    /// Whether an operator (a person logged in) is asking: their reads of
    /// profiles are audited one by one.
    pub fn is_operator(&self) -> bool {
        matches!(self.caller, Caller::Operator { .. })
    }
}
