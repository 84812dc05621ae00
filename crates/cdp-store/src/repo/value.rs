//! What analytics read: purchase histories (from purchase days, never from
//! events), fitted models and per-profile scores.

use crate::error::StoreResult;
use crate::schema::{clv_models, profile_rfm, profile_scores, purchase_days, purchase_summaries};
use crate::AnyConnection;
use diesel::prelude::*;

/// A customer's purchase occasions (days with an order not fully refunded)
/// up to a day, summarised: what RFM and CLV need of a purchase history.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct PurchaseSummary {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub profile_id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub days: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub first_day: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub last_day: i64,
    /// Net revenue of those days, minor units.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub revenue: i64,
    /// Net revenue of the first day alone (CLV's spend is that of repeat purchases).
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub first_day_revenue: i64,
}

/// Purchase summaries from purchase days up to the day bound first (`$1`), in
/// profile order — the one definition of a summary, for the profiles `filter`
/// admits (an SQL condition on `d.profile_id`).
fn summary_sql(filter: &str) -> String {
    format!(
        "SELECT d.profile_id AS profile_id, COUNT(*) AS days, MIN(d.day) AS first_day, MAX(d.day) AS last_day, \
         CAST(SUM(d.revenue) AS BIGINT) AS revenue, \
         (SELECT f.revenue FROM purchase_days f WHERE f.profile_id = d.profile_id AND f.orders > 0 AND f.day <= $1 \
          ORDER BY f.day LIMIT 1) AS first_day_revenue \
         FROM purchase_days d WHERE d.day <= $1 AND d.orders > 0 AND {filter} \
         GROUP BY d.profile_id ORDER BY d.profile_id"
    )
}

/// `summary_sql` for the profiles in the id list bound second (`$2`).
/// PostgreSQL takes the list as a text array, SQLite as a JSON array: one
/// statement text whatever the number of ids.
fn aggregate_sql(conn: &AnyConnection) -> String {
    summary_sql(match conn {
        AnyConnection::Postgresql(_) => "d.profile_id = ANY($2)",
        AnyConnection::Sqlite(_) => "d.profile_id IN (SELECT value FROM json_each($2))",
    })
}

/// Runs `sql` with (`day`, ids) bound as `aggregate_sql` expects.
macro_rules! with_ids {
    ($conn:expr, $sql:expr, $day:expr, $ids:expr, |$q:ident, $c:ident| $run:expr) => {{
        use diesel::sql_types::{Array, BigInt, Text};
        match $conn {
            AnyConnection::Postgresql($c) => {
                let $q = $crate::cached::cached($sql.to_string()).bind::<BigInt, _>($day).bind::<Array<Text>, _>($ids);
                $run
            }
            AnyConnection::Sqlite($c) => {
                let list = serde_json::to_string($ids).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
                let $q = $crate::cached::cached($sql.to_string()).bind::<BigInt, _>($day).bind::<Text, _>(list);
                $run
            }
        }
    }};
}

/// Recomputes the purchase summaries of these profiles from their purchase
/// days (ingestion calls it for the profiles a batch's orders touched, in
/// the same transaction): one upsert. A profile with no purchase day left has
/// no summary; only a refund or a merge can leave one so (`emptied`), and
/// only then are such summaries looked for and deleted.
pub fn summarise(conn: &mut AnyConnection, profiles: &[&str], emptied: bool) -> StoreResult<()> {
    if profiles.is_empty() {
        return Ok(());
    }
    let upsert = format!(
        "INSERT INTO purchase_summaries (profile_id, days, first_day, last_day, revenue, first_day_revenue) {} \
         ON CONFLICT (profile_id) DO UPDATE SET days = excluded.days, first_day = excluded.first_day, \
         last_day = excluded.last_day, revenue = excluded.revenue, first_day_revenue = excluded.first_day_revenue",
        aggregate_sql(conn)
    );
    with_ids!(&mut *conn, &upsert, i64::MAX, profiles, |q, c| q.execute(c))?;
    if emptied {
        let listed = match conn {
            AnyConnection::Postgresql(_) => "profile_id = ANY($2)",
            AnyConnection::Sqlite(_) => "profile_id IN (SELECT value FROM json_each($2))",
        };
        let delete = format!(
            "DELETE FROM purchase_summaries WHERE {listed} AND NOT EXISTS (SELECT 1 FROM purchase_days d \
             WHERE d.profile_id = purchase_summaries.profile_id AND d.orders > 0 AND d.day <= $1)"
        );
        with_ids!(&mut *conn, &delete, i64::MAX, profiles, |q, c| q.execute(c))?;
    }
    Ok(())
}

/// Rebuilds every purchase summary from the purchase days (what migration 13
/// did once; for bulk loads that write purchase days directly).
pub fn rebuild_summaries(conn: &mut AnyConnection) -> StoreResult<usize> {
    diesel::delete(purchase_summaries::table).execute(conn)?;
    let sql = format!(
        "INSERT INTO purchase_summaries (profile_id, days, first_day, last_day, revenue, first_day_revenue) {}",
        summary_sql("TRUE")
    );
    Ok(crate::per_backend!(&mut *conn, |c| diesel::sql_query(&sql).bind::<diesel::sql_types::BigInt, _>(i64::MAX).execute(c))?)
}

/// Every customer's purchase summary up to `as_of_day`, in profile order, in
/// pages of the summaries ingestion keeps: one row per customer is read, not
/// one per purchase day. Customers who also bought after `as_of_day` (none,
/// for a run as of today) are summarised again from their purchase days up
/// to it. Memory stays bounded by a page. The same SQL on both backends
/// (SQLite takes `$n` as numbered parameters).
pub fn for_each_summary(conn: &mut AnyConnection, as_of_day: i64, mut f: impl FnMut(PurchaseSummary)) -> StoreResult<()> {
    use diesel::sql_types::{BigInt, Text};
    const PAGE: i64 = 100_000;
    const SQL: &str = "SELECT profile_id, days, first_day, last_day, revenue, first_day_revenue FROM purchase_summaries \
        WHERE first_day <= $1 AND profile_id > $2 ORDER BY profile_id LIMIT $3";
    // One transaction: every page reads the same snapshot.
    conn.transaction(|conn| {
        let partial_sql = aggregate_sql(conn);
        let mut after = String::new();
        loop {
            let mut page: Vec<PurchaseSummary> = crate::per_backend!(&mut *conn, |c| diesel::sql_query(SQL)
                .bind::<BigInt, _>(as_of_day)
                .bind::<Text, _>(&after)
                .bind::<BigInt, _>(PAGE)
                .load(c))?;
            let done = (page.len() as i64) < PAGE;
            if let Some(last) = page.last() {
                after = last.profile_id.clone();
            }
            let later: Vec<&str> = page.iter().filter(|s| s.last_day > as_of_day).map(|s| s.profile_id.as_str()).collect();
            if !later.is_empty() {
                let cut: Vec<PurchaseSummary> = with_ids!(&mut *conn, &partial_sql, as_of_day, &later, |q, c| q.load(c))?;
                let mut cut = cut.into_iter().peekable();
                for s in page.iter_mut() {
                    // Both in profile order; each customer here bought on or before as_of_day.
                    if cut.peek().is_some_and(|c| c.profile_id == s.profile_id) {
                        *s = cut.next().expect("peeked");
                    }
                }
            }
            page.into_iter().for_each(&mut f);
            if done {
                return Ok(());
            }
        }
    })
}

/// Replaces every row of a score table. On PostgreSQL the rows go by
/// `COPY … FROM STDIN` (text format; `render` writes one row's fields in the
/// table's column order, tab-separated) into a fresh table shaped like the
/// old one, which then takes its place (`swap`); on SQLite the table is
/// emptied and refilled in-process with cached single-row INSERTs.
macro_rules! replace_all {
    ($conn:expr, $table:expr, $name:literal, $next:expr, $rows:expr, |$row:ident, $line:ident| $render:block) => {{
        use std::fmt::Write as _;
        match $conn {
            AnyConnection::Postgresql(c) => {
                swap::prepare(c, $name)?;
                diesel::ExecuteCopyFromDsl::execute(
                    diesel::copy_from($next).from_raw_data($next, |w| {
                        let mut buffer = String::new();
                        for $row in $rows.iter() {
                            let $line = &mut buffer;
                            $line.clear();
                            $render;
                            $line.push('\n');
                            w.write_all($line.as_bytes()).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
                        }
                        Ok::<_, diesel::result::Error>(())
                    }),
                    c,
                )?;
                swap::finish(c, $name)?;
            }
            conn => {
                diesel::delete($table).execute(conn)?;
                crate::insert_rows!(conn, $table, $rows)?
            }
        }
        Ok(())
    }};
}

/// Replacing a whole table on PostgreSQL by building its successor aside.
/// `DELETE` + `COPY` into the live table cost 1.0 + 6.9 s for a million score
/// rows once the table was full (every row and key inserted next to a dead
/// one, and a table twice its size until vacuumed); a new table filled
/// without indexes, indexed afterwards and renamed into place: 2.0 + 1.0 s.
/// Readers keep reading the old table until the swap commits; the exclusive
/// lock `DROP TABLE` takes is held only for the renames that follow it.
mod swap {
    use diesel::prelude::*;
    use diesel::sql_types::{Bool, Text};
    use diesel::PgConnection;

    #[derive(QueryableByName)]
    struct IndexDef {
        #[diesel(sql_type = Text)]
        name: String,
        /// `USING btree (profile_id)` and any `WHERE …` of the definition.
        #[diesel(sql_type = Text)]
        method: String,
        #[diesel(sql_type = Bool)]
        is_unique: bool,
        #[diesel(sql_type = Bool)]
        is_primary: bool,
    }

    /// The successor of `table`: its columns, defaults and constraints, no
    /// indexes yet; named `<table>_next`, as `value::next` declares it.
    pub(super) fn prepare(c: &mut PgConnection, table: &str) -> QueryResult<()> {
        diesel::sql_query(format!("DROP TABLE IF EXISTS {table}_next")).execute(c)?;
        diesel::sql_query(format!("CREATE TABLE {table}_next (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")).execute(c)?;
        Ok(())
    }

    /// Gives `<table>_next` the indexes of `table` (same definitions, same
    /// names once renamed, the primary key as a primary key), drops `table`
    /// and renames its successor into place.
    pub(super) fn finish(c: &mut PgConnection, table: &str) -> QueryResult<()> {
        let defs: Vec<IndexDef> = diesel::sql_query(
            "SELECT i.relname AS name, substring(pg_get_indexdef(i.oid) FROM ' USING .*$') AS method, \
                    x.indisunique AS is_unique, x.indisprimary AS is_primary \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
             WHERE x.indrelid = to_regclass($1) ORDER BY i.relname",
        )
        .bind::<Text, _>(table)
        .load(c)?;
        for d in &defs {
            let unique = if d.is_unique { "UNIQUE " } else { "" };
            diesel::sql_query(format!("CREATE {unique}INDEX {}_next ON {table}_next{}", d.name, d.method)).execute(c)?;
        }
        diesel::sql_query(format!("ANALYZE {table}_next")).execute(c)?;
        diesel::sql_query(format!("DROP TABLE {table}")).execute(c)?;
        diesel::sql_query(format!("ALTER TABLE {table}_next RENAME TO {table}")).execute(c)?;
        for d in &defs {
            diesel::sql_query(format!("ALTER INDEX {}_next RENAME TO {}", d.name, d.name)).execute(c)?;
            if d.is_primary {
                diesel::sql_query(format!("ALTER TABLE {table} ADD CONSTRAINT {} PRIMARY KEY USING INDEX {}", d.name, d.name))
                    .execute(c)?;
            }
        }
        Ok(())
    }
}

/// The successors `swap` builds, for `COPY` to name.
mod next {
    diesel::table! {
        profile_scores_next (profile_id) {
            profile_id -> Text,
            model_id -> Text,
            p_alive -> Double,
            expected_purchases -> Double,
            expected_order_value -> Double,
            clv -> Double,
        }
    }

    diesel::table! {
        profile_rfm_next (profile_id) {
            profile_id -> Text,
            r -> Integer,
            f -> Integer,
            m -> Integer,
            segment -> Text,
            as_of_day -> BigInt,
        }
    }
}

/// One text field of a COPY row and its tab: `\`, tab, CR and LF escaped.
fn field(line: &mut String, v: &str) {
    for ch in v.chars() {
        match ch {
            '\\' => line.push_str("\\\\"),
            '\t' => line.push_str("\\t"),
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            c => line.push(c),
        }
    }
    line.push('\t');
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
    replace_all!(conn, profile_scores::table, "profile_scores", next::profile_scores_next::table, scores, |s, line| {
        field(line, &s.profile_id);
        field(line, &s.model_id);
        // Writing into a String cannot fail.
        let _ = write!(line, "{}\t{}\t{}\t{}", s.p_alive, s.expected_purchases, s.expected_order_value, s.clv);
    })
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
    replace_all!(conn, profile_rfm::table, "profile_rfm", next::profile_rfm_next::table, rows, |row, line| {
        field(line, &row.profile_id);
        let _ = write!(line, "{}\t{}\t{}\t", row.r, row.f, row.m);
        field(line, &row.segment);
        let _ = write!(line, "{}", row.as_of_day);
    })
}

pub fn rfm_of(conn: &mut AnyConnection, profile_id: &str) -> StoreResult<Option<RfmRow>> {
    Ok(profile_rfm::table.find(profile_id).select(RfmRow::as_select()).first(conn).optional()?)
}

pub use cdp_app::store::{KpiData, PeriodOrder};

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
