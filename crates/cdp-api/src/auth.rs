//! Who is calling: an API key (`X-Api-Key`) or a JWT (`Authorization: Bearer`).
//! Missing or invalid credentials → 401; valid but lacking the scope → 403.

use crate::error::{ApiError, ApiResult};
use crate::secrets;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use cdp_domain::auth::{Grants, Role, Scope};
use cdp_domain::Channel;
use cdp_store::repo::{keys, users};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;

/// Settings for operator and customer tokens.
#[derive(Clone)]
pub struct JwtConfig {
    pub secret: Vec<u8>,
    pub ttl_seconds: i64,
}

impl std::fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtConfig").field("secret", &"***").field("ttl_seconds", &self.ttl_seconds).finish()
    }
}

const ISSUER: &str = "cdp";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The operator's user id, or the customer's profile id.
    pub sub: String,
    /// `operator` or `customer`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

impl JwtConfig {
    pub fn issue(&self, sub: &str, kind: &str, role: Option<&str>, now: i64) -> ApiResult<String> {
        let claims = Claims {
            sub: sub.to_string(),
            kind: kind.to_string(),
            role: role.map(str::to_string),
            iss: ISSUER.into(),
            iat: now,
            exp: now + self.ttl_seconds,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&self.secret)).map_err(|e| {
            log::error!("cannot sign a token: {e}");
            ApiError::internal()
        })
    }

    /// Checks signature (HS256 only), expiry and issuer.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 5;
        v.set_issuer(&[ISSUER]);
        v.set_required_spec_claims(&["exp", "sub", "iss"]);
        decode::<Claims>(token, &DecodingKey::from_secret(&self.secret), &v).ok().map(|d| d.claims)
    }
}

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
    /// 403 unless the caller holds `scope` (admin implies every scope).
    pub fn require(&self, scope: Scope) -> ApiResult<()> {
        if self.grants.allows(scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("this credential lacks the `{scope}` scope")))
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
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let key = req.headers().get("x-api-key").map(|v| v.to_str().map(str::to_string));
        let bearer = req.headers().get("authorization").map(|v| v.to_str().map(str::to_string));
        Box::pin(async move {
            let state = state.ok_or_else(ApiError::internal)?;
            match (key, bearer) {
                (Some(Ok(key)), _) => authenticate_key(&state, key.trim().to_string()).await,
                (Some(Err(_)), _) => Err(ApiError::unauthorized("invalid API key")),
                (None, Some(Ok(h))) => match h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")) {
                    Some(token) => authenticate_jwt(&state, token.trim()).await,
                    None => Err(ApiError::unauthorized("Authorization must be `Bearer <token>`")),
                },
                (None, Some(Err(_))) => Err(ApiError::unauthorized("invalid Authorization header")),
                (None, None) => Err(ApiError::unauthorized("send an API key in X-Api-Key or a token in Authorization: Bearer")),
            }
        })
    }
}

/// Keys found recently, by hash: most requests then need no database round
/// trip (and no blocking-pool hop) to authenticate. Unknown keys are never
/// cached: each attempt asks the database.
pub struct KeyCache {
    ttl: std::time::Duration,
    entries: std::sync::Mutex<std::collections::HashMap<String, (keys::ActiveKey, std::time::Instant)>>,
}

impl KeyCache {
    /// Most keys held; beyond it the cache starts over.
    const CAPACITY: usize = 10_000;

    pub fn new(ttl_seconds: u64) -> KeyCache {
        KeyCache { ttl: std::time::Duration::from_secs(ttl_seconds), entries: Default::default() }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (keys::ActiveKey, std::time::Instant)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, hash: &str) -> Option<keys::ActiveKey> {
        if self.ttl.is_zero() {
            return None;
        }
        self.entries().get(hash).filter(|(_, at)| at.elapsed() < self.ttl).map(|(k, _)| k.clone())
    }

    fn put(&self, hash: String, key: keys::ActiveKey) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries();
        if entries.len() >= Self::CAPACITY {
            entries.clear();
        }
        entries.insert(hash, (key, std::time::Instant::now()));
    }

    /// Forgets a key (revoked): its next use asks the database.
    pub fn forget(&self, key_id: &str) {
        self.entries().retain(|_, (k, _)| k.key.id != key_id);
    }
}

pub async fn authenticate_key(state: &AppState, key: String) -> ApiResult<Principal> {
    if key.is_empty() || key.len() > 200 {
        return Err(ApiError::unauthorized("invalid API key"));
    }
    let hash = secrets::hash_key(&key);
    let found = match state.keys.get(&hash) {
        Some(hit) => Some(hit),
        None => {
            let db = state.db.clone();
            let h = hash.clone();
            let found = web::block(move || {
                let k = db.read(|c| keys::find_active_by_hash(c, &h))?;
                if let Some(k) = &k {
                    db.write(|c| keys::touch(c, &k.key.id, cdp_store::now_micros()))?;
                }
                Ok::<_, cdp_store::StoreError>(k)
            })
            .await??;
            if let Some(k) = &found {
                state.keys.put(hash, k.clone());
            }
            found
        }
    };
    let Some(active) = found else {
        return Err(ApiError::unauthorized("invalid API key"));
    };
    let grants = Grants::from_text(&active.key.scopes).map_err(|e| {
        log::error!("key {} has corrupt scopes: {e}", active.key.id);
        ApiError::internal()
    })?;
    state.rate.check(&active.key.id).map_err(ApiError::rate_limited)?;
    let source_channel = active.source_channel.as_deref().and_then(|c| c.parse().ok());
    Ok(Principal { caller: Caller::Key { id: active.key.id, source_id: active.key.source_id, source_channel }, grants })
}

pub(crate) async fn authenticate_jwt(state: &AppState, token: &str) -> ApiResult<Principal> {
    let claims = state.jwt.verify(token).ok_or_else(|| ApiError::unauthorized("invalid or expired token"))?;
    match claims.kind.as_str() {
        "operator" => {
            // The account as it is now: a disabled operator's tokens stop at once.
            let (db, id) = (state.db.clone(), claims.sub.clone());
            let user = web::block(move || db.read_statement(|c| users::find(c, &id))).await?.map_err(|e| match e {
                cdp_store::StoreError::NotFound => ApiError::unauthorized("invalid token user"),
                e => e.into(),
            })?;
            if user.disabled_at.is_some() {
                return Err(ApiError::unauthorized("this operator account is disabled"));
            }
            let role: Role = claims.role.as_deref().unwrap_or("").parse().map_err(|_| ApiError::unauthorized("invalid token role"))?;
            Ok(Principal { grants: role.grants(), caller: Caller::Operator { user_id: claims.sub, role } })
        }
        // Customers reach only their own /me resources, which check the caller themselves.
        "customer" => Ok(Principal { grants: Grants::default(), caller: Caller::Customer { profile_id: claims.sub } }),
        _ => Err(ApiError::unauthorized("invalid token kind")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_expire() {
        let cfg = JwtConfig { secret: b"test-secret-test-secret-test-secret".to_vec(), ttl_seconds: 60 };
        let now = chrono::Utc::now().timestamp();
        let t = cfg.issue("u1", "operator", Some("admin"), now).unwrap();
        assert_eq!(cfg.verify(&t).unwrap().sub, "u1");
        let old = cfg.issue("u1", "operator", Some("admin"), now - 3600).unwrap();
        assert!(cfg.verify(&old).is_none(), "expired");
        let other = JwtConfig { secret: b"another-secret-another-secret-xx".to_vec(), ttl_seconds: 60 };
        assert!(other.verify(&t).is_none(), "wrong secret");
        // alg=none and other algorithms are refused.
        let none = format!(
            "{}.{}.",
            b64(r#"{"alg":"none","typ":"JWT"}"#),
            b64(&format!(r#"{{"sub":"u1","kind":"operator","role":"admin","iss":"cdp","iat":{now},"exp":{}}}"#, now + 60))
        );
        assert!(cfg.verify(&none).is_none());
    }

    fn b64(s: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }
}
