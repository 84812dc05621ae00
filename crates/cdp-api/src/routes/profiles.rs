use crate::auth::Auth;
use crate::dto::{cursor_decode, cursor_encode, page_limit, time_id, ts, IdentityOut, Page};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use actix_web::{get, web};
use cdp_app::profiles::{EventRow, MergeRow, ProfileView, TimelineCursor};
use cdp_domain::auth::Scope;
use cdp_domain::{Channel, Identity};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// One unified customer.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01936f3e-8a40-7000-8000-000000000001",
    "traits": {"first_name": "An", "last_name": "Nguyễn", "city": "Hà Nội"},
    "identities": [{"type": "phone", "value": "+84912345678"}, {"type": "loyalty_card", "value": "VNM-0042"}],
    "channels": ["store", "hotline"], "first_seen_at": "2026-11-20T10:15:00Z", "last_seen_at": "2026-11-21T09:00:00Z",
    "event_count": 2, "accounts": [], "loyalty": {"points_balance": 35, "tier": "dong"}, "created_at": "2026-11-20T10:15:01Z", "updated_at": "2026-11-21T09:00:01Z"}))]
pub struct ProfileOut {
    pub id: String,
    #[schema(value_type = Object)]
    pub traits: Value,
    pub identities: Vec<IdentityOut>,
    /// Channels this person has been seen on.
    pub channels: Vec<String>,
    pub first_seen_at: String,
    pub last_seen_at: String,
    pub event_count: i64,
    /// Accounts (Segment `group` ids) the person belongs to.
    pub accounts: Vec<String>,
    /// Points and tier, once the person has earned (details: `/loyalty`).
    pub loyalty: Option<ProfileLoyalty>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct ProfileLoyalty {
    pub points_balance: i64,
    pub tier: String,
}

/// An event on a profile's timeline.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-8a4b-7c2d-9e1f-2a3b4c5d6e7f", "profile_id": "01936f3e-8a40-7000-8000-000000000001",
    "type": "track", "event": "Order Completed", "channel": "store", "occurred_at": "2026-11-20T10:15:00Z",
    "received_at": "2026-11-20T10:15:01Z", "message_id": "pos-q1-000123", "source_id": "01936f3e-0000-7000-8000-000000000009",
    "identities": [{"type": "phone", "value": "+84912345678"}], "traits": {}, "properties": {"order_id": "Q1-000123", "revenue": 350000}, "context": {"store_id": "Q1"}}))]
pub struct EventOut {
    pub id: String,
    pub profile_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub event: Option<String>,
    pub channel: String,
    pub occurred_at: String,
    pub received_at: String,
    pub message_id: Option<String>,
    pub source_id: Option<String>,
    pub identities: Vec<IdentityOut>,
    #[schema(value_type = Object)]
    pub traits: Value,
    #[schema(value_type = Object)]
    pub properties: Value,
    #[schema(value_type = Object)]
    pub context: Value,
}

/// Why a profile is what it is: a merge (`merged_id` folded into `survivor_id`,
/// bridged by `identity`), an `undo` of one (`merged_id` live again), or an identity that linked nothing (`conflict`,
/// with its `reason`: `limit` when the profile would hold more values of a
/// type than the identity rules allow — two user_ids by default).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-9999-7000-8000-000000000003", "kind": "merge",
    "survivor_id": "01936f3e-8a40-7000-8000-000000000001", "merged_id": "01936f3e-8a41-7000-8000-000000000002",
    "identity": {"type": "phone", "value": "+84912345678"}, "event_id": "01936f3e-8a4b-7c2d-9e1f-2a3b4c5d6e7f",
    "created_at": "2026-11-21T09:00:01Z"}))]
pub struct MergeOut {
    pub id: String,
    /// merge or conflict
    pub kind: String,
    pub survivor_id: String,
    pub merged_id: String,
    /// The identity of the event that bridged (or would have bridged) the profiles.
    pub identity: IdentityOut,
    /// The event that caused it.
    pub event_id: Option<String>,
    /// Why a conflict linked nothing: `limit`, or `unmerged` (the two were kept apart by an undo).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When a merge was undone (its `undo` entry follows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undone_at: Option<String>,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct IdentitiesOut {
    pub profile_id: String,
    pub items: Vec<IdentityWithTime>,
}

#[derive(Serialize, ToSchema)]
pub struct IdentityWithTime {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    /// When the identity joined the platform.
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct MergesOut {
    pub profile_id: String,
    pub items: Vec<MergeOut>,
}

fn json_text(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Null)
}

impl From<ProfileView> for ProfileOut {
    fn from(v: ProfileView) -> Self {
        let p = v.profile;
        ProfileOut {
            traits: json_text(&p.traits),
            identities: v.identities.into_iter().map(|i| IdentityOut { kind: i.identity_type, value: i.value }).collect(),
            channels: Channel::from_bits(p.channels).into_iter().map(|c| c.as_str().to_string()).collect(),
            first_seen_at: ts(p.first_seen_at),
            last_seen_at: ts(p.last_seen_at),
            event_count: p.event_count,
            accounts: v.accounts,
            loyalty: v.loyalty.map(|(points_balance, tier)| ProfileLoyalty { points_balance, tier }),
            created_at: ts(p.created_at),
            updated_at: ts(p.updated_at),
            id: p.id,
        }
    }
}

impl From<EventRow> for EventOut {
    fn from(e: EventRow) -> Self {
        let identities: Vec<Identity> = serde_json::from_str(&e.identities).unwrap_or_default();
        EventOut {
            id: e.id,
            profile_id: e.profile_id,
            kind: e.event_type,
            event: e.name,
            channel: e.channel,
            occurred_at: ts(e.occurred_at),
            received_at: ts(e.received_at),
            message_id: e.message_id,
            source_id: e.source_id,
            identities: identities.into_iter().map(|i| IdentityOut { kind: i.kind.as_str().to_string(), value: i.value }).collect(),
            traits: json_text(&e.traits),
            properties: json_text(&e.properties),
            context: json_text(&e.context),
        }
    }
}

impl From<MergeRow> for MergeOut {
    fn from(m: MergeRow) -> Self {
        MergeOut {
            id: m.id,
            kind: m.kind,
            survivor_id: m.survivor_id,
            merged_id: m.merged_id,
            identity: IdentityOut { kind: m.identity_type, value: m.identity_value },
            event_id: m.event_id,
            reason: m.reason,
            undone_at: m.undone_at.map(ts),
            created_at: ts(m.created_at),
        }
    }
}

/// A profile by id. An id that was merged away answers with its survivor.
#[utoipa::path(
    tag = "profiles", operation_id = "get_profile", security(("api_key" = ["profiles:read"]), ("bearer" = ["profiles:read"])),
    params(("id" = String, Path, description = "Profile id")),
    responses((status = 200, body = ProfileOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
#[get("/profiles/{id}")]
pub async fn get_profile(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<ProfileOut>> {
    who.require(Scope::ProfilesRead)?;
    let view = crate::blocking(&state, move |app| app.profile(&who, &id)).await?;
    Ok(web::Json(view.into()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    /// Identity type: email, phone, user_id, anonymous_id, loyalty_card, facebook_id, zalo_id…
    #[param(example = "phone")]
    #[serde(rename = "type")]
    pub kind: String,
    /// The value, normalised as ingestion does (`0912 345 678` finds `+84912345678`).
    #[param(example = "0912 345 678")]
    pub value: String,
}

/// The profile that holds an identity.
#[utoipa::path(
    tag = "profiles", operation_id = "lookup_profile", security(("api_key" = ["profiles:read"]), ("bearer" = ["profiles:read"])),
    params(LookupQuery),
    responses((status = 200, body = ProfileOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody))
)]
#[get("/profiles/lookup")]
pub async fn lookup_profile(state: web::Data<AppState>, who: Auth, q: web::Query<LookupQuery>) -> ApiResult<web::Json<ProfileOut>> {
    who.require(Scope::ProfilesRead)?;
    let q = q.into_inner();
    let view = crate::blocking(&state, move |app| app.lookup_profile(&who, &q.kind, &q.value)).await?;
    Ok(web::Json(view.into()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelineQuery {
    /// 1 to 500; default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only events of this channel.
    pub channel: Option<String>,
}

fn encode_cursor(c: &TimelineCursor) -> String {
    cursor_encode(&format!("{}|{}", c.occurred_at, c.id))
}

/// The profile's events on every channel, newest first, with keyset paging;
/// events of profiles merged into it included.
#[utoipa::path(
    tag = "profiles", operation_id = "list_profile_events", security(("api_key" = ["profiles:read"]), ("bearer" = ["profiles:read"])),
    params(("id" = String, Path, description = "Profile id"), TimelineQuery),
    responses((status = 200, body = Page<EventOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody))
)]
#[get("/profiles/{id}/events")]
pub async fn list_profile_events(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    q: web::Query<TimelineQuery>,
) -> ApiResult<web::Json<Page<EventOut>>> {
    who.require(Scope::ProfilesRead)?;
    let q = q.into_inner();
    let limit = page_limit(q.limit)?;
    let channel = match q.channel.as_deref() {
        None => None,
        Some(c) => Some(c.parse::<Channel>().map_err(|e| ApiError::field("channel", "invalid", e.to_string()))?),
    };
    let cursor = cursor_decode(q.cursor.as_deref(), |t| time_id(t).map(|(occurred_at, id)| TimelineCursor { occurred_at, id }))?;
    let (rows, next) = crate::blocking(&state, move |app| app.timeline(&id, channel, cursor.as_ref(), limit)).await?;
    Ok(web::Json(Page { items: rows.into_iter().map(EventOut::from).collect(), next_cursor: next.as_ref().map(encode_cursor) }))
}

/// The profile's identities, oldest first.
#[utoipa::path(
    tag = "profiles", operation_id = "list_profile_identities", security(("api_key" = ["profiles:read"]), ("bearer" = ["profiles:read"])),
    params(("id" = String, Path, description = "Profile id")),
    responses((status = 200, body = IdentitiesOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
#[get("/profiles/{id}/identities")]
pub async fn list_profile_identities(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<IdentitiesOut>> {
    who.require(Scope::ProfilesRead)?;
    let view = crate::blocking(&state, move |app| app.profile_identities(&id)).await?;
    Ok(web::Json(IdentitiesOut {
        profile_id: view.profile.id,
        items: view
            .identities
            .into_iter()
            .map(|i| IdentityWithTime { kind: i.identity_type, value: i.value, created_at: ts(i.created_at) })
            .collect(),
    }))
}

/// The merge log: every merge that built this profile and every merge refused
/// because it would have joined two user_ids.
#[utoipa::path(
    tag = "profiles", operation_id = "list_profile_merges", security(("api_key" = ["profiles:read"]), ("bearer" = ["profiles:read"])),
    params(("id" = String, Path, description = "Profile id")),
    responses((status = 200, body = MergesOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
#[get("/profiles/{id}/merges")]
pub async fn list_profile_merges(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<MergesOut>> {
    who.require(Scope::ProfilesRead)?;
    let (pid, rows) = crate::blocking(&state, move |app| app.merge_log(&id)).await?;
    Ok(web::Json(MergesOut { profile_id: pid, items: rows.into_iter().map(MergeOut::from).collect() }))
}
