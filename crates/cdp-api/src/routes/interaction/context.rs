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
    if !(1..=100).contains(&n) {
        return Err(ApiError::field("interactions", "out_of_range", "must be between 1 and 100"));
    }
    let (db, currency) = (state.db.clone(), state.currency.clone());
    let now = cdp_store::now_micros();
    let out = web::block(move || {
        db.read(|c| {
            let view = profiles::get(c, &id)?;
            let pid = view.profile.id.clone();
            let (cases, _) = store::list_cases(
                c,
                &CaseFilter { statuses: vec!["open".into(), "pending".into()], profile_id: Some(pid.clone()), ..Default::default() },
                50,
            )?;
            let (events, _) = profiles::timeline(c, &pid, None, None, n)?;
            let last_order = store::last_order(c, &pid)?.map(|(order_id, channel, revenue, refunded, cur, at, products)| LastOrderOut {
                revenue: to_major(revenue - refunded, &cur),
                order_id,
                channel,
                currency: cur,
                occurred_at: ts(at),
                products: serde_json::from_str(&products).unwrap_or(Value::Null),
            });
            let loyalty = match &view.loyalty {
                Some((points_balance, tier)) => {
                    let program = loyalty::program(c)?;
                    let tier_name = program.tiers.iter().find(|t| &t.code == tier).map(|t| t.name.clone()).unwrap_or_default();
                    Some(ContextLoyalty { points_balance: *points_balance, tier: tier.clone(), tier_name })
                }
                None => None,
            };
            let value = value_of(c, &view.profile, &currency)?;
            let consents = consents_of(c, &pid)?;
            let preferences = preferences_of(c, &pid)?;
            Ok(ContextOut {
                profile: view.into(),
                open_cases: cases.into_iter().map(|r| case_out(r, now)).collect(),
                recent_interactions: events.into_iter().map(EventOut::from).collect(),
                last_order,
                loyalty,
                value,
                consents,
                preferences,
            })
        })
    })
    .await?
    .map_err(ApiError::or_missing("profile"))?;
    crate::routes::privacy::audit_read(&state.db, &who, &out.profile.id, "profile.context").await?;
    Ok(web::Json(out))
}
