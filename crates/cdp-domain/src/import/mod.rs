//! CSV imports from a POS: the columns of a customers or orders file, cells
//! read as POS exports write them (Vietnamese phone spellings, `DD/MM/YYYY`,
//! `1.250.000` or `1,250,000`), and the event each customer row or each
//! order's lines make. The events then go through ordinary ingestion.

use crate::error::{FieldError, FieldErrors};
use crate::event::{EventDefaults, NewEvent, RawEvent};
use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{json, Map, Number, Value};
use sha2::{Digest, Sha256};

mod cells;
pub use cells::{parse_amount, parse_date, parse_timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Customers,
    Orders,
}

impl ImportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Customers => "customers",
            ImportKind::Orders => "orders",
        }
    }
    pub fn parse(s: &str) -> Option<ImportKind> {
        match s {
            "customers" => Some(ImportKind::Customers),
            "orders" => Some(ImportKind::Orders),
            _ => None,
        }
    }
}

/// Identity columns, in priority order, with the identity type each becomes.
const IDENTITY_COLUMNS: [(&str, &str); 6] = [
    ("customer_id", "user_id"),
    ("phone", "phone"),
    ("email", "email"),
    ("loyalty_card", "loyalty_card"),
    ("facebook_id", "facebook_id"),
    ("zalo_id", "zalo_id"),
];

const CUSTOMER_COLUMNS: [&str; 7] = ["first_name", "last_name", "birthday", "gender", "city", "created_at", "channel"];
const ORDER_COLUMNS: [&str; 12] = [
    "order_id",
    "ordered_at",
    "channel",
    "store_id",
    "revenue",
    "currency",
    "product_id",
    "product_name",
    "category",
    "price",
    "quantity",
    "margin",
];

/// A file's header: the index of each known column, and the other columns.
#[derive(Debug, Clone)]
pub struct Header {
    pub kind: ImportKind,
    names: Vec<String>,
}

impl Header {
    /// Reads the header row; names are trimmed and lower-cased. A file must
    /// name at least one identity column, and an orders file `order_id` and
    /// `ordered_at`.
    pub fn parse(kind: ImportKind, cells: &[&str]) -> Result<Header, FieldErrors> {
        let names: Vec<String> = cells.iter().map(|c| c.trim().trim_start_matches('\u{feff}').trim().to_lowercase()).collect();
        let mut errs = FieldErrors::default();
        let has = |n: &str| names.iter().any(|c| c == n);
        if !IDENTITY_COLUMNS.iter().any(|(c, _)| has(c)) {
            errs.push(FieldError::new("header", "missing_column", "needs an identity column: customer_id, phone, email or loyalty_card"));
        }
        if kind == ImportKind::Orders {
            for c in ["order_id", "ordered_at"] {
                if !has(c) {
                    errs.push(FieldError::new("header", "missing_column", format!("needs the column `{c}`")));
                }
            }
        }
        for (i, n) in names.iter().enumerate() {
            if n.is_empty() {
                errs.push(FieldError::new("header", "invalid", format!("column {} has no name", i + 1)));
            } else if names[..i].contains(n) {
                errs.push(FieldError::new("header", "duplicate_column", format!("the column `{n}` appears twice")));
            }
        }
        errs.into_result(Header { kind, names })
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    fn known(&self, name: &str) -> bool {
        IDENTITY_COLUMNS.iter().any(|(c, _)| *c == name)
            || match self.kind {
                ImportKind::Customers => CUSTOMER_COLUMNS.contains(&name),
                ImportKind::Orders => ORDER_COLUMNS.contains(&name),
            }
    }
}

/// One problem with one row: the row (its line in the file, the header
/// being line 1), the column and a stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub row: u64,
    pub field: String,
    pub code: String,
    pub message: String,
}

/// How cells are read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Times written without an offset are in this one (Vietnam: +07:00).
    pub utc_offset: FixedOffset,
}

/// A row's cells by column name (empty cells are absent).
pub struct Row<'a> {
    header: &'a Header,
    cells: &'a [&'a str],
    pub line: u64,
}

impl<'a> Row<'a> {
    /// A data row; more cells than the header has is an error.
    pub fn new(header: &'a Header, cells: &'a [&'a str], line: u64) -> Result<Row<'a>, RowError> {
        if cells.len() > header.len() {
            return Err(RowError {
                row: line,
                field: "row".into(),
                code: "too_many_cells".into(),
                message: format!("has {} cells; the header names {}", cells.len(), header.len()),
            });
        }
        Ok(Row { header, cells, line })
    }

    pub fn get(&self, name: &str) -> Option<&'a str> {
        let i = self.header.names.iter().position(|c| c == name)?;
        self.cells.get(i).map(|c| c.trim()).filter(|c| !c.is_empty())
    }

    fn others(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        self.header
            .names
            .iter()
            .zip(self.cells.iter())
            .filter(|(n, c)| !self.header.known(n) && !c.trim().is_empty())
            .map(|(n, c)| (n.as_str(), c.trim()))
    }

    fn err(&self, field: &str, code: &str, message: impl Into<String>) -> RowError {
        RowError { row: self.line, field: field.into(), code: code.into(), message: message.into() }
    }

    fn identities(&self) -> Map<String, Value> {
        IDENTITY_COLUMNS.iter().filter_map(|(col, kind)| self.get(col).map(|v| ((*kind).to_string(), json!(v)))).collect()
    }

    /// A stable digest of the row's cells, for ids derived from the row.
    fn digest(&self) -> String {
        let mut h = Sha256::new();
        for c in self.cells {
            h.update(c.trim().as_bytes());
            h.update([0x1f]);
        }
        h.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect()
    }
}

/// A customer row's dedupe key: its digest, after the start of its
/// customer_id where it has one. POS exports list customers in the order of
/// their ids, so the keys of a file arrive in key order and each one extends
/// the dedupe index where the last ended: a digest alone lands anywhere in
/// it, and every commit rewrote pages all over the index.
fn customer_message_id(row: &Row) -> String {
    match row.get("customer_id") {
        Some(id) => format!("import:customer:{}:{}", id.chars().take(40).collect::<String>(), row.digest()),
        None => format!("import:customer:{}", row.digest()),
    }
}

/// Where a field of the event came from in the file.
fn column_of(path: &str, time_column: &str) -> String {
    let path = path.split('[').next().unwrap_or(path);
    if let Some(kind) = path.strip_prefix("identities.") {
        return IDENTITY_COLUMNS.iter().find(|(_, k)| *k == kind).map_or(kind, |(c, _)| c).to_string();
    }
    if path == "occurred_at" {
        return time_column.to_string();
    }
    path.rsplit('.').next().unwrap_or(path).to_string()
}

/// The checked event, or the row's errors named by column.
fn event(raw: RawEvent, defaults: &EventDefaults, line: u64, time_column: &str) -> Result<NewEvent, Vec<RowError>> {
    NewEvent::parse(raw, defaults).map_err(|errs| {
        errs.0
            .into_iter()
            .map(|e| RowError { row: line, field: column_of(&e.field, time_column), code: e.code.into(), message: e.message })
            .collect()
    })
}

/// A customer row as an `identify` event. Its message id is derived from the
/// row's cells: the same row again is a duplicate, a changed row an update.
pub fn customer_event(row: &Row<'_>, opts: &ReadOptions, defaults: &EventDefaults) -> Result<NewEvent, Vec<RowError>> {
    let mut errs = Vec::new();
    let identities = row.identities();
    if identities.is_empty() {
        errs.push(row.err("customer_id", "required", "a row needs customer_id, phone, email or loyalty_card"));
    }
    let mut traits = Map::new();
    for c in ["first_name", "last_name", "gender", "city"] {
        if let Some(v) = row.get(c) {
            traits.insert(c.into(), json!(v));
        }
    }
    if let Some(b) = row.get("birthday") {
        match parse_date(b) {
            Some(d) => {
                traits.insert("birthday".into(), json!(d.format("%Y-%m-%d").to_string()));
            }
            None => errs.push(row.err("birthday", "invalid_date", "must be YYYY-MM-DD or DD/MM/YYYY")),
        }
    }
    for (name, v) in row.others() {
        traits.insert(name.into(), json!(v));
    }
    let occurred_at = match row.get("created_at").map(|t| (t, parse_timestamp(t, opts.utc_offset))) {
        None => Value::Null,
        Some((_, Some(t))) => json!(t.to_rfc3339()),
        Some((_, None)) => {
            errs.push(row.err("created_at", "invalid_date", "must be a date (YYYY-MM-DD or DD/MM/YYYY) with an optional HH:MM[:SS]"));
            Value::Null
        }
    };
    if !errs.is_empty() {
        return Err(errs);
    }
    let raw = RawEvent {
        message_id: json!(customer_message_id(row)),
        kind: json!("identify"),
        channel: row.get("channel").map_or(json!("store"), |c| json!(c)),
        occurred_at,
        identities: Value::Object(identities),
        traits: Value::Object(traits),
        ..RawEvent::default()
    };
    event(raw, defaults, row.line, "created_at")
}

/// An order's lines as they are read, made into one `Order Completed` event
/// when the next order starts. Lines of one order are consecutive, as POS
/// exports write them.
#[derive(Debug, Default)]
pub struct OrderLines {
    order_id: Option<String>,
    first_line: u64,
    identities: Map<String, Value>,
    ordered_at: Option<DateTime<Utc>>,
    channel: Option<String>,
    store_id: Option<String>,
    currency: Option<String>,
    revenue: Option<Number>,
    margin: Option<Number>,
    products: Vec<Value>,
    extra: Map<String, Value>,
    errors: Vec<RowError>,
    lines: u64,
}

impl OrderLines {
    /// The order the lines so far belong to.
    pub fn order_id(&self) -> Option<&str> {
        self.order_id.as_deref()
    }

    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// The order id a row names (None when missing).
    pub fn order_id_of<'r>(row: &Row<'r>) -> Option<&'r str> {
        row.get("order_id")
    }

    /// Adds a line (of this order, or the first of a new one).
    pub fn push(&mut self, row: &Row<'_>, opts: &ReadOptions) {
        self.lines += 1;
        if self.lines == 1 {
            self.first_line = row.line;
            self.order_id = row.get("order_id").map(str::to_string);
            self.identities = row.identities();
            if self.order_id.is_none() {
                self.errors.push(row.err("order_id", "required", "is required"));
            }
            if self.identities.is_empty() {
                self.errors.push(row.err("customer_id", "required", "a line needs customer_id, phone, email or loyalty_card"));
            }
            match row.get("ordered_at") {
                None => self.errors.push(row.err("ordered_at", "required", "is required")),
                Some(t) => match parse_timestamp(t, opts.utc_offset) {
                    Some(t) => self.ordered_at = Some(t),
                    None => self.errors.push(row.err(
                        "ordered_at",
                        "invalid_date",
                        "must be a date (YYYY-MM-DD or DD/MM/YYYY) with an optional HH:MM[:SS]",
                    )),
                },
            }
            self.channel = row.get("channel").map(str::to_string);
            self.store_id = row.get("store_id").map(str::to_string);
            self.currency = row.get("currency").map(|c| c.to_ascii_uppercase());
            for (name, v) in row.others() {
                self.extra.insert(name.into(), json!(v));
            }
        }
        let mut amount = |col: &str| match row.get(col) {
            None => None,
            Some(v) => match parse_amount(v) {
                Some(n) => Some(n),
                None => {
                    self.errors.push(row.err(
                        col,
                        "invalid_amount",
                        format!("`{v}` is not an amount such as 350000, 350.000 or 1,250,000.50"),
                    ));
                    None
                }
            },
        };
        let revenue = amount("revenue");
        let margin = amount("margin");
        let price = amount("price");
        if self.revenue.is_none() {
            self.revenue = revenue;
        }
        if self.margin.is_none() {
            self.margin = margin;
        }
        let quantity = match row.get("quantity") {
            None => 1,
            Some(q) => match q.parse::<i64>() {
                Ok(q) if (1..=1_000_000).contains(&q) => q,
                _ => {
                    self.errors.push(row.err("quantity", "invalid_number", format!("`{q}` is not a whole number from 1 to 1000000")));
                    1
                }
            },
        };
        let mut product = Map::new();
        for (col, key) in [("product_id", "product_id"), ("product_name", "name"), ("category", "category")] {
            if let Some(v) = row.get(col) {
                product.insert(key.into(), json!(v));
            }
        }
        if !product.is_empty() || price.is_some() {
            if let Some(p) = price {
                product.insert("price".into(), Value::Number(p));
            }
            product.insert("quantity".into(), json!(quantity));
            self.products.push(Value::Object(product));
        }
    }

    /// Refuses the order for a fault of one of its lines found outside its cells.
    pub fn refuse(&mut self, e: RowError) {
        self.errors.push(e);
    }

    /// The order as an event (with the file line of its first row), or its lines' errors;
    /// the builder is empty afterwards. Without a `revenue` on any line the
    /// order's total is the sum of price × quantity.
    pub fn finish(&mut self, defaults: &EventDefaults) -> (u64, Result<NewEvent, Vec<RowError>>) {
        let first_line = self.first_line;
        let o = std::mem::take(self);
        let mut errors = o.errors;
        let revenue = o.revenue.map(Value::Number).or_else(|| {
            let priced: Option<Vec<f64>> = o
                .products
                .iter()
                .map(|p| Some(p.get("price")?.as_f64()? * p.get("quantity").and_then(Value::as_f64).unwrap_or(1.0)))
                .collect();
            priced.filter(|v| !v.is_empty()).map(|v| json!(v.iter().sum::<f64>()))
        });
        if revenue.is_none() && errors.is_empty() {
            errors.push(RowError {
                row: o.first_line,
                field: "revenue".into(),
                code: "required".into(),
                message: "an order needs a revenue, or a price on its lines".into(),
            });
        }
        if !errors.is_empty() {
            return (first_line, Err(errors));
        }
        let order_id = o.order_id.unwrap_or_default();
        let mut properties = o.extra;
        properties.insert("order_id".into(), json!(order_id));
        properties.insert("revenue".into(), revenue.unwrap_or(Value::Null));
        properties.insert("currency".into(), json!(o.currency.clone().unwrap_or_default()));
        if let Some(m) = o.margin {
            properties.insert("margin".into(), Value::Number(m));
        }
        if !o.products.is_empty() {
            properties.insert("products".into(), Value::Array(o.products));
        }
        if o.currency.is_none() {
            properties.remove("currency");
        }
        let mut context = Map::new();
        if let Some(s) = o.store_id {
            context.insert("store_id".into(), json!(s));
        }
        let message_id = if order_id.len() <= 80 {
            format!("import:order:{order_id}")
        } else {
            let h = Sha256::digest(order_id.as_bytes());
            format!("import:order:#{}", h.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>())
        };
        let raw = RawEvent {
            message_id: json!(message_id),
            kind: json!("track"),
            event: json!("Order Completed"),
            channel: json!(o.channel.unwrap_or_else(|| "store".into())),
            occurred_at: json!(o.ordered_at.map(|t| t.to_rfc3339())),
            identities: Value::Object(o.identities),
            properties: Value::Object(properties),
            context: Value::Object(context),
            ..RawEvent::default()
        };
        (first_line, event(raw, defaults, o.first_line, "ordered_at"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::NormalizeOptions;

    fn defaults() -> EventDefaults {
        EventDefaults { channel: None, now: Utc::now(), normalize: NormalizeOptions::default() }
    }

    fn opts() -> ReadOptions {
        ReadOptions { utc_offset: FixedOffset::east_opt(7 * 3600).unwrap() }
    }

    #[test]
    fn a_customer_row_becomes_an_identify_event_named_by_its_cells() {
        let h = Header::parse(ImportKind::Customers, &["customer_id", "phone", "birthday", "tier_pos"]).unwrap();
        let cells = ["C1", "0912 345 678", "01/05/1990", "gold"];
        let row = Row::new(&h, &cells, 2).unwrap();
        let e = customer_event(&row, &opts(), &defaults()).unwrap();
        assert_eq!(e.identities.iter().map(|i| i.value.as_str()).collect::<Vec<_>>(), ["C1", "+84912345678"]);
        assert_eq!(e.traits["birthday"], "1990-05-01");
        assert_eq!(e.traits["tier_pos"], "gold");
        let again = customer_event(&row, &opts(), &defaults()).unwrap();
        assert_eq!(e.message_id, again.message_id);
        // Keyed by customer_id first, so a file sorted by it arrives in key order.
        let next = customer_event(&Row::new(&h, &["C2", "0912 345 679", "", ""], 3).unwrap(), &opts(), &defaults()).unwrap();
        assert!(e.message_id.as_deref().unwrap().starts_with("import:customer:C1:"));
        assert!(e.message_id < next.message_id);
        let long = "K".repeat(crate::event::MAX_MESSAGE_ID_LEN);
        let e = customer_event(&Row::new(&h, &[long.as_str(), "", "", ""], 4).unwrap(), &opts(), &defaults()).unwrap();
        assert!(e.message_id.unwrap().len() <= crate::event::MAX_MESSAGE_ID_LEN);
        let e = customer_event(&Row::new(&h, &["", "0912 345 678", "", ""], 5).unwrap(), &opts(), &defaults()).unwrap();
        assert!(e.message_id.unwrap().starts_with("import:customer:"));
        let cells = ["C1", "12345", "1990-13-01", ""];
        let errs = customer_event(&Row::new(&h, &cells, 7).unwrap(), &opts(), &defaults()).unwrap_err();
        assert_eq!(errs.iter().map(|e| (e.row, e.field.as_str(), e.code.as_str())).collect::<Vec<_>>(), [(7, "birthday", "invalid_date")]);
        let cells = ["C1", "12345", "", ""];
        let errs = customer_event(&Row::new(&h, &cells, 8).unwrap(), &opts(), &defaults()).unwrap_err();
        assert_eq!(errs[0].field, "phone");
    }

    #[test]
    fn an_orders_lines_make_one_order_and_a_bad_line_rejects_it() {
        let h =
            Header::parse(ImportKind::Orders, &["order_id", "phone", "ordered_at", "revenue", "product_id", "price", "quantity"]).unwrap();
        let mut o = OrderLines::default();
        for (i, cells) in
            [["A1", "0912345678", "20/11/2026 10:00", "1.250.000", "SUA", "7.000", "50"], ["A1", "", "", "", "BO", "900.000", "1"]]
                .iter()
                .enumerate()
        {
            o.push(&Row::new(&h, cells, i as u64 + 2).unwrap(), &opts());
        }
        let (line, e) = o.finish(&defaults());
        let e = e.unwrap();
        assert_eq!(line, 2);
        assert_eq!(e.properties["revenue"], 1250000);
        assert_eq!(e.properties["products"].as_array().unwrap().len(), 2);
        assert_eq!(e.message_id.as_deref(), Some("import:order:A1"));
        assert!(o.is_empty());
        for cells in [["A2", "0912345678", "2026-11-20", "", "SUA", "7000", "2"], ["A2", "", "", "", "BO", "9k", "1"]] {
            o.push(&Row::new(&h, &cells, 9).unwrap(), &opts());
        }
        let errs = o.finish(&defaults()).1.unwrap_err();
        assert_eq!((errs[0].field.as_str(), errs[0].code.as_str()), ("price", "invalid_amount"));
        let missing = Header::parse(ImportKind::Orders, &["phone"]).unwrap_err();
        assert_eq!(missing.0.len(), 2, "order_id and ordered_at");
    }
}
