//! Identity types, their normalisation and their priority in resolution.

use crate::error::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest identity value accepted, in characters.
pub const MAX_IDENTITY_LEN: usize = 255;

/// The kind of an identifier. Known kinds are normalised; any other kind that
/// matches `[a-z][a-z0-9_]{0,31}` is kept as given (trimmed).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentityType {
    UserId,
    Email,
    Phone,
    LoyaltyCard,
    FacebookId,
    ZaloId,
    AnonymousId,
    Custom(String),
}

impl IdentityType {
    pub fn parse(s: &str) -> Result<IdentityType, String> {
        Ok(match s {
            "user_id" => IdentityType::UserId,
            "email" => IdentityType::Email,
            "phone" => IdentityType::Phone,
            "loyalty_card" => IdentityType::LoyaltyCard,
            "facebook_id" => IdentityType::FacebookId,
            "zalo_id" => IdentityType::ZaloId,
            "anonymous_id" => IdentityType::AnonymousId,
            other => {
                let mut chars = other.chars();
                let ok = other.len() <= 32
                    && chars.next().is_some_and(|c| c.is_ascii_lowercase())
                    && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if !ok {
                    return Err(format!("identity type `{other}` must match [a-z][a-z0-9_]{{0,31}}"));
                }
                IdentityType::Custom(other.to_string())
            }
        })
    }

    pub fn as_str(&self) -> &str {
        match self {
            IdentityType::UserId => "user_id",
            IdentityType::Email => "email",
            IdentityType::Phone => "phone",
            IdentityType::LoyaltyCard => "loyalty_card",
            IdentityType::FacebookId => "facebook_id",
            IdentityType::ZaloId => "zalo_id",
            IdentityType::AnonymousId => "anonymous_id",
            IdentityType::Custom(s) => s,
        }
    }

    /// Higher wins when identities of one event point at incompatible
    /// profiles: user_id > email > phone > loyalty_card > facebook_id/zalo_id
    /// > other types > anonymous_id.
    pub fn priority(&self) -> u8 {
        match self {
            IdentityType::UserId => 100,
            IdentityType::Email => 90,
            IdentityType::Phone => 80,
            IdentityType::LoyaltyCard => 70,
            IdentityType::FacebookId | IdentityType::ZaloId => 60,
            IdentityType::Custom(_) => 50,
            IdentityType::AnonymousId => 10,
        }
    }

    /// A profile holds at most one identity of a protected type: two profiles
    /// holding different values of it are never merged.
    pub fn is_merge_protected(&self) -> bool {
        matches!(self, IdentityType::UserId)
    }
}

impl fmt::Display for IdentityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for IdentityType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for IdentityType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        IdentityType::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A normalised identifier: two spellings of one phone number or one e-mail
/// address become equal values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identity {
    #[serde(rename = "type")]
    pub kind: IdentityType,
    pub value: String,
}

/// How identities are normalised: the region assumed for national phone numbers.
#[derive(Debug, Clone, Copy)]
pub struct NormalizeOptions {
    pub default_region: phonenumber::country::Id,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        NormalizeOptions { default_region: phonenumber::country::Id::VN }
    }
}

impl NormalizeOptions {
    /// `VN`, `US`… as an ISO 3166 region code.
    pub fn with_region(code: &str) -> Result<Self, String> {
        let id: phonenumber::country::Id = code.trim().to_ascii_uppercase().parse().map_err(|_| format!("unknown region code `{code}`"))?;
        Ok(NormalizeOptions { default_region: id })
    }
}

impl Identity {
    /// Parses and normalises one identity. The error message does not repeat
    /// the value (it may be personal data headed for a log).
    pub fn parse(kind: &str, value: &str, opts: &NormalizeOptions) -> Result<Identity, String> {
        let kind = IdentityType::parse(kind)?;
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err("must not be empty".into());
        }
        if trimmed.chars().count() > MAX_IDENTITY_LEN {
            return Err(format!("must be at most {MAX_IDENTITY_LEN} characters"));
        }
        if trimmed.chars().any(|c| c.is_control()) {
            return Err("must not contain control characters".into());
        }
        let value = match kind {
            IdentityType::Email => normalize_email(trimmed)?,
            IdentityType::Phone => normalize_phone(trimmed, opts)?,
            _ => trimmed.to_string(),
        };
        Ok(Identity { kind, value })
    }

    /// Builds a field error for this identity's input.
    pub fn field_error(field: &str, message: String) -> FieldError {
        FieldError::new(field, "invalid_identity", message)
    }
}

/// Trim and lowercase; must be a syntactically valid address.
pub fn normalize_email(s: &str) -> Result<String, String> {
    let lower = s.trim().to_lowercase();
    if validator::ValidateEmail::validate_email(&lower) && lower.contains('.') {
        Ok(lower)
    } else {
        Err("is not a valid e-mail address".into())
    }
}

/// To E.164. National numbers are read in the default region; numbers written
/// with their country code but no `+` (`84912345678`) are recognised too.
pub fn normalize_phone(s: &str, opts: &NormalizeOptions) -> Result<String, String> {
    use phonenumber::Mode;
    let invalid = || "is not a valid phone number".to_string();
    let digits: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() < 6 || digits.len() > 17 {
        return Err(invalid());
    }
    let try_parse =
        |text: &str, region: Option<phonenumber::country::Id>| phonenumber::parse(region, text).ok().filter(phonenumber::is_valid);
    let s = s.trim();
    let parsed = if s.starts_with('+') {
        try_parse(s, None)
    } else if let Some(rest) = s.strip_prefix("00") {
        try_parse(&format!("+{rest}"), None)
    } else {
        try_parse(s, Some(opts.default_region)).or_else(|| try_parse(&format!("+{digits}"), None))
    };
    parsed.map(|p| p.format().mode(Mode::E164).to_string()).ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(s: &str) -> Result<String, String> {
        normalize_phone(s, &NormalizeOptions::default())
    }

    #[test]
    fn vietnamese_phone_spellings_are_one_number() {
        for s in ["0912 345 678", "+84 912 345 678", "84912345678", "0912.345.678", "(+84) 912-345-678", "0084912345678"] {
            assert_eq!(phone(s).as_deref(), Ok("+84912345678"), "{s}");
        }
        assert_eq!(phone("028 3829 5555").as_deref(), Ok("+842838295555"));
    }

    #[test]
    fn international_numbers_keep_their_country() {
        assert_eq!(phone("+1 650-253-0000").as_deref(), Ok("+16502530000"));
        assert_eq!(phone("+44 20 7946 0958").as_deref(), Ok("+442079460958"));
        let us = NormalizeOptions::with_region("us").unwrap();
        assert_eq!(normalize_phone("(650) 253-0000", &us).as_deref(), Ok("+16502530000"));
    }

    #[test]
    fn garbage_is_not_a_phone() {
        for s in ["12", "abc", "0000000000", "+84 1", "091234567890123456789"] {
            assert!(phone(s).is_err(), "{s}");
        }
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(normalize_email(" An.Nguyen@Example.VN ").as_deref(), Ok("an.nguyen@example.vn"));
        for bad in ["an", "an@", "@x.vn", "a b@x.vn", "an@localhost"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn identity_types() {
        assert_eq!(IdentityType::parse("zalo_id").unwrap(), IdentityType::ZaloId);
        assert_eq!(IdentityType::parse("crm_id").unwrap(), IdentityType::Custom("crm_id".into()));
        for bad in ["", "Crm", "1crm", "crm-id", &"x".repeat(33)] {
            assert!(IdentityType::parse(bad).is_err(), "{bad}");
        }
        assert!(IdentityType::UserId.priority() > IdentityType::Email.priority());
        assert!(IdentityType::Phone.priority() > IdentityType::LoyaltyCard.priority());
        assert!(IdentityType::ZaloId.priority() > IdentityType::AnonymousId.priority());
    }

    #[test]
    fn values_are_trimmed_and_bounded() {
        let o = NormalizeOptions::default();
        assert_eq!(Identity::parse("loyalty_card", " VNM-0042 ", &o).unwrap().value, "VNM-0042");
        assert!(Identity::parse("user_id", "  ", &o).is_err());
        assert!(Identity::parse("user_id", &"x".repeat(256), &o).is_err());
        assert!(Identity::parse("user_id", "a\u{0}b", &o).is_err());
    }
}
