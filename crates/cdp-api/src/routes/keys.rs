use crate::auth::Auth;
use crate::body::json_body;
use crate::dto::{ts, List};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use cdp_app::keys::KeyRow;
use cdp_domain::auth::{Grants, Scope};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"name": "website backend", "scopes": ["events:write", "profiles:read"]}))]
pub struct CreateKey {
    pub name: String,
    /// events:write, profiles:read, profiles:write, segments:read, segments:write,
    /// loyalty:read, loyalty:write, analytics:read, admin.
    pub scopes: Vec<String>,
    /// Binds the key to a source: its events get the source and its channel.
    pub source_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-8a4b-7c2d-9e1f-2a3b4c5d6e7f", "name": "website backend", "prefix": "cdp_Xr4k9Q",
    "scopes": ["events:write", "profiles:read"], "source_id": null, "created_at": "2026-11-23T08:00:00Z", "last_used_at": null, "revoked_at": null}))]
pub struct KeyOut {
    pub id: String,
    pub name: String,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    pub scopes: Vec<String>,
    pub source_id: Option<String>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub meta: KeyOut,
    /// The secret. Shown once: only its hash is stored.
    pub key: String,
}

impl From<KeyRow> for KeyOut {
    fn from(k: KeyRow) -> Self {
        KeyOut {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            scopes: k.scopes.split_whitespace().map(str::to_string).collect(),
            source_id: k.source_id,
            created_at: ts(k.created_at),
            last_used_at: k.last_used_at.map(ts),
            revoked_at: k.revoked_at.map(ts),
        }
    }
}

/// Creates an API key with the given scopes (admin). The key is in the answer, once.
#[utoipa::path(
    tag = "keys", operation_id = "create_key", request_body = CreateKey, security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 201, body = CreatedKey), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
               (status = 404, description = "no such source", body = ErrorBody), (status = 422, body = ErrorBody))
)]
#[post("/keys")]
pub async fn create_key(state: web::Data<AppState>, who: Auth, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    who.require(Scope::Admin)?;
    let CreateKey { name, scopes, source_id } = json_body(&req, payload).await?;
    if scopes.is_empty() {
        return Err(ApiError::field("scopes", "required", "at least one scope is required"));
    }
    let grants = Grants::from_text(&scopes.join(" ")).map_err(|e| ApiError::field("scopes", "invalid", e))?;
    let (row, key) = crate::blocking(&state, move |app| app.issue_key(&name, &grants, source_id.as_deref())).await?;
    log::info!("{} created key {}", who.actor(), row.id);
    Ok(HttpResponse::Created().json(CreatedKey { meta: row.into(), key }))
}

/// Lists API keys (admin), revoked ones included; secrets are never shown.
#[utoipa::path(
    tag = "keys", operation_id = "list_keys", security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 200, body = List<KeyOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
#[get("/keys")]
pub async fn list_keys(state: web::Data<AppState>, who: Auth) -> ApiResult<web::Json<List<KeyOut>>> {
    who.require(Scope::Admin)?;
    let rows = crate::blocking(&state, |app| app.list_keys()).await?;
    Ok(web::Json(List { items: rows.into_iter().map(KeyOut::from).collect() }))
}

/// Revokes an API key (admin): it stops working at once.
#[utoipa::path(
    tag = "keys", operation_id = "revoke_key", security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    params(("id" = String, Path, description = "The key's id")),
    responses((status = 200, body = KeyOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
#[delete("/keys/{id}")]
pub async fn revoke_key(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<KeyOut>> {
    who.require(Scope::Admin)?;
    let id = id.into_inner();
    let row = crate::blocking(&state, move |app| app.revoke_key(&id)).await?;
    log::info!("{} revoked key {}", who.actor(), row.id);
    Ok(web::Json(row.into()))
}
