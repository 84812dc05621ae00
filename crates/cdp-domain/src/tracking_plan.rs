//! Tracking plans: per source, the events it may send and a JSON Schema of
//! each one's properties; what to do with events not in the plan and with
//! events that break it.

use crate::{FieldError, FieldErrors};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Allow (store and record) or block (refuse and record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Allow,
    Block,
}

impl Mode {
    fn parse(v: Option<&Value>, field: &str, errors: &mut FieldErrors) -> Mode {
        match v.and_then(Value::as_str) {
            None | Some("allow") if v.is_none_or(|v| v.is_string()) => Mode::Allow,
            Some("block") => Mode::Block,
            _ => {
                errors.push(FieldError::new(field, "invalid", "must be allow or block"));
                Mode::Allow
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Allow => "allow",
            Mode::Block => "block",
        }
    }
}

/// A plan, its schemas compiled.
pub struct Plan {
    /// The document as given (normalised: both modes written out).
    pub document: Value,
    schemas: HashMap<String, jsonschema::Validator>,
    pub unplanned: Mode,
    pub violations: Mode,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan").field("document", &self.document).finish()
    }
}

/// What is wrong with an event under a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// unplanned | invalid
    pub kind: &'static str,
    /// The offending place: `event` for an unplanned event, else a path
    /// below `properties` (`properties.products[0].price`).
    pub path: String,
    pub message: String,
    /// Whether the plan refuses the event.
    pub blocked: bool,
}

/// Schemas per plan, and events per schema check, at most.
pub const MAX_EVENTS: usize = 500;

impl Plan {
    /// A plan from its document `{"events":{name: schema},"unplanned","violations"}`;
    /// every problem named by its path.
    pub fn parse(doc: &Value) -> Result<Plan, FieldErrors> {
        let mut errors = FieldErrors::default();
        let Some(obj) = doc.as_object() else {
            return Err(FieldError::new("", "invalid_type", "must be an object").into());
        };
        for k in obj.keys().filter(|k| !["events", "unplanned", "violations"].contains(&k.as_str())) {
            errors.push(FieldError::new(k.clone(), "unknown_field", "is not a field of a tracking plan"));
        }
        let unplanned = Mode::parse(obj.get("unplanned"), "unplanned", &mut errors);
        let violations = Mode::parse(obj.get("violations"), "violations", &mut errors);
        let mut schemas = HashMap::new();
        match obj.get("events") {
            Some(Value::Object(events)) if events.len() <= MAX_EVENTS => {
                for (name, schema) in events {
                    let field = format!("events.{name}");
                    if name.trim().is_empty() || name.chars().count() > 200 {
                        errors.push(FieldError::new(field, "invalid", "an event name is 1 to 200 characters"));
                        continue;
                    }
                    match jsonschema::validator_for(schema) {
                        Ok(v) => {
                            schemas.insert(name.clone(), v);
                        }
                        Err(e) => errors.push(FieldError::new(field, "invalid_schema", format!("is not a valid JSON Schema: {e}"))),
                    }
                }
            }
            Some(Value::Object(_)) => errors.push(FieldError::new("events", "too_many", format!("at most {MAX_EVENTS} events"))),
            Some(_) => errors.push(FieldError::new("events", "invalid_type", "must be an object of event name → JSON Schema")),
            None => errors.push(FieldError::new("events", "required", "is required")),
        }
        let document = serde_json::json!({"events": obj.get("events").cloned().unwrap_or_default(),
            "unplanned": unplanned.as_str(), "violations": violations.as_str()});
        errors.into_result(Plan { document, schemas, unplanned, violations })
    }

    /// What is wrong with a tracked event, if anything: not in the plan, or
    /// its properties against its schema (the first error; the message says
    /// how many more).
    pub fn check(&self, name: &str, properties: &Map<String, Value>) -> Option<Violation> {
        let Some(schema) = self.schemas.get(name) else {
            return Some(Violation {
                kind: "unplanned",
                path: "event".into(),
                message: format!("`{name}` is not in the tracking plan"),
                blocked: self.unplanned == Mode::Block,
            });
        };
        let instance = Value::Object(properties.clone());
        let mut errors = schema.iter_errors(&instance);
        let first = errors.next()?;
        let more = errors.count();
        let mut path = pointer_to_path(&first.instance_path().to_string());
        if let jsonschema::error::ValidationErrorKind::Required { property } = first.kind() {
            path = format!("{path}.{}", property.as_str().unwrap_or_default());
        }
        let mut message = first.to_string();
        if more > 0 {
            message = format!("{message} (and {more} more)");
        }
        Some(Violation { kind: "invalid", path, message, blocked: self.violations == Mode::Block })
    }
}

/// A JSON pointer below the properties (`/products/0/price`) as a path
/// (`properties.products[0].price`).
fn pointer_to_path(pointer: &str) -> String {
    let mut out = String::from("properties");
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            out.push('.');
            out.push_str(&seg);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(unplanned: &str, violations: &str) -> Plan {
        Plan::parse(&json!({"events": {"Order Completed": {"type": "object", "required": ["order_id"],
            "properties": {"order_id": {"type": "string"}, "revenue": {"type": "number"},
                           "products": {"type": "array", "items": {"type": "object", "properties": {"price": {"type": "number"}}}}}}},
            "unplanned": unplanned, "violations": violations}))
        .unwrap()
    }

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn violations_name_their_path() {
        let p = plan("allow", "block");
        assert_eq!(p.check("Order Completed", &props(json!({"order_id": "A", "revenue": 350000}))), None);
        let v = p.check("Order Completed", &props(json!({"order_id": "A", "revenue": "350k"}))).unwrap();
        assert_eq!((v.kind, v.path.as_str(), v.blocked), ("invalid", "properties.revenue", true));
        let v = p.check("Order Completed", &props(json!({"order_id": "A", "products": [{"price": 1}, {"price": "x"}]}))).unwrap();
        assert_eq!(v.path, "properties.products[1].price");
        let v = p.check("Order Completed", &props(json!({"revenue": 1}))).unwrap();
        assert_eq!(v.path, "properties.order_id");
        let v = p.check("Coupon Applied", &props(json!({}))).unwrap();
        assert_eq!((v.kind, v.path.as_str(), v.blocked), ("unplanned", "event", false));
        assert!(plan("block", "allow").check("Coupon Applied", &props(json!({}))).unwrap().blocked);
    }

    #[test]
    fn bad_plans_are_refused_by_path() {
        let e = Plan::parse(&json!({"events": {"X": {"type": 12}}, "unplanned": "maybe", "extra": 1})).unwrap_err();
        let fields: Vec<String> = e.0.into_iter().map(|f| f.field).collect();
        assert_eq!(fields, ["extra", "unplanned", "events.X"]);
        let p = Plan::parse(&json!({"events": {}})).unwrap();
        assert_eq!(p.document["unplanned"], "allow");
    }
}
