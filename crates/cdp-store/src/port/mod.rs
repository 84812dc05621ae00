//! The application's ports, implemented over diesel: a use case's
//! transaction is a connection of the pool, each repository call one of the
//! functions of `repo`, rows converted to the application's records at
//! this boundary.

use crate::conn::{AnyConnection, Db};
use crate::group::Ingestor;
use crate::repo::consent::ConsentRow;
use crate::repo::interaction::{CaseHistoryRow, CaseRow, FeedbackRow, ImprovementRow, SurveyRow};
use crate::repo::keys::{ActiveKey, KeyRow};
use crate::repo::loyalty::{LedgerRow, RewardRow};
use crate::repo::outbox::{DeliveryRow, DestinationRow, JobRunRow};

mod activation;
mod programmes;
use crate::repo::privacy::AuditRow;
use crate::repo::profiles::{EventRow, IdentityRow, MergeRow, ProfileRow, ProfileView};
use crate::repo::segments::{MemberRow, SegmentRow};
use crate::repo::sources::SourceRow;
use crate::repo::users::UserRow;
use crate::repo::value::{PurchaseSummary, RfmRow, ScoreRow};
use crate::repo::{consent, identity, ingest, interaction, keys, loyalty, privacy, profiles, segments, sources, users, value};
use cdp_app::store::{self as app, Abort, Page, Tx, TxKind};
use cdp_domain::loyalty::Program;
use cdp_domain::segment::Rule;
use cdp_domain::NewEvent;

/// The store of the application over a database: its transactions on the
/// pool, its ingestion through group commit.
pub struct SqlStore {
    db: Db,
    ingestor: Ingestor,
    /// SQLite: the exclusive locks held in this process.
    held: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl SqlStore {
    pub fn new(db: Db) -> SqlStore {
        SqlStore { ingestor: Ingestor::new(db.clone()), db, held: Default::default() }
    }
}

impl app::Store for SqlStore {
    fn backend(&self) -> &'static str {
        self.db.backend.as_str()
    }

    fn ping(&self) -> app::StoreResult<()> {
        Ok(self.db.ping()?)
    }

    fn transaction(&self, kind: TxKind, work: &mut dyn FnMut(&mut dyn Tx) -> Result<(), Abort>) -> Result<(), Abort> {
        match kind {
            TxKind::Write => self.db.write(|c| work(c)),
            TxKind::Read => self.db.read(|c| work(c)),
            TxKind::Statement => self.db.read_statement(|c| work(c)),
        }
    }

    fn ingest(&self, origin: &app::Origin, events: Vec<app::Prepared>, currency: &str, received_at: i64, reply: app::Reply) {
        self.ingestor.ingest(origin, events, currency, received_at, Box::new(move |r| reply(r.map_err(Into::into))))
    }

    fn ingest_busy_micros(&self) -> u64 {
        self.ingestor.busy_micros()
    }

    fn exclusive(&self, name: &str, work: &mut dyn FnMut()) -> Res<bool> {
        use diesel::sql_types::{BigInt, Bool};
        #[derive(diesel::QueryableByName)]
        struct Got {
            #[diesel(sql_type = Bool)]
            got: bool,
        }
        if self.db.backend != crate::Backend::Postgres {
            if !self.held.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_string()) {
                return Ok(false);
            }
            work();
            self.held.lock().unwrap_or_else(|p| p.into_inner()).remove(name);
            return Ok(true);
        }
        // A session lock on a connection of the pool, held while the work runs
        // on others; PostgreSQL drops it if the process dies.
        let key = crate::advisory::lock_key(&["job", name]);
        let mut conn = self.db.conn().map_err(app::StoreError::from)?;
        let AnyConnection::Postgresql(pg) = &mut *conn else { return Ok(false) };
        let got: Got =
            diesel::RunQueryDsl::get_result(diesel::sql_query("SELECT pg_try_advisory_lock($1) AS got").bind::<BigInt, _>(key), pg)
                .map_err(|e| app::StoreError::from(crate::StoreError::from(e)))?;
        if !got.got {
            return Ok(false);
        }
        work();
        diesel::RunQueryDsl::execute(diesel::sql_query("SELECT pg_advisory_unlock($1)").bind::<BigInt, _>(key), pg)
            .map_err(|e| app::StoreError::from(crate::StoreError::from(e)))?;
        Ok(true)
    }

    fn wait_for_outbox(&self, seen: u64, timeout: std::time::Duration) -> u64 {
        self.db.outbox.wait(seen, timeout)
    }
}

/// Rows to records and back, field by field.
macro_rules! records {
    ($($row:ident { $($f:ident),* $(,)? })*) => {$(
        impl From<$row> for app::$row {
            fn from(r: $row) -> Self {
                app::$row { $($f: r.$f),* }
            }
        }
        impl From<&app::$row> for $row {
            #[allow(clippy::clone_on_copy)]
            fn from(r: &app::$row) -> Self {
                $row { $($f: r.$f.clone()),* }
            }
        }
    )*};
}

records! {
    ProfileRow { id, merged_into, user_id, traits, trait_times, channels, first_seen_at, last_seen_at, event_count, created_at, updated_at, orders_count, revenue_total, margin_total, first_order_at, last_order_at, identity_counts }
    IdentityRow { value, identity_type, profile_id, created_at }
    EventRow { id, profile_id, source_key, source_id, message_id, event_type, name, channel, occurred_at, received_at, identities, traits, properties, context, blocked_identities }
    MergeRow { id, kind, survivor_id, merged_id, identity_type, identity_value, event_id, created_at, reason, undone_at, detail }
    ConsentRow { id, profile_id, channel, status, source, recorded_at, received_at, actor, purpose, collected_by, policy_version, evidence }
    KeyRow { id, name, prefix, key_hash, scopes, source_id, created_at, last_used_at, revoked_at }
    SourceRow { id, name, channel, created_at }
    UserRow { id, username, password_hash, role, created_at, disabled_at }
    AuditRow { id, actor, action, profile_id, detail, at }
    PurchaseSummary { profile_id, days, first_day, last_day, revenue, first_day_revenue }
    ScoreRow { profile_id, model_id, p_alive, expected_purchases, expected_order_value, clv }
    RfmRow { profile_id, r, f, m, segment, as_of_day }
    SurveyRow { id, name, kind, question, channels, created_by, created_at }
    FeedbackRow { id, profile_id, event_id, survey_id, kind, score, body, category, channel, sentiment_label, sentiment_score, order_id, case_id, occurred_at, received_at }
    CaseRow { id, profile_id, category, priority, channel, subject, description, status, assignee, resolution, due_at, created_by, created_at, updated_at, resolved_at, resolved_by }
    CaseHistoryRow { id, case_id, status, assignee, note, actor, at }
    ImprovementRow { id, title, description, categories, channel, published_at, created_by, created_at }
    LedgerRow { id, profile_id, kind, points, balance_after, order_id, reward_id, idempotency_key, reason, created_at, expires_at, remaining }
    RewardRow { id, name, points_cost, stock, active_from, active_to, created_at }
    SegmentRow { id, name, description, rule, version, size, entered, exited, refreshed_at, as_of, created_by, created_at, updated_at, refresh_every_minutes }
    MemberRow { profile_id, entered_at, exited_at }
    DestinationRow { id, name, url, secret, events, segment_ids, consent_channel, consent_purpose, enabled, created_at, updated_at }
    DeliveryRow { id, destination_id, event_type, profile_id, data, occurred_at, status, attempts, next_attempt_at, lease_until, last_status_code, last_error, body, created_at, delivered_at }
    JobRunRow { id, job, slot, status, detail, started_at, finished_at }
}

impl From<ProfileView> for app::ProfileView {
    fn from(v: ProfileView) -> Self {
        app::ProfileView { profile: v.profile.into(), identities: all(v.identities), accounts: v.accounts, loyalty: v.loyalty }
    }
}

impl From<ActiveKey> for app::ActiveKey {
    fn from(k: ActiveKey) -> Self {
        app::ActiveKey { key: k.key.into(), source_channel: k.source_channel }
    }
}

type Res<T> = app::StoreResult<T>;

fn all<A, B: From<A>>(rows: Vec<A>) -> Vec<B> {
    rows.into_iter().map(B::from).collect()
}

fn page<A, B: From<A>, K>((rows, next): Page<A, K>) -> Page<B, K> {
    (all(rows), next)
}

/// A store result as the application's, its rows as records.
fn done<A, B: From<A>>(r: crate::StoreResult<A>) -> Res<B> {
    r.map(B::from).map_err(Into::into)
}

fn done_all<A, B: From<A>>(r: crate::StoreResult<Vec<A>>) -> Res<Vec<B>> {
    r.map(all).map_err(Into::into)
}

fn done_opt<A, B: From<A>>(r: crate::StoreResult<Option<A>>) -> Res<Option<B>> {
    r.map(|o| o.map(B::from)).map_err(Into::into)
}

impl app::IngestStore for AnyConnection {
    fn ingest_one(&mut self, origin: &app::Origin, event: &NewEvent, currency: &str, received_at: i64) -> Res<app::Outcome> {
        done(ingest::ingest_one(self, origin, event, currency, received_at))
    }
}

impl app::IdentityStore for AnyConnection {
    fn identity_rules(&mut self) -> Res<Option<String>> {
        done(identity::rules(self))
    }
    fn save_identity_rules(&mut self, body: &str, now: i64, actor: &str) -> Res<()> {
        done(identity::save_rules(self, body, now, actor))
    }
}

impl app::ProfileStore for AnyConnection {
    fn resolve(&mut self, id: &str) -> Res<app::ProfileRow> {
        done(profiles::resolve(self, id))
    }
    fn get(&mut self, id: &str) -> Res<app::ProfileView> {
        done(profiles::get(self, id))
    }
    fn get_many(&mut self, ids: &[String]) -> Res<Vec<app::ProfileView>> {
        done_all(profiles::get_many(self, ids))
    }
    fn lookup(&mut self, kind: &str, value: &str) -> Res<app::ProfileView> {
        done(profiles::lookup(self, kind, value))
    }
    fn timeline(
        &mut self,
        profile_id: &str,
        channel: Option<&str>,
        after: Option<&app::TimelineCursor>,
        limit: i64,
    ) -> Res<(Vec<app::EventRow>, Option<app::TimelineCursor>)> {
        profiles::timeline(self, profile_id, channel, after, limit).map(page).map_err(Into::into)
    }
    fn merge_log(&mut self, profile_id: &str) -> Res<Vec<app::MergeRow>> {
        done_all(profiles::merge_log(self, profile_id))
    }
    fn undo_merge(&mut self, merge_id: &str, currency: &str, now: i64) -> Res<Result<app::Undone, app::UndoRefusal>> {
        done(crate::repo::undo::undo_merge(self, merge_id, currency, now))
    }
    fn split_profile(
        &mut self,
        profile: &str,
        identities: &[(String, String)],
        currency: &str,
        now: i64,
    ) -> Res<Result<app::Split, app::SplitRefusal>> {
        done(crate::repo::undo::split_profile(self, profile, identities, currency, now))
    }
}

impl app::ConsentStore for AnyConnection {
    fn record(&mut self, row: &app::ConsentRow) -> Res<()> {
        done(consent::record(self, &row.into()))
    }
    fn history(&mut self, profile: &str) -> Res<Vec<app::ConsentRow>> {
        done_all(consent::history(self, profile))
    }
    fn state(&mut self, profile: &str) -> Res<Vec<app::ConsentInForce>> {
        done(consent::state(self, profile))
    }
    fn granted_among(&mut self, profiles: &[String], channel: &str, purpose: &str) -> Res<Vec<String>> {
        done(consent::granted_among(self, profiles, channel, purpose))
    }
    fn save_preferences(&mut self, profile: &str, body: &str, now: i64, actor: &str) -> Res<()> {
        done(consent::save_preferences(self, profile, body, now, actor))
    }
    fn preference_history(&mut self, profile: &str) -> Res<Vec<(String, i64, String)>> {
        done(consent::preference_history(self, profile))
    }
}

impl app::KeyStore for AnyConnection {
    fn insert(&mut self, row: &app::KeyRow) -> Res<()> {
        done(keys::insert(self, &row.into()))
    }
    fn find_active_by_hash(&mut self, hash: &str) -> Res<Option<app::ActiveKey>> {
        done_opt(keys::find_active_by_hash(self, hash))
    }
    fn touch(&mut self, id: &str, now: i64) -> Res<()> {
        done(keys::touch(self, id, now))
    }
    fn list(&mut self) -> Res<Vec<app::KeyRow>> {
        done_all(keys::list(self))
    }
    fn revoke(&mut self, id: &str, now: i64) -> Res<app::KeyRow> {
        done(keys::revoke(self, id, now))
    }
}

impl app::SourceStore for AnyConnection {
    fn insert(&mut self, row: &app::SourceRow) -> Res<()> {
        done(sources::insert(self, &row.into()))
    }
    fn find(&mut self, id: &str) -> Res<app::SourceRow> {
        done(sources::find(self, id))
    }
    fn list(&mut self) -> Res<Vec<app::SourceRow>> {
        done_all(sources::list(self))
    }
}

impl app::UserStore for AnyConnection {
    fn insert(&mut self, row: &app::UserRow) -> Res<()> {
        done(users::insert(self, &row.into()))
    }
    fn find_active_by_username(&mut self, username: &str) -> Res<Option<app::UserRow>> {
        done_opt(users::find_active_by_username(self, username))
    }
    fn find(&mut self, id: &str) -> Res<app::UserRow> {
        done(users::find(self, id))
    }
    fn list(&mut self) -> Res<Vec<app::UserRow>> {
        done_all(users::list(self))
    }
    fn set_disabled(&mut self, username: &str, at: Option<i64>) -> Res<app::UserRow> {
        done(users::set_disabled(self, username, at))
    }
    fn set_password(&mut self, username: &str, password_hash: &str) -> Res<()> {
        done(users::set_password(self, username, password_hash))
    }
}

impl app::PrivacyStore for AnyConnection {
    fn person_ids(&mut self, profile: &str) -> Res<Vec<String>> {
        done(privacy::person_ids(self, profile))
    }
    fn erase(&mut self, profile: &str, actor: &str, now: i64) -> Res<app::Erased> {
        done(privacy::erase(self, profile, actor, now))
    }
    fn events_of(&mut self, ids: &[String]) -> Res<Vec<app::StoredEvent>> {
        done(privacy::events_of(self, ids))
    }
    fn orders_of(&mut self, profile: &str) -> Res<Vec<app::StoredOrder>> {
        done(privacy::orders_of(self, profile))
    }
    fn ledger_of(&mut self, profile: &str) -> Res<Vec<app::LedgerEntry>> {
        done(privacy::ledger_of(self, profile))
    }
    fn memberships_of(&mut self, profile: &str) -> Res<Vec<(String, i64, Option<i64>)>> {
        done(privacy::memberships_of(self, profile))
    }
    fn audit(&mut self, actor: &str, action: &str, profile: Option<&str>, detail: &serde_json::Value, at: i64) -> Res<()> {
        done(privacy::audit(self, actor, action, profile, detail, at))
    }
    fn list_audit(&mut self, f: &app::AuditFilter, limit: i64) -> Res<Page<app::AuditRow>> {
        privacy::list_audit(self, f, limit).map(page).map_err(Into::into)
    }
}

impl app::ValueStore for AnyConnection {
    fn for_each_summary(&mut self, as_of_day: i64, f: &mut dyn FnMut(app::PurchaseSummary)) -> Res<()> {
        done(value::for_each_summary(self, as_of_day, |s| f(s.into())))
    }
    fn save_fit(&mut self, id: &str, body: &str, now: i64, scores: &[app::ScoreRow]) -> Res<()> {
        let scores: Vec<ScoreRow> = scores.iter().map(ScoreRow::from).collect();
        done(value::save_fit(self, id, body, now, &scores))
    }
    fn latest_model(&mut self) -> Res<Option<String>> {
        done(value::latest_model(self))
    }
    fn score_of(&mut self, profile_id: &str) -> Res<Option<app::ScoreRow>> {
        done_opt(value::score_of(self, profile_id))
    }
    fn save_rfm(&mut self, rows: &[app::RfmRow]) -> Res<()> {
        let rows: Vec<RfmRow> = rows.iter().map(RfmRow::from).collect();
        done(value::save_rfm(self, &rows))
    }
    fn rfm_of(&mut self, profile_id: &str) -> Res<Option<app::RfmRow>> {
        done_opt(value::rfm_of(self, profile_id))
    }
    fn kpi_data(&mut self, from_day: i64, to_day: i64, as_of_day: i64, currency: &str) -> Res<app::KpiData> {
        done(value::kpi_data(self, from_day, to_day, as_of_day, currency))
    }
}

impl app::InteractionStore for AnyConnection {
    fn append_event(
        &mut self,
        profile: &str,
        source_key: &str,
        name: &str,
        channel: &str,
        properties: &serde_json::Value,
        at: i64,
        now: i64,
    ) -> Res<String> {
        done(interaction::append_event(self, profile, source_key, name, channel, properties, at, now))
    }
    fn add_survey(&mut self, row: &app::SurveyRow) -> Res<()> {
        done(interaction::add_survey(self, &row.into()))
    }
    fn survey(&mut self, id: &str) -> Res<app::SurveyRow> {
        done(interaction::survey(self, id))
    }
    fn surveys(&mut self) -> Res<Vec<app::SurveyRow>> {
        done_all(interaction::surveys(self))
    }
    fn add_feedback(&mut self, row: &app::FeedbackRow) -> Res<()> {
        done(interaction::add_feedback(self, &row.into()))
    }
    fn feedback_by_event(&mut self, event_id: &str) -> Res<app::FeedbackRow> {
        done(interaction::feedback_by_event(self, event_id))
    }
    fn list_feedback(&mut self, f: &app::FeedbackFilter, limit: i64) -> Res<Page<app::FeedbackRow>> {
        interaction::list_feedback(self, f, limit).map(page).map_err(Into::into)
    }
    fn scores_between(&mut self, from: i64, to: i64, channel: Option<&str>) -> Res<Vec<app::ScoredAnswer>> {
        done(interaction::scores_between(self, from, to, channel))
    }
    fn open_case(&mut self, row: &app::CaseRow, with_event: bool) -> Res<()> {
        done(interaction::open_case(self, &row.into(), with_event))
    }
    fn case(&mut self, id: &str) -> Res<app::CaseRow> {
        done(interaction::case(self, id))
    }
    fn lock_case(&mut self, id: &str) -> Res<app::CaseRow> {
        done(interaction::lock_case(self, id))
    }
    fn save_case(&mut self, before: &app::CaseRow, after: &app::CaseRow, note: Option<&str>, actor: &str, now: i64) -> Res<()> {
        done(interaction::save_case(self, &before.into(), &after.into(), note, actor, now))
    }
    fn case_history(&mut self, id: &str) -> Res<Vec<app::CaseHistoryRow>> {
        done_all(interaction::case_history(self, id))
    }
    fn list_cases(&mut self, f: &app::CaseFilter, limit: i64) -> Res<Page<app::CaseRow>> {
        interaction::list_cases(self, f, limit).map(page).map_err(Into::into)
    }
    fn cases_opened_between(&mut self, from: i64, to: i64) -> Res<Vec<app::CaseRow>> {
        done_all(interaction::cases_opened_between(self, from, to))
    }
    fn active_counts(&mut self, now: i64) -> Res<(i64, i64)> {
        done(interaction::active_counts(self, now))
    }
    fn last_order(&mut self, profile: &str) -> Res<Option<(String, String, i64, i64, String, i64, String)>> {
        done(interaction::last_order(self, profile))
    }
    fn add_improvement(&mut self, row: &app::ImprovementRow) -> Res<()> {
        done(interaction::add_improvement(self, &row.into()))
    }
    fn improvement(&mut self, id: &str) -> Res<app::ImprovementRow> {
        done(interaction::improvement(self, id))
    }
    fn improvements(&mut self) -> Res<Vec<app::ImprovementRow>> {
        done_all(interaction::improvements(self))
    }
    fn audience(
        &mut self,
        categories: &[String],
        until: i64,
        channel: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Res<Page<(String, i64, i64), String>> {
        done(interaction::audience(self, categories, until, channel, after, limit))
    }
}

impl app::LoyaltyStore for AnyConnection {
    fn program(&mut self) -> Res<Program> {
        done(loyalty::program(self))
    }
    fn save_program(&mut self, p: &Program, now: i64) -> Res<()> {
        done(loyalty::save_program(self, p, now))
    }
    fn lapsed(&mut self, profile: &str, now: i64) -> Res<i64> {
        done(loyalty::lapsed(self, profile, now))
    }
    fn adjust(&mut self, profile: &str, points: i64, reason: &str, now: i64) -> Res<Result<app::LedgerRow, app::RedeemRefusal>> {
        done(loyalty::adjust(self, profile, points, reason, now).map(|r| r.map(Into::into)))
    }
    fn redeem(
        &mut self,
        profile: &str,
        points: i64,
        reward_id: Option<&str>,
        key: &str,
        now: i64,
    ) -> Res<Result<(app::LedgerRow, bool), app::RedeemRefusal>> {
        done(loyalty::redeem(self, profile, points, reward_id, key, now).map(|r| r.map(|(row, new)| (row.into(), new))))
    }
    fn expire(&mut self, as_of: i64, now: i64) -> Res<(usize, i64)> {
        done(loyalty::expire(self, as_of, now))
    }
    fn evaluate_tiers(&mut self, as_of: i64, now: i64) -> Res<usize> {
        done(loyalty::evaluate_tiers(self, as_of, now))
    }
    fn account(&mut self, profile: &str) -> Res<Option<(i64, String)>> {
        done(loyalty::account(self, profile))
    }
    fn window_spend(&mut self, profile: &str, program: &Program, at: i64) -> Res<i64> {
        done(loyalty::window_spend(self, profile, program, at))
    }
    fn ledger(&mut self, profile: &str, after: Option<(i64, String)>, limit: i64) -> Res<Page<app::LedgerRow>> {
        loyalty::ledger(self, profile, after, limit).map(page).map_err(Into::into)
    }
    fn add_reward(&mut self, r: &app::RewardRow) -> Res<()> {
        done(loyalty::add_reward(self, &r.into()))
    }
    fn rewards(&mut self) -> Res<Vec<app::RewardRow>> {
        done_all(loyalty::rewards(self))
    }
}

impl app::SegmentStore for AnyConnection {
    fn count(&mut self, rule: &Rule, ctx: app::EvalContext) -> Res<i64> {
        done(segments::count(self, rule, ctx))
    }
    fn refresh(&mut self, segment: &str, rule: &Rule, ctx: app::EvalContext, now: i64) -> Res<app::RefreshOutcome> {
        done(segments::refresh(self, segment, rule, ctx, now))
    }
    fn create(&mut self, row: &app::SegmentRow) -> Res<()> {
        done(segments::create(self, &row.into()))
    }
    fn get(&mut self, id: &str) -> Res<app::SegmentRow> {
        done(segments::get(self, id))
    }
    fn lock(&mut self, id: &str) -> Res<app::SegmentRow> {
        done(segments::lock(self, id))
    }
    fn list(&mut self) -> Res<Vec<app::SegmentRow>> {
        done_all(segments::list(self))
    }
    fn update(&mut self, id: &str, edit: &app::SegmentEdit, actor: &str, now: i64) -> Res<app::SegmentRow> {
        done(segments::update(self, id, edit, actor, now))
    }
    fn delete(&mut self, id: &str) -> Res<()> {
        done(segments::delete(self, id))
    }
    fn versions(&mut self, id: &str) -> Res<Vec<(i32, String, String, i64)>> {
        done(segments::versions(self, id))
    }
    fn members(&mut self, segment: &str, f: &app::MemberFilter, limit: i64) -> Res<(Vec<app::MemberRow>, Option<String>)> {
        segments::members(self, segment, f, limit).map(page).map_err(Into::into)
    }
    fn changes(&mut self, segment: &str, since: i64, after: Option<(String, i64)>, limit: i64) -> Res<Page<app::MemberRow, (String, i64)>> {
        segments::changes(self, segment, since, after, limit).map(page).map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdp_app::store::{Db as AppDb, SourceStore, StoreError};

    fn store(name: &str) -> AppDb {
        let path = std::env::temp_dir().join(format!("cdp-port-{name}-{}.sqlite3", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let db = Db::open(path.to_str().unwrap(), &Default::default()).unwrap();
        AppDb::new(std::sync::Arc::new(SqlStore::new(db)))
    }

    fn source(id: &str) -> app::SourceRow {
        app::SourceRow { id: id.into(), name: id.into(), channel: "web".into(), created_at: 1 }
    }

    #[test]
    fn the_works_own_error_comes_back_as_it_was_and_nothing_it_wrote_stays() {
        let db = store("refusal");
        let got = db.write(|tx| {
            SourceStore::insert(tx, &source("s1"))?;
            Err::<(), _>(StoreError::Conflict("refused by the use case".into()))
        });
        assert!(matches!(got, Err(StoreError::Conflict(m)) if m == "refused by the use case"));
        assert!(db.read(|tx| SourceStore::list(tx)).unwrap().is_empty());
    }

    #[test]
    fn contention_runs_the_work_again_and_the_last_attempt_answers() {
        let db = store("retry");
        let mut attempts = 0;
        let got = db.write(|tx| {
            attempts += 1;
            SourceStore::insert(tx, &source(&format!("s{attempts}")))?;
            if attempts < 3 {
                return Err(StoreError::Contention("a concurrent writer".into()));
            }
            Ok(attempts)
        });
        assert_eq!(got.unwrap(), 3);
        let kept: Vec<String> = db.read(|tx| SourceStore::list(tx)).unwrap().into_iter().map(|s| s.id).collect();
        assert_eq!(kept, ["s3"], "only the attempt that committed stays");
    }

    #[test]
    fn contention_that_never_ends_gives_up() {
        let db = store("give-up");
        let got = db.write(|_| Err::<(), _>(StoreError::Contention("always".into())));
        assert!(matches!(got, Err(StoreError::GaveUp(_))), "{got:?}");
    }

    #[test]
    fn reads_answer_what_they_read() {
        let db = store("read");
        db.write(|tx| SourceStore::insert(tx, &source("s1"))).unwrap();
        assert_eq!(db.read(|tx| SourceStore::find(tx, "s1")).unwrap().name, "s1");
        assert!(matches!(db.read_statement(|tx| SourceStore::find(tx, "nope")), Err(StoreError::NotFound)));
        assert_eq!((db.backend(), db.ping().is_ok()), ("sqlite", true));
    }
}
