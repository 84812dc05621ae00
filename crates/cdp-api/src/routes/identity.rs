//! Identity rules: limits and priorities per identifier type, blocked
//! values and patterns.

use crate::auth::Auth;
use crate::body::json_body;
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppState;
use actix_web::{get, post, put, web, HttpRequest};
use cdp_domain::auth::Scope;
use cdp_domain::identity_rules::RulesDoc;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The identity rules (API.md "Identity rules, undo and split"). `types`:
/// per identifier type, `limit` (most distinct values one profile may hold)
/// and `priority` (1 = strongest: which match wins when an event's
/// identities point at profiles that may not merge); types not listed have
/// no limit and come after every listed type. `blocked`: values (written
/// like ingestion input, normalised) or `pattern`s (regular expressions over
/// the normalised value) that never link or merge. `placeholders`: whether
/// the built-in placeholders are blocked (phones of one repeated digit,
/// `0123456789`, `0987654321`; e-mails whose local part is `test`,
/// `noemail`, `no-email`, `none`, `khachle` or `khach-le`). These are the defaults.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"types": {"user_id": {"limit": 1, "priority": 1}, "loyalty_card": {"limit": 3, "priority": 2},
    "email": {"limit": 5, "priority": 3}, "phone": {"limit": 5, "priority": 4}, "zalo_id": {"limit": 3, "priority": 5},
    "facebook_id": {"limit": 3, "priority": 6}, "anonymous_id": {"limit": 1000, "priority": 7}},
    "blocked": [{"type": "phone", "value": "+84909000000"}, {"type": "email", "pattern": "^khachle@"}], "placeholders": true}))]
pub struct IdentityRulesDoc {
    pub types: BTreeMap<String, TypeRuleDoc>,
    pub blocked: Vec<BlockedDoc>,
    pub placeholders: bool,
}

#[derive(Serialize, ToSchema)]
pub struct TypeRuleDoc {
    /// At least 1.
    pub limit: i64,
    /// At least 1; 1 is the strongest.
    pub priority: i64,
}

/// Exactly one of `value` and `pattern`.
#[derive(Serialize, ToSchema)]
pub struct BlockedDoc {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: Option<String>,
    pub pattern: Option<String>,
}

/// The identity rules in force (admin).
#[utoipa::path(tag = "profiles", operation_id = "get_identity_rules", security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 200, body = IdentityRulesDoc), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/identity/rules")]
pub async fn get_rules(state: web::Data<AppState>, who: Auth) -> ApiResult<web::Json<RulesDoc>> {
    who.require(Scope::Admin)?;
    Ok(web::Json(crate::blocking(&state, |app| app.identity_rules()).await?))
}

/// Replaces the identity rules (admin); later events resolve by them. Invalid
/// type names, limits or priorities below 1, invalid patterns and blocked
/// values that are no valid identity of their type are refused, each named by its path.
#[utoipa::path(tag = "profiles", operation_id = "put_identity_rules", request_body = IdentityRulesDoc,
    security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 200, body = IdentityRulesDoc), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/identity/rules")]
pub async fn put_rules(state: web::Data<AppState>, who: Auth, req: HttpRequest, payload: web::Payload) -> ApiResult<web::Json<RulesDoc>> {
    who.require(Scope::Admin)?;
    let doc: RulesDoc = json_body(&req, payload).await?;
    Ok(web::Json(crate::blocking(&state, move |app| app.set_identity_rules(&who, doc)).await?))
}

/// What undoing a merge moved back.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"restored_profile_id": "01936f3e-8a41-7000-8000-000000000002", "survivor_id": "01936f3e-8a40-7000-8000-000000000001",
    "moved": {"identities": 2, "events": 14, "orders": 3}}))]
pub struct UndoOut {
    /// The merged profile, live again under its old id.
    pub restored_profile_id: String,
    pub survivor_id: String,
    pub moved: Moved,
}

#[derive(Serialize, ToSchema)]
pub struct Moved {
    pub identities: usize,
    pub events: usize,
    pub orders: usize,
}

/// Undoes a merge (an id from a profile's merge log): the merged profile
/// returns under its old id with the identities, events, orders, loyalty
/// entries and consents that came through it, both sides' aggregates are
/// worked out again, RFM and CLV scores of both are dropped until the next
/// run, and the two are kept apart (a later event bridging them is a
/// `conflict` with `reason: unmerged`). Undoing twice → 409.
#[utoipa::path(tag = "profiles", operation_id = "undo_merge", security(("api_key" = ["profiles:write"]), ("bearer" = ["profiles:write"])),
    params(("id" = String, Path, description = "Merge id (from the merge log)")),
    responses((status = 200, body = UndoOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 409, body = ErrorBody)))]
#[post("/merges/{id}/undo")]
pub async fn undo_merge(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<UndoOut>> {
    who.require(Scope::ProfilesWrite)?;
    let u = crate::blocking(&state, move |app| app.undo_merge(&who, &id)).await?;
    let moved = Moved { identities: u.identities, events: u.events, orders: u.orders };
    Ok(web::Json(UndoOut { restored_profile_id: u.restored_profile_id, survivor_id: u.survivor_id, moved }))
}

/// Identities to split off a profile, written like ingestion input.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"identities": [{"type": "phone", "value": "0903 222 333"}, {"type": "loyalty_card", "value": "VNM-9"}]}))]
pub struct SplitIn {
    pub identities: Vec<IdentityIn>,
}

#[derive(Deserialize, ToSchema)]
pub struct IdentityIn {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// The new profile and what moved to it.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"profile_id": "01936f3e-8a42-7000-8000-000000000004", "moved": {"identities": 2, "events": 9, "orders": 2}}))]
pub struct SplitOut {
    pub profile_id: String,
    pub moved: Moved,
}

/// Splits identities off a profile into a new one: those identities, and the
/// events that carried one of them and none of the identities that stay
/// (with their orders, those orders' points and feedback on them), move;
/// both profiles' aggregates are worked out again, their RFM and CLV scores
/// dropped until the next run, and the two are kept apart afterwards. At
/// least one identity must stay (422).
#[utoipa::path(tag = "profiles", operation_id = "split_profile", request_body = SplitIn,
    security(("api_key" = ["profiles:write"]), ("bearer" = ["profiles:write"])),
    params(("id" = String, Path, description = "Profile id")),
    responses((status = 201, body = SplitOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
               (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/profiles/{id}/split")]
pub async fn split_profile(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<actix_web::HttpResponse> {
    who.require(Scope::ProfilesWrite)?;
    let body: SplitIn = json_body(&req, payload).await?;
    let ids = body.identities.into_iter().map(|i| (i.kind, i.value)).collect();
    let s = crate::blocking(&state, move |app| app.split_profile(&who, &id, ids)).await?;
    let moved = Moved { identities: s.identities, events: s.events, orders: s.orders };
    Ok(actix_web::HttpResponse::Created().json(SplitOut { profile_id: s.profile_id, moved }))
}
