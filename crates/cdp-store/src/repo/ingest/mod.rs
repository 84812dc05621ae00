//! The write path of a batch of events: dedupe, resolve identities, create /
//! attach / merge profiles, append the events, update the profiles'
//! aggregates. Runs inside one write transaction (see `Db::write`).
//!
//! The batch is read with a few set-based queries (dedupe keys, identities,
//! profiles), resolved in memory event by event — each event sees the effect
//! of the ones before it — and written back with bulk inserts, so the number
//! of statements grows with the number of profiles touched, not of events.

use crate::error::{StoreError, StoreResult};
use crate::repo::orders::{self, OrderBook};
use crate::repo::profiles::{EventRow, IdentityRow, MergeRow, ProfileRow};
use crate::{micros, new_id, AnyConnection};
use cdp_domain::commerce::OrderEvent;
use cdp_domain::event::Placeholder;
use cdp_domain::identity_rules::{counts_from_json, Counts, IdentityRules};
use cdp_domain::resolution::{self, Candidate, Target};
use cdp_domain::traits::TraitState;
use cdp_domain::{Identity, IdentityType, NewEvent};
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex, OnceLock};

/// The batch's maps, keyed by ids, identities and message ids of one batch:
/// hashed with foldhash (seeded per map, as std's are), which costs a
/// fraction of std's SipHash on these short strings.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

mod flush;
mod locks;
mod lookup;
use flush::flush;
pub use locks::lock_keys_of;
use locks::{load_profiles, lock_keys};
use lookup::{lookup, Found, Keys};

pub use cdp_app::store::{Origin, Outcome, Prepared};

/// A profile being worked on in this batch.
struct Work {
    row: ProfileRow,
    traits: TraitState,
    /// Values held per identifier type (`row.identity_counts`, read).
    counts: Counts,
    /// Created by this batch (inserted at the end).
    new: bool,
    dirty: bool,
}

#[derive(Default)]
struct Batch {
    work: HashMap<String, Work>,
    /// Merged-away profile → the profile it was merged into.
    redirect: HashMap<String, String>,
    /// (type, value) → owning profile (possibly since merged: see `live`).
    owner: HashMap<(String, String), String>,
    /// Profiles that existed before the batch and were merged away, in order.
    moved: Vec<(String, String)>,
    identities: Vec<IdentityRow>,
    events: Vec<EventRow>,
    log: Vec<MergeRow>,
    /// message_id → (event id, profile id) of events seen before or in this batch.
    seen: HashMap<String, (String, String)>,
    /// `group` events: (account id, account traits, profile id), in order.
    groups: Vec<(String, Map<String, Value>, String)>,
    orders: OrderBook,
    /// The currency whose orders count in profile aggregates.
    currency: String,
    /// Consent carried by events (`context.consent`): (profile, channel, status, recorded_at).
    consents: Vec<(String, String, String, i64)>,
    /// The loyalty programme's document, if the lookups read it (`Some(None)`: none saved).
    program: Option<Option<String>>,
    /// The identity rules in force.
    rules: Arc<IdentityRules>,
    /// Pairs of profiles kept apart (merges undone) among those the batch loaded.
    apart: Vec<(String, String)>,
    /// Pending referrals of the profiles the batch loaded, when the lookups read them.
    pending_referrals: Option<Vec<(String, String, Option<String>)>>,
}

/// The live profile an id stands for, following the batch's merges.
fn live_in(redirect: &HashMap<String, String>, id: &str) -> String {
    let mut id = id;
    while let Some(next) = redirect.get(id) {
        id = next;
    }
    id.to_string()
}

impl Batch {
    /// The live profile an id now stands for.
    fn live(&self, id: &str) -> String {
        live_in(&self.redirect, id)
    }

    fn work(&mut self, id: &str) -> StoreResult<&mut Work> {
        self.work.get_mut(id).ok_or_else(|| StoreError::Corrupt(format!("profile {id} was not loaded")))
    }
}

fn parse_traits(p: &ProfileRow) -> StoreResult<TraitState> {
    Ok(TraitState { values: serde_json::from_str(&p.traits)?, times: serde_json::from_str(&p.trait_times)? })
}

/// The identity rules a stored document (or none: the defaults) says. The
/// last document read is kept parsed: it changes rarely, and its patterns
/// compile once.
fn rules_of(body: Option<String>) -> StoreResult<Arc<IdentityRules>> {
    static DEFAULT: OnceLock<Arc<IdentityRules>> = OnceLock::new();
    static LAST: Mutex<Option<(String, Arc<IdentityRules>)>> = Mutex::new(None);
    let Some(body) = body else { return Ok(DEFAULT.get_or_init(|| Arc::new(IdentityRules::default())).clone()) };
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, rules)) = last.as_ref().filter(|(text, _)| *text == body) {
        return Ok(rules.clone());
    }
    let doc = serde_json::from_str(&body)?;
    let rules = IdentityRules::from_doc(doc, &Default::default())
        .map_err(|e| StoreError::Corrupt(format!("the stored identity rules are invalid: {}", e.summary())))?;
    let rules = Arc::new(rules);
    *last = Some((body, rules.clone()));
    Ok(rules)
}

/// Stores a batch of prepared events (prepared with `currency`). Must run
/// inside a write transaction. Orders in `currency` (the deployment's
/// default) count in profile aggregates.
pub fn ingest_batch(
    conn: &mut AnyConnection,
    origin: &Origin,
    prepared: &[&Prepared],
    currency: &str,
    received_at: i64,
) -> StoreResult<Vec<Outcome>> {
    let keys = if matches!(conn, AnyConnection::Postgresql(_)) { lock_keys_of(origin, prepared.iter().copied()) } else { Vec::new() };
    ingest_keyed(conn, origin, prepared, &keys, currency, received_at)
}

/// As `ingest_batch`, with the batch's lock keys (`lock_keys_of`, sorted,
/// once each) worked out already — on PostgreSQL; none are needed on SQLite,
/// nor where the transaction began holding them (`Db::write_locked`).
pub fn ingest_keyed(
    conn: &mut AnyConnection,
    origin: &Origin,
    prepared: &[&Prepared],
    keys: &[i64],
    currency: &str,
    received_at: i64,
) -> StoreResult<Vec<Outcome>> {
    let batch: Vec<&NewEvent> = prepared.iter().map(|p| &p.event).collect();
    let batch = batch.as_slice();
    let mut order_ids: Vec<String> = prepared
        .iter()
        .filter_map(|p| p.order.as_ref())
        .map(|o| match o {
            OrderEvent::Completed { order_id, .. } | OrderEvent::Refunded { order_id, .. } => order_id.clone(),
        })
        .collect();
    order_ids.sort_unstable();
    order_ids.dedup();
    lock_keys(conn, keys)?;
    let mut values: Vec<&str> = batch
        .iter()
        .flat_map(|e| {
            e.identities
                .iter()
                .map(|i| i.value.as_str())
                .chain(e.placeholders.iter().filter(|p| p.valid).map(|p| p.value.as_str()))
                .chain(e.previous_id.as_deref())
        })
        .collect();
    values.sort_unstable();
    values.dedup();
    let wanted = Keys {
        source_key: &origin.source_key,
        message_ids: batch.iter().filter_map(|e| e.message_id.as_deref()).collect(),
        values,
        hashes: prepared.iter().flat_map(|p| p.hashes.iter().map(String::as_str)).collect(),
        order_ids: &order_ids,
    };
    let Found { seen, identities: found, tombstones, orders, program, rules, apart, profiles, pending_referrals } = lookup(conn, &wanted)?;
    let rules = match rules {
        Some(body) => rules_of(body)?,
        None => rules_of(crate::repo::identity::rules(conn)?)?,
    };
    let mut b = Batch {
        currency: currency.to_string(),
        orders: OrderBook::from_rows(orders),
        program,
        rules,
        pending_referrals,
        ..Batch::default()
    };
    // Dedupe keys seen before, and where their events live now.
    for (mid, id, pid, merged_into) in seen {
        // merged_into always names the final survivor.
        b.seen.insert(mid, (id, merged_into.unwrap_or(pid)));
    }

    // Who the identities belong to, and those profiles (locked on PostgreSQL,
    // where the lookup loaded them).
    let mut owners: Vec<String> = found.iter().map(|r| r.profile_id.clone()).chain(b.orders.owners()).collect();
    owners.sort_unstable();
    owners.dedup();
    let loaded = match profiles {
        Some(rows) => rows,
        None => load_profiles(conn, &owners)?,
    };
    for p in loaded {
        if p.merged_into.is_some() {
            // A concurrent merge moved these identities after we read them.
            return Err(StoreError::Contention("identities moved during resolution".into()));
        }
        let traits = parse_traits(&p)?;
        let counts = counts_from_json(&p.identity_counts)?;
        b.work.insert(p.id.clone(), Work { row: p, traits, counts, new: false, dirty: false });
    }
    if b.work.len() != owners.len() {
        return Err(StoreError::Contention("a profile vanished during resolution".into()));
    }
    for r in found {
        b.owner.insert((r.identity_type, r.value), r.profile_id);
    }
    b.apart = match apart {
        Some(pairs) => pairs,
        None => crate::repo::undo::apart_from(conn, &owners)?,
    };

    // Tombstones of erased people: their old events are not replayed into a new profile.
    let mut outcomes = Vec::with_capacity(batch.len());
    for p in prepared {
        if !tombstones.is_empty() {
            let at = micros(p.event.occurred_at);
            let erased =
                p.event.identities.iter().zip(&p.hashes).find(|(_, h)| tombstones.get(*h).is_some_and(|erased_at| at <= *erased_at));
            if let Some((i, _)) = erased {
                outcomes.push(Outcome::Erased { identity_type: i.kind.as_str().to_string() });
                continue;
            }
        }
        outcomes.push(resolve_one(&mut b, origin, p, received_at)?);
    }
    flush(conn, &mut b, received_at, &origin.source_key)?;
    let outcomes = outcomes
        .into_iter()
        .map(|o| match o {
            Outcome::Accepted { id, profile_id } => Outcome::Accepted { id, profile_id: b.live(&profile_id) },
            Outcome::Duplicate { id, profile_id } => Outcome::Duplicate { id, profile_id: b.live(&profile_id) },
            erased @ Outcome::Erased { .. } => erased,
        })
        .collect();
    if matches!(conn, AnyConnection::Sqlite(_)) {
        crate::later::drop_later(b);
    }
    Ok(outcomes)
}

/// Stores one event (a batch of one). Must run inside a write transaction.
pub fn ingest_one(conn: &mut AnyConnection, origin: &Origin, event: &NewEvent, currency: &str, received_at: i64) -> StoreResult<Outcome> {
    let p = Prepared::new(event.clone(), currency)?;
    ingest_batch(conn, origin, &[&p], currency, received_at)?.pop().ok_or_else(|| StoreError::Corrupt("no outcome".into()))
}

/// Resolves one event against the batch's state and records what to write.
fn resolve_one(b: &mut Batch, origin: &Origin, p: &Prepared, received_at: i64) -> StoreResult<Outcome> {
    let (e, order) = (&p.event, p.order.as_ref());
    if let Some((id, pid)) = e.message_id.as_ref().and_then(|m| b.seen.get(m)) {
        return Ok(Outcome::Duplicate { id: id.clone(), profile_id: pid.clone() });
    }
    let (ids, blocked) = planned_identities(b, e);
    let owner_ids: Vec<Option<String>> =
        ids.iter().map(|i| b.owner.get(&(i.kind.as_str().to_string(), i.value.clone())).map(|p| b.live(p))).collect();
    let candidates: HashMap<&str, Candidate> = owner_ids
        .iter()
        .flatten()
        .filter_map(|id| b.work.get(id.as_str()))
        .map(|w| (w.row.id.as_str(), Candidate { id: w.row.id.clone(), created_at: w.row.created_at, counts: &w.counts }))
        .collect();
    let owners: Vec<Option<&Candidate>> = owner_ids.iter().map(|o| o.as_deref().and_then(|id| candidates.get(id))).collect();
    let apart = |x: &str, y: &str| {
        b.apart.iter().any(|(p, q)| {
            let (p, q) = (live_in(&b.redirect, p), live_in(&b.redirect, q));
            (p == x && q == y) || (p == y && q == x)
        })
    };
    let plan = resolution::plan(&ids, &owners, &b.rules, &apart);
    drop(candidates);

    let event_id = new_id();
    let at = micros(e.occurred_at);
    let target = match plan.target {
        Target::Existing(id) => id,
        Target::New => {
            let row = ProfileRow::new(new_id(), at, received_at);
            let id = row.id.clone();
            b.work.insert(id.clone(), Work { row, traits: TraitState::default(), counts: Counts::new(), new: true, dirty: true });
            id
        }
    };
    let log_row = |kind: &str, merged: &str, identity: &Identity, reason: Option<&str>| MergeRow {
        id: new_id(),
        kind: kind.into(),
        survivor_id: target.clone(),
        merged_id: merged.to_string(),
        identity_type: identity.kind.as_str().to_string(),
        identity_value: identity.value.clone(),
        event_id: Some(event_id.clone()),
        created_at: received_at,
        reason: reason.map(str::to_string),
        undone_at: None,
        detail: None,
    };
    for step in &plan.merges {
        let merged = b.work(&step.merged)?;
        let (theirs, snapshot, was_new) = (std::mem::take(&mut merged.traits), merged.row.clone(), merged.new);
        let their_counts = std::mem::take(&mut merged.counts);
        // The merged row keeps only its pointer: personal data lives in one place.
        merged.row.merged_into = Some(target.clone());
        merged.row.user_id = None;
        merged.row.traits = "{}".into();
        merged.row.trait_times = "{}".into();
        merged.row.updated_at = received_at;
        merged.dirty = true;
        let t = b.work(&target)?;
        t.traits.absorb(&theirs);
        let mut totals = t.row.totals();
        totals.absorb(&snapshot.totals());
        t.row.user_id = t.row.user_id.take().or(snapshot.user_id);
        t.row.set_totals(totals);
        for (k, n) in their_counts {
            *t.counts.entry(k).or_default() += n;
        }
        t.dirty = true;
        b.redirect.insert(step.merged.clone(), target.clone());
        if !was_new {
            b.moved.push((step.merged.clone(), target.clone()));
        }
        b.log.push(log_row("merge", &step.merged, &step.bridge, None));
    }
    for c in &plan.conflicts {
        // A new value with no room names the event's own profile.
        let other = if c.profile_id.is_empty() { target.as_str() } else { c.profile_id.as_str() };
        log::info!("identity not linked: profile {target} and {other} ({})", c.reason.as_str());
        b.log.push(log_row("conflict", other, &c.identity, Some(c.reason.as_str())));
    }
    let t = b.work(&target)?;
    for i in &plan.attach {
        *t.counts.entry(i.kind.clone()).or_default() += 1;
    }
    for i in &plan.attach {
        b.owner.insert((i.kind.as_str().to_string(), i.value.clone()), target.clone());
        b.identities.push(IdentityRow {
            value: i.value.clone(),
            identity_type: i.kind.as_str().to_string(),
            profile_id: target.clone(),
            created_at: received_at,
        });
    }
    let t = b.work(&target)?;
    if let Some(uid) = plan.attach.iter().find(|i| i.kind == IdentityType::UserId) {
        t.row.user_id = Some(uid.value.clone());
    }
    t.traits.apply(&Placeholder::strip_traits(&e.traits, &blocked), at);
    let mut totals = t.row.totals();
    totals.record_event(e.channel, at);
    t.row.set_totals(totals);
    t.row.updated_at = received_at;
    t.dirty = true;

    b.events.push(EventRow {
        id: event_id.clone(),
        profile_id: target.clone(),
        source_key: origin.source_key.clone(),
        source_id: origin.source_id.clone(),
        message_id: e.message_id.clone(),
        event_type: e.kind.as_str().to_string(),
        name: e.name.clone(),
        channel: e.channel.as_str().to_string(),
        occurred_at: at,
        received_at,
        identities: serde_json::to_string(&ids)?,
        blocked_identities: if blocked.is_empty() { None } else { Some(serde_json::to_string(&blocked)?) },
        traits: p.traits.clone(),
        properties: p.properties.clone(),
        context: p.context.clone(),
    });
    if let Some(m) = &e.message_id {
        b.seen.insert(m.clone(), (event_id.clone(), target.clone()));
    }
    if let Some(account) = &e.group_id {
        b.groups.push((account.clone(), e.properties.clone(), target.clone()));
    }
    for (channel, status) in e.consents() {
        b.consents.push((target.clone(), channel, status.as_str().to_string(), at));
    }
    if let Some(order) = order {
        let at = orders::At { profile: &target, event_id: &event_id, channel: e.channel.as_str(), occurred_at: at, now: received_at };
        let redirect = b.redirect.clone();
        let live = |id: &str| live_in(&redirect, id);
        if let Some((owner, d)) = b.orders.apply(order, &at, p.earn, &b.currency, live) {
            let w = b.work(&owner)?;
            let mut totals = w.row.totals();
            totals.record_order(d.orders, d.revenue, d.margin, d.at);
            w.row.set_totals(totals);
            w.dirty = true;
        }
    }
    Ok(Outcome::Accepted { id: event_id, profile_id: target })
}

/// The identities an event resolves by — its own, its placeholders where
/// the rules let them resolve, and for `alias` the previous id (as the
/// user_id it names if a profile holds one, else as an anonymous_id) — the
/// strongest first, as the plan expects; and those that link nothing
/// (blocked by the rules, or placeholders), kept on the event.
fn planned_identities(b: &Batch, e: &NewEvent) -> (Vec<Identity>, Vec<Placeholder>) {
    let rules = &b.rules;
    let mut ids = e.identities.clone();
    let mut blocked = Vec::new();
    for p in &e.placeholders {
        match p.identity() {
            Some(id) if !rules.blocks_placeholders() => {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            _ => blocked.push(p.clone()),
        }
    }
    if let Some(prev) = &e.previous_id {
        let kind = if b.owner.contains_key(&(IdentityType::UserId.as_str().to_string(), prev.clone())) {
            IdentityType::UserId
        } else {
            IdentityType::AnonymousId
        };
        let alias = Identity { kind, value: prev.clone() };
        if !ids.contains(&alias) {
            ids.push(alias);
        }
    }
    ids.retain(|i| {
        let keep = !rules.is_blocked(i);
        if !keep {
            blocked.push(Placeholder { kind: i.kind.clone(), value: i.value.clone(), valid: true });
        }
        keep
    });
    rules.sort(&mut ids);
    (ids, blocked)
}
