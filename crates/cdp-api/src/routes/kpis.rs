//! Customer metrics over a period, overall and by channel and city.

use crate::auth::Auth;
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppState;
use actix_web::{get, web};
use cdp_domain::auth::Scope;
use cdp_domain::commerce::to_major;
use cdp_domain::kpis::{Concentration, Kpis};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KpiQuery {
    /// First day of the period (default: 364 days before `to`).
    #[param(example = "2026-01-01")]
    pub from: Option<String>,
    /// Last day of the period (default: today).
    #[param(example = "2026-11-23")]
    pub to: Option<String>,
    /// The customer base is everyone who bought up to this day (default: `to`).
    pub as_of: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConcentrationOut {
    pub top_1: f64,
    pub top_2: f64,
    pub top_10: f64,
    pub top_20: f64,
    pub gini: f64,
}

/// Customer metrics; amounts in major units of the default currency.
#[derive(Serialize, ToSchema)]
pub struct KpisOut {
    /// Everyone who bought up to as_of.
    pub customers: usize,
    /// Customers who bought in the period.
    pub active_customers: usize,
    /// Share of customers with two or more purchase occasions.
    pub repeat_purchase_rate: f64,
    pub orders: usize,
    pub orders_per_customer: f64,
    pub average_order_value: f64,
    pub revenue: f64,
    /// Total margin of the period's orders that carry one.
    pub margin: Option<f64>,
    /// Customers whose P(alive) < 0.5 in the latest CLV fit.
    pub churn_risk: usize,
    /// Σ CLV from the latest CLV fit.
    pub customer_equity: f64,
    /// Share of the period's revenue from the top buyers, and the Gini coefficient.
    pub concentration: ConcentrationOut,
    /// Mean distinct product categories per buying customer.
    pub cross_sell_index: f64,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"from": "2026-01-01", "to": "2026-11-23", "as_of": "2026-11-23", "currency": "VND",
    "overall": {"customers": 1200, "active_customers": 830, "repeat_purchase_rate": 0.41, "orders": 2210, "orders_per_customer": 2.66,
        "average_order_value": 382000.0, "revenue": 844220000.0, "margin": 168844000.0, "churn_risk": 310, "customer_equity": 512000000.0,
        "concentration": {"top_1": 0.09, "top_2": 0.15, "top_10": 0.42, "top_20": 0.61, "gini": 0.58}, "cross_sell_index": 1.8},
    "by_channel": {}, "by_city": {}}))]
pub struct KpiReport {
    pub from: String,
    pub to: String,
    pub as_of: String,
    pub currency: String,
    pub overall: KpisOut,
    /// By the channel of the orders (customers who ordered on it).
    pub by_channel: BTreeMap<String, KpisOut>,
    /// By the `city` trait (else `region`; `unknown` without either).
    pub by_city: BTreeMap<String, KpisOut>,
}

fn out(k: Kpis, currency: &str) -> KpisOut {
    let Concentration { top_1, top_2, top_10, top_20, gini } = k.concentration;
    KpisOut {
        customers: k.customers,
        active_customers: k.active_customers,
        repeat_purchase_rate: k.repeat_purchase_rate,
        orders: k.orders,
        orders_per_customer: k.orders_per_customer,
        average_order_value: k.average_order_value / 10f64.powi(cdp_domain::commerce::minor_digits(currency) as i32),
        revenue: to_major(k.revenue, currency),
        margin: k.margin.map(|m| to_major(m, currency)),
        churn_risk: k.churn_risk,
        customer_equity: k.customer_equity,
        concentration: ConcentrationOut { top_1, top_2, top_10, top_20, gini },
        cross_sell_index: k.cross_sell_index,
    }
}

/// Customer metrics for a period: customers, activity, repeat-purchase rate,
/// orders per customer, average order value, revenue, margin, churn risk,
/// customer equity, value concentration (top 1/2/10/20% and Gini) and
/// cross-sell, overall and by channel and city. Reads orders, purchase days
/// and scores — never events.
#[utoipa::path(
    tag = "analytics", operation_id = "get_kpis", params(KpiQuery),
    security(("api_key" = ["analytics:read"]), ("bearer" = ["analytics:read"])),
    responses((status = 200, body = KpiReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody))
)]
#[get("/analytics/kpis")]
pub async fn get_kpis(state: web::Data<AppState>, who: Auth, q: web::Query<KpiQuery>) -> ApiResult<web::Json<KpiReport>> {
    who.require(Scope::AnalyticsRead)?;
    let q = q.into_inner();
    let r = crate::blocking(&state, move |app| app.kpis(q.from.as_deref(), q.to.as_deref(), q.as_of.as_deref())).await?;
    let cur = r.currency;
    let by = |m: BTreeMap<String, Kpis>| m.into_iter().map(|(k, v)| (k, out(v, &cur))).collect();
    Ok(web::Json(KpiReport {
        from: r.from,
        to: r.to,
        as_of: r.as_of,
        overall: out(r.overall, &cur),
        by_channel: by(r.by_channel),
        by_city: by(r.by_city),
        currency: cur.clone(),
    }))
}
