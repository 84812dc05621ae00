use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Health {
    pub status: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "ok", "database": "sqlite"}))]
pub struct Ready {
    pub status: String,
    /// sqlite or postgres
    pub database: String,
}

/// Liveness: the process answers.
#[utoipa::path(tag = "operations", operation_id = "get_health", responses((status = 200, body = Health)))]
#[get("/health")]
pub async fn health() -> web::Json<Health> {
    web::Json(Health { status: "ok".into() })
}

/// Readiness: the database answers.
#[utoipa::path(tag = "operations", operation_id = "get_ready", responses((status = 200, body = Ready), (status = 503, body = ErrorBody)))]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> ApiResult<web::Json<Ready>> {
    crate::blocking(&state, |app| app.ready()).await.map_err(|e| {
        log::warn!("not ready: {e}");
        ApiError::unavailable()
    })?;
    Ok(web::Json(Ready { status: "ok".into(), database: state.app.backend().into() }))
}

/// Prometheus metrics: requests by route and status, latency histogram, events ingested.
#[utoipa::path(tag = "operations", operation_id = "get_metrics", responses((status = 200, content_type = "text/plain", body = String)))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render())
}
