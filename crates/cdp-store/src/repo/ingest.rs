//! The write path of an event: dedupe, resolve identities, create / attach /
//! merge profiles, append the event, update the profile's aggregates.
//! Callers run it inside one write transaction per request (see `Db::write`).

use crate::error::{StoreError, StoreResult};
use crate::repo::profiles::{EventRow, IdentityRow, MergeRow, ProfileRow};
use crate::schema::{events, identities, merges, profiles};
use crate::{micros, new_id, AnyConnection};
use cdp_domain::resolution::{self, Candidate, Target};
use cdp_domain::traits::TraitState;
use cdp_domain::{Identity, IdentityType, NewEvent};
use diesel::prelude::*;
use std::collections::HashMap;

/// Where events come from: the dedupe scope and the source, if any.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The source's id, or `key:<id>` for a key bound to no source.
    pub source_key: String,
    pub source_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted {
        id: String,
        profile_id: String,
    },
    /// The (source, message_id) was seen before; nothing was written.
    Duplicate {
        id: String,
        profile_id: String,
    },
}

/// Prepares a write transaction that will ingest `events`: on PostgreSQL it
/// takes, in one global order, transaction-scoped advisory locks on every
/// identity and dedupe key the events carry, then row locks on every profile
/// that owns one of those identities. Writers that share nothing proceed in
/// parallel; writers that share an identity queue instead of racing, and since
/// every lock is taken up front in a fixed order they cannot deadlock.
/// On SQLite `BEGIN IMMEDIATE` already serialises writers: nothing to do.
pub fn lock_for(conn: &mut AnyConnection, origin: &Origin, events: &[&NewEvent]) -> StoreResult<()> {
    let AnyConnection::Postgresql(pg) = conn else { return Ok(()) };
    let mut keys: Vec<i64> = Vec::new();
    let mut values: Vec<&str> = Vec::new();
    for e in events {
        for i in &e.identities {
            keys.push(lock_key(&[i.kind.as_str(), &i.value]));
            values.push(&i.value);
        }
        if let Some(m) = &e.message_id {
            keys.push(lock_key(&["message", &origin.source_key, m]));
        }
    }
    keys.sort_unstable();
    keys.dedup();
    values.sort_unstable();
    values.dedup();
    diesel::sql_query("SELECT pg_advisory_xact_lock(k) FROM unnest($1) AS k ORDER BY k")
        .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(&keys)
        .execute(pg)?;
    let mut owners: Vec<String> = identities::table.filter(identities::value.eq_any(&values)).select(identities::profile_id).load(pg)?;
    owners.sort_unstable();
    owners.dedup();
    if !owners.is_empty() {
        let locked: Vec<(String, Option<String>)> = profiles::table
            .filter(profiles::id.eq_any(&owners))
            .order(profiles::id.asc())
            .for_update()
            .select((profiles::id, profiles::merged_into))
            .load(pg)?;
        if locked.iter().any(|(_, m)| m.is_some()) {
            return Err(StoreError::Retry("a profile was merged while locking".into()));
        }
    }
    Ok(())
}

/// A stable 64-bit key (FNV-1a) for an advisory lock: the same in every
/// process and version, so that several `cdp` processes agree.
fn lock_key(parts: &[&str]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (n, p) in parts.iter().enumerate() {
        if n > 0 {
            h ^= 0x1f;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in p.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h as i64
}

/// Stores one event. Must run inside a write transaction, after [`lock_for`].
pub fn ingest(conn: &mut AnyConnection, origin: &Origin, e: &NewEvent, received_at: i64) -> StoreResult<Outcome> {
    if let Some(mid) = &e.message_id {
        let seen: Option<(String, String)> = events::table
            .filter(events::source_key.eq(&origin.source_key))
            .filter(events::message_id.eq(mid))
            .select((events::id, events::profile_id))
            .first(conn)
            .optional()?;
        if let Some((id, profile_id)) = seen {
            let live = crate::repo::profiles::resolve(conn, &profile_id)?;
            return Ok(Outcome::Duplicate { id, profile_id: live.id });
        }
    }

    // Who do the identities belong to?
    let values: Vec<&str> = e.identities.iter().map(|i| i.value.as_str()).collect();
    let found: Vec<IdentityRow> =
        identities::table.filter(identities::value.eq_any(&values)).select(IdentityRow::as_select()).load(conn)?;
    let owner_of =
        |i: &Identity| found.iter().find(|r| r.value == i.value && r.identity_type == i.kind.as_str()).map(|r| r.profile_id.clone());
    let owner_ids: Vec<Option<String>> = e.identities.iter().map(owner_of).collect();
    let mut wanted: Vec<String> = owner_ids.iter().flatten().cloned().collect();
    wanted.sort();
    wanted.dedup();
    let mut rows = lock_profiles(conn, &wanted)?;
    if rows.len() != wanted.len() || rows.values().any(|p| p.merged_into.is_some()) {
        // A concurrent merge moved these identities after we read them.
        return Err(StoreError::Retry("identities moved during resolution".into()));
    }

    let candidates: HashMap<&str, Candidate> = rows
        .values()
        .map(|p| (p.id.as_str(), Candidate { id: p.id.clone(), created_at: p.created_at, user_id: p.user_id.clone() }))
        .collect();
    let owners: Vec<Option<&Candidate>> = owner_ids.iter().map(|o| o.as_deref().and_then(|id| candidates.get(id))).collect();
    let plan = resolution::plan(&e.identities, &owners);

    let event_id = new_id();
    let at = micros(e.occurred_at);
    let mut target = match &plan.target {
        Target::Existing(id) => rows.remove(id).ok_or_else(|| StoreError::Corrupt("planned target not loaded".into()))?,
        Target::New => {
            let p = ProfileRow {
                id: new_id(),
                merged_into: None,
                user_id: None,
                traits: "{}".into(),
                trait_times: "{}".into(),
                channels: 0,
                first_seen_at: at,
                last_seen_at: at,
                event_count: 0,
                created_at: received_at,
                updated_at: received_at,
            };
            diesel::insert_into(profiles::table).values(&p).execute(conn)?;
            p
        }
    };
    let mut state = TraitState { values: serde_json::from_str(&target.traits)?, times: serde_json::from_str(&target.trait_times)? };

    for step in &plan.merges {
        let merged = rows.remove(&step.merged).ok_or_else(|| StoreError::Corrupt("planned merge not loaded".into()))?;
        absorb(conn, &mut target, &mut state, &merged, received_at)?;
        diesel::insert_into(merges::table)
            .values(&MergeRow {
                id: new_id(),
                kind: "merge".into(),
                survivor_id: target.id.clone(),
                merged_id: merged.id.clone(),
                identity_type: step.bridge.kind.as_str().to_string(),
                identity_value: step.bridge.value.clone(),
                event_id: Some(event_id.clone()),
                created_at: received_at,
            })
            .execute(conn)?;
    }
    for c in &plan.conflicts {
        log::info!("merge refused: profiles {} and {} hold different user_ids", target.id, c.profile_id);
        diesel::insert_into(merges::table)
            .values(&MergeRow {
                id: new_id(),
                kind: "conflict".into(),
                survivor_id: target.id.clone(),
                merged_id: c.profile_id.clone(),
                identity_type: c.identity.kind.as_str().to_string(),
                identity_value: c.identity.value.clone(),
                event_id: Some(event_id.clone()),
                created_at: received_at,
            })
            .execute(conn)?;
    }
    for i in &plan.attach {
        if i.kind == IdentityType::UserId {
            target.user_id = Some(i.value.clone());
        }
        diesel::insert_into(identities::table)
            .values(&IdentityRow {
                value: i.value.clone(),
                identity_type: i.kind.as_str().to_string(),
                profile_id: target.id.clone(),
                created_at: received_at,
            })
            .execute(conn)?;
    }

    state.apply(&e.traits, at);
    target.traits = serde_json::to_string(&state.values)?;
    target.trait_times = serde_json::to_string(&state.times)?;
    target.channels |= e.channel.bit();
    target.first_seen_at = target.first_seen_at.min(at);
    target.last_seen_at = target.last_seen_at.max(at);
    target.event_count += 1;
    target.updated_at = received_at;
    diesel::update(profiles::table.find(&target.id)).set(&target).execute(conn)?;

    diesel::insert_into(events::table)
        .values(&EventRow {
            id: event_id.clone(),
            profile_id: target.id.clone(),
            source_key: origin.source_key.clone(),
            source_id: origin.source_id.clone(),
            message_id: e.message_id.clone(),
            event_type: e.kind.as_str().to_string(),
            name: e.name.clone(),
            channel: e.channel.as_str().to_string(),
            occurred_at: at,
            received_at,
            identities: serde_json::to_string(&e.identities)?,
            traits: serde_json::to_string(&e.traits)?,
            properties: serde_json::to_string(&e.properties)?,
            context: serde_json::to_string(&e.context)?,
        })
        .execute(conn)?;
    Ok(Outcome::Accepted { id: event_id, profile_id: target.id })
}

/// Loads the profiles, locking them on PostgreSQL (in id order, so that
/// writers queue rather than deadlock where they can). SQLite's writer lock,
/// taken by `BEGIN IMMEDIATE`, already serialises writers.
fn lock_profiles(conn: &mut AnyConnection, ids: &[String]) -> StoreResult<HashMap<String, ProfileRow>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<ProfileRow> = match conn {
        AnyConnection::Postgresql(c) => profiles::table
            .filter(profiles::id.eq_any(ids))
            .order(profiles::id.asc())
            .for_update()
            .select(ProfileRow::as_select())
            .load(c)?,
        AnyConnection::Sqlite(c) => profiles::table.filter(profiles::id.eq_any(ids)).select(ProfileRow::as_select()).load(c)?,
    };
    Ok(rows.into_iter().map(|p| (p.id.clone(), p)).collect())
}

/// Folds `merged` into `target`: identities and events move, aggregates and
/// traits combine, and every id that pointed at `merged` now points at the
/// survivor (so merge chains stay one hop long).
fn absorb(conn: &mut AnyConnection, target: &mut ProfileRow, state: &mut TraitState, merged: &ProfileRow, now: i64) -> StoreResult<()> {
    let theirs = TraitState { values: serde_json::from_str(&merged.traits)?, times: serde_json::from_str(&merged.trait_times)? };
    state.absorb(&theirs);
    target.user_id = target.user_id.take().or_else(|| merged.user_id.clone());
    target.channels |= merged.channels;
    target.first_seen_at = target.first_seen_at.min(merged.first_seen_at);
    target.last_seen_at = target.last_seen_at.max(merged.last_seen_at);
    target.event_count += merged.event_count;

    diesel::update(identities::table.filter(identities::profile_id.eq(&merged.id)))
        .set(identities::profile_id.eq(&target.id))
        .execute(conn)?;
    diesel::update(events::table.filter(events::profile_id.eq(&merged.id))).set(events::profile_id.eq(&target.id)).execute(conn)?;
    diesel::update(profiles::table.filter(profiles::merged_into.eq(&merged.id))).set(profiles::merged_into.eq(&target.id)).execute(conn)?;
    // The merged row keeps only its pointer: personal data lives in one place.
    diesel::update(profiles::table.find(&merged.id))
        .set((
            profiles::merged_into.eq(&target.id),
            profiles::user_id.eq(None::<String>),
            profiles::traits.eq("{}"),
            profiles::trait_times.eq("{}"),
            profiles::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}
