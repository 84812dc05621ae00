//! Orders and refunds from commerce events (Segment's e-commerce spec):
//! `Order Completed` with `order_id` and `revenue` (or `total`) makes an
//! order, once per order_id; `Order Refunded` with `order_id` (and `revenue`
//! for a partial refund) reverses it.

use crate::NewEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Decimal places of a currency's minor unit (ISO 4217); 2 when unknown.
pub fn minor_digits(currency: &str) -> u32 {
    match currency {
        "VND" | "JPY" | "KRW" | "CLP" | "ISK" | "IDR" | "PYG" | "UGX" | "XAF" | "XOF" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" | "IQD" | "LYD" => 3,
        _ => 2,
    }
}

/// An amount in major units (`29.33`, `"350000"`) as minor units.
pub fn to_minor(v: &Value, currency: &str) -> Option<i64> {
    let major = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    let minor = (major * 10f64.powi(minor_digits(currency) as i32)).round();
    (minor.is_finite() && minor.abs() < 9e15).then_some(minor as i64)
}

/// Minor units back to major units for the wire.
pub fn to_major(minor: i64, currency: &str) -> f64 {
    minor as f64 / 10f64.powi(minor_digits(currency) as i32)
}

/// A valid ISO 4217 code, uppercased.
pub fn currency_code(v: Option<&Value>, default: &str) -> String {
    match v.and_then(Value::as_str).map(|c| c.trim().to_ascii_uppercase()) {
        Some(c) if c.len() == 3 && c.chars().all(|c| c.is_ascii_uppercase()) => c,
        _ => default.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineItem {
    pub product_id: Option<String>,
    pub name: Option<String>,
    pub category: Option<String>,
    pub quantity: i64,
    /// Unit price, minor units.
    pub price: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OrderEvent {
    Completed {
        order_id: String,
        currency: String,
        /// Minor units.
        revenue: i64,
        /// Minor units, when the client sends it.
        margin: Option<i64>,
        products: Vec<LineItem>,
    },
    Refunded {
        order_id: String,
        currency: String,
        /// Minor units to refund; None refunds what remains.
        amount: Option<i64>,
    },
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl OrderEvent {
    /// The order an event makes or refunds, if it is a commerce event that
    /// names its order (and, for a completed order, its amount).
    pub fn from_event(e: &NewEvent, default_currency: &str) -> Option<OrderEvent> {
        let p = &e.properties;
        let order_id = text(p.get("order_id"))?;
        let currency = currency_code(p.get("currency"), default_currency);
        match e.name.as_deref()? {
            "Order Completed" => {
                let revenue = p.get("revenue").or_else(|| p.get("total")).and_then(|v| to_minor(v, &currency))?;
                let margin = p.get("margin").and_then(|v| to_minor(v, &currency));
                let products = p
                    .get("products")
                    .and_then(Value::as_array)
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(Value::as_object)
                            .map(|i| LineItem {
                                product_id: text(i.get("product_id")).or_else(|| text(i.get("sku"))),
                                name: text(i.get("name")),
                                category: text(i.get("category")),
                                quantity: i.get("quantity").and_then(Value::as_i64).unwrap_or(1),
                                price: i.get("price").and_then(|v| to_minor(v, &currency)),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Some(OrderEvent::Completed { order_id, currency, revenue: revenue.max(0), margin, products })
            }
            "Order Refunded" => {
                let amount = p.get("revenue").or_else(|| p.get("total")).and_then(|v| to_minor(v, &currency)).map(|a| a.abs());
                Some(OrderEvent::Refunded { order_id, currency, amount })
            }
            _ => None,
        }
    }
}

/// Whole days since the Unix epoch (UTC) of a time in µs: orders on the same
/// day are one purchase occasion.
pub fn day_of(micros: i64) -> i64 {
    micros.div_euclid(86_400_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{parse_time, EventDefaults};
    use crate::identity::NormalizeOptions;
    use crate::{Channel, RawEvent};
    use serde_json::json;

    fn event(v: Value) -> NewEvent {
        let raw: RawEvent = serde_json::from_value(v).unwrap();
        let d = EventDefaults {
            channel: Some(Channel::Store),
            now: parse_time("2026-11-20T00:00:00Z").unwrap(),
            normalize: NormalizeOptions::default(),
        };
        NewEvent::parse(raw, &d).unwrap()
    }

    #[test]
    fn orders_in_minor_units() {
        let e = event(json!({"event": "Order Completed", "identities": {"user_id": "u"},
            "properties": {"order_id": "Q1-1", "revenue": 350000, "margin": "70000",
                           "products": [{"product_id": "SUA-180", "category": "sua-tuoi", "price": 7000, "quantity": 50}]}}));
        let o = OrderEvent::from_event(&e, "VND").unwrap();
        assert_eq!(
            o,
            OrderEvent::Completed {
                order_id: "Q1-1".into(),
                currency: "VND".into(),
                revenue: 350000,
                margin: Some(70000),
                products: vec![LineItem {
                    product_id: Some("SUA-180".into()),
                    name: None,
                    category: Some("sua-tuoi".into()),
                    quantity: 50,
                    price: Some(7000)
                }]
            }
        );
        let e = event(
            json!({"event": "Order Completed", "identities": {"user_id": "u"}, "properties": {"order_id": 7, "total": 29.33, "currency": "usd"}}),
        );
        assert!(
            matches!(OrderEvent::from_event(&e, "VND"), Some(OrderEvent::Completed { revenue: 2933, ref currency, .. }) if currency == "USD")
        );
        let e = event(json!({"event": "Order Refunded", "identities": {"user_id": "u"}, "properties": {"order_id": "Q1-1"}}));
        assert_eq!(
            OrderEvent::from_event(&e, "VND"),
            Some(OrderEvent::Refunded { order_id: "Q1-1".into(), currency: "VND".into(), amount: None })
        );
        let e = event(json!({"event": "Order Completed", "identities": {"user_id": "u"}, "properties": {"revenue": 1}}));
        assert_eq!(OrderEvent::from_event(&e, "VND"), None, "no order_id, no order");
        assert_eq!(to_major(2933, "USD"), 29.33);
        assert_eq!(day_of(-1), -1);
    }
}
