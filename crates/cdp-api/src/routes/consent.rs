//! Consent per contact channel (recorded, revocable, with history) and the
//! customer's preferences.

use crate::auth::Auth;
use crate::body::json_body;
use crate::dto::ts;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use actix_web::{get, put, web, HttpRequest};
use cdp_app::consent::{ConsentInput, Consents, PreferenceHistory};
use cdp_domain::auth::Scope;
use cdp_domain::consent::Preferences;
use cdp_domain::event::parse_time;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"status": "granted", "source": "web-signup-form", "recorded_at": "2026-11-20T10:15:00Z",
    "purpose": "marketing", "collected_by": "website", "policy_version": "2026-10", "evidence": "form submission 88213"}))]
pub struct ConsentIn {
    /// granted or denied
    pub status: String,
    /// Where the customer said it: a form, the hotline, a store…
    pub source: String,
    /// When the customer decided (default: now). The latest decision wins, whatever the arrival order.
    pub recorded_at: Option<String>,
    /// marketing (the default), transactional, profiling or research.
    pub purpose: Option<String>,
    /// Proof of consent: who collected it.
    pub collected_by: Option<String>,
    /// Proof of consent: the version of the privacy policy the customer was shown.
    pub policy_version: Option<String>,
    /// Proof of consent: how it can be shown (a form submission id, a call recording…).
    pub evidence: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentNow {
    pub channel: String,
    pub purpose: String,
    pub status: String,
    pub recorded_at: String,
    pub source: String,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentRecordOut {
    pub id: String,
    pub channel: String,
    pub purpose: String,
    pub status: String,
    pub source: String,
    pub recorded_at: String,
    pub received_at: String,
    /// The key or user that recorded it.
    pub actor: String,
    pub collected_by: Option<String>,
    pub policy_version: Option<String>,
    pub evidence: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"profile_id": "01936f3e-8a40-7000-8000-000000000001",
    "items": [{"channel": "email", "purpose": "marketing", "status": "granted", "recorded_at": "2026-11-20T10:15:00Z", "source": "web-signup-form"}],
    "history": [{"id": "01936f3e-9000-7000-8000-000000000001", "channel": "email", "purpose": "marketing", "status": "granted",
                 "source": "web-signup-form", "recorded_at": "2026-11-20T10:15:00Z", "received_at": "2026-11-20T10:15:01Z",
                 "actor": "key:01936f3e-0000-7000-8000-00000000000a", "collected_by": "website", "policy_version": "2026-10",
                 "evidence": "form submission 88213"}]}))]
pub struct ConsentsOut {
    pub profile_id: String,
    /// The decision in force per channel and purpose.
    pub items: Vec<ConsentNow>,
    /// Every decision recorded, oldest first.
    pub history: Vec<ConsentRecordOut>,
}

impl From<Consents> for ConsentsOut {
    fn from(c: Consents) -> Self {
        let history = c.history;
        let items = c
            .state
            .into_iter()
            .map(|(channel, purpose, status, at, id)| ConsentNow {
                source: history.iter().find(|h| h.id == id).map(|h| h.source.clone()).unwrap_or_default(),
                channel,
                purpose,
                status,
                recorded_at: ts(at),
            })
            .collect();
        ConsentsOut {
            profile_id: c.profile_id,
            items,
            history: history
                .into_iter()
                .map(|h| ConsentRecordOut {
                    id: h.id,
                    channel: h.channel,
                    purpose: h.purpose,
                    status: h.status,
                    source: h.source,
                    recorded_at: ts(h.recorded_at),
                    received_at: ts(h.received_at),
                    actor: h.actor,
                    collected_by: h.collected_by,
                    policy_version: h.policy_version,
                    evidence: h.evidence,
                })
                .collect(),
        }
    }
}

/// Records the customer's decision for a channel (email, sms, zalo, push,
/// phone, facebook); answers the state in force and the history.
#[utoipa::path(tag = "consent", operation_id = "put_consent", request_body = ConsentIn,
    security(("api_key" = ["profiles:write"]), ("bearer" = ["profiles:write"])),
    params(("id" = String, Path, description = "Profile id"), ("channel" = String, Path, description = "email, sms, zalo, push, phone or facebook")),
    responses((status = 200, body = ConsentsOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/profiles/{id}/consents/{channel}")]
pub async fn put_consent(
    state: web::Data<AppState>,
    who: Auth,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<web::Json<ConsentsOut>> {
    who.require(Scope::ProfilesWrite)?;
    let (id, channel) = path.into_inner();
    let body: ConsentIn = json_body(&req, payload).await?;
    let recorded_at = match &body.recorded_at {
        None => None,
        Some(s) => {
            Some(parse_time(s).ok_or_else(|| ApiError::field("recorded_at", "invalid", "must be an RFC 3339 time, not in the future"))?)
        }
    };
    let input = ConsentInput {
        channel,
        status: body.status,
        source: body.source,
        recorded_at,
        purpose: body.purpose,
        collected_by: body.collected_by,
        policy_version: body.policy_version,
        evidence: body.evidence,
    };
    let out = crate::blocking(&state, move |app| app.record_consent(&who, &id, input)).await?;
    Ok(web::Json(out.into()))
}

/// The decisions in force per channel and the full history.
#[utoipa::path(tag = "consent", operation_id = "get_consents", security(("api_key" = ["profiles:read"]), ("bearer" = ["profiles:read"])),
    params(("id" = String, Path, description = "Profile id")),
    responses((status = 200, body = ConsentsOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/profiles/{id}/consents")]
pub async fn get_consents(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<ConsentsOut>> {
    who.require(Scope::ProfilesRead)?;
    Ok(web::Json(crate::blocking(&state, move |app| app.consents(&id)).await?.into()))
}

#[derive(Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"preferred_channel": "zalo", "language": "vi", "favourite_categories": ["sua-bot", "pho-mai"],
    "contact_hours": {"from": "08:00", "to": "21:00"}}))]
pub struct PreferencesDoc {
    /// email, sms, zalo, push, phone or facebook.
    pub preferred_channel: Option<String>,
    /// ISO 639: vi, en…
    pub language: Option<String>,
    #[serde(default)]
    pub favourite_categories: Vec<String>,
    pub contact_hours: Option<HoursDoc>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct HoursDoc {
    pub from: String,
    pub to: String,
}

#[derive(Serialize, ToSchema)]
pub struct PreferenceVersion {
    #[schema(value_type = Object)]
    pub preferences: serde_json::Value,
    pub recorded_at: String,
    pub actor: String,
}

#[derive(Serialize, ToSchema)]
pub struct PreferencesOut {
    pub profile_id: String,
    /// The preferences in force (empty until the customer says).
    #[schema(value_type = Object)]
    pub preferences: serde_json::Value,
    pub updated_at: Option<String>,
    /// Every version, newest first.
    pub history: Vec<PreferenceVersion>,
}

impl From<PreferenceHistory> for PreferencesOut {
    fn from(h: PreferenceHistory) -> Self {
        let parse = |b: &str| serde_json::from_str::<serde_json::Value>(b).unwrap_or_default();
        PreferencesOut {
            profile_id: h.profile_id,
            preferences: h
                .versions
                .first()
                .map(|v| parse(&v.0))
                .unwrap_or_else(|| serde_json::to_value(Preferences::default()).unwrap_or_default()),
            updated_at: h.versions.first().map(|v| ts(v.1)),
            history: h
                .versions
                .iter()
                .map(|(b, at, actor)| PreferenceVersion { preferences: parse(b), recorded_at: ts(*at), actor: actor.clone() })
                .collect(),
        }
    }
}

/// What the customer wants: preferred channel, language, favourite categories, contact hours.
#[utoipa::path(tag = "consent", operation_id = "get_preferences", security(("api_key" = ["profiles:read"]), ("bearer" = ["profiles:read"])),
    params(("id" = String, Path, description = "Profile id")),
    responses((status = 200, body = PreferencesOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/profiles/{id}/preferences")]
pub async fn get_preferences(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<PreferencesOut>> {
    who.require(Scope::ProfilesRead)?;
    Ok(web::Json(crate::blocking(&state, move |app| app.preferences(&id)).await?.into()))
}

/// Replaces the preferences (validated; the earlier versions stay in the history).
#[utoipa::path(tag = "consent", operation_id = "put_preferences", request_body = PreferencesDoc,
    security(("api_key" = ["profiles:write"]), ("bearer" = ["profiles:write"])),
    params(("id" = String, Path, description = "Profile id")),
    responses((status = 200, body = PreferencesOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/profiles/{id}/preferences")]
pub async fn put_preferences(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<web::Json<PreferencesOut>> {
    who.require(Scope::ProfilesWrite)?;
    let prefs: Preferences = json_body(&req, payload).await?;
    Ok(web::Json(crate::blocking(&state, move |app| app.save_preferences(&who, &id, prefs)).await?.into()))
}
