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
    match vietnamese_mobile(s, opts.default_region) {
        Some(e164) => Ok(e164),
        None => normalize_phone_general(s, opts),
    }
}

/// Second digits of the Vietnamese mobile ranges, by first digit, as a bit
/// set (bit n: second digit n) — national numbers of nine digits that
/// libphonenumber's metadata takes as valid whatever their last seven digits
/// (`(?:3\d|5[1689]|7[06-9]|8[1-8]|9[0-8])\d{7}`); a unit test holds every
/// two-digit start against `phonenumber`.
const VN_MOBILE: [u16; 10] = [0, 0, 0, 0x3FF, 0, 0b11_0100_0010, 0, 0b11_1100_0001, 0b01_1111_1110, 0b01_1111_1111];

/// The common case without the general parser (~10 µs a number, the bulk of
/// an event's normalisation): a Vietnamese mobile number in one of its usual
/// spellings — `0912 345 678`, `0912.345.678`, `+84 912-345-678`,
/// `(+84) 912 345 678`, `0084912345678`, `84912345678` — of digits, spaces, `.`, `-`,
/// parentheses and one leading `+`. `None` whenever unsure: the general
/// parser then decides, so both always agree (see the tests).
fn vietnamese_mobile(s: &str, region: phonenumber::country::Id) -> Option<String> {
    let s = s.trim();
    if !s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'.' | b'-' | b'(' | b')' | b'+')) {
        return None;
    }
    let plus = s.trim_start_matches('(').starts_with('+');
    if s.bytes().filter(|&b| b == b'+').count() != usize::from(plus) {
        return None;
    }
    let mut digits = [0u8; 16];
    let mut n = 0;
    for b in s.bytes().filter(u8::is_ascii_digit) {
        *digits.get_mut(n)? = b;
        n += 1;
    }
    let d = &digits[..n];
    // libphonenumber reads the country code as the digits before the first
    // punctuation (`+849.12345678` is not +84…): "84" must stand apart — a
    // separator after it — or the rest be digits only.
    let apart = |after: Option<&str>| after.is_some_and(|a| a.bytes().all(|b| b.is_ascii_digit()) || a.starts_with([' ', '.', '-', ')']));
    let national = if plus {
        if !apart(s.trim_start_matches('(').strip_prefix("+84")) {
            return None;
        }
        d.strip_prefix(b"84")?
    } else if s.starts_with("00") {
        if !apart(s.strip_prefix("0084")) {
            return None;
        }
        d.strip_prefix(b"0084")?
    } else if region != phonenumber::country::Id::VN {
        return None;
    } else if d.first() == Some(&b'0') {
        &d[1..]
    } else if d.len() == 11 {
        // The country code without its `+` (`84912345678`): eleven digits are
        // no Vietnamese national number.
        if !apart(s.strip_prefix("84")) {
            return None;
        }
        d.strip_prefix(b"84")?
    } else {
        return None;
    };
    let [a, b, ..] = *national else { return None };
    if national.len() != 9 || VN_MOBILE[usize::from(a - b'0')] & (1 << (b - b'0')) == 0 {
        return None;
    }
    let mut e164 = String::with_capacity(12);
    e164.push_str("+84");
    e164.push_str(std::str::from_utf8(national).ok()?);
    Some(e164)
}

/// `normalize_phone` by libphonenumber's rules, for any number.
fn normalize_phone_general(s: &str, opts: &NormalizeOptions) -> Result<String, String> {
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

    /// Spellings of the national number `n` (nine digits) as people write them.
    fn spellings(n: &str) -> Vec<String> {
        let (a, b, c) = (&n[..2], &n[2..5], &n[5..]);
        vec![
            format!("0{n}"),
            format!("0{a} {b} {c}"),
            format!("0{a}.{b}.{c}"),
            format!("0{a}-{b}-{c}"),
            format!("+84{n}"),
            format!("+84 {a} {b} {c}"),
            format!("(+84) {a}{b}-{c}"),
            format!("0084{n}"),
            format!("0084 {a} {b} {c}"),
            format!("84{n}"),
            format!(" 0{n} "),
            format!("+84 0{n}"),
            format!("(0{a}) {b} {c}"),
        ]
    }

    #[test]
    fn the_mobile_fast_path_agrees_with_libphonenumber_on_every_start() {
        let vn = NormalizeOptions::default();
        let mut fast = 0;
        for start in 0..100 {
            for tail in ["0000000", "9999999", "1234567", "8070605", "5555000"] {
                let n = format!("{start:02}{tail}");
                for s in spellings(&n) {
                    let general = normalize_phone_general(&s, &vn);
                    if let Some(quick) = vietnamese_mobile(&s, vn.default_region) {
                        assert_eq!(Ok(quick), general, "{s}");
                        fast += 1;
                    }
                    assert_eq!(normalize_phone(&s, &vn), general, "{s}");
                }
            }
        }
        // The fast path does take the mobile ranges.
        assert!(fast >= 33 * 5 * 12, "{fast}");
        for s in ["0912 345 678", "+84 912 345 678", "84912345678", "0912.345.678"] {
            assert_eq!(vietnamese_mobile(s, vn.default_region).as_deref(), Some("+84912345678"), "{s}");
        }
        // Not read as Vietnamese national numbers in another region.
        let us = NormalizeOptions::with_region("us").unwrap();
        assert_eq!(vietnamese_mobile("0912 345 678", us.default_region), None);
        assert_eq!(vietnamese_mobile("+84 912 345 678", us.default_region).as_deref(), Some("+84912345678"));
    }

    proptest::proptest! {
        #[test]
        fn the_mobile_fast_path_agrees_with_libphonenumber(
            start in 0u32..100,
            tail in 0u32..10_000_000,
            extra in proptest::collection::vec(proptest::sample::select(vec![' ', '.', '-', '(', ')', '+', '0', '8', '4', 'x']), 0..3),
            at in 0usize..14,
            spelling in 0usize..13,
        ) {
            let vn = NormalizeOptions::default();
            let mut s = spellings(&format!("{start:02}{tail:07}"))[spelling].clone();
            // Stray characters somewhere: still the same answer either way.
            let at = at.min(s.len());
            s.insert_str(at, &extra.iter().collect::<String>());
            let general = normalize_phone_general(&s, &vn);
            if let Some(quick) = vietnamese_mobile(&s, vn.default_region) {
                proptest::prop_assert_eq!(Ok(quick), general.clone(), "{}", s);
            }
            proptest::prop_assert_eq!(normalize_phone(&s, &vn), general, "{}", s);
        }
    }

    proptest::proptest! {
        #[test]
        fn the_mobile_fast_path_agrees_with_libphonenumber_whatever_the_punctuation(
            start in 0u32..100,
            tail in 0u32..10_000_000,
            form in 0usize..5,
            seps in proptest::collection::vec((0usize..16, proptest::sample::select(vec![" ", ".", "-", "(", ")", "  ", " - "])), 0..5),
        ) {
            let vn = NormalizeOptions::default();
            let mut s = format!("{}{start:02}{tail:07}", ["0", "+84", "0084", "(+84)", "84"][form]);
            for (at, sep) in seps {
                let at = at.min(s.len());
                s.insert_str(at, sep);
            }
            let general = normalize_phone_general(&s, &vn);
            if let Some(quick) = vietnamese_mobile(&s, vn.default_region) {
                proptest::prop_assert_eq!(Ok(quick), general.clone(), "{}", s);
            }
            proptest::prop_assert_eq!(normalize_phone(&s, &vn), general, "{}", s);
        }
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
