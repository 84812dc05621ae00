//! Request bodies: size-limited reads, JSON parsing that names the field at
//! fault, and JSON errors for actix's own extractors.

use crate::error::{ApiError, ApiResult, ErrorCode};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

/// Reads the whole body (decompressed if `Content-Encoding` says so), refusing
/// with 413 once it passes `limit` bytes.
pub async fn read_limited(req: &HttpRequest, payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    let declared =
        req.headers().get(actix_web::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    let identity = req.headers().get(actix_web::http::header::CONTENT_ENCODING).is_none();
    if identity && declared.is_some_and(|n| n > limit) {
        return Err(ApiError::too_large(limit));
    }
    // Limits apply to the decompressed body: a small gzip bomb is still refused.
    let mut payload = actix_web::dev::Decompress::from_headers(payload.into_inner(), req.headers());
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => ApiError::too_large(limit),
            other => ApiError::invalid_json(format!("cannot read the body: {other}")),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Reads and parses a JSON body of at most 64 KiB. Handlers call it after
/// authorising, so that a caller without rights learns nothing from parsing.
pub async fn json_body<T: DeserializeOwned>(req: &HttpRequest, payload: web::Payload) -> Result<T, ApiError> {
    let bytes = read_limited(req, payload, 64 * 1024).await?;
    parse_json(&bytes)
}

/// Parses JSON into `T`: a syntax error is 400 `invalid_json`; a value of the
/// wrong shape is 422 naming the path of the field (`events[2].channel`).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError::invalid_json(format!("the body is not valid JSON: {e}")))?;
    from_value(value)
}

/// Like [`parse_json`], from an already parsed value.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { String::new() } else { path };
        ApiError::field(&field, "invalid", e.inner().to_string())
    })
}

pub fn json_error(err: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    let api = match &err {
        JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => ApiError::too_large(*limit),
        JsonPayloadError::ContentType => ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "send the body as application/json",
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => ApiError::field("", "invalid", e.to_string()),
        other => ApiError::invalid_json(format!("the body is not valid JSON: {other}")),
    };
    api.into()
}

pub fn query_error(err: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::field("query", "invalid", err.to_string()).into()
}

pub fn path_error(err: PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::field("path", "invalid", err.to_string()).into()
}

/// Bodies of this many bytes or more are parsed and prepared on the blocking
/// pool (`off_worker`).
const OFFLOAD_BYTES: usize = 8 * 1024;

/// Runs a request's CPU work — parsing and preparing a batch, ~15 µs an event —
/// on the blocking pool when its body is large: an async worker serves many
/// requests in turn, and a profile read that landed behind a 100-event batch
/// waited the milliseconds of that batch's parsing. A small body is worked
/// out in place (the hand-off would cost more than the work).
pub async fn off_worker<T: Send + 'static>(body_bytes: usize, work: impl FnOnce() -> ApiResult<T> + Send + 'static) -> ApiResult<T> {
    if body_bytes < OFFLOAD_BYTES {
        work()
    } else {
        web::block(work).await?
    }
}
