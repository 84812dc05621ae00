//! The HTTP API of the CDP: routes, auth, DTOs, errors and the OpenAPI document.

pub mod auth;
pub mod body;
pub mod dto;
pub mod error;
pub mod jwt;
pub mod metrics;
pub mod rate;
pub mod routes;
pub mod state;
pub mod tracking;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{middleware, web, App, HttpMessage};
use routes::{
    analytics, campaigns, consent, destinations, events, health, identity, imports, interaction, keys, kpis, loyalty, me, privacy,
    profiles, referrals, rfm, segments, sources, token, tracking_plans, vouchers,
};
pub use state::{AppState, Limits};
use std::time::Instant;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::{scope, AppExt};
use utoipa_swagger_ui::SwaggerUi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "CDP — customer-data platform API",
        description = "Ingest events from every touchpoint, resolve identities into one profile per person, and read it back. \
Authenticate with an API key in `X-Api-Key` or an operator JWT in `Authorization: Bearer`. \
Errors are `{\"error\": {\"code\", \"message\", \"details\"?}}`.",
        license(name = "Apache-2.0")
    ),
    modifiers(&Security),
    tags(
        (name = "operations", description = "Health, readiness, metrics"),
        (name = "auth", description = "Operator tokens"),
        (name = "sources", description = "Touchpoints and their write keys"),
        (name = "keys", description = "Scoped API keys"),
        (name = "events", description = "Ingestion"),
        (name = "imports", description = "CSV exports of customers and orders from the POS, imported as background jobs"),
        (name = "profiles", description = "Unified customer profiles"),
        (name = "analytics", description = "Customer value: orders, CLV (BG/NBD + Gamma-Gamma)"),
        (name = "loyalty", description = "Points, tiers Đồng/Bạc/Vàng/Kim Cương, rewards, expiry"),
        (name = "consent", description = "Consent per contact channel and purpose with history and proof (Decree 13/2023), and preferences"),
        (name = "destinations", description = "Outbound webhooks signed to the Standard Webhooks specification: subscriptions, delivery log, replay"),
        (name = "interaction", description = "Surveys, feedback with sentiment, cases with SLA, the agent's context, \"you spoke, we listened\""),
        (name = "programmes", description = "Vouchers with single-use codes redeemed exactly once, referrals, campaigns measured against a holdout"),
        (name = "self-service", description = "Customer tokens for the app backend, and the customer's own view: profile, points, vouchers, consents, preferences, feedback, export, erasure"),
        (name = "privacy", description = "Export and erasure of a person's data (Decree 13/2023, GDPR), and the audit log"),
        (name = "segments", description = "Audiences: rules evaluated in the database, membership with entry and exit times, consent-filtered exports"),
        (name = "tracking", description = "Segment-compatible tracking API: point Segment or RudderStack SDKs at this host")
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))));
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        components.add_security_scheme(
            "customer_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A customer's token from `POST /api/v1/customer-tokens`: it reaches `/api/v1/me…` only"))
                    .build(),
            ),
        );
    }
}

/// Every route of the API, in one place.
fn routes(cfg: &mut ServiceConfig) {
    cfg.service(health::health)
        .service(health::ready)
        .service(health::metrics)
        .service(
            scope("/api/v1")
                .service(token::create_token)
                .service(sources::create_source)
                .service(sources::list_sources)
                .service(tracking_plans::put_tracking_plan)
                .service(tracking_plans::get_tracking_plan)
                .service(tracking_plans::list_violations)
                .service(imports::create_import)
                .service(imports::list_imports)
                .service(imports::list_import_errors)
                .service(imports::get_import)
                .service(keys::create_key)
                .service(keys::list_keys)
                .service(keys::revoke_key)
                .service(events::create_event)
                .service(events::create_event_batch)
                // `lookup` before `{id}`: actix matches in registration order.
                .service(profiles::lookup_profile)
                .service(identity::split_profile)
                .service(profiles::get_profile)
                .service(profiles::list_profile_events)
                .service(profiles::list_profile_identities)
                .service(profiles::list_profile_merges)
                .service(identity::get_rules)
                .service(identity::put_rules)
                .service(identity::undo_merge)
                .service(privacy::export_profile)
                .service(privacy::erase_profile)
                .service(privacy::list_audit)
                .service(analytics::get_profile_value)
                .service(analytics::fit_clv)
                .service(analytics::get_clv_model)
                .service(rfm::get_rfm)
                .service(rfm::create_rfm_run)
                .service(kpis::get_kpis)
                .service(loyalty::get_program)
                .service(loyalty::put_program)
                .service(loyalty::get_loyalty)
                .service(loyalty::list_ledger)
                .service(loyalty::redeem)
                .service(loyalty::adjust)
                .service(loyalty::list_rewards)
                .service(loyalty::create_reward)
                .service(loyalty::expire)
                .service(vouchers::create_voucher_campaign)
                .service(vouchers::list_voucher_campaigns)
                .service(vouchers::get_voucher_campaign)
                .service(vouchers::issue_vouchers)
                .service(vouchers::redeem_voucher)
                .service(vouchers::list_profile_vouchers)
                .service(referrals::create_referral_code)
                .service(referrals::list_referrals)
                .service(campaigns::create_campaign)
                .service(campaigns::list_campaigns)
                .service(campaigns::get_campaign)
                .service(campaigns::list_campaign_assignments)
                .service(campaigns::get_campaign_results)
                .service(me::create_customer_token)
                .service(me::get_me)
                .service(me::erase_me)
                .service(me::get_my_loyalty)
                .service(me::list_my_ledger)
                .service(me::list_my_vouchers)
                .service(me::create_my_referral_code)
                .service(me::list_my_referrals)
                .service(me::get_my_consents)
                .service(me::get_my_consent)
                .service(me::put_my_consent)
                .service(me::get_my_preferences)
                .service(me::put_my_preferences)
                .service(me::create_my_feedback)
                .service(me::export_me)
                .service(consent::put_consent)
                .service(consent::get_consents)
                .service(consent::get_preferences)
                .service(consent::put_preferences)
                .service(segments::create_segment)
                .service(segments::list_segments)
                // `preview` before `{id}`: actix matches in registration order.
                .service(segments::preview_segment)
                .service(segments::get_segment)
                .service(segments::update_segment)
                .service(segments::delete_segment)
                .service(segments::refresh_segment)
                .service(segments::list_segment_members)
                .service(segments::list_segment_changes)
                .service(segments::list_segment_versions)
                .service(interaction::create_survey)
                .service(interaction::list_surveys)
                .service(interaction::create_feedback)
                .service(interaction::list_feedback)
                .service(interaction::get_nps)
                .service(interaction::create_case)
                .service(interaction::list_cases)
                .service(interaction::get_case)
                .service(interaction::update_case)
                .service(interaction::get_case_stats)
                .service(interaction::get_profile_context)
                .service(interaction::create_improvement)
                .service(interaction::list_improvements)
                .service(interaction::list_improvement_audience)
                .service(destinations::create_destination)
                .service(destinations::list_destinations)
                .service(destinations::get_destination)
                .service(destinations::update_destination)
                .service(destinations::delete_destination)
                .service(destinations::list_deliveries)
                .service(destinations::replay)
                .service(destinations::list_jobs),
        )
        .service(
            scope("/v1")
                // Browsers on any site send here (analytics.js): preflights answered, `*` allowed.
                .wrap(
                    actix_cors::Cors::default()
                        .allow_any_origin()
                        .send_wildcard()
                        .allowed_methods(["GET", "POST"])
                        .allow_any_header()
                        .max_age(86_400),
                )
                .service(tracking::settings::settings)
                .service(tracking::identify_short)
                .service(tracking::track_short)
                .service(tracking::page_short)
                .service(tracking::screen_short)
                .service(tracking::group_short)
                .service(tracking::alias_short)
                .service(tracking::identify)
                .service(tracking::track)
                .service(tracking::page)
                .service(tracking::screen)
                .service(tracking::group)
                .service(tracking::alias)
                .service(tracking::batch),
        );
}

/// The OpenAPI document the server serves at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    App::new().into_utoipa_app().openapi(ApiDoc::openapi()).configure(routes).split_for_parts().1
}

/// The whole application, ready for `HttpServer::new`.
pub fn build_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<ServiceRequest, Config = (), Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error, InitError = ()>,
> {
    let metrics = state.metrics.clone();
    let (app, api) = App::new()
        .app_data(state)
        .app_data(web::JsonConfig::default().limit(64 * 1024).error_handler(body::json_error))
        .app_data(web::QueryConfig::default().error_handler(body::query_error))
        .app_data(web::PathConfig::default().error_handler(body::path_error))
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes)
        .default_service(web::to(|| async { Err::<actix_web::HttpResponse, _>(error::ApiError::not_found("route")) }))
        .split_for_parts();
    app.service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", api))
        .service(web::redirect("/docs", "/docs/"))
        .wrap_fn(move |req, srv| {
            let started = Instant::now();
            let rid = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
                .map(str::to_string)
                .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
            req.extensions_mut().insert(RequestId(rid.clone()));
            let metrics = metrics.clone();
            let fut = srv.call(req);
            async move {
                let mut res = fut.await?;
                let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
                metrics.observe(res.request().method().as_str(), &route, res.status().as_u16(), started.elapsed());
                if let Ok(v) = HeaderValue::from_str(&rid) {
                    res.headers_mut().insert(HeaderName::from_static("x-request-id"), v);
                }
                Ok(res)
            }
        })
        // Outermost: the access log sees the request id set above. `%U` is the
        // path without the query string, which may hold personal data.
        .wrap(
            middleware::Logger::new("%{x-request-id}o %a \"%{method}xi %U\" %s %b %Dms")
                .custom_request_replace("method", |req| req.method().to_string())
                .exclude("/health"),
        )
}

/// Runs a use case on the blocking pool: the store blocks, and must never
/// run on the async workers. The one way handlers reach the application's
/// blocking use cases.
pub async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&cdp_app::App) -> cdp_app::AppResult<T> + Send + 'static,
) -> error::ApiResult<T> {
    let app = state.app.clone();
    Ok(web::block(move || f(&app)).await??)
}

/// The id of a request, echoed in `X-Request-Id` and in the access log.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);
