//! Writing back what a batch decided: new and changed profiles, moved
//! rows of merged-away profiles, identities, events, orders, loyalty,
//! consents, accounts and the merge log — a fixed number of statements per
//! batch where the backend allows it.

use super::{live_in, Batch};
use crate::error::StoreResult;
use crate::repo::move_rows;
use crate::repo::orders::{self, OrderRow};
use crate::repo::profiles::{EventRow, IdentityRow, ProfileRow};
use crate::schema::{account_members, accounts, consents, events, identities, merges, profiles};
use crate::{new_id, AnyConnection};
use cdp_domain::identity_rules::counts_to_json;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde_json::{Map, Value};

/// Writes what the batch decided, parents before children.
pub(super) fn flush(conn: &mut AnyConnection, b: &mut Batch, now: i64, origin_key: &str) -> StoreResult<()> {
    let origin_key = origin_key.to_string();
    let pointers: Vec<(String, String)> =
        b.work.values().filter_map(|w| w.row.merged_into.as_deref().map(|m| (w.row.id.clone(), b.live(m)))).collect();
    for (id, into) in pointers {
        if let Some(w) = b.work.get_mut(&id) {
            w.row.merged_into = Some(into);
        }
    }
    for w in b.work.values_mut().filter(|w| w.dirty) {
        w.row.identity_counts = counts_to_json(&w.counts);
        if w.row.merged_into.is_none() {
            w.row.traits = serde_json::to_string(&w.traits.values)?;
            w.row.trait_times = serde_json::to_string(&w.traits.times)?;
        }
    }
    let mut created: Vec<&ProfileRow> = b.work.values().filter(|w| w.new).map(|w| &w.row).collect();
    created.sort_by(|x, y| x.id.cmp(&y.id));
    let rows: Vec<ProfileRow> = created.into_iter().cloned().collect();
    // New profiles go in with the batch's identities and events (one
    // statement on PostgreSQL), unless profiles merged away must first move
    // their rows to a survivor that may be one of the new profiles.
    let moving = !b.moved.is_empty();
    if moving {
        insert_new(conn, &rows, &[], &[], &[])?;
    }
    // Profiles that existed before and were merged away: their identities,
    // events and merge pointers move to the survivor.
    for (merged, into) in b.moved.clone() {
        let into = b.live(&into);
        move_rows!(&mut *conn, identities, &merged, &into)?;
        move_rows!(&mut *conn, events, &merged, &into)?;
        diesel::update(profiles::table.filter(profiles::merged_into.eq(&merged))).set(profiles::merged_into.eq(&into)).execute(conn)?;
        let shared: Vec<String> =
            account_members::table.filter(account_members::profile_id.eq(&into)).select(account_members::account_id).load(conn)?;
        if !shared.is_empty() {
            diesel::delete(
                account_members::table.filter(account_members::profile_id.eq(&merged)).filter(account_members::account_id.eq_any(&shared)),
            )
            .execute(conn)?;
        }
        move_rows!(&mut *conn, account_members, &merged, &into)?;
        orders::move_profile(conn, &merged, &into)?;
        if let Some((theirs, ours, had)) = crate::repo::loyalty::move_profile(conn, &merged, &into, now)? {
            let detail = serde_json::json!({"tiers": {"merged": theirs, "survivor": ours}, "survivor_had_account": had}).to_string();
            for m in b.log.iter_mut().filter(|m| m.kind == "merge" && m.merged_id == merged) {
                m.detail = Some(detail.clone());
            }
        }
        crate::repo::consent::move_profile(conn, &merged, &into)?;
        crate::repo::interaction::move_profile(conn, &merged, &into)?;
        // Pairs kept apart that involve the merged profile were read with the lookups.
        if b.apart.iter().any(|(x, y)| *x == merged || *y == merged) {
            crate::repo::undo::follow_merge(conn, &merged, &into, now)?;
        }
    }
    let mut updated: Vec<&ProfileRow> = b.work.values().filter(|w| w.dirty && !w.new).map(|w| &w.row).collect();
    updated.sort_by(|x, y| x.id.cmp(&y.id));
    update_profiles(conn, &updated)?;
    // Rows of the batch written for a profile that a later event of the batch
    // merged away go to the survivor, and remember where they came from as a
    // merge's move does (orders and their points follow their events).
    let mut moved_identities = Vec::new();
    for i in &mut b.identities {
        let live = live_in(&b.redirect, &i.profile_id);
        if live != i.profile_id {
            moved_identities.push((i.value.clone(), i.identity_type.clone(), std::mem::replace(&mut i.profile_id, live)));
        }
    }
    let mut moved_events = Vec::new();
    for e in &mut b.events {
        let live = live_in(&b.redirect, &e.profile_id);
        if live != e.profile_id {
            moved_events.push((e.id.clone(), std::mem::replace(&mut e.profile_id, live)));
        }
    }
    let redirect = b.redirect.clone();
    let placed = b.orders.take_new(|id| live_in(&redirect, id));
    insert_new(conn, if moving { &[] } else { &rows }, &b.identities, &b.events, &placed)?;
    for (value, kind, origin) in moved_identities {
        diesel::update(identities::table.find((value, kind))).set(identities::origin_profile_id.eq(Some(origin))).execute(conn)?;
    }
    for (id, origin) in moved_events {
        diesel::update(events::table.find(id)).set(events::origin_profile_id.eq(Some(origin))).execute(conn)?;
    }
    b.orders.flush(conn, |id| live_in(&redirect, id))?;
    crate::repo::loyalty::apply(conn, &b.orders.loyalty, b.orders.ledger_facts(), b.program.take(), now)?;
    for (profile, channel, status, at) in std::mem::take(&mut b.consents) {
        let row = crate::repo::consent::ConsentRow {
            id: new_id(),
            profile_id: live_in(&redirect, &profile),
            channel,
            status,
            source: "event".into(),
            recorded_at: at,
            received_at: now,
            actor: origin_key.clone(),
            purpose: cdp_domain::consent::DEFAULT_PURPOSE.into(),
            collected_by: None,
            policy_version: None,
            evidence: None,
        };
        crate::repo::consent::record(conn, &row)?;
        if row.profile_id != profile {
            diesel::update(consents::table.find(&row.id)).set(consents::origin_profile_id.eq(Some(profile))).execute(conn)?;
        }
    }
    let links = referral_links(b);
    let bought: Vec<(&str, &str, i64)> = placed.iter().map(|o| (o.profile_id.as_str(), o.order_id.as_str(), o.occurred_at)).collect();
    // Pending referrals read with the lookups name the referee's survivor
    // before this batch: its merges are followed here.
    let pending = b.pending_referrals.take().map(|rows| {
        rows.into_iter()
            .map(|(referee, referrer, into)| {
                let live = b.live(into.as_deref().unwrap_or(&referee));
                (referee, referrer, live)
            })
            .collect::<Vec<_>>()
    });
    crate::repo::referrals::on_batch(conn, &links, &bought, pending, now)?;
    crate::repo::referrals::on_refunds(conn, &b.orders.fully_refunded(), now)?;
    let groups = std::mem::take(&mut b.groups);
    for (account, traits, profile) in groups {
        link_account(conn, &account, &traits, &b.live(&profile), b.events.first().map(|e| e.received_at).unwrap_or_default())?;
    }
    crate::insert_rows!(&mut *conn, merges::table, &b.log)?;
    crate::repo::outbox::enqueue(conn, &facts(b, now), now)?;
    Ok(())
}

/// People the batch created whose events carry `context.referral_code`:
/// (profile, code as sent, when), the earliest event's code for each.
fn referral_links(b: &Batch) -> Vec<(String, String, i64)> {
    let mut out: Vec<(String, String, i64)> = Vec::new();
    // A substring test first: most events carry no code, and parsing every
    // context would cost ingestion.
    for e in b.events.iter().filter(|e| e.context.contains("referral_code")) {
        if !b.work.get(&e.profile_id).is_some_and(|w| w.new && w.row.merged_into.is_none()) {
            continue;
        }
        let Ok(ctx) = serde_json::from_str::<Value>(&e.context) else { continue };
        let Some(code) = ctx.get("referral_code").and_then(Value::as_str) else { continue };
        match out.iter_mut().find(|l| l.0 == e.profile_id) {
            Some(l) if e.occurred_at < l.2 => *l = (e.profile_id.clone(), code.to_string(), e.occurred_at),
            Some(_) => {}
            None => out.push((e.profile_id.clone(), code.to_string(), e.occurred_at)),
        }
    }
    out
}

/// What the batch made true that destinations may subscribe to: profiles
/// created (and still standing), merges, orders completed and refunded.
fn facts(b: &Batch, now: i64) -> Vec<cdp_app::store::Fact> {
    use cdp_app::store::Fact;
    let mut out: Vec<Fact> = b
        .work
        .values()
        .filter(|w| w.new && w.row.merged_into.is_none())
        .map(|w| Fact { kind: "profile.created", profile_id: w.row.id.clone(), data: "{}".into(), occurred_at: w.row.created_at })
        .collect();
    out.sort_by(|x, y| x.profile_id.cmp(&y.profile_id));
    for m in b.log.iter().filter(|m| m.kind == "merge") {
        let data = serde_json::json!({"merged_profile_id": m.merged_id, "survivor_id": m.survivor_id,
            "identity": {"type": m.identity_type, "value": m.identity_value}});
        out.push(Fact { kind: "profile.merged", profile_id: b.live(&m.survivor_id), data: data.to_string(), occurred_at: now });
    }
    out.extend(b.orders.facts());
    out
}

/// Inserts new profiles, identities, events and orders: on PostgreSQL one
/// statement (its text the same whichever lists are empty), on SQLite cached
/// single-row inserts, parents first.
fn insert_new(
    conn: &mut AnyConnection,
    rows: &[ProfileRow],
    identities: &[IdentityRow],
    events: &[EventRow],
    placed: &[OrderRow],
) -> StoreResult<()> {
    Ok(crate::insert_unnest!(&mut *conn, [
        ("profiles", rows, [
            "id": Text = |r| r.id.as_str(),
            "merged_into": Nullable<Text> = |r| r.merged_into.as_deref(),
            "user_id": Nullable<Text> = |r| r.user_id.as_deref(),
            "traits": Text = |r| r.traits.as_str(),
            "trait_times": Text = |r| r.trait_times.as_str(),
            "channels": BigInt = |r| r.channels,
            "first_seen_at": BigInt = |r| r.first_seen_at,
            "last_seen_at": BigInt = |r| r.last_seen_at,
            "event_count": BigInt = |r| r.event_count,
            "created_at": BigInt = |r| r.created_at,
            "updated_at": BigInt = |r| r.updated_at,
            "orders_count": BigInt = |r| r.orders_count,
            "revenue_total": BigInt = |r| r.revenue_total,
            "margin_total": BigInt = |r| r.margin_total,
            "first_order_at": Nullable<BigInt> = |r| r.first_order_at,
            "last_order_at": Nullable<BigInt> = |r| r.last_order_at,
            "identity_counts": Text = |r| r.identity_counts.as_str(),
        ]),
        ("identities", identities, [
            "value": Text = |r| r.value.as_str(),
            "identity_type": Text = |r| r.identity_type.as_str(),
            "profile_id": Text = |r| r.profile_id.as_str(),
            "created_at": BigInt = |r| r.created_at,
        ]),
        ("events", events, [
            "id": Text = |r| r.id.as_str(),
            "profile_id": Text = |r| r.profile_id.as_str(),
            "source_key": Text = |r| r.source_key.as_str(),
            "source_id": Nullable<Text> = |r| r.source_id.as_deref(),
            "message_id": Nullable<Text> = |r| r.message_id.as_deref(),
            "event_type": Text = |r| r.event_type.as_str(),
            "name": Nullable<Text> = |r| r.name.as_deref(),
            "channel": Text = |r| r.channel.as_str(),
            "occurred_at": BigInt = |r| r.occurred_at,
            "received_at": BigInt = |r| r.received_at,
            "identities": Text = |r| r.identities.as_str(),
            "traits": Text = |r| r.traits.as_str(),
            "properties": Text = |r| r.properties.as_str(),
            "context": Text = |r| r.context.as_str(),
            "blocked_identities": Nullable<Text> = |r| r.blocked_identities.as_deref(),
        ]),
        ("orders", placed, [
            "order_id": Text = |r| r.order_id.as_str(),
            "profile_id": Text = |r| r.profile_id.as_str(),
            "event_id": Text = |r| r.event_id.as_str(),
            "channel": Text = |r| r.channel.as_str(),
            "currency": Text = |r| r.currency.as_str(),
            "revenue": BigInt = |r| r.revenue,
            "refunded": BigInt = |r| r.refunded,
            "margin": Nullable<BigInt> = |r| r.margin,
            "day": BigInt = |r| r.day,
            "occurred_at": BigInt = |r| r.occurred_at,
            "products": Text = |r| r.products.as_str(),
            "created_at": BigInt = |r| r.created_at,
            "updated_at": BigInt = |r| r.updated_at,
        ]),
    ])?)
}

/// Writes back profiles loaded (and locked) by this transaction. PostgreSQL:
/// one statement over arrays of every column (a batch touches dozens of
/// profiles; a statement each was a round trip each); SQLite (and a single
/// profile): a cached UPDATE per profile.
fn update_profiles(conn: &mut AnyConnection, rows: &[&ProfileRow]) -> StoreResult<()> {
    use diesel::sql_types::Array;
    match conn {
        AnyConnection::Postgresql(c) if rows.len() > 1 => {
            let text = |f: fn(&ProfileRow) -> &String| rows.iter().map(|r| f(r).clone()).collect::<Vec<String>>();
            let opt_text = |f: fn(&ProfileRow) -> &Option<String>| rows.iter().map(|r| f(r).clone()).collect::<Vec<Option<String>>>();
            let int = |f: fn(&ProfileRow) -> i64| rows.iter().map(|r| f(r)).collect::<Vec<i64>>();
            let opt_int = |f: fn(&ProfileRow) -> Option<i64>| rows.iter().map(|r| f(r)).collect::<Vec<Option<i64>>>();
            crate::cached!(
                "UPDATE profiles AS p SET merged_into = v.merged_into, user_id = v.user_id, traits = v.traits, \
                 trait_times = v.trait_times, channels = v.channels, first_seen_at = v.first_seen_at, last_seen_at = v.last_seen_at, \
                 event_count = v.event_count, created_at = v.created_at, updated_at = v.updated_at, orders_count = v.orders_count, \
                 revenue_total = v.revenue_total, margin_total = v.margin_total, first_order_at = v.first_order_at, \
                 last_order_at = v.last_order_at, identity_counts = v.identity_counts \
                 FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
                 AS v(id, merged_into, user_id, traits, trait_times, channels, first_seen_at, last_seen_at, event_count, created_at, \
                      updated_at, orders_count, revenue_total, margin_total, first_order_at, last_order_at, identity_counts) \
                 WHERE p.id = v.id",
            )
            .bind::<Array<Text>, _>(text(|r| &r.id))
            .bind::<Array<Nullable<Text>>, _>(opt_text(|r| &r.merged_into))
            .bind::<Array<Nullable<Text>>, _>(opt_text(|r| &r.user_id))
            .bind::<Array<Text>, _>(text(|r| &r.traits))
            .bind::<Array<Text>, _>(text(|r| &r.trait_times))
            .bind::<Array<BigInt>, _>(int(|r| r.channels))
            .bind::<Array<BigInt>, _>(int(|r| r.first_seen_at))
            .bind::<Array<BigInt>, _>(int(|r| r.last_seen_at))
            .bind::<Array<BigInt>, _>(int(|r| r.event_count))
            .bind::<Array<BigInt>, _>(int(|r| r.created_at))
            .bind::<Array<BigInt>, _>(int(|r| r.updated_at))
            .bind::<Array<BigInt>, _>(int(|r| r.orders_count))
            .bind::<Array<BigInt>, _>(int(|r| r.revenue_total))
            .bind::<Array<BigInt>, _>(int(|r| r.margin_total))
            .bind::<Array<Nullable<BigInt>>, _>(opt_int(|r| r.first_order_at))
            .bind::<Array<Nullable<BigInt>>, _>(opt_int(|r| r.last_order_at))
            .bind::<Array<Text>, _>(text(|r| &r.identity_counts))
            .execute(c)?;
        }
        // One row at a time through a statement prepared once per connection:
        // diesel re-prepares every `diesel::update` (its changesets may skip
        // columns, so it never caches an UPDATE) — 2.5% of the SQLite writer.
        conn => crate::per_backend!(conn, |c| {
            for r in rows {
                crate::cached!(
                    "UPDATE profiles SET merged_into = $1, user_id = $2, traits = $3, trait_times = $4, channels = $5, \
                     first_seen_at = $6, last_seen_at = $7, event_count = $8, created_at = $9, updated_at = $10, \
                     orders_count = $11, revenue_total = $12, margin_total = $13, first_order_at = $14, last_order_at = $15, \
                     identity_counts = $16 WHERE id = $17",
                )
                .bind::<Nullable<Text>, _>(r.merged_into.as_deref())
                .bind::<Nullable<Text>, _>(r.user_id.as_deref())
                .bind::<Text, _>(r.traits.as_str())
                .bind::<Text, _>(r.trait_times.as_str())
                .bind::<BigInt, _>(r.channels)
                .bind::<BigInt, _>(r.first_seen_at)
                .bind::<BigInt, _>(r.last_seen_at)
                .bind::<BigInt, _>(r.event_count)
                .bind::<BigInt, _>(r.created_at)
                .bind::<BigInt, _>(r.updated_at)
                .bind::<BigInt, _>(r.orders_count)
                .bind::<BigInt, _>(r.revenue_total)
                .bind::<BigInt, _>(r.margin_total)
                .bind::<Nullable<BigInt>, _>(r.first_order_at)
                .bind::<Nullable<BigInt>, _>(r.last_order_at)
                .bind::<Text, _>(r.identity_counts.as_str())
                .bind::<Text, _>(r.id.as_str())
                .execute(c)?;
            }
        }),
    }
    Ok(())
}

/// Creates or updates an account (later keys overwrite earlier ones) and makes
/// the profile a member.
fn link_account(conn: &mut AnyConnection, account: &str, traits: &Map<String, Value>, profile: &str, now: i64) -> StoreResult<()> {
    let held: Option<String> = accounts::table.find(account).select(accounts::traits).first(conn).optional()?;
    match held {
        Some(text) => {
            let mut merged: Map<String, Value> = serde_json::from_str(&text)?;
            merged.extend(traits.clone());
            diesel::update(accounts::table.find(account))
                .set((accounts::traits.eq(serde_json::to_string(&merged)?), accounts::updated_at.eq(now)))
                .execute(conn)?;
        }
        None => {
            diesel::insert_into(accounts::table)
                .values((
                    accounts::id.eq(account),
                    accounts::traits.eq(serde_json::to_string(traits)?),
                    accounts::created_at.eq(now),
                    accounts::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
    }
    let member: i64 = account_members::table
        .filter(account_members::account_id.eq(account))
        .filter(account_members::profile_id.eq(profile))
        .count()
        .get_result(conn)?;
    if member == 0 {
        diesel::insert_into(account_members::table)
            .values((account_members::account_id.eq(account), account_members::profile_id.eq(profile), account_members::created_at.eq(now)))
            .execute(conn)?;
    }
    Ok(())
}
