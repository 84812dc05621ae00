//! The loyalty ledger: append-only entries, a cached balance per member that
//! always equals their sum, first-in first-out lots for redemption and expiry.
//! Every function runs inside the caller's write transaction.

use crate::error::{StoreError, StoreResult};
use crate::in_list::in_list;
use crate::schema::{loyalty_accounts, loyalty_ledger, loyalty_program, loyalty_rewards, orders};
use crate::{new_id, AnyConnection};
use cdp_domain::loyalty::{self, Lot, Program};
use diesel::prelude::*;

mod books;
pub use books::{apply, OrderFacts};

const DAY: i64 = 86_400_000_000;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = loyalty_ledger, treat_none_as_default_value = false)]
pub struct LedgerRow {
    pub id: String,
    pub profile_id: String,
    pub kind: String,
    pub points: i64,
    pub balance_after: i64,
    pub order_id: Option<String>,
    pub reward_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub reason: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub remaining: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = loyalty_rewards, treat_none_as_default_value = false)]
pub struct RewardRow {
    pub id: String,
    pub name: String,
    pub points_cost: i64,
    pub stock: Option<i64>,
    pub active_from: Option<i64>,
    pub active_to: Option<i64>,
    pub created_at: i64,
}

/// What ingestion asks of the ledger, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum LoyaltyOp {
    Earn { order_id: String },
    Reverse { order_id: String, refunded_before: i64, refunded_after: i64 },
}

pub use cdp_app::store::RedeemRefusal as Refusal;

pub fn program(conn: &mut AnyConnection) -> StoreResult<Program> {
    let body: Option<String> = loyalty_program::table.find(1).select(loyalty_program::body).first(conn).optional()?;
    program_from(body.as_deref())
}

/// The programme saved as `body`, or the default one when none is.
pub(crate) fn program_from(body: Option<&str>) -> StoreResult<Program> {
    Ok(match body {
        Some(b) => serde_json::from_str(b)?,
        None => Program::default(),
    })
}

pub fn save_program(conn: &mut AnyConnection, p: &Program, now: i64) -> StoreResult<()> {
    let body = serde_json::to_string(p)?;
    let n = diesel::update(loyalty_program::table.find(1))
        .set((loyalty_program::body.eq(&body), loyalty_program::updated_at.eq(now)))
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(loyalty_program::table)
            .values((loyalty_program::id.eq(1), loyalty_program::body.eq(&body), loyalty_program::updated_at.eq(now)))
            .execute(conn)?;
    }
    Ok(())
}

/// The member's (balance, tier), creating the account if needed; locked on PostgreSQL.
fn lock_account(conn: &mut AnyConnection, profile: &str, program: &Program, now: i64) -> StoreResult<(i64, String)> {
    lock_or_open_account(conn, profile, program, now).map(|(balance, tier, _)| (balance, tier))
}

/// As `lock_account`, and whether the account was opened now.
fn lock_or_open_account(conn: &mut AnyConnection, profile: &str, program: &Program, now: i64) -> StoreResult<(i64, String, bool)> {
    let row = (
        loyalty_accounts::profile_id.eq(profile),
        loyalty_accounts::balance.eq(0i64),
        loyalty_accounts::tier_code.eq(&program.tiers[0].code),
        loyalty_accounts::updated_at.eq(now),
    );
    let opened =
        crate::per_backend!(&mut *conn, |c| diesel::insert_into(loyalty_accounts::table).values(row).on_conflict_do_nothing().execute(c))?;
    let q = loyalty_accounts::table.find(profile).select((loyalty_accounts::balance, loyalty_accounts::tier_code));
    let (balance, tier) = match conn {
        AnyConnection::Postgresql(c) => q.for_update().first(c)?,
        AnyConnection::Sqlite(c) => q.first(c)?,
    };
    Ok((balance, tier, opened > 0))
}

fn set_account(conn: &mut AnyConnection, profile: &str, balance: i64, tier: &str, now: i64) -> StoreResult<()> {
    // Prepared once per connection: diesel re-prepares every `diesel::update`.
    use diesel::sql_types::{BigInt, Text};
    crate::per_backend!(conn, |c| crate::cached!(
        "UPDATE loyalty_accounts SET balance = $1, tier_code = $2, updated_at = $3 WHERE profile_id = $4"
    )
    .bind::<BigInt, _>(balance)
    .bind::<Text, _>(tier)
    .bind::<BigInt, _>(now)
    .bind::<Text, _>(profile)
    .execute(c))?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn entry(profile: &str, kind: &str, points: i64, balance_after: i64, now: i64) -> LedgerRow {
    LedgerRow {
        id: new_id(),
        profile_id: profile.to_string(),
        kind: kind.into(),
        points,
        balance_after,
        order_id: None,
        reward_id: None,
        idempotency_key: None,
        reason: None,
        created_at: now,
        expires_at: None,
        remaining: 0,
    }
}

fn append(conn: &mut AnyConnection, row: &LedgerRow) -> StoreResult<()> {
    diesel::insert_into(loyalty_ledger::table).values(row).execute(conn)?;
    Ok(())
}

/// Net spend (minor units) in the programme's currency of orders strictly
/// between `from` and `to` (µs).
fn spend_between(conn: &mut AnyConnection, profile: &str, currency: &str, from: i64, to: i64) -> StoreResult<i64> {
    let rows: Vec<(i64, i64)> = orders::table
        .filter(orders::profile_id.eq(profile))
        .filter(orders::currency.eq(currency))
        .filter(orders::occurred_at.gt(from))
        .filter(orders::occurred_at.lt(to))
        .select((orders::revenue, orders::refunded))
        .load(conn)?;
    Ok(rows.iter().map(|(r, f)| r - f).sum())
}

/// Writes a `Tier Changed` event on the member's timeline.
fn tier_changed(conn: &mut AnyConnection, profile: &str, program: &Program, from: &str, to: &str, at: i64, now: i64) -> StoreResult<()> {
    let name = |code: &str| program.tiers.iter().find(|t| t.code == code).map(|t| t.name.clone()).unwrap_or_default();
    let properties = serde_json::json!({"from": from, "to": to, "from_name": name(from), "to_name": name(to)});
    crate::repo::interaction::append_event(conn, profile, "loyalty", "Tier Changed", "other", &properties, at, now)?;
    let fact = cdp_app::store::Fact {
        kind: "loyalty.tier_changed",
        profile_id: profile.to_string(),
        data: properties.to_string(),
        occurred_at: at,
    };
    crate::repo::outbox::enqueue(conn, &[fact], now)?;
    Ok(())
}

/// Live lots of a member (earned or added points not yet spent or expired), earliest expiry first.
fn lots(conn: &mut AnyConnection, profile: &str, now: i64) -> StoreResult<Vec<Lot>> {
    let rows: Vec<(String, Option<i64>, i64)> = loyalty_ledger::table
        .filter(loyalty_ledger::profile_id.eq(profile))
        .filter(loyalty_ledger::remaining.gt(0))
        .select((loyalty_ledger::id, loyalty_ledger::expires_at, loyalty_ledger::remaining))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|r| r.1.is_none_or(|e| e > now))
        .map(|(id, e, remaining)| Lot { id, expires_at: e.unwrap_or(i64::MAX), remaining })
        .collect())
}

/// Points of lots that have lapsed by `now` but not yet been expired by a run:
/// balances never count them.
pub fn lapsed(conn: &mut AnyConnection, profile: &str, now: i64) -> StoreResult<i64> {
    let rows: Vec<i64> = loyalty_ledger::table
        .filter(loyalty_ledger::profile_id.eq(profile))
        .filter(loyalty_ledger::remaining.gt(0))
        .filter(loyalty_ledger::expires_at.le(now))
        .select(loyalty_ledger::remaining)
        .load(conn)?;
    Ok(rows.iter().sum())
}

/// Adds (or, with a negative number, removes) points by hand (admin), with a
/// reason. Added points expire like earned ones; a removal never takes the
/// balance below zero.
pub fn adjust(conn: &mut AnyConnection, profile: &str, points: i64, reason: &str, now: i64) -> StoreResult<Result<LedgerRow, Refusal>> {
    let program = program(conn)?;
    let (balance, tier) = lock_account(conn, profile, &program, now)?;
    let available = balance - lapsed(conn, profile, now)?;
    let mut row = entry(profile, "adjust", points, balance + points, now);
    row.reason = Some(reason.to_string());
    if points > 0 {
        row.expires_at = Some(now + program.points_expire_after_days * DAY);
        row.remaining = loyalty::available_after_debt(balance, points);
    } else {
        if available < -points {
            return Ok(Err(Refusal::InsufficientPoints { balance: available }));
        }
        let mut live = lots(conn, profile, now)?;
        for (lot, t) in loyalty::consume_fifo(&mut live, -points).0 {
            diesel::update(loyalty_ledger::table.find(&lot))
                .set(loyalty_ledger::remaining.eq(loyalty_ledger::remaining - t))
                .execute(conn)?;
        }
    }
    append(conn, &row)?;
    set_account(conn, profile, balance + points, &tier, now)?;
    Ok(Ok(row))
}

/// Takes back `points` a ledger entry (`lot`) credited, from whoever holds
/// it now (entries follow merges): what is left of the lot first, the rest
/// as debt, as an order's reversal does.
pub fn take_back(conn: &mut AnyConnection, lot: &str, points: i64, reason: &str, now: i64) -> StoreResult<()> {
    let held: Option<(String, i64)> =
        loyalty_ledger::table.find(lot).select((loyalty_ledger::profile_id, loyalty_ledger::remaining)).first(conn).optional()?;
    let Some((profile, remaining)) = held else { return Ok(()) };
    let program = program(conn)?;
    let (balance, tier) = lock_account(conn, &profile, &program, now)?;
    diesel::update(loyalty_ledger::table.find(lot)).set(loyalty_ledger::remaining.eq(remaining - points.min(remaining))).execute(conn)?;
    let mut row = entry(&profile, "reverse", -points, balance - points, now);
    row.reason = Some(reason.to_string());
    append(conn, &row)?;
    set_account(conn, &profile, balance - points, &tier, now)
}

/// Spends points (FIFO over lots); refused while the balance does not cover them.
/// The same idempotency key again answers the first entry and spends nothing.
pub fn redeem(
    conn: &mut AnyConnection,
    profile: &str,
    points: i64,
    reward_id: Option<&str>,
    key: &str,
    now: i64,
) -> StoreResult<Result<(LedgerRow, bool), Refusal>> {
    let seen: Option<LedgerRow> = loyalty_ledger::table
        .filter(loyalty_ledger::profile_id.eq(profile))
        .filter(loyalty_ledger::idempotency_key.eq(key))
        .select(LedgerRow::as_select())
        .first(conn)
        .optional()?;
    if let Some(row) = seen {
        return Ok(Ok((row, false)));
    }
    let program = program(conn)?;
    let (balance, tier) = lock_account(conn, profile, &program, now)?;
    let available = balance - lapsed(conn, profile, now)?;
    if available < points {
        return Ok(Err(Refusal::InsufficientPoints { balance: available }));
    }
    if let Some(rid) = reward_id {
        let reward: Option<RewardRow> = match conn {
            AnyConnection::Postgresql(c) => {
                loyalty_rewards::table.find(rid).select(RewardRow::as_select()).for_update().first(c).optional()?
            }
            AnyConnection::Sqlite(c) => loyalty_rewards::table.find(rid).select(RewardRow::as_select()).first(c).optional()?,
        };
        let Some(reward) = reward else { return Ok(Err(Refusal::NoSuchReward)) };
        if reward.active_from.is_some_and(|f| now < f) || reward.active_to.is_some_and(|t| now > t) {
            return Ok(Err(Refusal::RewardInactive));
        }
        match reward.stock {
            Some(0) => return Ok(Err(Refusal::OutOfStock)),
            Some(n) => {
                diesel::update(loyalty_rewards::table.find(rid)).set(loyalty_rewards::stock.eq(n - 1)).execute(conn)?;
            }
            None => {}
        }
    }
    let mut live = lots(conn, profile, now)?;
    let (taken, _) = loyalty::consume_fifo(&mut live, points);
    for (lot, t) in taken {
        diesel::update(loyalty_ledger::table.find(&lot)).set(loyalty_ledger::remaining.eq(loyalty_ledger::remaining - t)).execute(conn)?;
    }
    let mut row = entry(profile, "redeem", -points, balance - points, now);
    row.reward_id = reward_id.map(str::to_string);
    row.idempotency_key = Some(key.to_string());
    append(conn, &row)?;
    set_account(conn, profile, balance - points, &tier, now)?;
    Ok(Ok((row, true)))
}

/// Expires every lot lapsed by `as_of`; returns (members, points) expired.
pub fn expire(conn: &mut AnyConnection, as_of: i64, now: i64) -> StoreResult<(usize, i64)> {
    let program = program(conn)?;
    let lapsed: Vec<(String, String, i64)> = loyalty_ledger::table
        .filter(loyalty_ledger::remaining.gt(0))
        .filter(loyalty_ledger::expires_at.le(as_of))
        .order((loyalty_ledger::profile_id.asc(), loyalty_ledger::expires_at.asc()))
        .select((loyalty_ledger::id, loyalty_ledger::profile_id, loyalty_ledger::remaining))
        .load(conn)?;
    let (mut members, mut total) = (0usize, 0i64);
    let mut i = 0;
    while i < lapsed.len() {
        let profile = lapsed[i].1.clone();
        let (mut balance, tier) = lock_account(conn, &profile, &program, now)?;
        members += 1;
        while i < lapsed.len() && lapsed[i].1 == profile {
            let (lot, _, points) = &lapsed[i];
            diesel::update(loyalty_ledger::table.find(lot)).set(loyalty_ledger::remaining.eq(0i64)).execute(conn)?;
            balance -= points;
            let mut row = entry(&profile, "expire", -points, balance, now);
            row.order_id = None;
            append(conn, &row)?;
            total += points;
            i += 1;
        }
        set_account(conn, &profile, balance, &tier, now)?;
    }
    Ok((members, total))
}

/// Re-evaluates every member's tier on the window ending `as_of` (downgrades
/// when the window moves on), writing `Tier Changed` for each change.
pub fn evaluate_tiers(conn: &mut AnyConnection, as_of: i64, now: i64) -> StoreResult<usize> {
    let program = program(conn)?;
    let members: Vec<String> =
        loyalty_accounts::table.select(loyalty_accounts::profile_id).order(loyalty_accounts::profile_id.asc()).load(conn)?;
    let mut changed = 0;
    for m in members {
        let spend = spend_between(conn, &m, &program.currency, as_of - program.tier_window_days * DAY, as_of + 1)?;
        let (balance, tier) = lock_account(conn, &m, &program, now)?;
        let code = program.tier_for(spend).code.clone();
        if code != tier {
            set_account(conn, &m, balance, &code, now)?;
            tier_changed(conn, &m, &program, &tier, &code, as_of, now)?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// The member's account, if any: (balance, tier code).
pub fn account(conn: &mut AnyConnection, profile: &str) -> StoreResult<Option<(i64, String)>> {
    Ok(loyalty_accounts::table.find(profile).select((loyalty_accounts::balance, loyalty_accounts::tier_code)).first(conn).optional()?)
}

/// The loyalty accounts of several profiles: id → (balance, tier code).
pub fn accounts_of(conn: &mut AnyConnection, ids: &[String]) -> StoreResult<std::collections::HashMap<String, (i64, String)>> {
    Ok(loyalty_accounts::table
        .filter(in_list(loyalty_accounts::profile_id, ids))
        .select((loyalty_accounts::profile_id, loyalty_accounts::balance, loyalty_accounts::tier_code))
        .load::<(String, i64, String)>(conn)?
        .into_iter()
        .map(|(p, b, t)| (p, (b, t)))
        .collect())
}

/// Spend (minor units) in the window ending `at`.
pub fn window_spend(conn: &mut AnyConnection, profile: &str, program: &Program, at: i64) -> StoreResult<i64> {
    spend_between(conn, profile, &program.currency, at - program.tier_window_days * DAY, at + 1)
}

/// A page of the ledger, newest first.
pub fn ledger(
    conn: &mut AnyConnection,
    profile: &str,
    after: Option<(i64, String)>,
    limit: i64,
) -> StoreResult<crate::repo::Page<LedgerRow>> {
    let mut q = loyalty_ledger::table.filter(loyalty_ledger::profile_id.eq(profile)).into_boxed();
    if let Some((t, id)) = after {
        q = q.filter(loyalty_ledger::created_at.lt(t).or(loyalty_ledger::created_at.eq(t).and(loyalty_ledger::id.lt(id))));
    }
    let mut rows: Vec<LedgerRow> = q
        .order((loyalty_ledger::created_at.desc(), loyalty_ledger::id.desc()))
        .limit(limit + 1)
        .select(LedgerRow::as_select())
        .load(conn)?;
    let next = super::page_end(&mut rows, limit, |r| (r.created_at, r.id.clone()));
    Ok((rows, next))
}

/// The sum of the ledger: what the cached balance must always equal.
pub fn ledger_sum(conn: &mut AnyConnection, profile: &str) -> StoreResult<i64> {
    let points: Vec<i64> =
        loyalty_ledger::table.filter(loyalty_ledger::profile_id.eq(profile)).select(loyalty_ledger::points).load(conn)?;
    Ok(points.iter().sum())
}

pub fn add_reward(conn: &mut AnyConnection, r: &RewardRow) -> StoreResult<()> {
    diesel::insert_into(loyalty_rewards::table).values(r).execute(conn)?;
    Ok(())
}

pub fn rewards(conn: &mut AnyConnection) -> StoreResult<Vec<RewardRow>> {
    Ok(loyalty_rewards::table.order(loyalty_rewards::created_at.asc()).select(RewardRow::as_select()).load(conn)?)
}

/// Moves a merged-away member's ledger and balance to the survivor.
/// After a merge is undone: the member's account holds its ledger's sum, at
/// the tier it held when the merge happened (`held`, if known) or the one its
/// spend in the window earns now, whichever is higher. `had`: whether it had
/// an account before the merge (if known): a member left with no entries
/// has one only then.
pub(crate) fn rederive_account(
    conn: &mut AnyConnection,
    profile: &str,
    held: Option<&str>,
    had: Option<bool>,
    now: i64,
) -> StoreResult<()> {
    let entries: i64 = loyalty_ledger::table.filter(loyalty_ledger::profile_id.eq(profile)).count().get_result(conn)?;
    if entries == 0 && had != Some(true) {
        if had == Some(false) {
            diesel::delete(loyalty_accounts::table.find(profile)).execute(conn)?;
        }
        return Ok(());
    }
    let program = program(conn)?;
    lock_account(conn, profile, &program, now)?;
    let balance = ledger_sum(conn, profile)?;
    let earned = program.tier_for(window_spend(conn, profile, &program, now)?).code.clone();
    let rank = |code: &str| program.tiers.iter().position(|t| t.code == code).unwrap_or(0);
    let tier = match held {
        Some(t) if rank(t) > rank(&earned) => t.to_string(),
        _ => earned,
    };
    set_account(conn, profile, balance, &tier, now)
}

/// Moves a merged member's ledger to the survivor, which keeps the higher
/// tier; answers the tiers both held before and whether the survivor had an
/// account (for undoing the merge).
pub fn move_profile(conn: &mut AnyConnection, merged: &str, into: &str, now: i64) -> StoreResult<Option<(String, String, bool)>> {
    let Some((balance, tier)) = account(conn, merged)? else { return Ok(None) };
    crate::repo::move_rows!(&mut *conn, loyalty_ledger, merged, into)?;
    let program = program(conn)?;
    let (theirs, their_tier, opened) = lock_or_open_account(conn, into, &program, now)?;
    let had = !opened;
    let rank = |code: &str| program.tiers.iter().position(|t| t.code == code).unwrap_or(0);
    let keep = if rank(&tier) > rank(&their_tier) { &tier } else { &their_tier };
    set_account(conn, into, theirs + balance, keep, now)?;
    diesel::delete(loyalty_accounts::table.find(merged)).execute(conn)?;
    if ledger_sum(conn, into)? != theirs + balance {
        return Err(StoreError::Corrupt(format!("loyalty balance of {into} drifted from its ledger")));
    }
    Ok(Some((tier, their_tier, had)))
}
