//! The settings document Segment's analytics.js (`@segment/analytics-next`)
//! loads from its CDN before it sends anything: pointed at this server, so
//! that a page loading the library with `cdnURL` set to this server sends
//! its `page`, `identify` and `track` calls here.

use crate::auth::authenticate_key;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use actix_web::{get, web, HttpRequest, HttpResponse};
use cdp_domain::auth::Scope;
use serde_json::json;

/// The settings of a write key: where analytics.js sends (`apiHost` = this
/// server's `/v1`, `protocol` as the page reached it), with no destinations
/// or plugins to load. An unknown or revoked key answers 404.
#[utoipa::path(tag = "tracking", operation_id = "segment_settings",
    params(("writeKey" = String, Path, description = "A source's write key")),
    responses((status = 200, description = "analytics.js settings", body = Object,
        example = json!({"integrations": {"Segment.io": {"apiKey": "cdp_…", "apiHost": "cdp.example.vn/v1", "protocol": "https",
            "unbundledIntegrations": [], "addBundledMetadata": true, "maybeBundledConfigIds": {},
            "versionSettings": {"version": "4.4.7", "componentTypes": ["browser"]}}},
            "plan": {"track": {"__default": {"enabled": true, "integrations": {}}}, "identify": {"__default": {"enabled": true}},
                     "group": {"__default": {"enabled": true}}},
            "analyticsNextEnabled": true, "middlewareSettings": {}, "enabledMiddleware": {}, "edgeFunction": {},
            "metrics": {"sampleRate": 0.0}, "legacyVideoPluginsEnabled": false, "remotePlugins": []})),
        (status = 404, body = ErrorBody)))]
#[get("/projects/{write_key}/settings")]
pub async fn settings(state: web::Data<AppState>, req: HttpRequest, write_key: web::Path<String>) -> ApiResult<HttpResponse> {
    let key = write_key.into_inner();
    let who = authenticate_key(&state, key.clone()).await.map_err(|_| ApiError::not_found("write key"))?;
    who.require(Scope::EventsWrite).map_err(|_| ApiError::not_found("write key"))?;
    let conn = req.connection_info().clone();
    let body = json!({
        "integrations": {"Segment.io": {
            "apiKey": key,
            "apiHost": format!("{}/v1", conn.host()),
            "protocol": conn.scheme(),
            "unbundledIntegrations": [],
            "addBundledMetadata": true,
            "maybeBundledConfigIds": {},
            "versionSettings": {"version": "4.4.7", "componentTypes": ["browser"]}
        }},
        "plan": {
            "track": {"__default": {"enabled": true, "integrations": {}}},
            "identify": {"__default": {"enabled": true}},
            "group": {"__default": {"enabled": true}}
        },
        "analyticsNextEnabled": true,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "edgeFunction": {},
        // No metrics to Segment's servers.
        "metrics": {"sampleRate": 0.0},
        "legacyVideoPluginsEnabled": false,
        "remotePlugins": []
    });
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "public, max-age=60")).json(body))
}
