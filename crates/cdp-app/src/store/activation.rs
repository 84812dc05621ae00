//! Records of activation: destinations, the outbox's deliveries and their
//! attempts, facts to write, and runs of scheduled work.

/// A destination of outbound webhooks, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct DestinationRow {
    pub id: String,
    pub name: String,
    pub url: String,
    /// `whsec_…`: the key every delivery is signed with.
    pub secret: String,
    /// JSON array of subscribed event types.
    pub events: String,
    /// JSON array of segment ids; empty: facts about anyone.
    pub segment_ids: String,
    pub consent_channel: Option<String>,
    pub consent_purpose: Option<String>,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One fact for one destination: the outbox row and its delivery state.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRow {
    /// The `webhook-id`, the same on every attempt.
    pub id: String,
    pub destination_id: String,
    pub event_type: String,
    pub profile_id: String,
    /// JSON: the fact.
    pub data: String,
    pub occurred_at: i64,
    /// pending | delivered | failed | suppressed
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    /// While a worker holds it: until when.
    pub lease_until: Option<i64>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    /// What was sent (fixed at the first attempt).
    pub body: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// A fact that destinations may subscribe to, to be written to the outbox
/// in the transaction that makes it true.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    /// One of `cdp_domain::webhook::EVENT_TYPES`.
    pub kind: &'static str,
    pub profile_id: String,
    /// JSON object: what happened (the order, the tier change…).
    pub data: String,
    pub occurred_at: i64,
}

/// Who a delivery is about now, as its body shows them: the profile its
/// person lives in (merges followed), their traits (JSON) and identities
/// (type, value), oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    pub profile_id: String,
    pub traits: String,
    pub identities: Vec<(String, String)>,
}

/// The outcome of one attempt at a delivery, to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempted {
    pub id: String,
    /// The lease the attempt was made under: a worker whose lease ran out
    /// records nothing.
    pub lease_until: i64,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub body: Option<String>,
    pub delivered_at: Option<i64>,
}

/// A run of scheduled work.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRunRow {
    pub id: String,
    /// `segment.refresh:<segment id>` or `loyalty.expire`.
    pub job: String,
    /// The scheduled time this run is for (µs).
    pub slot: i64,
    /// running | succeeded | failed
    pub status: String,
    /// JSON: what the run did, or why it failed.
    pub detail: Option<String>,
    pub started_at: i64,
    pub finished_at: Option<i64>,
}
