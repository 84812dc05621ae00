//! Segment rules: the JSON condition tree of API.md, parsed and validated
//! into an AST. Every problem is reported with the JSON path of its node
//! (`rule.all[2].op`), so that a rule builder can point at it.

use crate::error::{FieldError, FieldErrors};
use crate::Channel;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    Contains,
    Exists,
}

impl Op {
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "in" => Op::In,
            "contains" => Op::Contains,
            "exists" => Op::Exists,
            _ => return None,
        })
    }
    pub fn is_ordering(self) -> bool {
        matches!(self, Op::Gt | Op::Gte | Op::Lt | Op::Lte)
    }
}

/// Numbers kept per profile that rules can compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    OrdersCount,
    RevenueTotal,
    AverageOrderValue,
    Clv,
    PAlive,
    Points,
    EventCount,
}

impl Metric {
    pub const NAMES: [&'static str; 7] =
        ["orders_count", "revenue_total", "average_order_value", "clv", "p_alive", "points", "event_count"];
    pub fn parse(s: &str) -> Option<Metric> {
        Some(match s {
            "orders_count" => Metric::OrdersCount,
            "revenue_total" => Metric::RevenueTotal,
            "average_order_value" | "aov" => Metric::AverageOrderValue,
            "clv" => Metric::Clv,
            "p_alive" => Metric::PAlive,
            "points" => Metric::Points,
            "event_count" => Metric::EventCount,
            _ => return None,
        })
    }
}

/// A comparison with a literal.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub op: Op,
    /// Null for `exists` (or the boolean it asks for).
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    All(Vec<Rule>),
    Any(Vec<Rule>),
    Not(Box<Rule>),
    Trait {
        key: String,
        cond: Condition,
    },
    Metric {
        metric: Metric,
        cond: Condition,
    },
    /// At least / at most … events named `name` in the last `within_days`,
    /// whose properties pass every filter.
    Event {
        name: String,
        within_days: Option<u32>,
        count: Condition,
        filters: Vec<(String, Condition)>,
    },
    Channel(Channel),
    RfmSegment(String),
    Tier(String),
    /// Granted consent on a channel for a purpose.
    Consent {
        channel: String,
        purpose: String,
    },
}

const MAX_DEPTH: usize = 12;
const MAX_NODES: usize = 200;

struct Parser<'a> {
    errs: FieldErrors,
    nodes: usize,
    /// Tier codes of the loyalty programme, when known.
    tiers: Option<&'a [String]>,
}

fn key_ok(k: &str) -> bool {
    !k.is_empty() && k.len() <= 64 && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

impl Parser<'_> {
    fn err(&mut self, path: &str, code: &'static str, msg: impl Into<String>) {
        self.errs.push(FieldError::new(path, code, msg));
    }

    /// A condition `{op, value}` found in `obj`; `numeric` when the left side is a number.
    fn condition(&mut self, obj: &Map<String, Value>, path: &str, numeric: bool) -> Option<Condition> {
        let op = match obj.get("op") {
            Some(Value::String(s)) => match Op::parse(s) {
                Some(op) => op,
                None => {
                    self.err(&format!("{path}.op"), "unknown_op", "must be eq, ne, gt, gte, lt, lte, in, contains or exists");
                    return None;
                }
            },
            _ => {
                self.err(&format!("{path}.op"), "required", "is required");
                return None;
            }
        };
        let value = obj.get("value").cloned().unwrap_or(Value::Null);
        let vpath = format!("{path}.value");
        let ok = match op {
            Op::Exists => matches!(value, Value::Null | Value::Bool(_)),
            Op::In => value.as_array().is_some_and(|a| {
                !a.is_empty() && a.len() <= 1000 && a.iter().all(|v| if numeric { v.is_number() } else { v.is_string() || v.is_number() })
            }),
            Op::Contains => value.is_string() && !numeric,
            _ if op.is_ordering() => value.is_number() || (!numeric && value.is_string()),
            _ => {
                if numeric {
                    value.is_number()
                } else {
                    value.is_string() || value.is_number() || value.is_boolean()
                }
            }
        };
        if !ok {
            let want = match op {
                Op::Exists => "nothing or a boolean",
                Op::In if numeric => "a non-empty array of numbers",
                Op::In => "a non-empty array of strings or numbers",
                Op::Contains if numeric => "— contains does not apply to numbers",
                Op::Contains => "a string",
                _ if numeric => "a number",
                _ => "a string, number or boolean",
            };
            self.err(&vpath, "invalid_value", format!("must be {want}"));
            return None;
        }
        Some(Condition { op, value })
    }

    fn rule(&mut self, v: &Value, path: &str, depth: usize) -> Option<Rule> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            if self.nodes == MAX_NODES + 1 {
                self.err(path, "too_large", format!("a rule may hold at most {MAX_NODES} nodes"));
            }
            return None;
        }
        if depth > MAX_DEPTH {
            self.err(path, "too_deep", format!("rules nest at most {MAX_DEPTH} levels"));
            return None;
        }
        let Some(obj) = v.as_object() else {
            self.err(path, "invalid_type", "must be an object");
            return None;
        };
        let list = |me: &mut Parser, key: &str| -> Option<Vec<Rule>> {
            let p = format!("{path}.{key}");
            match obj.get(key) {
                Some(Value::Array(items)) if !items.is_empty() => {
                    let rules: Vec<Option<Rule>> =
                        items.iter().enumerate().map(|(i, r)| me.rule(r, &format!("{p}[{i}]"), depth + 1)).collect();
                    rules.into_iter().collect()
                }
                Some(Value::Array(_)) => {
                    me.err(&p, "empty", "must hold at least one rule");
                    None
                }
                _ => {
                    me.err(&p, "invalid_type", "must be an array of rules");
                    None
                }
            }
        };
        let text = |me: &mut Parser, key: &str| -> Option<String> {
            match obj.get(key) {
                Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 200 => Some(s.trim().to_string()),
                _ => {
                    me.err(&format!("{path}.{key}"), "invalid_value", "must be a non-empty string");
                    None
                }
            }
        };
        if obj.contains_key("all") {
            return list(self, "all").map(Rule::All);
        }
        if obj.contains_key("any") {
            return list(self, "any").map(Rule::Any);
        }
        if let Some(inner) = obj.get("not") {
            return self.rule(inner, &format!("{path}.not"), depth + 1).map(|r| Rule::Not(Box::new(r)));
        }
        if obj.contains_key("trait") {
            let key = text(self, "trait")?;
            if !key_ok(&key) {
                self.err(&format!("{path}.trait"), "invalid_value", "must match [A-Za-z0-9_.]{1,64}");
                return None;
            }
            let cond = self.condition(obj, path, false)?;
            return Some(Rule::Trait { key, cond });
        }
        if obj.contains_key("metric") {
            let name = text(self, "metric")?;
            let Some(metric) = Metric::parse(&name) else {
                self.err(&format!("{path}.metric"), "unknown_metric", format!("must be one of {}", Metric::NAMES.join(", ")));
                return None;
            };
            let cond = self.condition(obj, path, true)?;
            if cond.op == Op::Contains {
                self.err(&format!("{path}.op"), "unknown_op", "contains does not apply to metrics");
                return None;
            }
            return Some(Rule::Metric { metric, cond });
        }
        if obj.contains_key("event") {
            let name = text(self, "event")?;
            let within_days = match obj.get("within_days") {
                None | Some(Value::Null) => None,
                Some(v) => match v.as_u64().filter(|d| (1..=3650).contains(d)) {
                    Some(d) => Some(d as u32),
                    None => {
                        self.err(&format!("{path}.within_days"), "invalid_value", "must be a whole number of days from 1 to 3650");
                        return None;
                    }
                },
            };
            let count = match obj.get("count") {
                None => Condition { op: Op::Gte, value: Value::from(1) },
                Some(Value::Object(c)) => {
                    let cond = self.condition(c, &format!("{path}.count"), true)?;
                    if cond.value.as_i64().is_none_or(|n| n < 0)
                        || !matches!(cond.op, Op::Eq | Op::Ne | Op::Gt | Op::Gte | Op::Lt | Op::Lte)
                    {
                        self.err(
                            &format!("{path}.count"),
                            "invalid_value",
                            "must compare (eq, ne, gt, gte, lt, lte) with a whole number ≥ 0",
                        );
                        return None;
                    }
                    cond
                }
                Some(_) => {
                    self.err(&format!("{path}.count"), "invalid_type", "must be {\"op\", \"value\"}");
                    return None;
                }
            };
            let mut filters = Vec::new();
            if let Some(w) = obj.get("where") {
                let Some(items) = w.as_array() else {
                    self.err(&format!("{path}.where"), "invalid_type", "must be an array of {property, op, value}");
                    return None;
                };
                for (i, f) in items.iter().enumerate() {
                    let fp = format!("{path}.where[{i}]");
                    let Some(fo) = f.as_object() else {
                        self.err(&fp, "invalid_type", "must be an object");
                        return None;
                    };
                    let prop = match fo.get("property").and_then(Value::as_str) {
                        Some(p) if key_ok(p) => p.to_string(),
                        _ => {
                            self.err(&format!("{fp}.property"), "invalid_value", "must match [A-Za-z0-9_.]{1,64}");
                            return None;
                        }
                    };
                    filters.push((prop, self.condition(fo, &fp, false)?));
                }
            }
            return Some(Rule::Event { name, within_days, count, filters });
        }
        if let Some(c) = obj.get("channel") {
            return match c.as_str().and_then(|s| s.parse::<Channel>().ok()) {
                Some(ch) => Some(Rule::Channel(ch)),
                None => {
                    self.err(&format!("{path}.channel"), "invalid_value", "must be store, web, app, hotline, social, email or other");
                    None
                }
            };
        }
        if let Some(s) = obj.get("rfm_segment") {
            return match s.as_str().filter(|s| crate::rfm::SEGMENTS.contains(s)) {
                Some(s) => Some(Rule::RfmSegment(s.to_string())),
                None => {
                    self.err(
                        &format!("{path}.rfm_segment"),
                        "invalid_value",
                        format!("must be one of {}", crate::rfm::SEGMENTS.join(", ")),
                    );
                    None
                }
            };
        }
        if obj.contains_key("tier") {
            let tier = text(self, "tier")?;
            if let Some(tiers) = self.tiers.filter(|t| !t.contains(&tier)) {
                self.err(&format!("{path}.tier"), "invalid_value", format!("must be one of {}", tiers.join(", ")));
                return None;
            }
            return Some(Rule::Tier(tier));
        }
        if let Some(c) = obj.get("consent") {
            let purpose = match obj.get("purpose") {
                None => crate::consent::DEFAULT_PURPOSE.to_string(),
                Some(p) => match p.as_str().filter(|p| crate::consent::is_purpose(p)) {
                    Some(p) => p.to_string(),
                    None => {
                        self.err(
                            &format!("{path}.purpose"),
                            "invalid_value",
                            format!("must be one of {}", crate::consent::PURPOSES.join(", ")),
                        );
                        return None;
                    }
                },
            };
            return match c.as_str().filter(|c| crate::consent::is_consent_channel(c)) {
                Some(c) => Some(Rule::Consent { channel: c.to_string(), purpose }),
                None => {
                    self.err(
                        &format!("{path}.consent"),
                        "invalid_value",
                        format!("must be one of {}", crate::consent::CONSENT_CHANNELS.join(", ")),
                    );
                    None
                }
            };
        }
        self.err(path, "unknown_rule", "must be one of all, any, not, trait, metric, event, channel, rfm_segment, tier, consent");
        None
    }
}

/// Parses and validates a rule; errors name the JSON path under `rule`.
pub fn parse(v: &Value) -> Result<Rule, FieldErrors> {
    parse_with_tiers(v, None)
}

/// As [`parse`], and `tier` must name one of `tiers` when given.
pub fn parse_with_tiers(v: &Value, tiers: Option<&[String]>) -> Result<Rule, FieldErrors> {
    let mut p = Parser { errs: FieldErrors::default(), nodes: 0, tiers };
    let rule = p.rule(v, "rule", 0);
    match rule {
        Some(r) if p.errs.is_empty() => Ok(r),
        _ => {
            if p.errs.is_empty() {
                p.err("rule", "invalid", "is not a valid rule");
            }
            Err(p.errs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_documented_form_parses() {
        let r = parse(&json!({"all": [
            {"trait": "city", "op": "eq", "value": "Hà Nội"},
            {"metric": "revenue_total", "op": "gte", "value": 1000000},
            {"event": "Order Completed", "within_days": 90, "count": {"op": "gte", "value": 2},
             "where": [{"property": "products.category", "op": "contains", "value": "sua-bot"}]},
            {"any": [{"channel": "hotline"}, {"rfm_segment": "champions"}]},
            {"not": {"tier": "vang"}},
            {"consent": "zalo"},
            {"trait": "birthday", "op": "exists"},
            {"metric": "p_alive", "op": "in", "value": [0.5, 0.7]}
        ]}))
        .unwrap();
        let Rule::All(items) = r else { panic!() };
        assert_eq!(items.len(), 8);
        assert!(matches!(&items[2], Rule::Event { within_days: Some(90), filters, .. } if filters.len() == 1));
    }

    #[test]
    fn invalid_rules_name_the_path() {
        let path = |v: Value| parse(&v).unwrap_err().0[0].field.clone();
        assert_eq!(path(json!({"all": [{"trait": "city", "op": "like", "value": "x"}]})), "rule.all[0].op");
        assert_eq!(
            path(json!({"all": [{"channel": "web"}, {"metric": "revenue_total", "op": "gte", "value": "lots"}]})),
            "rule.all[1].value"
        );
        assert_eq!(path(json!({"any": [{"metric": "happiness", "op": "gt", "value": 1}]})), "rule.any[0].metric");
        assert_eq!(path(json!({"all": []})), "rule.all");
        assert_eq!(path(json!({"not": {"colour": "red"}})), "rule.not");
        assert_eq!(path(json!({"event": "x", "count": {"op": "gte", "value": -1}})), "rule.count");
        assert_eq!(path(json!({"consent": "fax"})), "rule.consent");
        assert_eq!(path(json!({"trait": "city", "op": "in", "value": "Huế"})), "rule.value");
        assert_eq!(path(json!([1])), "rule");
        let tiers = vec!["dong".to_string(), "vang".to_string()];
        assert_eq!(parse_with_tiers(&json!({"tier": "bach_kim"}), Some(&tiers)).unwrap_err().0[0].field, "rule.tier");
        assert!(parse_with_tiers(&json!({"tier": "vang"}), Some(&tiers)).is_ok());
        let mut deep = json!({"channel": "web"});
        for _ in 0..20 {
            deep = json!({"not": deep});
        }
        assert_eq!(parse(&deep).unwrap_err().0[0].code, "too_deep");
    }
}
