//! What the use cases ask of the store inside a transaction, one trait per
//! kind of data. Each method is one unit of work on the transaction's
//! connection; the methods that write must run in a write transaction.
//! Use cases call them by trait (`ProfileStore::get(tx, id)`): names repeat
//! across traits.

use super::activation::*;
use super::imports::ImportStore;
use super::programmes::{ProgrammeStore, TrackingPlanStore};
use super::records::*;
use super::StoreResult;
use cdp_domain::loyalty::Program;
use cdp_domain::segment::Rule;
use cdp_domain::NewEvent;

/// Every kind of data, on one transaction.
pub trait Tx:
    IngestStore
    + IdentityStore
    + ProfileStore
    + ConsentStore
    + KeyStore
    + SourceStore
    + UserStore
    + PrivacyStore
    + ValueStore
    + InteractionStore
    + LoyaltyStore
    + SegmentStore
    + OutboxStore
    + JobStore
    + ProgrammeStore
    + TrackingPlanStore
    + ImportStore
{
}

impl<T> Tx for T where
    T: IngestStore
        + IdentityStore
        + ProfileStore
        + ConsentStore
        + KeyStore
        + SourceStore
        + UserStore
        + PrivacyStore
        + ValueStore
        + InteractionStore
        + LoyaltyStore
        + SegmentStore
        + OutboxStore
        + JobStore
        + ProgrammeStore
        + TrackingPlanStore
        + ImportStore
        + ?Sized
{
}

pub trait IngestStore {
    /// Stores one event (a batch of one), as ingestion would.
    fn ingest_one(&mut self, origin: &Origin, event: &NewEvent, currency: &str, received_at: i64) -> StoreResult<Outcome>;
}

pub trait IdentityStore {
    /// The identity rules' saved document, if any.
    fn identity_rules(&mut self) -> StoreResult<Option<String>>;
    /// Replaces the identity rules' document; ingestion applies it to later events.
    fn save_identity_rules(&mut self, body: &str, now: i64, actor: &str) -> StoreResult<()>;
}

pub trait ProfileStore {
    /// The live profile an id stands for (following merges).
    fn resolve(&mut self, id: &str) -> StoreResult<ProfileRow>;
    /// The live profile an id stands for, with its identities, accounts and loyalty.
    fn get(&mut self, id: &str) -> StoreResult<ProfileView>;
    /// Live profiles by id, in the order asked (ids that are not live profiles are left out).
    fn get_many(&mut self, ids: &[String]) -> StoreResult<Vec<ProfileView>>;
    /// The profile an identity (normalised) belongs to.
    fn lookup(&mut self, kind: &str, value: &str) -> StoreResult<ProfileView>;
    /// A page of a profile's events, newest first, and the cursor to the next.
    fn timeline(
        &mut self,
        profile_id: &str,
        channel: Option<&str>,
        after: Option<&TimelineCursor>,
        limit: i64,
    ) -> StoreResult<(Vec<EventRow>, Option<TimelineCursor>)>;
    /// The merges a profile took part in.
    fn merge_log(&mut self, profile_id: &str) -> StoreResult<Vec<MergeRow>>;
    /// Undoes a merge (`NotFound` for no merge of that id); orders in `currency` count in aggregates.
    fn undo_merge(&mut self, merge_id: &str, currency: &str, now: i64) -> StoreResult<Result<Undone, UndoRefusal>>;
    /// Splits identities (type, normalised value) off a live profile into a new one.
    fn split_profile(
        &mut self,
        profile: &str,
        identities: &[(String, String)],
        currency: &str,
        now: i64,
    ) -> StoreResult<Result<Split, SplitRefusal>>;
}

pub trait ConsentStore {
    /// Records a decision and brings the state in force up to date.
    fn record(&mut self, row: &ConsentRow) -> StoreResult<()>;
    /// Every record of a profile.
    fn history(&mut self, profile: &str) -> StoreResult<Vec<ConsentRow>>;
    /// The decision in force per channel and purpose: (channel, purpose, status, recorded_at, record id).
    fn state(&mut self, profile: &str) -> StoreResult<Vec<ConsentInForce>>;
    /// Of `profiles`, those who granted `channel` for `purpose` (decision in force).
    fn granted_among(&mut self, profiles: &[String], channel: &str, purpose: &str) -> StoreResult<Vec<String>>;
    fn save_preferences(&mut self, profile: &str, body: &str, now: i64, actor: &str) -> StoreResult<()>;
    /// Every version, newest first: (JSON, recorded_at, actor).
    fn preference_history(&mut self, profile: &str) -> StoreResult<Vec<(String, i64, String)>>;
}

pub trait KeyStore {
    fn insert(&mut self, row: &KeyRow) -> StoreResult<()>;
    fn find_active_by_hash(&mut self, hash: &str) -> StoreResult<Option<ActiveKey>>;
    /// Records that a key was used.
    fn touch(&mut self, id: &str, now: i64) -> StoreResult<()>;
    fn list(&mut self) -> StoreResult<Vec<KeyRow>>;
    fn revoke(&mut self, id: &str, now: i64) -> StoreResult<KeyRow>;
}

pub trait SourceStore {
    fn insert(&mut self, row: &SourceRow) -> StoreResult<()>;
    fn find(&mut self, id: &str) -> StoreResult<SourceRow>;
    fn list(&mut self) -> StoreResult<Vec<SourceRow>>;
}

pub trait UserStore {
    fn insert(&mut self, row: &UserRow) -> StoreResult<()>;
    fn find_active_by_username(&mut self, username: &str) -> StoreResult<Option<UserRow>>;
    fn find(&mut self, id: &str) -> StoreResult<UserRow>;
    fn list(&mut self) -> StoreResult<Vec<UserRow>>;
    /// Disables (`Some(time)`) or enables (`None`) an account.
    fn set_disabled(&mut self, username: &str, at: Option<i64>) -> StoreResult<UserRow>;
    fn set_password(&mut self, username: &str, password_hash: &str) -> StoreResult<()>;
}

pub trait PrivacyStore {
    /// The ids that make up one person: the live profile and every profile merged into it.
    fn person_ids(&mut self, profile: &str) -> StoreResult<Vec<String>>;
    /// Erases a person: identities to tombstones, personal data emptied.
    fn erase(&mut self, profile: &str, actor: &str, now: i64) -> StoreResult<Erased>;
    /// Every event of the profiles `ids`, oldest first.
    fn events_of(&mut self, ids: &[String]) -> StoreResult<Vec<StoredEvent>>;
    fn orders_of(&mut self, profile: &str) -> StoreResult<Vec<StoredOrder>>;
    fn ledger_of(&mut self, profile: &str) -> StoreResult<Vec<LedgerEntry>>;
    /// Segment memberships: (segment id, entered_at, exited_at).
    fn memberships_of(&mut self, profile: &str) -> StoreResult<Vec<(String, i64, Option<i64>)>>;
    /// Records who did what to whom.
    fn audit(&mut self, actor: &str, action: &str, profile: Option<&str>, detail: &serde_json::Value, at: i64) -> StoreResult<()>;
    /// A page of the audit log, newest first.
    fn list_audit(&mut self, f: &AuditFilter, limit: i64) -> StoreResult<Page<AuditRow>>;
}

pub trait ValueStore {
    /// Calls `f` with the purchase summary of every customer up to a day.
    fn for_each_summary(&mut self, as_of_day: i64, f: &mut dyn FnMut(PurchaseSummary)) -> StoreResult<()>;
    /// Stores a model and replaces every score with the ones it gave.
    fn save_fit(&mut self, id: &str, body: &str, now: i64, scores: &[ScoreRow]) -> StoreResult<()>;
    /// The last fitted model's body, if any.
    fn latest_model(&mut self) -> StoreResult<Option<String>>;
    fn score_of(&mut self, profile_id: &str) -> StoreResult<Option<ScoreRow>>;
    /// Replaces every profile's RFM scores with a new run's.
    fn save_rfm(&mut self, rows: &[RfmRow]) -> StoreResult<()>;
    fn rfm_of(&mut self, profile_id: &str) -> StoreResult<Option<RfmRow>>;
    fn kpi_data(&mut self, from_day: i64, to_day: i64, as_of_day: i64, currency: &str) -> StoreResult<KpiData>;
}

pub trait InteractionStore {
    /// Writes an event the platform itself records (a case opened, a tier
    /// changed…) on a profile's timeline; answers its id.
    #[allow(clippy::too_many_arguments)]
    fn append_event(
        &mut self,
        profile: &str,
        source_key: &str,
        name: &str,
        channel: &str,
        properties: &serde_json::Value,
        at: i64,
        now: i64,
    ) -> StoreResult<String>;
    fn add_survey(&mut self, row: &SurveyRow) -> StoreResult<()>;
    fn survey(&mut self, id: &str) -> StoreResult<SurveyRow>;
    fn surveys(&mut self) -> StoreResult<Vec<SurveyRow>>;
    fn add_feedback(&mut self, row: &FeedbackRow) -> StoreResult<()>;
    fn feedback_by_event(&mut self, event_id: &str) -> StoreResult<FeedbackRow>;
    fn list_feedback(&mut self, f: &FeedbackFilter, limit: i64) -> StoreResult<Page<FeedbackRow>>;
    /// Scored answers in a period, with the profile's traits.
    fn scores_between(&mut self, from: i64, to: i64, channel: Option<&str>) -> StoreResult<Vec<ScoredAnswer>>;
    /// Opens a case (and records its `case.opened` event when `with_event`).
    fn open_case(&mut self, row: &CaseRow, with_event: bool) -> StoreResult<()>;
    fn case(&mut self, id: &str) -> StoreResult<CaseRow>;
    /// A case, locked for update until the transaction ends.
    fn lock_case(&mut self, id: &str) -> StoreResult<CaseRow>;
    /// Saves a change of a case with its history entry.
    fn save_case(&mut self, before: &CaseRow, after: &CaseRow, note: Option<&str>, actor: &str, now: i64) -> StoreResult<()>;
    fn case_history(&mut self, id: &str) -> StoreResult<Vec<CaseHistoryRow>>;
    fn list_cases(&mut self, f: &CaseFilter, limit: i64) -> StoreResult<Page<CaseRow>>;
    fn cases_opened_between(&mut self, from: i64, to: i64) -> StoreResult<Vec<CaseRow>>;
    /// How many cases are active now, and how many of them are past due.
    fn active_counts(&mut self, now: i64) -> StoreResult<(i64, i64)>;
    /// The newest order of a profile: (order_id, channel, revenue, refunded, currency, occurred_at, products JSON).
    #[allow(clippy::type_complexity)]
    fn last_order(&mut self, profile: &str) -> StoreResult<Option<(String, String, i64, i64, String, i64, String)>>;
    fn add_improvement(&mut self, row: &ImprovementRow) -> StoreResult<()>;
    fn improvement(&mut self, id: &str) -> StoreResult<ImprovementRow>;
    fn improvements(&mut self) -> StoreResult<Vec<ImprovementRow>>;
    /// People who gave negative feedback in one of `categories` up to `until`
    /// and whose consent on `channel` is granted now: a page by profile id, each
    /// with their complaints' count and the last one's time.
    fn audience(
        &mut self,
        categories: &[String],
        until: i64,
        channel: &str,
        after: Option<&str>,
        limit: i64,
    ) -> StoreResult<Page<(String, i64, i64), String>>;
}

pub trait LoyaltyStore {
    fn program(&mut self) -> StoreResult<Program>;
    fn save_program(&mut self, p: &Program, now: i64) -> StoreResult<()>;
    /// Points of lots that have lapsed by `now` but not yet been expired by a run.
    fn lapsed(&mut self, profile: &str, now: i64) -> StoreResult<i64>;
    fn adjust(&mut self, profile: &str, points: i64, reason: &str, now: i64) -> StoreResult<Result<LedgerRow, RedeemRefusal>>;
    /// Spends points (FIFO over lots); refused while the balance does not cover them.
    /// The same idempotency key again answers the first entry and spends nothing.
    fn redeem(
        &mut self,
        profile: &str,
        points: i64,
        reward_id: Option<&str>,
        key: &str,
        now: i64,
    ) -> StoreResult<Result<(LedgerRow, bool), RedeemRefusal>>;
    /// Expires every lot lapsed by `as_of`; returns (members, points) expired.
    fn expire(&mut self, as_of: i64, now: i64) -> StoreResult<(usize, i64)>;
    /// Re-evaluates every member's tier on the window ending `as_of`, writing
    /// `Tier Changed` for each change; answers how many changed.
    fn evaluate_tiers(&mut self, as_of: i64, now: i64) -> StoreResult<usize>;
    /// (balance, tier) of a profile's account.
    fn account(&mut self, profile: &str) -> StoreResult<Option<(i64, String)>>;
    /// Spend (minor units) in the window ending `at`.
    fn window_spend(&mut self, profile: &str, program: &Program, at: i64) -> StoreResult<i64>;
    fn ledger(&mut self, profile: &str, after: Option<(i64, String)>, limit: i64) -> StoreResult<Page<LedgerRow>>;
    fn add_reward(&mut self, r: &RewardRow) -> StoreResult<()>;
    fn rewards(&mut self) -> StoreResult<Vec<RewardRow>>;
}

pub trait SegmentStore {
    /// How many live profiles a rule matches now, without storing anything.
    fn count(&mut self, rule: &Rule, ctx: EvalContext) -> StoreResult<i64>;
    /// Re-evaluates a segment and records who entered and who left; inside a
    /// write transaction holding the segment (`lock`).
    fn refresh(&mut self, segment: &str, rule: &Rule, ctx: EvalContext, now: i64) -> StoreResult<RefreshOutcome>;
    fn create(&mut self, row: &SegmentRow) -> StoreResult<()>;
    fn get(&mut self, id: &str) -> StoreResult<SegmentRow>;
    /// A segment, locked for update until the transaction ends.
    fn lock(&mut self, id: &str) -> StoreResult<SegmentRow>;
    fn list(&mut self) -> StoreResult<Vec<SegmentRow>>;
    /// A new version of a segment's definition.
    #[allow(clippy::too_many_arguments)]
    fn update(&mut self, id: &str, edit: &SegmentEdit, actor: &str, now: i64) -> StoreResult<SegmentRow>;
    fn delete(&mut self, id: &str) -> StoreResult<()>;
    /// Every version of the rule: (version, rule, created_by, created_at), oldest first.
    fn versions(&mut self, id: &str) -> StoreResult<Vec<(i32, String, String, i64)>>;
    /// A page of current members by profile id.
    fn members(&mut self, segment: &str, f: &MemberFilter, limit: i64) -> StoreResult<(Vec<MemberRow>, Option<String>)>;
    /// Membership periods that began or ended after `since`, by (profile
    /// id, entered_at), after the cursor.
    fn changes(
        &mut self,
        segment: &str,
        since: i64,
        after: Option<(String, i64)>,
        limit: i64,
    ) -> StoreResult<Page<MemberRow, (String, i64)>>;
}

/// Destinations, and the outbox of deliveries to them.
pub trait OutboxStore {
    /// Writes a delivery for each fact and each enabled destination that
    /// subscribes to it (by event type and, if it names segments, by current
    /// membership); answers how many. In the transaction of the facts.
    fn enqueue(&mut self, facts: &[Fact], now: i64) -> StoreResult<usize>;
    fn add_destination(&mut self, row: &DestinationRow) -> StoreResult<()>;
    fn destination(&mut self, id: &str) -> StoreResult<DestinationRow>;
    /// Every destination, oldest first.
    fn destinations(&mut self) -> StoreResult<Vec<DestinationRow>>;
    fn save_destination(&mut self, row: &DestinationRow) -> StoreResult<()>;
    /// Removes a destination and its deliveries.
    fn remove_destination(&mut self, id: &str) -> StoreResult<()>;
    /// Leases up to `limit` of a destination's due deliveries until
    /// `lease_until` (they are not due again before), earliest due first;
    /// deliveries other transactions hold are skipped, not waited for.
    fn claim(&mut self, destination: &str, now: i64, lease_until: i64, limit: i64) -> StoreResult<Vec<DeliveryRow>>;
    /// Whether a destination has deliveries due at `now` (a read: idle workers
    /// ask before they lease, which writes).
    fn has_due(&mut self, destination: &str, now: i64) -> StoreResult<bool>;
    /// Who each of `profiles` is now (see `Subject`), by the id asked for;
    /// erased and unknown ids are absent.
    fn subjects(&mut self, profiles: &[String]) -> StoreResult<std::collections::HashMap<String, Subject>>;
    /// Records attempts made under leases still held; answers how many were recorded.
    fn record_attempts(&mut self, attempts: &[Attempted]) -> StoreResult<usize>;
    /// Gives back leases of deliveries that were not attempted, `(id,
    /// lease_until)`: due again at `now`, as if never leased.
    fn release(&mut self, leases: &[(String, i64)], now: i64) -> StoreResult<usize>;
    /// Lets this transaction's commit answer before it is durable (a crash
    /// right after may lose it): for leases and records of attempts, whose
    /// loss only makes a delivery due again — at least once still holds.
    fn commit_lazily(&mut self) -> StoreResult<()>;
    /// A destination's deliveries, newest first.
    fn deliveries(
        &mut self,
        destination: &str,
        status: Option<&str>,
        before: Option<(i64, String)>,
        limit: i64,
    ) -> StoreResult<Page<DeliveryRow>>;
    /// Makes deliveries created in [from, to] (of `status`, or every one not
    /// pending) pending again, due now; answers how many.
    fn requeue(&mut self, destination: &str, from: i64, to: i64, status: Option<&str>, now: i64) -> StoreResult<usize>;
}

/// Runs of scheduled work.
pub trait JobStore {
    /// The run of `job` for `slot`, if one was started.
    fn run_for(&mut self, job: &str, slot: i64) -> StoreResult<Option<JobRunRow>>;
    /// Records a run's start unless a run for its job and slot exists: answers whether it did.
    fn start_run(&mut self, row: &JobRunRow) -> StoreResult<bool>;
    /// Records how a started run ended (status, detail, finished_at).
    fn finish_run(&mut self, row: &JobRunRow) -> StoreResult<()>;
    /// The most recent runs, newest first.
    fn runs(&mut self, job: Option<&str>, limit: i64) -> StoreResult<Vec<JobRunRow>>;
}
