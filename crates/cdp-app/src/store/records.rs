//! The records the store reads and writes, as plain data: rows of its
//! tables, the views over them, filters and outcomes.

use cdp_domain::commerce::OrderEvent;
use cdp_domain::NewEvent;

/// A page of rows, and the keyset cursor of the next page (a creation time
/// and an id unless the listing says otherwise) when there is one.
pub type Page<T, K = (i64, String)> = (Vec<T>, Option<K>);

#[derive(Debug, Clone, PartialEq)]
pub struct ProfileRow {
    pub id: String,
    pub merged_into: Option<String>,
    pub user_id: Option<String>,
    pub traits: String,
    pub trait_times: String,
    pub channels: i64,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
    pub event_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Orders not fully refunded.
    pub orders_count: i64,
    /// Net revenue, minor units of the default currency.
    pub revenue_total: i64,
    pub margin_total: i64,
    pub first_order_at: Option<i64>,
    pub last_order_at: Option<i64>,
    /// Values held per identifier type, JSON (`{"email":2}`).
    pub identity_counts: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IdentityRow {
    pub value: String,
    pub identity_type: String,
    pub profile_id: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub id: String,
    pub profile_id: String,
    pub source_key: String,
    pub source_id: Option<String>,
    pub message_id: Option<String>,
    pub event_type: String,
    pub name: Option<String>,
    pub channel: String,
    pub occurred_at: i64,
    pub received_at: i64,
    pub identities: String,
    pub traits: String,
    pub properties: String,
    pub context: String,
    /// Identities carried that never link (blocked, placeholders): JSON array.
    pub blocked_identities: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MergeRow {
    pub id: String,
    pub kind: String,
    pub survivor_id: String,
    pub merged_id: String,
    pub identity_type: String,
    pub identity_value: String,
    pub event_id: Option<String>,
    pub created_at: i64,
    /// Why a conflict linked nothing (`limit`…).
    pub reason: Option<String>,
    /// When the merge was undone.
    pub undone_at: Option<i64>,
    /// What the merge knew of both sides (their loyalty tiers), JSON.
    pub detail: Option<String>,
}

/// A decision in force: (channel, purpose, status, recorded_at, record id).
pub type ConsentInForce = (String, String, String, i64, String);

#[derive(Debug, Clone, PartialEq)]
pub struct ConsentRow {
    pub id: String,
    pub profile_id: String,
    pub channel: String,
    pub status: String,
    pub source: String,
    pub recorded_at: i64,
    pub received_at: i64,
    pub actor: String,
    /// marketing | transactional | profiling | research.
    pub purpose: String,
    /// Proof of the decision: who collected it, under which policy, and how.
    pub collected_by: Option<String>,
    pub policy_version: Option<String>,
    pub evidence: Option<String>,
}

#[derive(Debug, Clone)]
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    pub scopes: String,
    pub source_id: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct SourceRow {
    pub id: String,
    pub name: String,
    pub channel: String,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub id: String,
    pub actor: String,
    pub action: String,
    pub profile_id: Option<String>,
    pub detail: String,
    pub at: i64,
}

/// A customer's purchase occasions (days with an order not fully refunded)
/// up to a day, summarised: what RFM and CLV need of a purchase history.
#[derive(Debug, Clone, PartialEq)]
pub struct PurchaseSummary {
    pub profile_id: String,
    pub days: i64,
    pub first_day: i64,
    pub last_day: i64,
    /// Net revenue of those days, minor units.
    pub revenue: i64,
    /// Net revenue of the first day alone (CLV's spend is that of repeat purchases).
    pub first_day_revenue: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRow {
    pub profile_id: String,
    pub model_id: String,
    pub p_alive: f64,
    pub expected_purchases: f64,
    pub expected_order_value: f64,
    pub clv: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RfmRow {
    pub profile_id: String,
    pub r: i32,
    pub f: i32,
    pub m: i32,
    pub segment: String,
    pub as_of_day: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SurveyRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub question: String,
    pub channels: String,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackRow {
    pub id: String,
    pub profile_id: String,
    pub event_id: String,
    pub survey_id: Option<String>,
    pub kind: String,
    pub score: Option<i64>,
    pub body: Option<String>,
    pub category: Option<String>,
    pub channel: String,
    pub sentiment_label: Option<String>,
    pub sentiment_score: Option<f64>,
    pub order_id: Option<String>,
    pub case_id: Option<String>,
    pub occurred_at: i64,
    pub received_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CaseRow {
    pub id: String,
    pub profile_id: String,
    pub category: String,
    pub priority: String,
    pub channel: String,
    pub subject: String,
    pub description: String,
    pub status: String,
    pub assignee: Option<String>,
    pub resolution: Option<String>,
    pub due_at: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CaseHistoryRow {
    pub id: String,
    pub case_id: String,
    pub status: String,
    pub assignee: Option<String>,
    pub note: Option<String>,
    pub actor: String,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImprovementRow {
    pub id: String,
    pub title: String,
    pub description: String,
    pub categories: String,
    pub channel: String,
    pub published_at: i64,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
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

#[derive(Debug, Clone, PartialEq)]
pub struct RewardRow {
    pub id: String,
    pub name: String,
    pub points_cost: i64,
    pub stock: Option<i64>,
    pub active_from: Option<i64>,
    pub active_to: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SegmentRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub rule: String,
    pub version: i32,
    pub size: i64,
    pub entered: i64,
    pub exited: i64,
    pub refreshed_at: Option<i64>,
    pub as_of: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Refreshed by the server every so many minutes (none: on request only).
    pub refresh_every_minutes: Option<i32>,
}

#[derive(Debug, Clone)]
pub struct MemberRow {
    pub profile_id: String,
    pub entered_at: i64,
    pub exited_at: Option<i64>,
}

impl ProfileRow {
    /// The running totals the row holds.
    pub fn totals(&self) -> cdp_domain::profile::Totals {
        cdp_domain::profile::Totals {
            channels: self.channels,
            first_seen_at: self.first_seen_at,
            last_seen_at: self.last_seen_at,
            event_count: self.event_count,
            orders_count: self.orders_count,
            revenue_total: self.revenue_total,
            margin_total: self.margin_total,
            first_order_at: self.first_order_at,
            last_order_at: self.last_order_at,
        }
    }
}

impl CaseRow {
    /// What a `Case Opened` event carries.
    pub fn opened_properties(&self) -> serde_json::Value {
        serde_json::json!({"case_id": self.id, "category": self.category, "priority": self.priority, "subject": self.subject, "status": self.status})
    }
}

/// A live profile with its identities.
#[derive(Debug, Clone)]
pub struct ProfileView {
    pub profile: ProfileRow,
    pub identities: Vec<IdentityRow>,
    /// Accounts (Segment groups) the person belongs to.
    pub accounts: Vec<String>,
    /// The loyalty account, once the person earned.
    pub loyalty: Option<Loyalty>,
}

/// A loyalty account as a profile shows it: (points balance, tier code).
pub type Loyalty = (i64, String);

/// A position in a timeline: events strictly older than it come next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineCursor {
    pub occurred_at: i64,
    pub id: String,
}

/// A live key with the channel of the source it is bound to.
#[derive(Debug, Clone)]
pub struct ActiveKey {
    pub key: KeyRow,
    pub source_channel: Option<String>,
}

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
    /// The event carries an identity of an erased person and happened before
    /// the erasure (a replay): refused, nothing written.
    Erased {
        identity_type: String,
    },
}

/// An event made ready to store: what can be worked out before the write
/// transaction — its JSON columns, the order it makes or refunds, the hashes
/// its identities have among erasure tombstones — is, so that the writer's
/// turn (SQLite has one writer) holds only what needs the database.
pub struct Prepared {
    pub event: NewEvent,
    pub order: Option<OrderEvent>,
    pub traits: String,
    pub properties: String,
    pub context: String,
    /// `identity_hash` of each of the event's identities, in order.
    pub hashes: Vec<String>,
    /// An order it makes earns loyalty points and is announced as an
    /// `order.completed` fact, as live orders are (history imported without
    /// points is neither).
    pub earn: bool,
}

impl Prepared {
    /// Prepares an event; orders in `currency` (the deployment's default) count in profile aggregates.
    pub fn new(event: NewEvent, currency: &str) -> super::StoreResult<Prepared> {
        Ok(Prepared {
            order: OrderEvent::from_event(&event, currency),
            traits: serde_json::to_string(&event.traits)?,
            properties: serde_json::to_string(&event.properties)?,
            context: serde_json::to_string(&event.context)?,
            hashes: event.identities.iter().map(|i| super::identity_hash(i.kind.as_str(), &i.value)).collect(),
            earn: true,
            event,
        })
    }
}

/// What undoing a merge moved back to the restored profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undone {
    pub restored_profile_id: String,
    pub survivor_id: String,
    pub identities: usize,
    pub events: usize,
    pub orders: usize,
}

/// Why a merge cannot be undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UndoRefusal {
    /// It was undone already (or its sides are apart).
    AlreadyUndone,
    /// One of its sides was erased.
    Erased,
}

/// What a split moved to the new profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub profile_id: String,
    pub identities: usize,
    pub events: usize,
    pub orders: usize,
}

/// Why a profile cannot be split so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitRefusal {
    /// The n-th identity asked for is not the profile's.
    NotHeld(usize),
    /// Every identity would leave: nothing would stay.
    NothingStays,
    /// The profile was erased.
    Erased,
}

/// What an erasure removed, table by table.
#[derive(Debug, Clone, Default, serde::Serialize, PartialEq, Eq)]
pub struct Erased {
    /// The profile and the profiles merged into it.
    pub profiles: usize,
    /// Identities deleted (their hashes kept as tombstones).
    pub identities: usize,
    /// Events whose identities, traits, properties and context were emptied.
    pub events: usize,
    pub consents: usize,
    pub preferences: usize,
    /// Feedback whose text was removed (scores stay, anonymous).
    pub feedback: usize,
    /// Cases whose subject, description, resolution and notes were removed.
    pub cases: usize,
    pub merge_log_entries: usize,
    pub segment_memberships: usize,
    pub account_memberships: usize,
}

/// An event as stored: (id, type, name, channel, occurred_at, identities, traits, properties, context,
/// blocked identities).
pub type StoredEvent = (String, String, Option<String>, String, i64, String, String, String, String, Option<String>);

/// An order as stored: (order_id, channel, currency, revenue, refunded, occurred_at, products).
pub type StoredOrder = (String, String, String, i64, i64, i64, String);

/// A ledger entry as exported: (kind, points, balance_after, order_id, created_at).
pub type LedgerEntry = (String, i64, i64, Option<String>, i64);

/// Which audit entries to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub profile_id: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub after: Option<(i64, String)>,
}

/// An order of a period, net of refunds.
pub struct PeriodOrder {
    pub profile_id: String,
    pub channel: String,
    pub net: i64,
    pub margin: Option<i64>,
    pub products: String,
}

/// What customer metrics read: the customer base up to `as_of_day` with its
/// purchase occasions, the period's orders in `currency` (fully refunded ones
/// left out), the latest scores, and each customer's traits.
pub struct KpiData {
    pub customers: Vec<(String, i64)>,
    pub orders: Vec<PeriodOrder>,
    pub scores: std::collections::HashMap<String, (f64, f64)>,
    pub traits: std::collections::HashMap<String, String>,
}

/// Why the ledger refused a redemption.
#[derive(Debug, Clone, PartialEq)]
pub enum RedeemRefusal {
    InsufficientPoints { balance: i64 },
    OutOfStock,
    RewardInactive,
    NoSuchReward,
}

/// Which feedback to list.
#[derive(Debug, Clone, Default)]
pub struct FeedbackFilter {
    pub sentiment: Option<String>,
    pub category: Option<String>,
    pub profile_id: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// (occurred_at, id) of the last row of the previous page.
    pub after: Option<(i64, String)>,
}

/// A scored answer: (kind, score, channel, occurred_at, the profile's traits JSON).
pub type ScoredAnswer = (String, Option<i64>, String, i64, String);

/// Which cases to list.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub statuses: Vec<String>,
    pub profile_id: Option<String>,
    pub assignee: Option<String>,
    /// Only active cases past their due time at this instant.
    pub overdue_at: Option<i64>,
    pub after: Option<(i64, String)>,
}

/// What replacing a segment sets.
#[derive(Debug, Clone, Copy)]
pub struct SegmentEdit<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub rule: &'a str,
    pub refresh_every_minutes: Option<i32>,
}

/// Which members to page through.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    /// Only those whose consent in force on this channel is `granted`.
    pub consent: Option<String>,
    /// …for this purpose (default: marketing).
    pub purpose: Option<String>,
    /// Only those who entered after this time.
    pub entered_since: Option<i64>,
    /// Profile ids strictly after this one.
    pub after: Option<String>,
}

/// What a segment refresh changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshOutcome {
    pub size: i64,
    pub entered: i64,
    pub exited: i64,
    /// When the membership changes were recorded.
    pub at: i64,
}

/// What a rule is evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct EvalContext {
    /// The reference time (µs): event windows end here, later events do not count.
    pub as_of: i64,
    /// 10^(minor digits) of the default currency: rule amounts are in major units.
    pub money_scale: f64,
}
