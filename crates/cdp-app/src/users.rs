//! Operators: their accounts, their logins, and whether a token's account
//! is still active.

use crate::store::StoreError;
pub use crate::store::UserRow;
use crate::store::UserStore;
use crate::{secrets, App, AppError, AppResult, Caller, Principal};
use cdp_domain::auth::{Grants, Role};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

impl App {
    /// The active operator with this username and password. A wrong username
    /// costs as much time as a wrong password.
    pub fn login(&self, username: &str, password: &str) -> AppResult<UserRow> {
        let invalid = || AppError::Unauthorized("invalid username or password".into());
        if username.is_empty() || username.len() > 100 || password.len() > 1024 {
            return Err(invalid());
        }
        let user = self.db.read(|c| UserStore::find_active_by_username(c, username))?;
        let phc = user.as_ref().map(|u| u.password_hash.as_str()).unwrap_or(secrets::dummy_hash());
        let ok = secrets::verify_password(password, phc);
        user.filter(|_| ok).ok_or_else(invalid)
    }

    /// The caller an operator token names, if the account is still active:
    /// disabling an operator stops the tokens already issued.
    pub fn operator(&self, user_id: &str, role: Role) -> AppResult<Principal> {
        let user = self.db.read_statement(|c| UserStore::find(c, user_id)).map_err(|e| match e {
            StoreError::NotFound => AppError::Unauthorized("invalid token user".into()),
            e => e.into(),
        })?;
        if user.disabled_at.is_some() {
            return Err(AppError::Unauthorized("this operator account is disabled".into()));
        }
        Ok(Principal { grants: role.grants(), caller: Caller::Operator { user_id: user.id, role } })
    }

    /// The caller a customer token names: only their own `/me` resources,
    /// which check the caller themselves.
    pub fn customer(&self, profile_id: &str) -> Principal {
        Principal { grants: Grants::default(), caller: Caller::Customer { profile_id: profile_id.to_string() } }
    }

    pub fn create_user(&self, username: &str, role: Role, password: &str) -> AppResult<UserRow> {
        let username = username.trim();
        if username.is_empty() || username.chars().count() > 100 {
            return Err(AppError::field("username", "invalid", "must be 1 to 100 characters"));
        }
        let row = UserRow {
            id: crate::store::new_id(),
            username: username.to_string(),
            password_hash: password_hash(password)?,
            role: role.as_str().into(),
            created_at: crate::store::now_micros(),
            disabled_at: None,
        };
        self.db.write(|c| UserStore::insert(c, &row))?;
        Ok(row)
    }

    pub fn list_users(&self) -> AppResult<Vec<UserRow>> {
        Ok(self.db.read(|c| UserStore::list(c))?)
    }

    /// Disables (`true`) or enables an operator; answers the account as it is now.
    pub fn set_user_disabled(&self, username: &str, disabled: bool) -> AppResult<UserRow> {
        let at = disabled.then(crate::store::now_micros);
        self.db.write(|c| UserStore::set_disabled(c, username, at)).map_err(AppError::or_missing("user"))
    }

    pub fn reset_password(&self, username: &str, password: &str) -> AppResult<()> {
        let hash = password_hash(password)?;
        self.db.write(|c| UserStore::set_password(c, username, &hash)).map_err(AppError::or_missing("user"))
    }
}

fn password_hash(password: &str) -> AppResult<String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AppError::field("password", "too_short", format!("must be at least {MIN_PASSWORD_CHARS} characters")));
    }
    secrets::hash_password(password).map_err(|e| StoreError::Corrupt(format!("cannot hash a password: {e}")).into())
}
