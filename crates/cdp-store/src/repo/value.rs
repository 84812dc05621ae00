//! What analytics read: purchase histories (from purchase days, never from
//! events), fitted models and per-profile scores.

use crate::error::StoreResult;
use crate::schema::{clv_models, profile_rfm, profile_scores, purchase_days};
use crate::AnyConnection;
use diesel::prelude::*;

/// A profile's purchase occasions up to a day: (day, net revenue in minor units).
pub struct History {
    pub profile_id: String,
    pub days: Vec<(i64, i64)>,
}

/// Streams every profile's purchase days up to `as_of_day` in pages, so memory
/// stays bounded by one page whatever the number of customers.
pub fn for_each_history(conn: &mut AnyConnection, as_of_day: i64, mut f: impl FnMut(History)) -> StoreResult<()> {
    const PAGE: i64 = 50_000;
    let mut after: Option<(String, i64)> = None;
    let mut current: Option<History> = None;
    loop {
        let mut q = purchase_days::table.filter(purchase_days::day.le(as_of_day)).filter(purchase_days::orders.gt(0)).into_boxed();
        if let Some((p, d)) = &after {
            // A row-value comparison: both backends start the index range
            // there (an OR of the two cases made PostgreSQL read every page
            // from the start again).
            q = q.filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>("(purchase_days.profile_id, purchase_days.day) > (")
                    .bind::<diesel::sql_types::Text, _>(p.clone())
                    .sql(", ")
                    .bind::<diesel::sql_types::BigInt, _>(*d)
                    .sql(")"),
            );
        }
        let rows: Vec<(String, i64, i64)> = q
            .order((purchase_days::profile_id.asc(), purchase_days::day.asc()))
            .limit(PAGE)
            .select((purchase_days::profile_id, purchase_days::day, purchase_days::revenue))
            .load(conn)?;
        let done = (rows.len() as i64) < PAGE;
        if let Some((p, d, _)) = rows.last() {
            after = Some((p.clone(), *d));
        }
        for (p, day, revenue) in rows {
            match &mut current {
                Some(h) if h.profile_id == p => h.days.push((day, revenue)),
                _ => {
                    if let Some(h) = current.take() {
                        f(h);
                    }
                    current = Some(History { profile_id: p, days: vec![(day, revenue)] });
                }
            }
        }
        if done {
            break;
        }
    }
    if let Some(h) = current {
        f(h);
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = profile_scores)]
pub struct ScoreRow {
    pub profile_id: String,
    pub model_id: String,
    pub p_alive: f64,
    pub expected_purchases: f64,
    pub expected_order_value: f64,
    pub clv: f64,
}

/// Stores a model and replaces every score with the ones it gave.
pub fn save_fit(conn: &mut AnyConnection, id: &str, body: &str, now: i64, scores: &[ScoreRow]) -> StoreResult<()> {
    diesel::insert_into(clv_models::table)
        .values((clv_models::id.eq(id), clv_models::created_at.eq(now), clv_models::body.eq(body)))
        .execute(conn)?;
    diesel::delete(profile_scores::table).execute(conn)?;
    crate::insert_rows!(&mut *conn, profile_scores::table, scores)?;
    Ok(())
}

/// The last fitted model's body, if any.
pub fn latest_model(conn: &mut AnyConnection) -> StoreResult<Option<String>> {
    Ok(clv_models::table.order((clv_models::created_at.desc(), clv_models::id.desc())).select(clv_models::body).first(conn).optional()?)
}

pub fn score_of(conn: &mut AnyConnection, profile_id: &str) -> StoreResult<Option<ScoreRow>> {
    Ok(profile_scores::table.find(profile_id).select(ScoreRow::as_select()).first(conn).optional()?)
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = profile_rfm)]
pub struct RfmRow {
    pub profile_id: String,
    pub r: i32,
    pub f: i32,
    pub m: i32,
    pub segment: String,
    pub as_of_day: i64,
}

/// Replaces every profile's RFM scores with a new run's.
pub fn save_rfm(conn: &mut AnyConnection, rows: &[RfmRow]) -> StoreResult<()> {
    diesel::delete(profile_rfm::table).execute(conn)?;
    crate::insert_rows!(&mut *conn, profile_rfm::table, rows)?;
    Ok(())
}

pub fn rfm_of(conn: &mut AnyConnection, profile_id: &str) -> StoreResult<Option<RfmRow>> {
    Ok(profile_rfm::table.find(profile_id).select(RfmRow::as_select()).first(conn).optional()?)
}

/// An order of a period, net of refunds.
pub struct PeriodOrder {
    pub profile_id: String,
    pub channel: String,
    pub net: i64,
    pub margin: Option<i64>,
    pub products: String,
}

/// What customer metrics read: the customer base up to `as_of_day` with its
/// purchase occasions, the period's orders in `currency` (fully refunded ones
/// left out), the latest scores, and each customer's traits.
pub struct KpiData {
    pub customers: Vec<(String, i64)>,
    pub orders: Vec<PeriodOrder>,
    pub scores: std::collections::HashMap<String, (f64, f64)>,
    pub traits: std::collections::HashMap<String, String>,
}

pub fn kpi_data(conn: &mut AnyConnection, from_day: i64, to_day: i64, as_of_day: i64, currency: &str) -> StoreResult<KpiData> {
    use crate::schema::{orders, profiles};
    use diesel::dsl::count_star;
    let customers: Vec<(String, i64)> = purchase_days::table
        .filter(purchase_days::day.le(as_of_day))
        .filter(purchase_days::orders.gt(0))
        .group_by(purchase_days::profile_id)
        .select((purchase_days::profile_id, count_star()))
        .order(purchase_days::profile_id.asc())
        .load(conn)?;
    let rows: Vec<(String, String, i64, i64, Option<i64>, String)> = orders::table
        .filter(orders::day.ge(from_day))
        .filter(orders::day.le(to_day.min(as_of_day)))
        .filter(orders::currency.eq(currency))
        .select((orders::profile_id, orders::channel, orders::revenue, orders::refunded, orders::margin, orders::products))
        .load(conn)?;
    let orders = rows
        .into_iter()
        .filter(|r| r.3 < r.2 || r.2 == 0)
        .map(|(profile_id, channel, revenue, refunded, margin, products)| PeriodOrder {
            profile_id,
            channel,
            net: revenue - refunded,
            margin: margin.map(|m| if revenue > 0 { (m as i128 * (revenue - refunded) as i128 / revenue as i128) as i64 } else { m }),
            products,
        })
        .collect();
    let scores = profile_scores::table
        .select((profile_scores::profile_id, profile_scores::p_alive, profile_scores::clv))
        .load::<(String, f64, f64)>(conn)?
        .into_iter()
        .map(|(p, a, c)| (p, (a, c)))
        .collect();
    let traits = profiles::table
        .filter(profiles::merged_into.is_null())
        .filter(profiles::first_order_at.is_not_null())
        .select((profiles::id, profiles::traits))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    Ok(KpiData { customers, orders, scores, traits })
}
