//! API keys: issued (shown once, stored hashed), listed, revoked, and
//! recognised on each request.

pub use crate::store::{ActiveKey, KeyRow};
use crate::store::{KeyStore, SourceStore, Tx};
use crate::{secrets, App, AppError, AppResult, Caller, Principal};
use cdp_domain::auth::Grants;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

impl App {
    /// Issues a key (`source_id`: bound to that source, whose channel its
    /// events get); answers its row and the key itself, shown this once.
    pub fn issue_key(&self, name: &str, grants: &Grants, source_id: Option<&str>) -> AppResult<(KeyRow, String)> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(AppError::field("name", "invalid", "must be 1 to 200 characters"));
        }
        self.db.write(|c| issue(c, name, grants, source_id).map_err(AppError::or_missing("source")))
    }

    /// Every key, never the secrets.
    pub fn list_keys(&self) -> AppResult<Vec<KeyRow>> {
        Ok(self.db.read(|c| KeyStore::list(c))?)
    }

    /// Revokes a key: it stops at once in this process, in others within
    /// the key cache's seconds.
    pub fn revoke_key(&self, id: &str) -> AppResult<KeyRow> {
        let row = self.db.write(|c| KeyStore::revoke(c, id, crate::store::now_micros())).map_err(AppError::or_missing("key"))?;
        self.keys.forget(&row.id);
        Ok(row)
    }

    /// The caller a key names, if it is live, from the keys seen recently:
    /// no database, so callers on an async runtime may call it in place.
    /// `None`: not seen recently; ask `authenticate_key`.
    pub fn cached_key(&self, key: &str) -> Option<AppResult<Principal>> {
        if key.is_empty() || key.len() > 200 {
            return Some(Err(invalid_key()));
        }
        self.keys.get(&secrets::hash_key(key)).map(principal)
    }

    /// The caller a key names, if it is live; looks it up (and records its
    /// use) unless it was seen recently.
    pub fn authenticate_key(&self, key: &str) -> AppResult<Principal> {
        if key.is_empty() || key.len() > 200 {
            return Err(invalid_key());
        }
        let hash = secrets::hash_key(key);
        if let Some(known) = self.keys.get(&hash) {
            return principal(known);
        }
        let found = self.db.read(|c| KeyStore::find_active_by_hash(c, &hash))?.ok_or_else(invalid_key)?;
        self.db.write(|c| KeyStore::touch(c, &found.key.id, crate::store::now_micros()))?;
        self.keys.put(hash, found.clone());
        principal(found)
    }
}

fn invalid_key() -> AppError {
    AppError::Unauthorized("invalid API key".into())
}

fn principal(active: ActiveKey) -> AppResult<Principal> {
    let grants = Grants::from_text(&active.key.scopes)
        .map_err(|e| crate::store::StoreError::Corrupt(format!("key {} has invalid scopes: {e}", active.key.id)))?;
    let source_channel = active.source_channel.as_deref().and_then(|c| c.parse().ok());
    Ok(Principal { caller: Caller::Key { id: active.key.id, source_id: active.key.source_id, source_channel }, grants })
}

/// Issues a key inside the caller's transaction (a source's write key is
/// issued with the source).
pub fn issue(conn: &mut dyn Tx, name: &str, grants: &Grants, source_id: Option<&str>) -> crate::store::StoreResult<(KeyRow, String)> {
    if let Some(s) = source_id {
        SourceStore::find(conn, s)?;
    }
    let secret = secrets::generate_key();
    let row = KeyRow {
        id: crate::store::new_id(),
        name: name.to_string(),
        prefix: secrets::key_prefix(&secret),
        key_hash: secrets::hash_key(&secret),
        scopes: grants.to_text(),
        source_id: source_id.map(str::to_string),
        created_at: crate::store::now_micros(),
        last_used_at: None,
        revoked_at: None,
    };
    KeyStore::insert(conn, &row)?;
    Ok((row, secret))
}

/// Keys found recently, by hash: most requests then need no database round
/// trip to authenticate. Unknown keys are never cached: each attempt asks
/// the database.
pub(crate) struct KeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (ActiveKey, Instant)>>,
}

impl KeyCache {
    /// Most keys held; beyond it the cache starts over.
    const CAPACITY: usize = 10_000;

    pub(crate) fn new(ttl_seconds: u64) -> KeyCache {
        KeyCache { ttl: Duration::from_secs(ttl_seconds), entries: Default::default() }
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<String, (ActiveKey, Instant)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, hash: &str) -> Option<ActiveKey> {
        if self.ttl.is_zero() {
            return None;
        }
        self.entries().get(hash).filter(|(_, at)| at.elapsed() < self.ttl).map(|(k, _)| k.clone())
    }

    fn put(&self, hash: String, key: ActiveKey) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries();
        if entries.len() >= Self::CAPACITY {
            entries.clear();
        }
        entries.insert(hash, (key, Instant::now()));
    }

    /// Forgets a key (revoked): its next use asks the database.
    fn forget(&self, key_id: &str) {
        self.entries().retain(|_, (k, _)| k.key.id != key_id);
    }
}
