//! Consent records and the state in force, and preferences with history.

use crate::error::StoreResult;
use crate::schema::{consent_state, consents, preferences};
use crate::{new_id, AnyConnection};
use cdp_domain::consent::{self, ConsentRecord, ConsentStatus};
use diesel::prelude::*;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = consents)]
pub struct ConsentRow {
    pub id: String,
    pub profile_id: String,
    pub channel: String,
    pub status: String,
    pub source: String,
    pub recorded_at: i64,
    pub received_at: i64,
    pub actor: String,
    pub purpose: String,
    pub collected_by: Option<String>,
    pub policy_version: Option<String>,
    pub evidence: Option<String>,
}

/// Records a decision and brings the state in force up to date (the latest
/// recorded_at wins, so a late-arriving older record changes nothing).
pub fn record(conn: &mut AnyConnection, row: &ConsentRow) -> StoreResult<()> {
    diesel::insert_into(consents::table).values(row).execute(conn)?;
    refresh(conn, &row.profile_id, &row.channel)
}

/// Recomputes the state in force of one profile and channel, for every
/// purpose, from its history.
pub fn refresh(conn: &mut AnyConnection, profile: &str, channel: &str) -> StoreResult<()> {
    let history = history(conn, profile)?;
    diesel::delete(consent_state::table.filter(consent_state::profile_id.eq(profile)).filter(consent_state::channel.eq(channel)))
        .execute(conn)?;
    for purpose in consent::PURPOSES {
        let mine: Vec<&ConsentRow> = history.iter().filter(|r| r.channel == channel && r.purpose == purpose).collect();
        let records: Vec<ConsentRecord> = mine
            .iter()
            .filter_map(|r| Some(ConsentRecord { status: ConsentStatus::parse(&r.status)?, recorded_at: r.recorded_at, seq: r.id.clone() }))
            .collect();
        let Some(status) = consent::current(&records) else { continue };
        let winner = mine.iter().filter(|r| r.status == status.as_str()).max_by(|a, b| (a.recorded_at, &a.id).cmp(&(b.recorded_at, &b.id)));
        if let Some(w) = winner {
            diesel::insert_into(consent_state::table)
                .values((
                    consent_state::profile_id.eq(profile),
                    consent_state::channel.eq(channel),
                    consent_state::purpose.eq(purpose),
                    consent_state::status.eq(status.as_str()),
                    consent_state::recorded_at.eq(w.recorded_at),
                    consent_state::consent_id.eq(&w.id),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Every record of a profile, oldest decision first.
pub fn history(conn: &mut AnyConnection, profile: &str) -> StoreResult<Vec<ConsentRow>> {
    Ok(consents::table
        .filter(consents::profile_id.eq(profile))
        .order((consents::recorded_at.asc(), consents::id.asc()))
        .select(ConsentRow::as_select())
        .load(conn)?)
}

/// The decisions in force: (channel, purpose, status, recorded_at, consent id).
pub fn state(conn: &mut AnyConnection, profile: &str) -> StoreResult<Vec<cdp_app::store::ConsentInForce>> {
    Ok(consent_state::table
        .filter(consent_state::profile_id.eq(profile))
        .order((consent_state::channel.asc(), consent_state::purpose.asc()))
        .select((
            consent_state::channel,
            consent_state::purpose,
            consent_state::status,
            consent_state::recorded_at,
            consent_state::consent_id,
        ))
        .load(conn)?)
}

/// Of `profiles`, those whose decision in force for `channel` and `purpose` is `granted`.
pub fn granted_among(conn: &mut AnyConnection, profiles: &[String], channel: &str, purpose: &str) -> StoreResult<Vec<String>> {
    if profiles.is_empty() {
        return Ok(Vec::new());
    }
    Ok(consent_state::table
        .filter(consent_state::profile_id.eq_any(profiles))
        .filter(consent_state::channel.eq(channel))
        .filter(consent_state::purpose.eq(purpose))
        .filter(consent_state::status.eq("granted"))
        .select(consent_state::profile_id)
        .load(conn)?)
}

/// Moves a merged-away profile's consents and preferences to its survivor and
/// recomputes the survivor's state (the latest decision per channel wins).
pub fn move_profile(conn: &mut AnyConnection, merged: &str, into: &str) -> StoreResult<()> {
    let moved = crate::repo::move_rows!(&mut *conn, consents, merged, into)?;
    diesel::delete(consent_state::table.filter(consent_state::profile_id.eq(merged))).execute(conn)?;
    crate::repo::move_rows!(&mut *conn, preferences, merged, into)?;
    if moved > 0 {
        for channel in consent::CONSENT_CHANNELS {
            refresh(conn, into, channel)?;
        }
    }
    Ok(())
}

/// Saves a new version of the preferences.
pub fn save_preferences(conn: &mut AnyConnection, profile: &str, body: &str, now: i64, actor: &str) -> StoreResult<()> {
    diesel::insert_into(preferences::table)
        .values((
            preferences::id.eq(new_id()),
            preferences::profile_id.eq(profile),
            preferences::body.eq(body),
            preferences::recorded_at.eq(now),
            preferences::actor.eq(actor),
        ))
        .execute(conn)?;
    Ok(())
}

/// Every version of the preferences, newest first: (body, recorded_at, actor).
pub fn preference_history(conn: &mut AnyConnection, profile: &str) -> StoreResult<Vec<(String, i64, String)>> {
    Ok(preferences::table
        .filter(preferences::profile_id.eq(profile))
        .order((preferences::recorded_at.desc(), preferences::id.desc()))
        .select((preferences::body, preferences::recorded_at, preferences::actor))
        .load(conn)?)
}
