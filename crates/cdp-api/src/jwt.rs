//! Operator and customer tokens: HS256 JWTs signed with `CDP_JWT_SECRET`.

use crate::error::{ApiError, ApiResult};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Settings for operator and customer tokens.
#[derive(Clone)]
pub struct JwtConfig {
    pub secret: Vec<u8>,
    /// Operator tokens' lifetime.
    pub ttl_seconds: i64,
    /// Customer tokens' lifetime.
    pub customer_ttl_seconds: i64,
}

impl std::fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtConfig")
            .field("secret", &"***")
            .field("ttl_seconds", &self.ttl_seconds)
            .field("customer_ttl_seconds", &self.customer_ttl_seconds)
            .finish()
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
            exp: now + self.ttl(kind),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&self.secret)).map_err(|e| {
            log::error!("cannot sign a token: {e}");
            ApiError::internal()
        })
    }

    /// The lifetime of a token of this kind.
    pub fn ttl(&self, kind: &str) -> i64 {
        if kind == "customer" {
            self.customer_ttl_seconds
        } else {
            self.ttl_seconds
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_expire() {
        let cfg = JwtConfig { secret: b"test-secret-test-secret-test-secret".to_vec(), ttl_seconds: 60, customer_ttl_seconds: 60 };
        let now = chrono::Utc::now().timestamp();
        let t = cfg.issue("u1", "operator", Some("admin"), now).unwrap();
        assert_eq!(cfg.verify(&t).unwrap().sub, "u1");
        let old = cfg.issue("u1", "operator", Some("admin"), now - 3600).unwrap();
        assert!(cfg.verify(&old).is_none(), "expired");
        let other = JwtConfig { secret: b"another-secret-another-secret-xx".to_vec(), ttl_seconds: 60, customer_ttl_seconds: 60 };
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
