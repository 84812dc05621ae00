//! Orders and purchase occasions, kept at ingest so analytics never scan
//! events: one row per order (once per order_id), one per profile and day.

use crate::error::StoreResult;
use crate::in_list::in_list;
use crate::schema::{orders, purchase_days};
use crate::AnyConnection;
use cdp_domain::commerce::{day_of, OrderEvent};
use diesel::prelude::*;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = orders, treat_none_as_default_value = false)]
pub struct OrderRow {
    pub order_id: String,
    pub profile_id: String,
    pub event_id: String,
    pub channel: String,
    pub currency: String,
    pub revenue: i64,
    pub refunded: i64,
    pub margin: Option<i64>,
    pub day: i64,
    pub occurred_at: i64,
    pub products: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What an order event changes in a profile's aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delta {
    pub orders: i64,
    pub revenue: i64,
    pub margin: i64,
    /// The order's time, for first/last order (new orders only).
    pub at: Option<i64>,
}

/// The orders a batch touches, and its changes to purchase days.
#[derive(Default)]
pub struct OrderBook {
    orders: HashMap<String, (OrderRow, bool, bool)>,
    days: HashMap<(String, i64), (i64, i64)>,
    /// What the loyalty ledger must do once the orders are written, in order.
    pub loyalty: Vec<crate::repo::loyalty::LoyaltyOp>,
}

/// Where an order event happens: its event, profile, channel and time.
pub struct At<'a> {
    pub profile: &'a str,
    pub event_id: &'a str,
    pub channel: &'a str,
    pub occurred_at: i64,
    pub now: i64,
}

impl OrderBook {
    /// A book of the existing orders a batch touches (read by the batch's lookups).
    pub fn from_rows(rows: Vec<OrderRow>) -> OrderBook {
        let mut book = OrderBook::default();
        for o in rows {
            book.orders.insert(o.order_id.clone(), (o, false, false));
        }
        book
    }

    /// The profiles owning loaded orders (a refund changes its order's owner).
    pub fn owners(&self) -> Vec<String> {
        self.orders.values().map(|(o, _, _)| o.profile_id.clone()).collect()
    }

    /// Orders this batch refunded in full.
    pub fn fully_refunded(&self) -> Vec<String> {
        use crate::repo::loyalty::LoyaltyOp;
        self.loyalty
            .iter()
            .filter_map(|op| match op {
                LoyaltyOp::Reverse { order_id, refunded_after, .. } => {
                    self.orders.get(order_id).filter(|(o, _, _)| *refunded_after >= o.revenue).map(|_| order_id.clone())
                }
                LoyaltyOp::Earn { .. } => None,
            })
            .collect()
    }

    /// After `flush`: the orders the ledger operations name, as stored (the
    /// book holds each of them with its owner's live id).
    pub fn ledger_facts(&self) -> crate::repo::loyalty::OrderFacts {
        use crate::repo::loyalty::LoyaltyOp;
        self.loyalty
            .iter()
            .filter_map(|op| {
                let (LoyaltyOp::Earn { order_id } | LoyaltyOp::Reverse { order_id, .. }) = op;
                let (o, _, _) = self.orders.get(order_id)?;
                Some((order_id.clone(), (o.profile_id.clone(), o.currency.clone(), o.revenue, o.occurred_at)))
            })
            .collect()
    }

    /// The batch's order facts for the outbox, in order (after `take_new`,
    /// which points each order at its owner's live profile): amounts in major
    /// units of the order's currency.
    pub fn facts(&self) -> Vec<cdp_app::store::Fact> {
        use crate::repo::loyalty::LoyaltyOp;
        use cdp_domain::commerce::to_major;
        self.loyalty
            .iter()
            .filter_map(|op| {
                let (LoyaltyOp::Earn { order_id } | LoyaltyOp::Reverse { order_id, .. }) = op;
                let (o, _, _) = self.orders.get(order_id)?;
                let money = |v: i64| to_major(v, &o.currency);
                let (kind, data) = match op {
                    LoyaltyOp::Earn { .. } => {
                        let products: serde_json::Value = serde_json::from_str(&o.products).unwrap_or_default();
                        (
                            "order.completed",
                            serde_json::json!({"order_id": o.order_id, "currency": o.currency,
                            "revenue": money(o.revenue), "channel": o.channel, "products": products,
                            "occurred_at": cdp_app::store::from_micros(o.occurred_at).to_rfc3339()}),
                        )
                    }
                    LoyaltyOp::Reverse { refunded_before, refunded_after, .. } => (
                        "order.refunded",
                        serde_json::json!({
                        "order_id": o.order_id, "currency": o.currency, "amount": money(refunded_after - refunded_before),
                        "refunded_total": money(*refunded_after), "revenue": money(o.revenue)}),
                    ),
                };
                Some(cdp_app::store::Fact { kind, profile_id: o.profile_id.clone(), data: data.to_string(), occurred_at: o.updated_at })
            })
            .collect()
    }

    /// Applies an order event; returns the profile whose aggregates change and
    /// how (only orders in the default currency count in aggregates).
    /// An order that does not `earn` is stored and counted, without points or a fact.
    pub fn apply(
        &mut self,
        ev: &OrderEvent,
        at: &At,
        earn: bool,
        currency: &str,
        live: impl Fn(&str) -> String,
    ) -> Option<(String, Delta)> {
        match ev {
            OrderEvent::Completed { order_id, currency: cur, revenue, margin, products } => {
                if self.orders.contains_key(order_id) {
                    return None; // once per order_id
                }
                let day = day_of(at.occurred_at);
                let row = OrderRow {
                    order_id: order_id.clone(),
                    profile_id: at.profile.to_string(),
                    event_id: at.event_id.to_string(),
                    channel: at.channel.to_string(),
                    currency: cur.clone(),
                    revenue: *revenue,
                    refunded: 0,
                    margin: *margin,
                    day,
                    occurred_at: at.occurred_at,
                    products: serde_json::to_string(products).unwrap_or_else(|_| "[]".into()),
                    created_at: at.now,
                    updated_at: at.now,
                };
                self.orders.insert(order_id.clone(), (row, true, true));
                if earn {
                    self.loyalty.push(crate::repo::loyalty::LoyaltyOp::Earn { order_id: order_id.clone() });
                }
                if cur != currency {
                    return None;
                }
                let d = self.days.entry((at.profile.to_string(), day)).or_default();
                d.0 += 1;
                d.1 += revenue;
                Some((
                    at.profile.to_string(),
                    Delta { orders: 1, revenue: *revenue, margin: margin.unwrap_or(0), at: Some(at.occurred_at) },
                ))
            }
            OrderEvent::Refunded { order_id, amount, .. } => {
                let (o, _, dirty) = self.orders.get_mut(order_id)?;
                let remaining = o.revenue - o.refunded;
                let amt = amount.unwrap_or(remaining).min(remaining);
                if amt <= 0 {
                    return None;
                }
                self.loyalty.push(crate::repo::loyalty::LoyaltyOp::Reverse {
                    order_id: order_id.clone(),
                    refunded_before: o.refunded,
                    refunded_after: o.refunded + amt,
                });
                o.refunded += amt;
                o.updated_at = at.now;
                *dirty = true;
                if o.currency != currency {
                    return None;
                }
                let owner = live(&o.profile_id);
                let closed = i64::from(o.refunded == o.revenue);
                let margin = match (o.margin, o.revenue) {
                    (Some(m), r) if r > 0 => (m as i128 * amt as i128 / r as i128) as i64,
                    _ => 0,
                };
                let d = self.days.entry((owner.clone(), o.day)).or_default();
                d.0 -= closed;
                d.1 -= amt;
                Some((owner, Delta { orders: -closed, revenue: -amt, margin: -margin, at: None }))
            }
        }
    }

    /// Writes orders and purchase days; `live` maps profile ids through the
    /// batch's merges.
    /// Points every order at its owner's live profile and hands over the
    /// orders this batch placed, to be inserted with the batch's other new rows
    /// (before `flush`).
    pub fn take_new(&mut self, live: impl Fn(&str) -> String) -> Vec<OrderRow> {
        let mut created = Vec::new();
        for (o, new, dirty) in self.orders.values_mut() {
            o.profile_id = live(&o.profile_id);
            if std::mem::take(new) {
                *dirty = false;
                created.push(o.clone());
            }
        }
        created.sort_by(|x, y| x.order_id.cmp(&y.order_id));
        created
    }

    /// Writes refunds to existing orders and the purchase days (and their
    /// summaries); the new orders went in with `take_new`.
    pub fn flush(&mut self, conn: &mut AnyConnection, live: impl Fn(&str) -> String) -> StoreResult<()> {
        for (o, _, dirty) in self.orders.values() {
            if *dirty {
                crate::per_backend!(&mut *conn, |c| diesel::update(orders::table.find(&o.order_id))
                    .set((orders::refunded.eq(o.refunded), orders::updated_at.eq(o.updated_at)))
                    .execute(c))?;
            }
        }
        let mut days: HashMap<(String, i64), (i64, i64)> = HashMap::new();
        for ((p, day), (n, r)) in self.days.drain() {
            let e = days.entry((live(&p), day)).or_default();
            e.0 += n;
            e.1 += r;
        }
        let mut rows: Vec<_> = days.into_iter().filter(|(_, d)| *d != (0, 0)).collect();
        rows.sort();
        add_days(conn, &rows)?;
        let mut touched: Vec<&str> = rows.iter().map(|((p, _), _)| p.as_str()).collect();
        touched.dedup();
        // Only a refund (a day's orders going down or staying) can leave a day
        // with no order; no batch leaves one behind, so none else is looked for.
        let refunds = rows.iter().any(|(_, (n, _))| *n <= 0);
        if refunds {
            diesel::delete(purchase_days::table.filter(in_list(purchase_days::profile_id, &touched)).filter(purchase_days::orders.le(0)))
                .execute(conn)?;
        }
        crate::repo::value::summarise(conn, &touched, refunds)
    }
}

/// What an order adds to a purchase day: ((profile, day), (orders, revenue)).
pub(crate) type DayDelta = ((String, i64), (i64, i64));

/// Adds to purchase days ((profile, day) unique in `rows`), creating them if
/// needed: on PostgreSQL one upsert over arrays (one cached statement for
/// any number of rows; distinct (profile, day) pairs, as ON CONFLICT DO
/// UPDATE requires); on SQLite the same upsert a row at a time, prepared once
/// per connection (diesel re-prepares its upserts and UPDATEs every time).
pub(crate) fn add_days(conn: &mut AnyConnection, rows: &[DayDelta]) -> StoreResult<()> {
    match conn {
        AnyConnection::Postgresql(c) if !rows.is_empty() => {
            use diesel::sql_types::{Array, BigInt, Text};
            crate::cached!(
                "INSERT INTO purchase_days (profile_id, day, orders, revenue) SELECT * FROM unnest($1, $2, $3, $4) \
                 ON CONFLICT (profile_id, day) DO UPDATE SET orders = purchase_days.orders + excluded.orders, \
                 revenue = purchase_days.revenue + excluded.revenue",
            )
            .bind::<Array<Text>, _>(rows.iter().map(|((p, _), _)| p.as_str()).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(rows.iter().map(|((_, day), _)| *day).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(rows.iter().map(|(_, (n, _))| *n).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(rows.iter().map(|(_, (_, r))| *r).collect::<Vec<_>>())
            .execute(c)?;
        }
        AnyConnection::Postgresql(_) => {}
        AnyConnection::Sqlite(c) => {
            use diesel::sql_types::{BigInt, Text};
            for ((p, day), (n, r)) in rows {
                crate::cached!(
                    "INSERT INTO purchase_days (profile_id, day, orders, revenue) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (profile_id, day) DO UPDATE SET orders = orders + excluded.orders, \
                     revenue = revenue + excluded.revenue",
                )
                .bind::<Text, _>(p.as_str())
                .bind::<BigInt, _>(*day)
                .bind::<BigInt, _>(*n)
                .bind::<BigInt, _>(*r)
                .execute(c)?;
            }
        }
    }
    Ok(())
}

/// Moves a merged-away profile's orders and purchase days to its survivor.
pub fn move_profile(conn: &mut AnyConnection, merged: &str, into: &str) -> StoreResult<()> {
    crate::repo::move_rows!(&mut *conn, orders, merged, into)?;
    let days: Vec<(i64, i64, i64)> = purchase_days::table
        .filter(purchase_days::profile_id.eq(merged))
        .select((purchase_days::day, purchase_days::orders, purchase_days::revenue))
        .load(conn)?;
    let rows: Vec<((String, i64), (i64, i64))> = days.into_iter().map(|(day, n, r)| ((into.to_string(), day), (n, r))).collect();
    add_days(conn, &rows)?;
    diesel::delete(purchase_days::table.filter(purchase_days::profile_id.eq(merged))).execute(conn)?;
    crate::repo::value::summarise(conn, &[into, merged], true)
}
