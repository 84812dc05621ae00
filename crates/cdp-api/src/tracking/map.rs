//! Segment's wire format → our events.
//!
//! `userId` → `user_id`, `anonymousId` → `anonymous_id`, `context.externalIds`
//! → identities of their type, `traits` (identify) and `context.traits` →
//! person traits (their `email` and `phone` are identities), `messageId` →
//! dedupe key, `groupId` → account, `previousId` → alias. Times are corrected
//! for the client's clock: occurred = receivedAt − (sentAt − originalTimestamp),
//! with `timestamp` standing in for `originalTimestamp` when that is absent.

use cdp_domain::event::parse_time;
use cdp_domain::{Channel, FieldError, FieldErrors, RawEvent};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

pub const KINDS: [&str; 6] = ["identify", "track", "page", "screen", "group", "alias"];

/// What a batch gives every message in it.
#[derive(Debug, Default, Clone)]
pub struct Envelope {
    pub context: Map<String, Value>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A string, or a number written as one (Segment accepts numeric ids).
fn id_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn object(v: Option<&Value>) -> Map<String, Value> {
    v.and_then(Value::as_object).cloned().unwrap_or_default()
}

/// An external id type as one of our identity types: lowercase, other
/// characters as `_`, starting with a letter.
pub fn identity_type_of(kind: &str) -> String {
    let mut t: String = kind.trim().to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    if !t.starts_with(|c: char| c.is_ascii_lowercase()) {
        t = format!("x_{t}");
    }
    t.truncate(32);
    t
}

/// The channel a message came from, when the key names no source: Segment's
/// `context.channel`, else the library that sent it.
pub fn channel_of(context: &Map<String, Value>) -> Channel {
    match context.get("channel").and_then(Value::as_str) {
        Some("browser") => return Channel::Web,
        Some("mobile") => return Channel::App,
        _ => {}
    }
    let library = context.get("library").and_then(|l| l.get("name")).and_then(Value::as_str).unwrap_or("");
    if library.contains("analytics.js") || library.contains("analytics-next") {
        Channel::Web
    } else if ["ios", "android", "react-native", "flutter", "swift", "kotlin"].iter().any(|m| library.contains(m))
        || context.contains_key("device")
    {
        Channel::App
    } else {
        Channel::Other
    }
}

/// When it happened, corrected for the client's clock.
pub fn occurred_at(msg: &Map<String, Value>, env: &Envelope, received: DateTime<Utc>) -> Result<DateTime<Utc>, FieldError> {
    let time = |field: &'static str| -> Result<Option<DateTime<Utc>>, FieldError> {
        match msg.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                parse_time(s).map(Some).ok_or_else(|| FieldError::new(field, "invalid", "must be an ISO 8601 / RFC 3339 timestamp"))
            }
            Some(_) => Err(FieldError::new(field, "invalid_type", "must be a timestamp string")),
        }
    };
    let original = match time("originalTimestamp")? {
        Some(t) => Some(t),
        None => time("timestamp")?,
    };
    let sent = time("sentAt")?.or(env.sent_at);
    Ok(match (original, sent) {
        (Some(o), Some(s)) => received - (s - o),
        (Some(o), None) => o,
        (None, _) => received,
    })
}

/// One Segment message as a raw event. `kind` is the endpoint's type (None
/// for batch items, which carry their own); `source_channel` the channel of
/// the key's source, if it has one.
pub fn to_raw(
    mut msg: Map<String, Value>,
    kind: Option<&str>,
    env: &Envelope,
    source_channel: Option<Channel>,
    received: DateTime<Utc>,
) -> Result<RawEvent, FieldErrors> {
    let mut errs = FieldErrors::default();
    let kind = match kind {
        Some(k) => k.to_string(),
        None => match msg.get("type").and_then(Value::as_str) {
            Some(k) if KINDS.contains(&k) => k.to_string(),
            Some(_) => return Err(FieldError::new("type", "invalid", "must be identify, track, page, screen, group or alias").into()),
            None => return Err(FieldError::new("type", "required", "batch items must carry their type").into()),
        },
    };
    let mut context = env.context.clone();
    context.extend(object(msg.get("context")));

    let mut ids = Map::new();
    let user_id = id_text(msg.get("userId"));
    if let Some(u) = &user_id {
        ids.insert("user_id".into(), Value::String(u.clone()));
    }
    if let Some(a) = id_text(msg.get("anonymousId")) {
        ids.insert("anonymous_id".into(), Value::String(a));
    }
    if let Some(Value::Array(external)) = context.get("externalIds") {
        for x in external {
            if let (Some(id), Some(t)) = (id_text(x.get("id")), x.get("type").and_then(Value::as_str)) {
                ids.entry(identity_type_of(t)).or_insert(Value::String(id));
            }
        }
    }
    let previous_id = id_text(msg.get("previousId"));
    if kind == "alias" {
        if user_id.is_none() {
            errs.push(FieldError::new("userId", "required", "is required for alias"));
        }
        if previous_id.is_none() {
            errs.push(FieldError::new("previousId", "required", "is required for alias"));
        }
    } else if ids.is_empty() {
        errs.push(FieldError::new("userId", "required", "userId or anonymousId is required"));
    }

    let mut traits = object(context.get("traits"));
    if kind == "identify" {
        traits.extend(object(msg.get("traits")));
    }
    let (name, properties) = match kind.as_str() {
        "track" => (msg.get("event").cloned().unwrap_or(Value::Null), object(msg.get("properties"))),
        "page" | "screen" => {
            let mut props = object(msg.get("properties"));
            if let Some(c) = msg.get("category").filter(|c| c.is_string()) {
                props.entry("category").or_insert(c.clone());
            }
            let name = msg.get("name").filter(|n| n.is_string()).or_else(|| props.get("name").filter(|n| n.is_string())).cloned();
            (name.unwrap_or(Value::Null), props)
        }
        "group" => (Value::Null, object(msg.get("traits"))),
        _ => (Value::Null, Map::new()),
    };
    let group_id = if kind == "group" {
        match id_text(msg.get("groupId")) {
            Some(g) => Value::String(g),
            None => {
                errs.push(FieldError::new("groupId", "required", "is required for group"));
                Value::Null
            }
        }
    } else {
        Value::Null
    };
    let occurred = match occurred_at(&msg, env, received) {
        Ok(t) => Some(t),
        Err(e) => {
            errs.push(e);
            None
        }
    };
    let message_id = match msg.remove("messageId") {
        Some(Value::Number(n)) => Value::String(n.to_string()),
        Some(v) => v,
        None => Value::Null,
    };
    if !errs.is_empty() {
        return Err(errs);
    }
    let channel = match source_channel {
        Some(_) => Value::Null,
        None => Value::String(channel_of(&context).as_str().into()),
    };
    Ok(RawEvent {
        message_id,
        kind: Value::String(kind),
        event: name,
        channel,
        occurred_at: occurred.map(|t| Value::String(t.to_rfc3339_opts(SecondsFormat::Micros, true))).unwrap_or(Value::Null),
        identities: Value::Object(ids),
        traits: Value::Object(traits),
        properties: Value::Object(properties),
        context: Value::Object(context),
        group_id,
        previous_id: previous_id.map(Value::String).unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdp_domain::event::{EventDefaults, EventType};
    use cdp_domain::identity::NormalizeOptions;
    use cdp_domain::NewEvent;
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        parse_time(s).unwrap()
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn event(msg: Value, kind: Option<&str>, env: &Envelope) -> NewEvent {
        let raw = to_raw(map(msg), kind, env, Some(Channel::Web), t("2026-11-20T12:00:00Z")).unwrap();
        let defaults =
            EventDefaults { channel: Some(Channel::Web), now: t("2026-11-20T12:00:00Z"), normalize: NormalizeOptions::default() };
        NewEvent::parse(raw, &defaults).unwrap()
    }

    #[test]
    fn clock_skew_is_corrected() {
        // The client's clock is 10 minutes fast: it says it sent at 12:10 what
        // happened at 12:05; we received it at 12:00 by our clock.
        let msg = map(json!({"originalTimestamp": "2026-11-20T12:05:00Z", "sentAt": "2026-11-20T12:10:00Z"}));
        assert_eq!(occurred_at(&msg, &Envelope::default(), t("2026-11-20T12:00:00Z")).unwrap(), t("2026-11-20T11:55:00Z"));
        // timestamp stands in for originalTimestamp; the batch's sentAt applies.
        let msg = map(json!({"timestamp": "2026-11-20T12:09:00+07:00"}));
        let env = Envelope { sent_at: Some(t("2026-11-20T05:10:00Z")), ..Envelope::default() };
        assert_eq!(occurred_at(&msg, &env, t("2026-11-20T05:10:02Z")).unwrap(), t("2026-11-20T05:09:02Z"));
        // No sentAt: the client's time as given; nothing: the time received.
        let msg = map(json!({"timestamp": "2026-01-01T00:00:00Z"}));
        assert_eq!(occurred_at(&msg, &Envelope::default(), t("2026-11-20T12:00:00Z")).unwrap(), t("2026-01-01T00:00:00Z"));
        assert_eq!(occurred_at(&Map::new(), &Envelope::default(), t("2026-11-20T12:00:00Z")).unwrap(), t("2026-11-20T12:00:00Z"));
        assert_eq!(
            occurred_at(&map(json!({"sentAt": "yesterday"})), &Envelope::default(), t("2026-11-20T12:00:00Z")).unwrap_err().field,
            "sentAt"
        );
    }

    #[test]
    fn identify_maps_ids_and_traits() {
        let e = event(
            json!({"type": "identify", "userId": 42, "anonymousId": "a-1", "messageId": "m-1",
                   "traits": {"email": "Lan@Example.vn", "name": "Lan"},
                   "context": {"traits": {"phone": "0912 345 678", "name": "old"},
                               "externalIds": [{"id": "hs-9", "type": "hubspot_contact_id", "collection": "users", "encoding": "none"}]}}),
            None,
            &Envelope::default(),
        );
        assert_eq!(e.kind, EventType::Identify);
        assert_eq!(e.message_id.as_deref(), Some("m-1"));
        let ids: Vec<(String, String)> = e.identities.iter().map(|i| (i.kind.to_string(), i.value.clone())).collect();
        for want in [
            ("user_id", "42"),
            ("anonymous_id", "a-1"),
            ("email", "lan@example.vn"),
            ("phone", "+84912345678"),
            ("hubspot_contact_id", "hs-9"),
        ] {
            assert!(ids.contains(&(want.0.to_string(), want.1.to_string())), "{want:?} in {ids:?}");
        }
        assert_eq!(e.traits["name"], "Lan", "message traits win over context.traits");
    }

    #[test]
    fn track_page_group_alias() {
        let env = Envelope { context: map(json!({"ip": "1.2.3.4", "library": {"name": "analytics-node"}})), sent_at: None };
        let e = event(
            json!({"type": "track", "userId": "u1", "event": "Order Completed", "properties": {"revenue": 10},
                             "context": {"traits": {"email": "u1@example.vn"}}}),
            None,
            &env,
        );
        assert_eq!((e.name.as_deref(), e.properties["revenue"].as_i64()), (Some("Order Completed"), Some(10)));
        assert_eq!(e.context["ip"], "1.2.3.4", "the batch context reaches every message");
        assert_eq!(e.identities.len(), 2);
        let e = event(json!({"anonymousId": "a", "name": "Home", "category": "Shop"}), Some("page"), &env);
        assert_eq!((e.kind, e.name.as_deref(), e.properties["category"].as_str()), (EventType::Page, Some("Home"), Some("Shop")));
        let e = event(json!({"userId": "u1", "groupId": "cty-7", "traits": {"name": "Công ty 7"}}), Some("group"), &env);
        assert_eq!((e.group_id.as_deref(), e.properties["name"].as_str()), (Some("cty-7"), Some("Công ty 7")));
        assert!(e.traits.is_empty(), "group traits describe the account, not the person");
        let e = event(json!({"userId": "u1", "previousId": "anon-7"}), Some("alias"), &env);
        assert_eq!(e.previous_id.as_deref(), Some("anon-7"));
    }

    #[test]
    fn bad_messages_name_the_field() {
        let received = t("2026-11-20T12:00:00Z");
        let err = |m: Value, k: Option<&str>| to_raw(map(m), k, &Envelope::default(), None, received).unwrap_err().0[0].field.clone();
        assert_eq!(err(json!({"event": "x"}), Some("track")), "userId");
        assert_eq!(err(json!({"userId": "u"}), None), "type");
        assert_eq!(err(json!({"type": "click", "userId": "u"}), None), "type");
        assert_eq!(err(json!({"previousId": "p"}), Some("alias")), "userId");
        assert_eq!(err(json!({"userId": "u"}), Some("group")), "groupId");
    }

    #[test]
    fn channels_and_external_types() {
        assert_eq!(channel_of(&map(json!({"library": {"name": "analytics.js"}}))), Channel::Web);
        assert_eq!(channel_of(&map(json!({"library": {"name": "analytics-ios"}}))), Channel::App);
        assert_eq!(channel_of(&map(json!({"channel": "mobile"}))), Channel::App);
        assert_eq!(channel_of(&map(json!({"library": {"name": "analytics-python"}}))), Channel::Other);
        assert_eq!(identity_type_of("GA4 Client-ID"), "ga4_client_id");
        assert_eq!(identity_type_of("4sq"), "x_4sq");
    }
}
