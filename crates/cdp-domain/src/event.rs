//! The event model: what a touchpoint sends, parsed into a normalised event.

use crate::channel::Channel;
use crate::error::{FieldError, FieldErrors};
use crate::identity::{Identity, IdentityType, NormalizeOptions};
use crate::identity_rules::is_placeholder;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const MAX_MESSAGE_ID_LEN: usize = 100;
pub const MAX_EVENT_NAME_LEN: usize = 200;
pub const MAX_TRAITS: usize = 200;
/// Nesting of traits, properties and context (objects and arrays).
pub const MAX_JSON_DEPTH: usize = 10;
/// Values (keys, strings, numbers… at any depth) in one of them.
pub const MAX_JSON_VALUES: usize = 2000;
/// Characters of any one string or key in them.
pub const MAX_STRING_CHARS: usize = 10_000;

/// Checks the shape of a free-form object: depth, size, string lengths.
fn check_json(field: &str, v: &Value, errs: &mut FieldErrors) {
    fn walk(v: &Value, depth: usize, count: &mut usize, long: &mut bool, deep: &mut bool) {
        *count += 1;
        match v {
            Value::String(s) => *long |= s.chars().count() > MAX_STRING_CHARS,
            Value::Array(items) => {
                *deep |= depth >= MAX_JSON_DEPTH;
                if !*deep {
                    items.iter().for_each(|i| walk(i, depth + 1, count, long, deep));
                }
            }
            Value::Object(m) => {
                *deep |= depth >= MAX_JSON_DEPTH;
                if !*deep {
                    for (k, i) in m {
                        *count += 1;
                        *long |= k.chars().count() > MAX_STRING_CHARS;
                        walk(i, depth + 1, count, long, deep);
                    }
                }
            }
            _ => {}
        }
    }
    let (mut count, mut long, mut deep) = (0, false, false);
    walk(v, 0, &mut count, &mut long, &mut deep);
    if deep {
        errs.push(FieldError::new(field, "too_deep", format!("nests at most {MAX_JSON_DEPTH} levels")));
    }
    if count > MAX_JSON_VALUES {
        errs.push(FieldError::new(field, "too_many", format!("holds at most {MAX_JSON_VALUES} keys and values")));
    }
    if long {
        errs.push(FieldError::new(field, "too_long", format!("strings and keys are at most {MAX_STRING_CHARS} characters")));
    }
}
pub const MAX_IDENTITIES: usize = 20;
/// Events may be stamped at most this far ahead of the server clock.
pub const MAX_FUTURE_SKEW_SECS: i64 = 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    Track,
    Identify,
    Page,
    Screen,
    /// Links the person to an account (`group_id`); `properties` are the account's traits.
    Group,
    /// Joins `previous_id` (an earlier user_id or anonymous_id) to the event's identities.
    Alias,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Track => "track",
            EventType::Identify => "identify",
            EventType::Page => "page",
            EventType::Screen => "screen",
            EventType::Group => "group",
            EventType::Alias => "alias",
        }
    }
    pub fn parse(s: &str) -> Option<EventType> {
        match s {
            "track" => Some(EventType::Track),
            "identify" => Some(EventType::Identify),
            "page" => Some(EventType::Page),
            "screen" => Some(EventType::Screen),
            "group" => Some(EventType::Group),
            "alias" => Some(EventType::Alias),
            _ => None,
        }
    }
}

/// An event as a client sends it: loosely typed, checked by [`NewEvent::parse`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawEvent {
    #[serde(default)]
    pub message_id: Value,
    #[serde(default, rename = "type")]
    pub kind: Value,
    #[serde(default)]
    pub event: Value,
    #[serde(default)]
    pub channel: Value,
    #[serde(default)]
    pub occurred_at: Value,
    #[serde(default)]
    pub identities: Value,
    #[serde(default)]
    pub traits: Value,
    #[serde(default)]
    pub properties: Value,
    #[serde(default)]
    pub context: Value,
    /// For `group`: the account the person belongs to.
    #[serde(default)]
    pub group_id: Value,
    /// For `alias`: the earlier id (user_id or anonymous_id) to join.
    #[serde(default)]
    pub previous_id: Value,
}

/// What the caller's credentials and the server add to an event.
#[derive(Debug, Clone)]
pub struct EventDefaults {
    /// The channel of the key's source, used when the event names none.
    pub channel: Option<Channel>,
    pub now: DateTime<Utc>,
    pub normalize: NormalizeOptions,
}

/// A valid, normalised event ready to be resolved and stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub message_id: Option<String>,
    pub kind: EventType,
    pub name: Option<String>,
    pub channel: Channel,
    pub occurred_at: DateTime<Utc>,
    /// Deduplicated, highest priority first.
    pub identities: Vec<Identity>,
    /// Identities written as built-in placeholders (`0000000000`,
    /// `khachle@…`): kept on the event, resolved only where the identity
    /// rules do not block placeholders and the value is a valid identity.
    pub placeholders: Vec<Placeholder>,
    pub traits: Map<String, Value>,
    pub properties: Map<String, Value>,
    pub context: Map<String, Value>,
    /// `group`: the account id (its traits are in `properties`).
    pub group_id: Option<String>,
    /// `alias`: the earlier id, matched as a user_id if one exists, else as an anonymous_id.
    pub previous_id: Option<String>,
}

/// An identity written as a built-in placeholder ([`is_placeholder`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placeholder {
    #[serde(rename = "type")]
    pub kind: IdentityType,
    /// Normalised when `valid`, else as written (trimmed).
    pub value: String,
    /// Whether the value is a valid identity of its type.
    #[serde(skip, default)]
    pub valid: bool,
}

impl Placeholder {
    /// The placeholder a value as written is, if it is one. Never an error:
    /// a placeholder that is no valid identity is only set aside.
    pub fn of(kind: &str, raw: &str, opts: &NormalizeOptions) -> Option<Placeholder> {
        let t = IdentityType::parse(kind).ok()?;
        if !is_placeholder(&t, raw) {
            return None;
        }
        Some(match Identity::parse(kind, raw, opts) {
            Ok(id) => Placeholder { kind: id.kind, value: id.value, valid: true },
            Err(_) => Placeholder { kind: t, value: raw.trim().chars().take(crate::identity::MAX_IDENTITY_LEN).collect(), valid: false },
        })
    }

    /// The identity it stands for, when valid.
    pub fn identity(&self) -> Option<Identity> {
        self.valid.then(|| Identity { kind: self.kind.clone(), value: self.value.clone() })
    }

    /// An event's traits without the e-mail or phone it carried as a blocked
    /// value (`blocked`): a blocked value is no trait of the person.
    pub fn strip_traits<'a>(traits: &'a Map<String, Value>, blocked: &[Placeholder]) -> std::borrow::Cow<'a, Map<String, Value>> {
        let hit =
            |k: &str| traits.get(k).and_then(Value::as_str).is_some_and(|v| blocked.iter().any(|b| b.kind.as_str() == k && b.value == v));
        if hit("email") || hit("phone") {
            let mut kept = traits.clone();
            kept.retain(|k, _| !hit(k));
            std::borrow::Cow::Owned(kept)
        } else {
            std::borrow::Cow::Borrowed(traits)
        }
    }
}

fn opt_string(v: &Value, field: &str, max: usize, errs: &mut FieldErrors) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => {
            errs.push(FieldError::new(field, "invalid", "must not be empty"));
            None
        }
        Value::String(s) if s.chars().count() > max => {
            errs.push(FieldError::new(field, "too_long", format!("must be at most {max} characters")));
            None
        }
        Value::String(s) => Some(s.trim().to_string()),
        _ => {
            errs.push(FieldError::new(field, "invalid_type", "must be a string"));
            None
        }
    }
}

fn opt_object(v: &Value, field: &str, errs: &mut FieldErrors) -> Map<String, Value> {
    match v {
        Value::Null => Map::new(),
        Value::Object(m) => m.clone(),
        _ => {
            errs.push(FieldError::new(field, "invalid_type", "must be an object"));
            Map::new()
        }
    }
}

/// Parses an RFC 3339 timestamp, as sent on the wire.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim()).ok().map(|t| t.with_timezone(&Utc))
}

impl NewEvent {
    /// The consent decisions the event carries in `context.consent`
    /// (`{"email": "granted", "zalo": "denied"}`), taken at the event's time.
    /// Parsing refused any unknown channel or status, so every entry counts.
    pub fn consents(&self) -> Vec<(String, crate::consent::ConsentStatus)> {
        match self.context.get("consent") {
            Some(Value::Object(m)) => m
                .iter()
                .filter_map(|(channel, status)| {
                    status.as_str().and_then(crate::consent::ConsentStatus::parse).map(|s| (channel.clone(), s))
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Checks and normalises an event. Every problem is reported, each under
    /// the JSON path of its field.
    pub fn parse(raw: RawEvent, defaults: &EventDefaults) -> Result<NewEvent, FieldErrors> {
        let mut errs = FieldErrors::default();
        let message_id = opt_string(&raw.message_id, "message_id", MAX_MESSAGE_ID_LEN, &mut errs);

        let kind = match &raw.kind {
            Value::Null => Some(EventType::Track),
            Value::String(s) => EventType::parse(s).or_else(|| {
                errs.push(FieldError::new("type", "invalid", "must be one of track, identify, page, screen, group, alias"));
                None
            }),
            _ => {
                errs.push(FieldError::new("type", "invalid_type", "must be a string"));
                None
            }
        };
        let name = opt_string(&raw.event, "event", MAX_EVENT_NAME_LEN, &mut errs);
        if kind == Some(EventType::Track) && name.is_none() && raw.event.is_null() {
            errs.push(FieldError::new("event", "required", "is required for track events"));
        }

        let group_id = opt_string(&raw.group_id, "group_id", crate::identity::MAX_IDENTITY_LEN, &mut errs);
        if kind == Some(EventType::Group) && group_id.is_none() && raw.group_id.is_null() {
            errs.push(FieldError::new("group_id", "required", "is required for group events"));
        }
        let previous_id = opt_string(&raw.previous_id, "previous_id", crate::identity::MAX_IDENTITY_LEN, &mut errs);
        if kind == Some(EventType::Alias) && previous_id.is_none() && raw.previous_id.is_null() {
            errs.push(FieldError::new("previous_id", "required", "is required for alias events"));
        }

        let channel = match &raw.channel {
            Value::Null => defaults.channel.or_else(|| {
                errs.push(FieldError::new("channel", "required", "is required when the key is bound to no source"));
                None
            }),
            Value::String(s) => s.parse::<Channel>().map_err(|e| errs.push(FieldError::new("channel", "invalid", e.to_string()))).ok(),
            _ => {
                errs.push(FieldError::new("channel", "invalid_type", "must be a string"));
                None
            }
        };

        let occurred_at = match &raw.occurred_at {
            Value::Null => Some(defaults.now),
            Value::String(s) => match parse_time(s) {
                Some(t) if (t - defaults.now).num_seconds() > MAX_FUTURE_SKEW_SECS => {
                    errs.push(FieldError::new("occurred_at", "invalid", "is more than 24 hours in the future"));
                    None
                }
                Some(t) => Some(t),
                None => {
                    errs.push(FieldError::new("occurred_at", "invalid", "must be an RFC 3339 timestamp such as 2026-11-20T10:15:00Z"));
                    None
                }
            },
            _ => {
                errs.push(FieldError::new("occurred_at", "invalid_type", "must be an RFC 3339 string"));
                None
            }
        };

        let mut traits = opt_object(&raw.traits, "traits", &mut errs);
        if traits.len() > MAX_TRAITS {
            errs.push(FieldError::new("traits", "too_many", format!("at most {MAX_TRAITS} traits")));
        }
        let properties = opt_object(&raw.properties, "properties", &mut errs);
        let context = opt_object(&raw.context, "context", &mut errs);
        for (field, v) in [("traits", &raw.traits), ("properties", &raw.properties), ("context", &raw.context)] {
            check_json(field, v, &mut errs);
        }
        match context.get("consent") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (ch, st) in m {
                    if !crate::consent::is_consent_channel(ch) {
                        errs.push(FieldError::new(format!("context.consent.{ch}"), "invalid", "unknown consent channel"));
                    } else if st.as_str().is_none_or(|s| crate::consent::ConsentStatus::parse(s).is_none()) {
                        errs.push(FieldError::new(format!("context.consent.{ch}"), "invalid", "must be granted or denied"));
                    }
                }
            }
            Some(_) => errs.push(FieldError::new("context.consent", "invalid_type", "must be an object of channel → granted|denied")),
        }

        let mut identities: Vec<Identity> = Vec::new();
        let mut placeholders: Vec<Placeholder> = Vec::new();
        let mut add = |field: String, kind: &str, v: &Value, errs: &mut FieldErrors| -> Option<String> {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => {
                    errs.push(FieldError::new(field, "invalid_type", "must be a string"));
                    return None;
                }
            };
            if let Some(p) = Placeholder::of(kind, &text, &defaults.normalize) {
                if !placeholders.contains(&p) {
                    placeholders.push(p);
                }
                return None;
            }
            match Identity::parse(kind, &text, &defaults.normalize) {
                Ok(id) => {
                    let value = id.value.clone();
                    if !identities.contains(&id) {
                        identities.push(id);
                    }
                    Some(value)
                }
                Err(msg) => {
                    errs.push(Identity::field_error(&field, msg));
                    None
                }
            }
        };
        match &raw.identities {
            Value::Null => {}
            Value::Object(m) => {
                for (k, v) in m {
                    if v.is_null() {
                        continue;
                    }
                    add(format!("identities.{k}"), k, v, &mut errs);
                }
            }
            _ => errs.push(FieldError::new("identities", "invalid_type", "must be an object of type → value")),
        }
        for k in ["email", "phone"] {
            if let Some(v) = traits.get(k).filter(|v| !v.is_null()).cloned() {
                match add(format!("traits.{k}"), k, &v, &mut errs) {
                    Some(normalized) => {
                        traits.insert(k.to_string(), Value::String(normalized));
                    }
                    // A placeholder is no trait of the person.
                    None if v.as_str().is_some_and(|t| is_placeholder(&IdentityType::parse(k).expect("known type"), t)) => {
                        traits.remove(k);
                    }
                    None => {}
                }
            }
        }
        if identities.is_empty()
            && placeholders.is_empty()
            && !errs.0.iter().any(|e| e.field.starts_with("identities") || e.field.starts_with("traits."))
        {
            errs.push(FieldError::new("identities", "required", "at least one identity is required"));
        }
        if identities.len() > MAX_IDENTITIES {
            errs.push(FieldError::new("identities", "too_many", format!("at most {MAX_IDENTITIES} identities")));
        }
        identities.sort_by(|a, b| b.kind.priority().cmp(&a.kind.priority()).then_with(|| a.cmp(b)));

        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(NewEvent {
            message_id,
            kind: kind.expect("checked"),
            name,
            channel: channel.expect("checked"),
            occurred_at: occurred_at.expect("checked"),
            identities,
            placeholders,
            traits,
            properties,
            context,
            group_id: if kind == Some(EventType::Group) { group_id } else { None },
            previous_id: if kind == Some(EventType::Alias) { previous_id } else { None },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityType;
    use serde_json::json;

    fn defaults(channel: Option<Channel>) -> EventDefaults {
        EventDefaults { channel, now: parse_time("2026-11-20T12:00:00Z").unwrap(), normalize: NormalizeOptions::default() }
    }

    fn parse(v: Value, channel: Option<Channel>) -> Result<NewEvent, FieldErrors> {
        NewEvent::parse(serde_json::from_value(v).unwrap(), &defaults(channel))
    }

    #[test]
    fn a_store_purchase() {
        let e = parse(
            json!({"message_id": "pos-1", "event": "Order Completed", "occurred_at": "2026-11-20T10:15:00+07:00",
                   "identities": {"phone": "0912 345 678", "loyalty_card": "VNM-0042"},
                   "traits": {"email": "An.Nguyen@Example.vn", "first_name": "An"},
                   "properties": {"order_id": "Q1-1", "revenue": 350000}}),
            Some(Channel::Store),
        )
        .unwrap();
        assert_eq!(e.kind, EventType::Track);
        assert_eq!(e.channel, Channel::Store);
        assert_eq!(e.occurred_at, parse_time("2026-11-20T03:15:00Z").unwrap());
        let kinds: Vec<_> = e.identities.iter().map(|i| i.kind.clone()).collect();
        assert_eq!(kinds, vec![IdentityType::Email, IdentityType::Phone, IdentityType::LoyaltyCard]);
        assert_eq!(e.identities[1].value, "+84912345678");
        assert_eq!(e.traits["email"], "an.nguyen@example.vn");
    }

    #[test]
    fn consent_in_the_context_is_read_per_channel() {
        let e = parse(
            json!({"event": "Signed Up", "identities": {"email": "lan@example.vn"},
                             "context": {"consent": {"email": "granted", "zalo": "denied"}}}),
            Some(Channel::Web),
        )
        .unwrap();
        use crate::consent::ConsentStatus::{Denied, Granted};
        assert_eq!(e.consents(), vec![("email".to_string(), Granted), ("zalo".to_string(), Denied)]);
        let none =
            parse(json!({"event": "x", "identities": {"email": "lan@example.vn"}, "context": {"ip": "1.2.3.4"}}), Some(Channel::Web))
                .unwrap();
        assert!(none.consents().is_empty());
        assert!(parse(
            json!({"event": "x", "identities": {"email": "lan@example.vn"}, "context": {"consent": {"email": "maybe"}}}),
            Some(Channel::Web)
        )
        .is_err());
    }

    #[test]
    fn every_problem_is_named() {
        let err = parse(
            json!({"type": "click", "channel": "fax", "occurred_at": "yesterday",
                   "identities": {"email": "not-an-email", "Bad Type": "x"}, "traits": []}),
            None,
        )
        .unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
        for f in ["type", "channel", "occurred_at", "identities.email", "identities.Bad Type", "traits"] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn identity_and_channel_are_required() {
        let err = parse(json!({"event": "Viewed"}), None).unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["channel", "identities"]);
        let err = parse(
            json!({"type": "identify", "identities": {"user_id": "u1"}, "channel": "web", "occurred_at": "2030-01-01T00:00:00Z"}),
            None,
        )
        .unwrap_err();
        assert_eq!(err.0[0].field, "occurred_at");
    }

    #[test]
    fn group_and_alias_name_their_ids() {
        let e = parse(
            json!({"type": "group", "group_id": "cty-42", "channel": "web", "identities": {"user_id": "u1"},
                             "properties": {"name": "Công ty 42"}}),
            None,
        )
        .unwrap();
        assert_eq!((e.kind, e.group_id.as_deref()), (EventType::Group, Some("cty-42")));
        let e = parse(json!({"type": "alias", "previous_id": "anon-1", "channel": "web", "identities": {"user_id": "u1"}}), None).unwrap();
        assert_eq!(e.previous_id.as_deref(), Some("anon-1"));
        let err = parse(json!({"type": "group", "channel": "web", "identities": {"user_id": "u1"}}), None).unwrap_err();
        assert_eq!(err.0[0].field, "group_id");
        let err = parse(json!({"type": "alias", "channel": "web", "identities": {"user_id": "u1"}}), None).unwrap_err();
        assert_eq!(err.0[0].field, "previous_id");
    }

    #[test]
    fn consent_in_context_is_checked() {
        let ok = parse(
            json!({"event": "Signed Up", "channel": "web", "identities": {"email": "a@b.vn"}, "context": {"consent": {"email": "granted", "zalo": "denied"}}}),
            None,
        );
        assert!(ok.is_ok());
        let err = parse(json!({"event": "x", "channel": "web", "identities": {"email": "a@b.vn"}, "context": {"consent": {"fax": "granted", "sms": "yes"}}}), None).unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["context.consent.fax", "context.consent.sms"]);
    }

    #[test]
    fn traits_phone_is_an_identity() {
        let e = parse(json!({"type": "identify", "channel": "hotline", "traits": {"phone": "+84 912 345 678"}}), None).unwrap();
        assert_eq!(e.identities.len(), 1);
        assert_eq!(e.identities[0].value, "+84912345678");
        assert_eq!(e.occurred_at, defaults(None).now);
    }

    #[test]
    fn placeholders_are_set_aside_never_refused() {
        let e = parse(
            json!({"event": "Order Completed", "channel": "store",
                   "identities": {"phone": "0000000000", "loyalty_card": "CT-1", "email": "KhachLe@shop.vn"},
                   "traits": {"phone": "000 000 0000", "first_name": "Lan"}}),
            None,
        )
        .unwrap();
        assert_eq!(e.identities.iter().map(|i| i.kind.as_str()).collect::<Vec<_>>(), ["loyalty_card"]);
        let set_aside: Vec<(&str, &str, bool)> = e.placeholders.iter().map(|p| (p.kind.as_str(), p.value.as_str(), p.valid)).collect();
        assert_eq!(set_aside, [("email", "khachle@shop.vn", true), ("phone", "0000000000", false), ("phone", "000 000 0000", false)]);
        assert!(e.traits.get("phone").is_none(), "a placeholder is no trait");
        assert_eq!(e.traits["first_name"], "Lan");
        // Only a placeholder: still an event.
        let alone = parse(json!({"event": "Visit", "channel": "store", "identities": {"phone": "0123456789"}}), None).unwrap();
        assert!(alone.identities.is_empty());
        assert_eq!(alone.placeholders.len(), 1);
    }
}
