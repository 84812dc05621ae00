//! Who may write what at once: advisory locks on a batch's identities and
//! keys, and the row locks of the profiles they belong to (PostgreSQL; SQLite
//! serialises writers with `BEGIN IMMEDIATE`).

use super::{Origin, Prepared};
use crate::advisory::lock_key;
pub(super) use crate::advisory::lock_keys;
use crate::error::StoreResult;
use crate::in_list::in_list;
use crate::repo::profiles::ProfileRow;
use crate::schema::profiles;
use crate::AnyConnection;
use cdp_domain::commerce::OrderEvent;
use cdp_domain::IdentityType;
use diesel::prelude::*;

/// The advisory lock keys of events from `origin`: every identity (and
/// previous id), dedupe key, order and account they name, sorted, once each.
/// Two writers whose keys are disjoint never wait for each other's locks.
pub fn lock_keys_of<'a>(origin: &Origin, prepared: impl IntoIterator<Item = &'a Prepared>) -> Vec<i64> {
    let mut keys: Vec<i64> = Vec::new();
    for p in prepared {
        let e = &p.event;
        if let Some(OrderEvent::Completed { order_id, .. } | OrderEvent::Refunded { order_id, .. }) = &p.order {
            keys.push(lock_key(&["order", order_id]));
        }
        for i in &e.identities {
            keys.push(lock_key(&[i.kind.as_str(), &i.value]));
        }
        // Placeholders resolve where the rules do not block them.
        for p in e.placeholders.iter().filter(|p| p.valid) {
            keys.push(lock_key(&[p.kind.as_str(), &p.value]));
        }
        if let Some(m) = &e.message_id {
            keys.push(lock_key(&["message", &origin.source_key, m]));
        }
        if let Some(prev) = &e.previous_id {
            keys.push(lock_key(&[IdentityType::UserId.as_str(), prev]));
            keys.push(lock_key(&[IdentityType::AnonymousId.as_str(), prev]));
        }
        if let Some(account) = &e.group_id {
            keys.push(lock_key(&["account", account]));
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Loads profiles by id; on PostgreSQL locks them, in id order. Ingestion
/// needs it on SQLite only: on PostgreSQL its lookup statement loads and locks
/// the same profiles (`lookup::ALL`), a round trip less.
pub(super) fn load_profiles(conn: &mut AnyConnection, ids: &[String]) -> StoreResult<Vec<ProfileRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(match conn {
        AnyConnection::Postgresql(c) => profiles::table
            .filter(profiles::id.eq_any(ids))
            .order(profiles::id.asc())
            .for_update()
            .select(ProfileRow::as_select())
            .load(c)?,
        AnyConnection::Sqlite(c) => profiles::table.filter(in_list(profiles::id, ids)).select(ProfileRow::as_select()).load(c)?,
    })
}
