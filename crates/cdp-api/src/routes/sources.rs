use crate::auth::Auth;
use crate::body::json_body;
use crate::dto::{ts, ChannelName, List};
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppState;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use cdp_app::sources::SourceRow;
use cdp_domain::auth::Scope;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"name": "Cửa hàng Quận 1", "channel": "store"}))]
pub struct CreateSource {
    pub name: String,
    pub channel: ChannelName,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-8a4b-7c2d-9e1f-2a3b4c5d6e7f", "name": "Cửa hàng Quận 1", "channel": "store", "created_at": "2026-11-23T08:00:00Z"}))]
pub struct SourceOut {
    pub id: String,
    pub name: String,
    pub channel: String,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-8a4b-7c2d-9e1f-2a3b4c5d6e7f", "name": "Cửa hàng Quận 1", "channel": "store",
    "created_at": "2026-11-23T08:00:00Z", "write_key": "cdp_Xr4k9QyZ…"}))]
pub struct CreatedSource {
    #[serde(flatten)]
    pub source: SourceOut,
    /// An `events:write` key bound to this source. Shown once.
    pub write_key: String,
}

impl From<SourceRow> for SourceOut {
    fn from(s: SourceRow) -> Self {
        SourceOut { id: s.id, name: s.name, channel: s.channel, created_at: ts(s.created_at) }
    }
}

/// Registers a source (a shop, the website, the hotline…) and issues its write key (admin).
#[utoipa::path(
    tag = "sources", operation_id = "create_source", request_body = CreateSource, security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 201, body = CreatedSource), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody))
)]
#[post("/sources")]
pub async fn create_source(state: web::Data<AppState>, who: Auth, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    who.require(Scope::Admin)?;
    let CreateSource { name, channel } = json_body(&req, payload).await?;
    let (row, key) = crate::blocking(&state, move |app| app.create_source(&name, channel.into())).await?;
    log::info!("{} created source {}", who.actor(), row.id);
    Ok(HttpResponse::Created().json(CreatedSource { source: row.into(), write_key: key }))
}

/// Lists sources (admin).
#[utoipa::path(
    tag = "sources", operation_id = "list_sources", security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 200, body = List<SourceOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
#[get("/sources")]
pub async fn list_sources(state: web::Data<AppState>, who: Auth) -> ApiResult<web::Json<List<SourceOut>>> {
    who.require(Scope::Admin)?;
    let rows = crate::blocking(&state, |app| app.list_sources()).await?;
    Ok(web::Json(List { items: rows.into_iter().map(SourceOut::from).collect() }))
}
