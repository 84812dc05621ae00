//! Identity rules: how many values of each identifier type one profile may
//! hold (`limit`), which type wins when an event's identities point at
//! profiles that may not merge (`priority`, 1 = strongest), and values that
//! never link or merge anything (`blocked`): the operator's, and built-in
//! placeholders that cashiers and forms type when they have no real value.

use crate::error::{FieldError, FieldErrors};
use crate::identity::{Identity, IdentityType, NormalizeOptions};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// Most blocked entries one document may hold.
pub const MAX_BLOCKED: usize = 1000;
/// Longest pattern accepted, in characters.
pub const MAX_PATTERN_LEN: usize = 500;

/// The limit and priority of one identifier type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeRule {
    pub limit: u32,
    pub priority: u32,
}

/// A blocked value or pattern, as the document holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedDoc {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

/// The rules as JSON holds them, in the API and in storage (values normalised once accepted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesDoc {
    /// Identifier type → its rule. Types not listed have no limit and come
    /// after every listed type.
    pub types: BTreeMap<String, TypeRuleDoc>,
    #[serde(default)]
    pub blocked: Vec<BlockedDoc>,
    /// Whether the built-in placeholders are blocked ([`is_placeholder`]).
    #[serde(default = "yes")]
    pub placeholders: bool,
}

/// A type's rule as sent: numbers checked when the document is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeRuleDoc {
    pub limit: i64,
    pub priority: i64,
}

fn yes() -> bool {
    true
}

/// Rules ready to apply.
#[derive(Debug, Clone)]
pub struct IdentityRules {
    types: BTreeMap<IdentityType, TypeRule>,
    values: HashSet<Identity>,
    patterns: Vec<(IdentityType, regex::Regex)>,
    placeholders: bool,
    doc: RulesDoc,
}

/// How many values of each type a profile holds.
pub type Counts = BTreeMap<IdentityType, u32>;

impl Default for IdentityRules {
    /// A retailer's: one user_id, three loyalty cards, five e-mails and
    /// phones, three Zalo and Facebook ids, many anonymous ids; built-in
    /// placeholders blocked.
    fn default() -> Self {
        let types = [
            ("user_id", 1, 1),
            ("loyalty_card", 3, 2),
            ("email", 5, 3),
            ("phone", 5, 4),
            ("zalo_id", 3, 5),
            ("facebook_id", 3, 6),
            ("anonymous_id", 1000, 7),
        ]
        .into_iter()
        .map(|(t, limit, priority)| (t.to_string(), TypeRuleDoc { limit, priority }))
        .collect();
        let doc = RulesDoc { types, blocked: Vec::new(), placeholders: true };
        IdentityRules::from_doc(doc, &NormalizeOptions::default()).expect("the default rules are valid")
    }
}

impl IdentityRules {
    /// Reads and checks a document: every fault is named by its JSON path.
    /// Blocked values are normalised as ingestion normalises identities.
    pub fn from_doc(mut doc: RulesDoc, opts: &NormalizeOptions) -> Result<IdentityRules, FieldErrors> {
        let mut errs = FieldErrors::default();
        let mut types = BTreeMap::new();
        for (name, rule) in &doc.types {
            let field = format!("types.{name}");
            let kind = match IdentityType::parse(name) {
                Ok(k) => k,
                Err(m) => {
                    errs.push(FieldError::new(field, "invalid", m));
                    continue;
                }
            };
            let limit = u32::try_from(rule.limit).ok().filter(|l| *l >= 1);
            let priority = u32::try_from(rule.priority).ok().filter(|p| *p >= 1);
            if limit.is_none() {
                errs.push(FieldError::new(format!("{field}.limit"), "invalid", "must be an integer of at least 1"));
            }
            if priority.is_none() {
                errs.push(FieldError::new(format!("{field}.priority"), "invalid", "must be an integer of at least 1"));
            }
            if let (Some(limit), Some(priority)) = (limit, priority) {
                types.insert(kind, TypeRule { limit, priority });
            }
        }
        if doc.blocked.len() > MAX_BLOCKED {
            errs.push(FieldError::new("blocked", "too_many", format!("at most {MAX_BLOCKED} entries")));
        }
        let mut values = HashSet::new();
        let mut patterns = Vec::new();
        for (n, b) in doc.blocked.iter_mut().enumerate() {
            let field = format!("blocked[{n}]");
            let kind = match IdentityType::parse(&b.kind) {
                Ok(k) => k,
                Err(m) => {
                    errs.push(FieldError::new(format!("{field}.type"), "invalid", m));
                    continue;
                }
            };
            match (&b.value, &b.pattern) {
                (Some(v), None) => match Identity::parse(kind.as_str(), v, opts) {
                    Ok(id) => {
                        b.value = Some(id.value.clone());
                        values.insert(id);
                    }
                    Err(m) => errs.push(FieldError::new(format!("{field}.value"), "invalid", m)),
                },
                (None, Some(p)) if p.chars().count() > MAX_PATTERN_LEN => {
                    errs.push(FieldError::new(format!("{field}.pattern"), "too_long", format!("at most {MAX_PATTERN_LEN} characters")))
                }
                (None, Some(p)) => match regex::RegexBuilder::new(p).size_limit(1 << 20).build() {
                    Ok(re) => patterns.push((kind, re)),
                    Err(e) => errs.push(FieldError::new(format!("{field}.pattern"), "invalid", format!("not a regular expression: {e}"))),
                },
                _ => errs.push(FieldError::new(field, "invalid", "give exactly one of value and pattern")),
            }
        }
        errs.into_result(())?;
        Ok(IdentityRules { types, values, patterns, placeholders: doc.placeholders, doc })
    }

    /// The document these rules were read from, values normalised.
    pub fn doc(&self) -> &RulesDoc {
        &self.doc
    }

    /// Most values of `kind` one profile may hold.
    pub fn limit(&self, kind: &IdentityType) -> u32 {
        self.types.get(kind).map_or(u32::MAX, |r| r.limit)
    }

    /// Lower is stronger; unlisted types come after every listed one.
    pub fn priority(&self, kind: &IdentityType) -> u32 {
        self.types.get(kind).map_or(u32::MAX, |r| r.priority)
    }

    /// Whether the built-in placeholders are blocked.
    pub fn blocks_placeholders(&self) -> bool {
        self.placeholders
    }

    /// Whether the operator blocked this (normalised) identity.
    pub fn is_blocked(&self, id: &Identity) -> bool {
        self.values.contains(id) || self.patterns.iter().any(|(k, re)| *k == id.kind && re.is_match(&id.value))
    }

    /// Sorts identities strongest first (then by the built-in order, then value).
    pub fn sort(&self, ids: &mut [Identity]) {
        ids.sort_by(|a, b| {
            self.priority(&a.kind)
                .cmp(&self.priority(&b.kind))
                .then_with(|| b.kind.priority().cmp(&a.kind.priority()))
                .then_with(|| a.cmp(b))
        });
    }

    /// Whether a profile holding `held` may take `more` as well.
    pub fn fits(&self, held: &Counts, more: &Counts) -> bool {
        more.iter().all(|(k, n)| held.get(k).copied().unwrap_or(0).saturating_add(*n) <= self.limit(k))
    }
}

/// Whether the digits of a phone number as written (`digits`: at most 20,
/// more make no number) are a placeholder: one repeated digit, or
/// `123456789` / `987654321` after a country code of Việt Nam (`+84`,
/// `0084`, `84…` of eleven digits) or the trunk prefix `0`.
fn placeholder_digits(digits: &[u8], plus: bool) -> bool {
    if digits.len() >= 6 && digits.iter().all(|d| *d == digits[0]) {
        return true;
    }
    let rest = if let Some(r) = digits.strip_prefix(b"0084") {
        r
    } else if plus || digits.len() == 11 {
        digits.strip_prefix(b"84").unwrap_or(digits)
    } else {
        digits
    };
    let national = rest.strip_prefix(b"0").unwrap_or(rest);
    national == b"123456789" || national == b"987654321"
}

/// Local parts of e-mail addresses that stand for "no address".
pub const PLACEHOLDER_EMAIL_LOCAL_PARTS: [&str; 6] = ["test", "noemail", "no-email", "none", "khachle", "khach-le"];

/// Whether a value as written is a built-in placeholder: a phone of one
/// repeated digit (`0000000000`, `000 000 0000`, `9999999`), `0123456789`
/// or `0987654321` (in any spelling); an e-mail whose local part is one of
/// [`PLACEHOLDER_EMAIL_LOCAL_PARTS`].
pub fn is_placeholder(kind: &IdentityType, raw: &str) -> bool {
    match kind {
        IdentityType::Phone => {
            let mut digits = [0u8; 20];
            let mut n = 0;
            for b in raw.bytes().filter(u8::is_ascii_digit) {
                let Some(slot) = digits.get_mut(n) else { return false };
                *slot = b;
                n += 1;
            }
            placeholder_digits(&digits[..n], raw.trim_start().trim_start_matches('(').starts_with('+'))
        }
        IdentityType::Email => {
            raw.trim().split_once('@').is_some_and(|(local, _)| PLACEHOLDER_EMAIL_LOCAL_PARTS.iter().any(|p| local.eq_ignore_ascii_case(p)))
        }
        _ => false,
    }
}

/// Counts as JSON stores them (`{"email":2,"phone":1}`).
pub fn counts_from_json(s: &str) -> Result<Counts, serde_json::Error> {
    serde_json::from_str(s)
}

pub fn counts_to_json(c: &Counts) -> String {
    serde_json::to_string(c).unwrap_or_else(|_| "{}".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(v: serde_json::Value) -> Result<IdentityRules, FieldErrors> {
        IdentityRules::from_doc(serde_json::from_value(v).unwrap(), &NormalizeOptions::default())
    }

    fn id(kind: &str, v: &str) -> Identity {
        Identity::parse(kind, v, &NormalizeOptions::default()).unwrap()
    }

    #[test]
    fn placeholders_in_their_usual_spellings() {
        for p in ["0000000000", "000 000 0000", "0123456789", "0987654321", "+84 987 654 321", "(+84) 123-456-789", "9999999", "1111111111"]
        {
            assert!(is_placeholder(&IdentityType::Phone, p), "{p}");
        }
        for p in ["0912345678", "+84912345678", "0909 000 000", "12345"] {
            assert!(!is_placeholder(&IdentityType::Phone, p), "{p}");
        }
        for e in ["khachle@gmail.com", "KhachLe@shop.vn", "none@none", "no-email@x.vn", "test@example.com"] {
            assert!(is_placeholder(&IdentityType::Email, e), "{e}");
        }
        for e in ["lan@example.vn", "tester@example.com", "khachle"] {
            assert!(!is_placeholder(&IdentityType::Email, e), "{e}");
        }
        assert!(!is_placeholder(&IdentityType::LoyaltyCard, "0000000000"));
    }

    #[test]
    fn blocked_values_are_normalised_and_patterns_match_normalised_values() {
        let r = rules(json!({"types": {}, "blocked": [
            {"type": "phone", "value": "0909 000 000"},
            {"type": "email", "pattern": "^shop\\d+@"}
        ]}))
        .unwrap();
        assert_eq!(r.doc().blocked[0].value.as_deref(), Some("+84909000000"));
        assert!(r.is_blocked(&id("phone", "+84 909-000-000")));
        assert!(!r.is_blocked(&id("phone", "0912345678")));
        assert!(r.is_blocked(&id("email", "SHOP12@Dairy.vn")));
        assert!(!r.is_blocked(&id("email", "lan@dairy.vn")));
        assert!(!r.is_blocked(&id("loyalty_card", "+84909000000")), "a value blocks its own type only");
    }

    #[test]
    fn faults_are_named_by_their_path() {
        let err = rules(json!({"types": {"Bad Type": {"limit": 1, "priority": 1}, "email": {"limit": 0, "priority": 3}},
                               "blocked": [{"type": "email", "pattern": "("}, {"type": "phone"}, {"type": "phone", "value": "abc"}]}))
        .unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["types.Bad Type", "types.email.limit", "blocked[0].pattern", "blocked[1]", "blocked[2].value"]);
    }

    #[test]
    fn defaults_fit_a_retailer() {
        let r = IdentityRules::default();
        assert_eq!((r.limit(&IdentityType::UserId), r.limit(&IdentityType::Email), r.limit(&IdentityType::LoyaltyCard)), (1, 5, 3));
        assert_eq!(r.limit(&IdentityType::Custom("crm_id".into())), u32::MAX);
        assert!(r.blocks_placeholders());
        let mut ids = vec![id("anonymous_id", "a"), id("phone", "0912345678"), id("crm_id", "c"), id("user_id", "u")];
        r.sort(&mut ids);
        let kinds: Vec<&str> = ids.iter().map(|i| i.kind.as_str()).collect();
        assert_eq!(kinds, ["user_id", "phone", "anonymous_id", "crm_id"]);
    }

    #[test]
    fn fits_adds_counts_type_by_type() {
        let r = IdentityRules::default();
        let held: Counts = [(IdentityType::Email, 4), (IdentityType::UserId, 1)].into();
        assert!(r.fits(&held, &[(IdentityType::Email, 1)].into()));
        assert!(!r.fits(&held, &[(IdentityType::Email, 2)].into()));
        assert!(!r.fits(&held, &[(IdentityType::UserId, 1)].into()));
        assert!(r.fits(&held, &Counts::new()));
    }
}
