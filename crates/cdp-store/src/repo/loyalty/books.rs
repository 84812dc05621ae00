//! What ingestion asks of the ledger for a batch — earn for new orders,
//! reverse for refunds — replayed in order over state read once and written
//! once.

use super::{entry, lock_account, program_from, set_account, tier_changed, LedgerRow, LoyaltyOp, DAY};
use crate::error::{StoreError, StoreResult};
use crate::in_list::in_list;
use crate::schema::{loyalty_accounts, loyalty_ledger, orders};
use crate::AnyConnection;
use cdp_domain::loyalty::{self, Program};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

/// Order id → (profile, currency, revenue, occurred_at).
pub type OrderFacts = std::collections::HashMap<String, (String, String, i64, i64)>;

/// Applies what ingestion decided: earn for new orders (at the multiplier of
/// the tier held just before each), reverse for refunds — in order, exactly
/// as one operation at a time would, but with a fixed number of statements
/// per batch: the members' spend is read at once, the accounts created and
/// locked at once (in id order), the ledger rows and the final balances
/// written at once. `orders` holds every order the operations name, as
/// stored (order id → profile, currency, revenue, occurred_at): the batch
/// has just written them and they do not change while the ledger is written.
/// `program`: the programme's document if the batch read it already
/// (`Some(None)`: none saved), else it is read here.
pub fn apply(
    conn: &mut AnyConnection,
    ops: &[LoyaltyOp],
    orders: OrderFacts,
    program: Option<Option<String>>,
    now: i64,
) -> StoreResult<()> {
    if ops.is_empty() {
        return Ok(());
    }
    let program = match program {
        Some(body) => program_from(body.as_deref())?,
        None => super::program(conn)?,
    };
    let mut books = Books::open(conn, &program, ops, orders, now)?;
    for op in ops {
        match op {
            LoyaltyOp::Earn { order_id } => books.earn(conn, order_id)?,
            LoyaltyOp::Reverse { order_id, refunded_before, refunded_after } => {
                books.reverse(conn, order_id, *refunded_before, *refunded_after)?
            }
        }
    }
    books.close(conn)
}

/// Held accounts (member, balance, tier) and spend.
type AccountsAndSpend = (Vec<(String, i64, String)>, Vec<(String, String, i64, i64, i64)>);

/// The members' accounts — opened at `entry` tier for those who have none —
/// locked in id order on PostgreSQL, and their orders in `currency` since
/// `since` (member, order id, occurred_at, revenue, refunded): on PostgreSQL
/// one statement (two round trips less).
fn accounts_and_spend(
    conn: &mut AnyConnection,
    members: &[String],
    entry: &str,
    now: i64,
    currency: &str,
    since: i64,
) -> StoreResult<AccountsAndSpend> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        k: i32,
        #[diesel(sql_type = Text)]
        member: String,
        #[diesel(sql_type = Text)]
        t: String,
        #[diesel(sql_type = BigInt)]
        n1: i64,
        #[diesel(sql_type = BigInt)]
        n2: i64,
        #[diesel(sql_type = BigInt)]
        n3: i64,
    }
    if let AnyConnection::Postgresql(c) = conn {
        // `n` opens the missing accounts and answers them (the new rows are
        // this transaction's); `a` is read in full: every account that was
        // there is locked, in id order, with its latest balance. `a` does not
        // see `n`'s rows (one snapshot), so each account comes once; one made
        // by a transaction that committed after the snapshot comes from
        // neither, and `Books::account` opens and locks it on its own. The
        // orders share the snapshot: they cannot change meanwhile, their
        // owners' profiles are locked already.
        let rows: Vec<Row> = crate::cached!(
            "WITH n AS (INSERT INTO loyalty_accounts (profile_id, balance, tier_code, updated_at) \
             SELECT m, 0, $4, $5 FROM unnest($1) AS m ON CONFLICT DO NOTHING RETURNING profile_id, balance, tier_code), \
             a AS (SELECT profile_id, balance, tier_code FROM loyalty_accounts WHERE profile_id = ANY($1) \
             ORDER BY profile_id FOR UPDATE) \
             SELECT 0 AS k, profile_id AS member, tier_code AS t, balance AS n1, 0::bigint AS n2, 0::bigint AS n3 FROM n \
             UNION ALL SELECT 0, profile_id, tier_code, balance, 0, 0 FROM a \
             UNION ALL SELECT 1, profile_id, order_id, occurred_at, revenue, refunded FROM orders \
             WHERE profile_id = ANY($1) AND currency = $2 AND occurred_at > $3",
        )
        .bind::<diesel::sql_types::Array<Text>, _>(members)
        .bind::<Text, _>(currency)
        .bind::<BigInt, _>(since)
        .bind::<Text, _>(entry)
        .bind::<BigInt, _>(now)
        .load(c)?;
        let (held, spent): (Vec<Row>, Vec<Row>) = rows.into_iter().partition(|r| r.k == 0);
        return Ok((
            held.into_iter().map(|r| (r.member, r.n1, r.t)).collect(),
            spent.into_iter().map(|r| (r.member, r.t, r.n1, r.n2, r.n3)).collect(),
        ));
    }
    if let AnyConnection::Sqlite(c) = conn {
        for m in members {
            diesel::insert_into(loyalty_accounts::table)
                .values((
                    loyalty_accounts::profile_id.eq(m.as_str()),
                    loyalty_accounts::balance.eq(0i64),
                    loyalty_accounts::tier_code.eq(entry),
                    loyalty_accounts::updated_at.eq(now),
                ))
                .on_conflict_do_nothing()
                .execute(c)?;
        }
    }
    let held = loyalty_accounts::table
        .filter(in_list(loyalty_accounts::profile_id, members))
        .order(loyalty_accounts::profile_id.asc())
        .select((loyalty_accounts::profile_id, loyalty_accounts::balance, loyalty_accounts::tier_code))
        .load(conn)?;
    let spent = orders::table
        .filter(in_list(orders::profile_id, members))
        .filter(orders::currency.eq(currency))
        .filter(orders::occurred_at.gt(since))
        .select((orders::profile_id, orders::order_id, orders::occurred_at, orders::revenue, orders::refunded))
        .load(conn)?;
    Ok((held, spent))
}

/// An order as the tier computation sees it at a point of the batch.
struct Spend {
    order_id: String,
    at: i64,
    net: i64,
    /// Placed by this batch and not yet reached: not counted.
    pending: bool,
}

/// The ledger's state for one batch of operations, written back by `close`.
struct Books<'p> {
    program: &'p Program,
    now: i64,
    orders: OrderFacts,
    /// Member → (balance, tier, changed).
    accounts: std::collections::HashMap<String, (i64, String, bool)>,
    /// Member → their orders in the programme's currency inside the earliest
    /// tier window any operation looks at, as they stood before the batch.
    spend: std::collections::HashMap<String, Vec<Spend>>,
    rows: Vec<LedgerRow>,
}

impl<'p> Books<'p> {
    fn open(conn: &mut AnyConnection, program: &'p Program, ops: &[LoyaltyOp], orders: OrderFacts, now: i64) -> StoreResult<Books<'p>> {
        let mut members: Vec<String> = orders.values().filter(|o| o.1 == program.currency).map(|o| o.0.clone()).collect();
        members.sort_unstable();
        members.dedup();
        let mut books = Books { program, now, orders, accounts: Default::default(), spend: Default::default(), rows: Vec::new() };
        if members.is_empty() {
            return Ok(books);
        }
        let entry = program.tiers[0].code.as_str();
        let since = books.orders.values().map(|o| o.3).min().unwrap_or(now) - program.tier_window_days * DAY;
        let (held, spent) = accounts_and_spend(conn, &members, entry, now, &program.currency, since)?;
        books.accounts = held.into_iter().map(|(m, balance, tier)| (m, (balance, tier, false))).collect();
        // The orders table already holds the whole batch: its new orders count
        // only from their own operation on, its refunds only from theirs.
        let mut placed = std::collections::HashSet::new();
        let mut refunded_here: std::collections::HashMap<&str, i64> = Default::default();
        for op in ops {
            match op {
                LoyaltyOp::Earn { order_id } => {
                    placed.insert(order_id.as_str());
                }
                LoyaltyOp::Reverse { order_id, refunded_before, refunded_after } => {
                    *refunded_here.entry(order_id.as_str()).or_default() += refunded_after - refunded_before;
                }
            }
        }
        for (m, order_id, at, revenue, refunded) in spent {
            let net = revenue - refunded + refunded_here.get(order_id.as_str()).copied().unwrap_or(0);
            let pending = placed.contains(order_id.as_str());
            books.spend.entry(m).or_default().push(Spend { order_id, at, net, pending });
        }
        Ok(books)
    }

    /// As `spend_between`, as things stand at this point of the batch.
    fn spend_between(&self, member: &str, from: i64, to: i64) -> i64 {
        self.spend.get(member).map_or(0, |v| v.iter().filter(|s| !s.pending && s.at > from && s.at < to).map(|s| s.net).sum())
    }

    fn spend_of(&mut self, order_id: &str) -> Option<&mut Spend> {
        let member = &self.orders.get(order_id)?.0;
        self.spend.get_mut(member)?.iter_mut().find(|s| s.order_id == order_id)
    }

    fn account(&mut self, conn: &mut AnyConnection, member: &str) -> StoreResult<(i64, String)> {
        if let Some((balance, tier, _)) = self.accounts.get(member) {
            return Ok((*balance, tier.clone()));
        }
        let (balance, tier) = lock_account(conn, member, self.program, self.now)?;
        self.accounts.insert(member.to_string(), (balance, tier.clone(), false));
        Ok((balance, tier))
    }

    fn set_account(&mut self, member: &str, balance: i64, tier: &str) {
        self.accounts.insert(member.to_string(), (balance, tier.to_string(), true));
    }

    fn earn(&mut self, conn: &mut AnyConnection, order_id: &str) -> StoreResult<()> {
        let (profile, currency, revenue, at) = self.orders.get(order_id).cloned().ok_or(StoreError::NotFound)?;
        let program = self.program;
        if currency != program.currency {
            return Ok(());
        }
        let before = self.spend_between(&profile, at - program.tier_window_days * DAY, at);
        let held = program.tier_for(before);
        let points = program.points_for(revenue, held.multiplier);
        let (balance, tier) = self.account(conn, &profile)?;
        let mut row = entry(&profile, "earn", points, balance + points, self.now);
        row.order_id = Some(order_id.to_string());
        row.expires_at = Some(at + program.points_expire_after_days * DAY);
        row.remaining = loyalty::available_after_debt(balance, points);
        self.rows.push(row);
        // Upgraded at once when the purchase crosses a threshold.
        let after = program.tier_for(before + revenue).code.clone();
        let rank = |code: &str| program.tiers.iter().position(|t| t.code == code).unwrap_or(0);
        let new_tier = if rank(&after) > rank(&tier) { after } else { tier.clone() };
        self.set_account(&profile, balance + points, &new_tier);
        if let Some(s) = self.spend_of(order_id) {
            s.pending = false;
        }
        if new_tier != tier {
            tier_changed(conn, &profile, program, &tier, &new_tier, at, self.now)?;
        }
        Ok(())
    }

    fn reverse(&mut self, conn: &mut AnyConnection, order_id: &str, before: i64, after: i64) -> StoreResult<()> {
        if let Some(s) = self.spend_of(order_id) {
            s.net -= after - before;
        }
        // The lot earned by the order: written by this batch, or before it.
        let pending = self.rows.iter().position(|r| r.kind == "earn" && r.order_id.as_deref() == Some(order_id));
        let earned: Option<(Option<usize>, String, String, i64, i64)> = match pending {
            Some(i) => {
                let r = &self.rows[i];
                Some((Some(i), r.id.clone(), r.profile_id.clone(), r.points, r.remaining))
            }
            None => loyalty_ledger::table
                .filter(loyalty_ledger::order_id.eq(order_id))
                .filter(loyalty_ledger::kind.eq("earn"))
                .select((loyalty_ledger::id, loyalty_ledger::profile_id, loyalty_ledger::points, loyalty_ledger::remaining))
                .first::<(String, String, i64, i64)>(conn)
                .optional()?
                .map(|(id, p, points, remaining)| (None, id, p, points, remaining)),
        };
        let Some((at, lot, profile, points, remaining)) = earned else { return Ok(()) };
        let revenue = match self.orders.get(order_id) {
            Some(o) => o.2,
            None => orders::table.find(order_id).select(orders::revenue).first(conn)?,
        };
        let back = loyalty::reversal(points, revenue, before, after);
        if back <= 0 {
            return Ok(());
        }
        let (balance, tier) = self.account(conn, &profile)?;
        let mut row = entry(&profile, "reverse", -back, balance - back, self.now);
        row.order_id = Some(order_id.to_string());
        self.rows.push(row);
        let left = remaining - back.min(remaining);
        match at {
            Some(i) => self.rows[i].remaining = left,
            None => {
                diesel::update(loyalty_ledger::table.find(&lot)).set(loyalty_ledger::remaining.eq(left)).execute(conn)?;
            }
        }
        self.set_account(&profile, balance - back, &tier);
        Ok(())
    }

    /// Writes the ledger rows, then the balances that changed.
    fn close(self, conn: &mut AnyConnection) -> StoreResult<()> {
        let mut changed: Vec<(&String, &(i64, String, bool))> = self.accounts.iter().filter(|(_, a)| a.2).collect();
        changed.sort_by(|a, b| a.0.cmp(b.0));
        if let AnyConnection::Postgresql(c) = conn {
            return self.close_postgres(c, &changed);
        }
        crate::insert_unnest!(&mut *conn, "loyalty_ledger", &self.rows, [
            "id": Text = |r| r.id.as_str(),
            "profile_id": Text = |r| r.profile_id.as_str(),
            "kind": Text = |r| r.kind.as_str(),
            "points": BigInt = |r| r.points,
            "balance_after": BigInt = |r| r.balance_after,
            "order_id": Nullable<Text> = |r| r.order_id.as_deref(),
            "reward_id": Nullable<Text> = |r| r.reward_id.as_deref(),
            "idempotency_key": Nullable<Text> = |r| r.idempotency_key.as_deref(),
            "reason": Nullable<Text> = |r| r.reason.as_deref(),
            "created_at": BigInt = |r| r.created_at,
            "expires_at": Nullable<BigInt> = |r| r.expires_at,
            "remaining": BigInt = |r| r.remaining,
        ])?;
        for (member, (balance, tier, _)) in changed {
            set_account(conn, member, *balance, tier, self.now)?;
        }
        Ok(())
    }

    /// `close` on PostgreSQL: the ledger rows and the changed balances in one
    /// statement over arrays (a batch changes a score of accounts; it was a
    /// statement each, then two statements).
    fn close_postgres(&self, c: &mut PgConnection, changed: &[(&String, &(i64, String, bool))]) -> StoreResult<()> {
        use diesel::sql_types::Array;
        if self.rows.is_empty() && changed.is_empty() {
            return Ok(());
        }
        let rows = &self.rows;
        crate::cached!(
            "WITH l AS (INSERT INTO loyalty_ledger (id, profile_id, kind, points, balance_after, order_id, reward_id, idempotency_key, \
             reason, created_at, expires_at, remaining) SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)) \
             UPDATE loyalty_accounts AS a SET balance = v.balance, tier_code = v.tier_code, updated_at = $16 \
             FROM unnest($13, $14, $15) AS v(profile_id, balance, tier_code) WHERE a.profile_id = v.profile_id",
        )
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.profile_id.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.points).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.balance_after).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.order_id.as_deref()).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.reward_id.as_deref()).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.idempotency_key.as_deref()).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.reason.as_deref()).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
        .bind::<Array<Nullable<BigInt>>, _>(rows.iter().map(|r| r.expires_at).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.remaining).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(changed.iter().map(|(m, _)| m.as_str()).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(changed.iter().map(|(_, a)| a.0).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(changed.iter().map(|(_, a)| a.1.as_str()).collect::<Vec<_>>())
        .bind::<BigInt, _>(self.now)
        .execute(c)?;
        Ok(())
    }
}
