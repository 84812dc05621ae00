use crate::auth::Principal;
use crate::body::json_body;
use crate::dto::{ts, ChannelName, List};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::keys::issue_key;
use crate::state::AppState;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use cdp_domain::auth::{Grants, Scope};
use cdp_domain::Channel;
use cdp_store::repo::sources::{self, SourceRow};
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
pub async fn create_source(state: web::Data<AppState>, who: Principal, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    who.require(Scope::Admin)?;
    let CreateSource { name, channel } = json_body(&req, payload).await?;
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::field("name", "invalid", "must be 1 to 200 characters"));
    }
    let channel: Channel = channel.into();
    let db = state.db.clone();
    let (row, key) = web::block(move || {
        db.write(|c| {
            let row = SourceRow {
                id: cdp_store::new_id(),
                name: name.clone(),
                channel: channel.as_str().into(),
                created_at: cdp_store::now_micros(),
            };
            sources::insert(c, &row)?;
            let (_, key) = issue_key(c, &format!("write key of {}", row.name), &Grants::new(vec![Scope::EventsWrite]), Some(&row.id))?;
            Ok((row, key))
        })
    })
    .await??;
    log::info!("{} created source {}", who.actor(), row.id);
    Ok(HttpResponse::Created().json(CreatedSource { source: row.into(), write_key: key }))
}

/// Lists sources (admin).
#[utoipa::path(
    tag = "sources", operation_id = "list_sources", security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 200, body = List<SourceOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
#[get("/sources")]
pub async fn list_sources(state: web::Data<AppState>, who: Principal) -> ApiResult<web::Json<List<SourceOut>>> {
    who.require(Scope::Admin)?;
    let db = state.db.clone();
    let rows = web::block(move || db.read(sources::list)).await??;
    Ok(web::Json(List { items: rows.into_iter().map(SourceOut::from).collect() }))
}
