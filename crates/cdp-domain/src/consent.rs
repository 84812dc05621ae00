//! Consent and preferences (Decree 13/2023, GDPR): recorded, revocable
//! consent per contact channel with its full history, and what the customer
//! wants, validated.

use crate::error::{FieldError, FieldErrors};
use serde::{Deserialize, Serialize};

/// Channels a customer can be contacted on for marketing.
pub const CONSENT_CHANNELS: [&str; 6] = ["email", "sms", "zalo", "push", "phone", "facebook"];

pub fn is_consent_channel(s: &str) -> bool {
    CONSENT_CHANNELS.contains(&s)
}

/// What a consent is for (Decree 13/2023 asks consent per purpose).
/// `marketing` is what a decision without a purpose means.
pub const PURPOSES: [&str; 4] = ["marketing", "transactional", "profiling", "research"];

/// The purpose of decisions recorded without one.
pub const DEFAULT_PURPOSE: &str = "marketing";

pub fn is_purpose(s: &str) -> bool {
    PURPOSES.contains(&s)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    Granted,
    Denied,
}

impl ConsentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentStatus::Granted => "granted",
            ConsentStatus::Denied => "denied",
        }
    }
    pub fn parse(s: &str) -> Option<ConsentStatus> {
        match s {
            "granted" => Some(ConsentStatus::Granted),
            "denied" => Some(ConsentStatus::Denied),
            _ => None,
        }
    }
}

/// One recorded decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub status: ConsentStatus,
    /// When the customer decided (µs); the latest decision wins, whatever the
    /// order in which records arrive.
    pub recorded_at: i64,
    /// Ties on recorded_at are broken by arrival order (a sequence or id).
    pub seq: String,
}

/// The decision in force: the one recorded last (ties: the later arrival).
pub fn current(history: &[ConsentRecord]) -> Option<ConsentStatus> {
    history.iter().max_by(|a, b| (a.recorded_at, &a.seq).cmp(&(b.recorded_at, &b.seq))).map(|r| r.status)
}

/// What the customer wants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Preferences {
    pub preferred_channel: Option<String>,
    /// BCP 47 primary language: `vi`, `en`…
    pub language: Option<String>,
    pub favourite_categories: Vec<String>,
    pub contact_hours: Option<ContactHours>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactHours {
    /// `HH:MM`, local time of the customer.
    pub from: String,
    pub to: String,
}

fn minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && hhmm.len() == 5).then_some(h * 60 + m)
}

impl Preferences {
    /// Checks every field; categories are trimmed, deduplicated and kept in order.
    pub fn validate(mut self) -> Result<Preferences, FieldErrors> {
        let mut errs = FieldErrors::default();
        if let Some(c) = &self.preferred_channel {
            if !is_consent_channel(c) {
                errs.push(FieldError::new("preferred_channel", "invalid", format!("must be one of {}", CONSENT_CHANNELS.join(", "))));
            }
        }
        if let Some(l) = &self.language {
            let ok = (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_lowercase());
            if !ok {
                errs.push(FieldError::new("language", "invalid", "must be a lowercase ISO 639 code such as vi or en"));
            }
        }
        let mut seen = Vec::new();
        for (i, c) in self.favourite_categories.iter().enumerate() {
            let t = c.trim();
            if t.is_empty() || t.chars().count() > 100 {
                errs.push(FieldError::new(format!("favourite_categories[{i}]"), "invalid", "must be 1 to 100 characters"));
            } else if !seen.iter().any(|s: &String| s == t) {
                seen.push(t.to_string());
            }
        }
        if seen.len() > 50 {
            errs.push(FieldError::new("favourite_categories", "too_many", "at most 50 categories"));
        }
        self.favourite_categories = seen;
        if let Some(h) = &self.contact_hours {
            match (minutes(&h.from), minutes(&h.to)) {
                (Some(a), Some(b)) if a != b => {}
                (None, _) => errs.push(FieldError::new("contact_hours.from", "invalid", "must be HH:MM")),
                (_, None) => errs.push(FieldError::new("contact_hours.to", "invalid", "must be HH:MM")),
                _ => errs.push(FieldError::new("contact_hours", "invalid", "from and to must differ")),
            }
        }
        errs.into_result(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(status: ConsentStatus, at: i64, seq: &str) -> ConsentRecord {
        ConsentRecord { status, recorded_at: at, seq: seq.into() }
    }

    #[test]
    fn the_latest_decision_wins_whatever_the_arrival_order() {
        use ConsentStatus::*;
        assert_eq!(current(&[]), None);
        let h = [rec(Granted, 100, "1"), rec(Denied, 300, "2"), rec(Granted, 200, "3")];
        assert_eq!(current(&h), Some(Denied), "a late-arriving older grant does not override a newer denial");
        let tie = [rec(Denied, 100, "a"), rec(Granted, 100, "b")];
        assert_eq!(current(&tie), Some(Granted));
    }

    #[test]
    fn preferences_are_validated() {
        let p = Preferences {
            preferred_channel: Some("zalo".into()),
            language: Some("vi".into()),
            favourite_categories: vec![" sua-bot ".into(), "sua-bot".into(), "pho-mai".into()],
            contact_hours: Some(ContactHours { from: "08:00".into(), to: "21:30".into() }),
        };
        let ok = p.validate().unwrap();
        assert_eq!(ok.favourite_categories, ["sua-bot", "pho-mai"]);
        let bad = Preferences {
            preferred_channel: Some("fax".into()),
            language: Some("Vietnamese".into()),
            favourite_categories: vec!["".into()],
            contact_hours: Some(ContactHours { from: "8h".into(), to: "25:00".into() }),
        };
        let fields: Vec<String> = bad.validate().unwrap_err().0.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["preferred_channel", "language", "favourite_categories[0]", "contact_hours.from"]);
    }
}
