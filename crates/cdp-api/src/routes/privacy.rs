//! Privacy rights (Decree 13/2023, GDPR): export everything held about a
//! person, erase it, and the audit log of who read, exported or erased whom.

use crate::auth::Auth;
use crate::dto::{cursor_decode, cursor_encode, page_limit, time_id, time_param, ts, Page};
use crate::error::{ApiResult, ErrorBody};
use crate::routes::consent::{ConsentsOut, PreferencesOut};
use crate::routes::interaction::FeedbackOut;
use crate::routes::profiles::{MergeOut, ProfileOut};
use crate::state::AppState;
use actix_web::{delete, get, web};
use cdp_app::privacy::{AuditFilter, Erased, Export};
use cdp_domain::auth::Scope;
use cdp_domain::commerce::to_major;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

/// Everything held about a person, as one document.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"exported_at": "2026-11-23T08:00:00Z", "profile": {"id": "01936f3e-8a40-7000-8000-000000000001"},
    "merged_profiles": [], "events": [], "orders": [], "consents": {}, "preferences": {}, "loyalty_ledger": [], "merge_log": [],
    "feedback": [], "cases": [], "segment_memberships": [], "vouchers": [], "referral_code": null, "referrals": [], "campaigns": []}))]
pub struct ExportOut {
    pub exported_at: String,
    pub profile: ProfileOut,
    /// Ids of the profiles merged into this one.
    pub merged_profiles: Vec<String>,
    /// Every event, oldest first, as stored.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub orders: Vec<Value>,
    #[schema(value_type = Object)]
    pub consents: Value,
    #[schema(value_type = Object)]
    pub preferences: Value,
    #[schema(value_type = Vec<Object>)]
    pub loyalty_ledger: Vec<Value>,
    pub merge_log: Vec<MergeOut>,
    pub feedback: Vec<FeedbackOut>,
    #[schema(value_type = Vec<Object>)]
    pub cases: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub segment_memberships: Vec<Value>,
    pub vouchers: Vec<crate::routes::vouchers::VoucherOut>,
    pub referral_code: Option<String>,
    /// The people this person referred, as outcomes only.
    #[schema(value_type = Vec<Object>)]
    pub referrals: Vec<Value>,
    /// Campaigns they are a member of, and their group.
    #[schema(value_type = Vec<Object>)]
    pub campaigns: Vec<Value>,
}

/// Everything held about a person (profile, identities, events, orders,
/// consents, preferences, loyalty ledger, merge log, feedback, cases,
/// segments) as one JSON document. Audited.
#[utoipa::path(tag = "privacy", operation_id = "export_profile",
    security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Profile id")),
    responses((status = 200, body = ExportOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/profiles/{id}/export")]
pub async fn export_profile(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<ExportOut>> {
    who.require(Scope::Admin)?;
    let export = crate::blocking(&state, move |app| app.export_profile(&who, &id)).await?;
    Ok(web::Json(export.into()))
}

impl From<Export> for ExportOut {
    fn from(x: Export) -> Self {
        let j = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
        let events = x
            .events
            .into_iter()
            .map(|(id, kind, name, channel, at, identities, traits, properties, context, blocked)| {
                let mut e = json!({"id": id, "type": kind, "event": name, "channel": channel, "occurred_at": ts(at),
                                   "identities": j(&identities), "traits": j(&traits), "properties": j(&properties), "context": j(&context)});
                // Identities the event carried that link nothing (blocked values, placeholders).
                if let Some(b) = blocked {
                    e["blocked_identities"] = j(&b);
                }
                e
            })
            .collect();
        let orders = x
            .orders
            .into_iter()
            .map(|(order_id, channel, currency, revenue, refunded, at, products)| {
                json!({"order_id": order_id, "channel": channel, "currency": currency, "revenue": to_major(revenue, &currency),
                       "refunded": to_major(refunded, &currency), "occurred_at": ts(at), "products": j(&products)})
            })
            .collect();
        let ledger = x
            .loyalty_ledger
            .into_iter()
            .map(|(kind, points, balance, order_id, at)| {
                json!({"kind": kind, "points": points, "balance_after": balance, "order_id": order_id, "created_at": ts(at)})
            })
            .collect();
        let cases = x
            .cases
            .into_iter()
            .map(|r| {
                json!({"id": r.id, "category": r.category, "priority": r.priority, "channel": r.channel, "subject": r.subject,
                       "description": r.description, "status": r.status, "resolution": r.resolution, "created_at": ts(r.created_at)})
            })
            .collect();
        let memberships = x
            .segment_memberships
            .into_iter()
            .map(|(s, entered, exited)| json!({"segment_id": s, "entered_at": ts(entered), "exited_at": exited.map(ts)}))
            .collect();
        ExportOut {
            exported_at: ts(x.exported_at),
            merged_profiles: x.merged_profiles,
            events,
            orders,
            consents: serde_json::to_value(ConsentsOut::from(x.consents)).unwrap_or_default(),
            preferences: serde_json::to_value(PreferencesOut::from(x.preferences)).unwrap_or_default(),
            loyalty_ledger: ledger,
            merge_log: x.merge_log.into_iter().map(MergeOut::from).collect(),
            feedback: x.feedback.into_iter().map(FeedbackOut::from).collect(),
            cases,
            segment_memberships: memberships,
            vouchers: x.vouchers.into_iter().map(Into::into).collect(),
            referral_code: x.referral_code,
            referrals: x
                .referrals
                .into_iter()
                .map(|r| json!({"linked_at": ts(r.linked_at), "outcome": r.outcome, "first_order_at": r.first_order_at.map(ts), "points": r.points}))
                .collect(),
            campaigns: x.campaigns.into_iter().map(|(id, name, group)| json!({"campaign_id": id, "name": name, "group": group})).collect(),
            profile: x.profile.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"profile_id": "01936f3e-8a40-7000-8000-000000000001", "erased_at": "2026-11-23T08:00:00Z",
    "erased": {"profiles": 2, "identities": 4, "events": 31, "consents": 3, "preferences": 1, "feedback": 2, "cases": 1,
               "merge_log_entries": 1, "segment_memberships": 2, "account_memberships": 0}}))]
pub struct ErasedOut {
    pub profile_id: String,
    pub erased_at: String,
    /// What was removed, table by table.
    #[schema(value_type = Object)]
    pub erased: Erased,
}

/// Erases a person: personal data removed from every table (events'
/// identities, traits, properties and context included); anonymous
/// aggregates stay under the now anonymous id; hashed identities are kept as
/// tombstones, so a replay of an event that happened before the erasure is
/// refused (`identity_erased`) instead of re-creating the person. Audited.
#[utoipa::path(tag = "privacy", operation_id = "erase_profile",
    security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Profile id")),
    responses((status = 200, body = ErasedOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/profiles/{id}")]
pub async fn erase_profile(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<ErasedOut>> {
    who.require(Scope::Admin)?;
    let (pid, at, erased) = crate::blocking(&state, move |app| app.erase_profile(&who, &id)).await?;
    Ok(web::Json(ErasedOut { profile_id: pid, erased_at: ts(at), erased }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// key:<id> or user:<id>
    pub actor: Option<String>,
    /// profile.read, profile.export, profile.erase…
    pub action: Option<String>,
    pub profile_id: Option<String>,
    /// RFC 3339
    pub from: Option<String>,
    /// RFC 3339 (exclusive)
    pub to: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-9300-7000-8000-000000000001", "actor": "user:01936f3e-0000-7000-8000-0000000000bb",
    "action": "profile.read", "profile_id": "01936f3e-8a40-7000-8000-000000000001", "detail": {}, "at": "2026-11-23T08:00:00Z"}))]
pub struct AuditOut {
    pub id: String,
    pub actor: String,
    pub action: String,
    pub profile_id: Option<String>,
    #[schema(value_type = Object)]
    pub detail: Value,
    pub at: String,
}

/// Who did what to whom, newest first: exports, erasures, operators' reads of profiles, changes of the identity rules.
#[utoipa::path(tag = "privacy", operation_id = "list_audit", params(AuditQuery),
    security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 200, body = Page<AuditOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/audit")]
pub async fn list_audit(state: web::Data<AppState>, who: Auth, q: web::Query<AuditQuery>) -> ApiResult<web::Json<Page<AuditOut>>> {
    who.require(Scope::Admin)?;
    let q = q.into_inner();
    let filter = AuditFilter {
        actor: q.actor,
        action: q.action,
        profile_id: q.profile_id,
        from: time_param("from", q.from.as_deref())?,
        to: time_param("to", q.to.as_deref())?,
        after: cursor_decode(q.cursor.as_deref(), time_id)?,
    };
    let limit = page_limit(q.limit)?;
    let (rows, next) = crate::blocking(&state, move |app| app.audit_log(&filter, limit)).await?;
    Ok(web::Json(Page {
        items: rows
            .into_iter()
            .map(|r| AuditOut {
                detail: serde_json::from_str(&r.detail).unwrap_or(Value::Null),
                id: r.id,
                actor: r.actor,
                action: r.action,
                profile_id: r.profile_id,
                at: ts(r.at),
            })
            .collect(),
        next_cursor: next.map(|(t, id)| cursor_encode(&format!("{t}|{id}"))),
    }))
}
