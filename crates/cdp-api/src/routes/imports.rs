//! CSV imports over HTTP: the file is kept in the database as it arrives,
//! then imported by a background job whose progress can be read.

use crate::auth::Auth;
use crate::dto::{cursor_decode, cursor_encode, page_limit, time_id, ts, Page};
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::routes::vouchers::PageQuery;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use cdp_app::imports::{check_header, ImportOptions, UPLOAD_PIECE_BYTES};
use cdp_domain::auth::Scope;
use cdp_domain::import::ImportKind;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Refused rows shown with a job.
const ERRORS_SHOWN: i64 = 1000;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// customers or orders.
    #[param(example = "orders")]
    pub kind: String,
    /// Imported orders earn loyalty points and are announced to destinations as `order.completed`, as live orders are
    /// (default false: history is stored and counted without either).
    pub points: Option<bool>,
    /// The offset of times written without one (default +07:00).
    #[param(example = "+07:00")]
    pub utc_offset: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-7000-7000-8000-0000000000a1", "kind": "orders", "status": "queued"}))]
pub struct ImportAccepted {
    pub id: String,
    pub kind: String,
    pub status: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"row": 14, "field": "phone", "code": "invalid_identity", "message": "is not a valid phone number"}))]
pub struct ImportErrorOut {
    /// The line of the file where the row starts (the header is line 1).
    pub row: i64,
    /// The column at fault (`row` for the row as a whole).
    pub field: String,
    pub code: String,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-7000-7000-8000-0000000000a1", "kind": "orders", "status": "succeeded", "rows": 30000,
    "imported": 9950, "duplicates": 0, "rejected": 50, "errors": [{"row": 14, "field": "revenue", "code": "invalid_amount",
    "message": "`350k` is not an amount such as 350000, 350.000 or 1,250,000.50"}], "errors_total": 61, "message": null,
    "bytes": 2411934, "points": false, "created_at": "2026-12-03T08:00:00Z", "finished_at": "2026-12-03T08:00:01Z"}))]
pub struct ImportOut {
    pub id: String,
    pub kind: String,
    /// queued, running, succeeded or failed.
    pub status: String,
    /// Records read so far (the header not counted).
    pub rows: i64,
    /// Customers (or orders) stored.
    pub imported: i64,
    /// Customers (or orders) already there from an earlier import.
    pub duplicates: i64,
    /// Customers (or orders) refused: each has at least one entry in `errors`.
    pub rejected: i64,
    /// The first refused rows, in file order (up to 1000; none in lists); `/imports/{id}/errors` pages through all.
    pub errors: Vec<ImportErrorOut>,
    pub errors_total: i64,
    /// Why a failed job stopped.
    pub message: Option<String>,
    pub bytes: i64,
    pub points: bool,
    pub created_at: String,
    pub finished_at: Option<String>,
}

fn csv_content_type(req: &HttpRequest) -> bool {
    let ct = req.headers().get(actix_web::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    matches!(mime.as_str(), "text/csv" | "application/csv" | "text/plain")
}

/// Imports a CSV export of customers or orders (admin) as a background job.
/// The columns, formats and counting rules are in the guide; a file imported
/// again adds nothing new.
#[utoipa::path(tag = "imports", operation_id = "create_import", params(ImportQuery),
    request_body(content = String, content_type = "text/csv",
        example = "customer_id,phone,email,first_name,last_name,birthday,city\nC0001,0912 345 678,an@example.vn,An,Nguyễn,01/05/1990,Hà Nội\n"),
    security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 202, body = ImportAccepted), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/imports")]
pub async fn create_import(state: web::Data<AppState>, who: Auth, req: HttpRequest, mut payload: web::Payload) -> ApiResult<HttpResponse> {
    who.require(Scope::Admin)?;
    // Read after the credentials are checked, so that a stranger learns nothing from a 422.
    let q = web::Query::<ImportQuery>::from_query(req.query_string()).map_err(|e| ApiError::field("query", "invalid", e.to_string()))?;
    let kind = ImportKind::parse(&q.kind).ok_or_else(|| ApiError::field("kind", "invalid", "must be customers or orders"))?;
    let mut opts = ImportOptions::new(kind);
    opts.points = q.points.unwrap_or(false);
    if let Some(o) = &q.utc_offset {
        opts.utc_offset = o.clone();
    }
    opts.offset()?;
    if !csv_content_type(&req) {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::UnsupportedMediaType, "send the file as text/csv"));
    }
    let id = cdp_app::store::new_id();
    let limit = state.limits.import_body_bytes;
    let (mut piece, mut pieces, mut bytes) = (Vec::with_capacity(UPLOAD_PIECE_BYTES), 0i32, 0u64);
    // The header is checked once, as soon as its line has arrived, before anything is kept.
    let mut checked = false;
    let received = async {
        while let Some(data) = payload.next().await {
            let data = data.map_err(|e| ApiError::invalid_json(format!("the body could not be read: {e}")))?;
            bytes += data.len() as u64;
            if bytes > limit {
                return Err(ApiError::too_large(limit as usize));
            }
            piece.extend_from_slice(&data);
            if !checked && piece.contains(&b'\n') {
                check_header(kind, &piece)?;
                checked = true;
            }
            if piece.len() >= UPLOAD_PIECE_BYTES {
                let (id, data, seq) = (id.clone(), std::mem::take(&mut piece), pieces);
                crate::blocking(&state, move |app| app.add_upload_piece(&id, seq, &data)).await?;
                pieces += 1;
            }
        }
        if !checked {
            check_header(kind, &piece)?;
        }
        if !piece.is_empty() {
            let (id, data, seq) = (id.clone(), std::mem::take(&mut piece), pieces);
            crate::blocking(&state, move |app| app.add_upload_piece(&id, seq, &data)).await?;
            pieces += 1;
        }
        Ok::<_, ApiError>(())
    }
    .await;
    if let Err(e) = received {
        if pieces > 0 {
            let id = id.clone();
            if let Err(d) = crate::blocking(&state, move |app| app.drop_upload(&id)).await {
                log::warn!("dropping an incomplete upload: {}", d.message);
            }
        }
        return Err(e);
    }
    let row = crate::blocking(&state, move |app| app.queue_import(&who, &id, &opts, pieces, bytes as i64)).await?;
    Ok(HttpResponse::Accepted().json(ImportAccepted { id: row.id, kind: row.kind, status: row.status }))
}

/// An import job: its progress, counts and the first refused rows (admin).
#[utoipa::path(tag = "imports", operation_id = "get_import", params(("id" = String, Path, description = "Import id")),
    security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 200, body = ImportOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/imports/{id}")]
pub async fn get_import(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<ImportOut>> {
    who.require(Scope::Admin)?;
    let (row, errors) = crate::blocking(&state, move |app| app.import_job(&id, ERRORS_SHOWN)).await?;
    Ok(web::Json(job_out(row, errors)))
}

fn job_out(row: cdp_app::store::ImportRow, errors: Vec<cdp_app::store::ImportErrorRow>) -> ImportOut {
    let points = serde_json::from_str::<serde_json::Value>(&row.options).ok().and_then(|o| o["points"].as_bool()).unwrap_or(false);
    ImportOut {
        id: row.id,
        kind: row.kind,
        status: row.status,
        rows: row.rows_read,
        imported: row.imported,
        duplicates: row.duplicates,
        rejected: row.rejected,
        errors: errors.into_iter().map(|e| ImportErrorOut { row: e.row, field: e.field, code: e.code, message: e.message }).collect(),
        errors_total: row.error_count,
        message: row.message,
        bytes: row.bytes,
        points,
        created_at: ts(row.created_at),
        finished_at: row.finished_at.map(ts),
    }
}

/// A job's refused rows, in file order, a page at a time (admin).
#[utoipa::path(tag = "imports", operation_id = "list_import_errors", params(("id" = String, Path, description = "Import id"), PageQuery),
    security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 200, body = Page<ImportErrorOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/imports/{id}/errors")]
pub async fn list_import_errors(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    q: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<ImportErrorOut>>> {
    who.require(Scope::Admin)?;
    let limit = page_limit(q.limit)?;
    let after = cursor_decode(q.cursor.as_deref(), |c| c.parse::<i64>().ok())?;
    let (rows, next) = crate::blocking(&state, move |app| app.import_errors(&id, after, limit)).await?;
    Ok(web::Json(Page {
        items: rows.into_iter().map(|e| ImportErrorOut { row: e.row, field: e.field, code: e.code, message: e.message }).collect(),
        next_cursor: next.map(|seq| cursor_encode(&seq.to_string())),
    }))
}

/// Import jobs, newest first, without their refused rows (admin).
#[utoipa::path(tag = "imports", operation_id = "list_imports", params(PageQuery),
    security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 200, body = Page<ImportOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/imports")]
pub async fn list_imports(state: web::Data<AppState>, who: Auth, q: web::Query<PageQuery>) -> ApiResult<web::Json<Page<ImportOut>>> {
    who.require(Scope::Admin)?;
    let limit = page_limit(q.limit)?;
    let before = cursor_decode(q.cursor.as_deref(), time_id)?;
    let (rows, next) = crate::blocking(&state, move |app| app.import_jobs(before, limit)).await?;
    Ok(web::Json(Page {
        items: rows.into_iter().map(|r| job_out(r, Vec::new())).collect(),
        next_cursor: next.map(|(t, id)| cursor_encode(&format!("{t}|{id}"))),
    }))
}
