//! The agent's context view.

use super::*;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContextQuery {
    /// Recent interactions to include, 1 to 100 (default 20).
    pub interactions: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct LastOrderOut {
    pub order_id: String,
    pub channel: String,
    /// Net of refunds, major units.
    pub revenue: f64,
    pub currency: String,
    pub occurred_at: String,
    #[schema(value_type = Object)]
    pub products: Value,
}

#[derive(Serialize, ToSchema)]
pub struct ContextLoyalty {
    pub points_balance: i64,
    pub tier: String,
    pub tier_name: String,
}

/// Everything an agent reads while the customer waits, in one answer.
#[derive(Serialize, ToSchema)]
pub struct ContextOut {
    pub profile: ProfileOut,
    /// Open and pending cases, newest first, on every channel.
    pub open_cases: Vec<CaseOut>,
    /// The last interactions on every channel, newest first.
    pub recent_interactions: Vec<EventOut>,
    pub last_order: Option<LastOrderOut>,
    pub loyalty: Option<ContextLoyalty>,
    pub value: ValueOut,
    pub consents: ConsentsOut,
    pub preferences: PreferencesOut,
}

/// The agent's view of a customer: who they are, their open cases, what they
/// last said or bought on any channel, tier and points, value, consents and
/// preferences.
#[utoipa::path(tag = "interaction", operation_id = "get_profile_context", params(("id" = String, Path, description = "Profile id"), ContextQuery),
    security(("api_key" = ["profiles:read"]), ("bearer" = ["profiles:read"])),
    responses((status = 200, body = ContextOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/profiles/{id}/context")]
pub async fn get_profile_context(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    q: web::Query<ContextQuery>,
) -> ApiResult<web::Json<ContextOut>> {
    who.require(Scope::ProfilesRead)?;
    let n = q.interactions.unwrap_or(20);
    let x = crate::blocking(&state, move |app| app.agent_context(&who, &id, n)).await?;
    let now = cdp_app::now_micros();
    Ok(web::Json(ContextOut {
        profile: x.profile.into(),
        open_cases: x.open_cases.into_iter().map(|r| case_out(r, now)).collect(),
        recent_interactions: x.recent_interactions.into_iter().map(EventOut::from).collect(),
        last_order: x.last_order.map(|(order_id, channel, revenue, currency, at, products)| LastOrderOut {
            revenue: to_major(revenue, &currency),
            order_id,
            channel,
            currency,
            occurred_at: ts(at),
            products: serde_json::from_str(&products).unwrap_or(Value::Null),
        }),
        loyalty: x.loyalty.map(|(points_balance, tier, tier_name)| ContextLoyalty { points_balance, tier, tier_name }),
        value: x.value.into(),
        consents: x.consents.into(),
        preferences: x.preferences.into(),
    }))
}
