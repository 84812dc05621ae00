//! "You spoke, we listened": improvements and who to tell.

use super::*;

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"title": "Giao hàng trong 2 giờ ở Hà Nội", "description": "Sau góp ý của bạn, chúng tôi mở thêm 3 kho ở Hà Nội.",
    "categories": ["delivery"], "channel": "zalo"}))]
pub struct ImprovementIn {
    pub title: String,
    pub description: String,
    /// Feedback categories it answers.
    pub categories: Vec<String>,
    /// The consent channel to tell people on (email, sms, zalo, push, phone, facebook).
    pub channel: String,
    /// Default now; only feedback given up to then counts.
    pub published_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ImprovementOut {
    pub id: String,
    pub title: String,
    pub description: String,
    pub categories: Vec<String>,
    pub channel: String,
    pub published_at: String,
    pub created_by: String,
}

impl From<ImprovementRow> for ImprovementOut {
    fn from(r: ImprovementRow) -> Self {
        ImprovementOut {
            categories: serde_json::from_str(&r.categories).unwrap_or_default(),
            id: r.id,
            title: r.title,
            description: r.description,
            channel: r.channel,
            published_at: ts(r.published_at),
            created_by: r.created_by,
        }
    }
}

/// Announces an improvement made after feedback in some categories.
#[utoipa::path(tag = "interaction", operation_id = "create_improvement", request_body = ImprovementIn,
    security(("api_key" = ["segments:write"]), ("bearer" = ["segments:write"])),
    responses((status = 201, body = ImprovementOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/improvements")]
pub async fn create_improvement(state: web::Data<AppState>, who: Auth, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    who.require(Scope::SegmentsWrite)?;
    let body: ImprovementIn = json_body(&req, payload).await?;
    let title = text_field("title", Some(&body.title), 300, true)?.unwrap_or_default();
    let description = text_field("description", Some(&body.description), 5000, true)?.unwrap_or_default();
    if body.categories.is_empty() {
        return Err(ApiError::field("categories", "required", "must name at least one category"));
    }
    let categories: Vec<String> = body
        .categories
        .iter()
        .enumerate()
        .map(|(i, c)| category_field(&format!("categories[{i}]"), Some(c), true).map(Option::unwrap_or_default))
        .collect::<ApiResult<_>>()?;
    if !cdp_domain::consent::is_consent_channel(&body.channel) {
        return Err(ApiError::field("channel", "invalid", format!("must be one of {}", cdp_domain::consent::CONSENT_CHANNELS.join(", "))));
    }
    let now = cdp_store::now_micros();
    let row = ImprovementRow {
        id: cdp_store::new_id(),
        title,
        description,
        categories: json!(categories).to_string(),
        channel: body.channel.clone(),
        published_at: time_param("published_at", body.published_at.as_deref())?.unwrap_or(now),
        created_by: who.actor(),
        created_at: now,
    };
    let (db, saved) = (state.db.clone(), row.clone());
    web::block(move || db.write(|c| store::add_improvement(c, &saved))).await??;
    Ok(HttpResponse::Created().json(ImprovementOut::from(row)))
}

#[utoipa::path(tag = "interaction", operation_id = "list_improvements",
    security(("api_key" = ["segments:read"]), ("bearer" = ["segments:read"])),
    responses((status = 200, body = List<ImprovementOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/improvements")]
pub async fn list_improvements(state: web::Data<AppState>, who: Auth) -> ApiResult<web::Json<List<ImprovementOut>>> {
    who.require(Scope::SegmentsRead)?;
    let db = state.db.clone();
    let rows = web::block(move || db.read(store::improvements)).await??;
    Ok(web::Json(List { items: rows.into_iter().map(ImprovementOut::from).collect() }))
}

#[derive(Serialize, ToSchema)]
pub struct AudienceMember {
    pub profile: ProfileOut,
    /// Their negative feedback in the improvement's categories.
    pub complaints: i64,
    pub last_complaint_at: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AudienceQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The people to tell: negative feedback in the improvement's categories up
/// to its publication, and consent granted now on its channel.
#[utoipa::path(tag = "interaction", operation_id = "list_improvement_audience",
    security(("api_key" = ["segments:read"]), ("bearer" = ["segments:read"])),
    params(("id" = String, Path, description = "Improvement id"), AudienceQuery),
    responses((status = 200, body = Page<AudienceMember>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/improvements/{id}/audience")]
pub async fn list_improvement_audience(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    q: web::Query<AudienceQuery>,
) -> ApiResult<web::Json<Page<AudienceMember>>> {
    who.require(Scope::SegmentsRead)?;
    let limit = page_limit(q.limit)?;
    let after = cursor_decode(q.cursor.as_deref(), |t| Some(t.to_string()))?;
    let db = state.db.clone();
    let (members, next) = web::block(move || {
        db.read(|c| {
            let imp = store::improvement(c, &id)?;
            let cats: Vec<String> = serde_json::from_str(&imp.categories).unwrap_or_default();
            let (rows, next) = store::audience(c, &cats, imp.published_at, &imp.channel, after.as_deref(), limit)?;
            let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
            let views = profiles::get_many(c, &ids)?;
            let stats: Map<String, Value> = rows.iter().map(|(p, n, t)| (p.clone(), json!([n, t]))).collect();
            let members: Vec<AudienceMember> = views
                .into_iter()
                .map(|v| {
                    let s = &stats[&v.profile.id];
                    AudienceMember {
                        complaints: s[0].as_i64().unwrap_or(0),
                        last_complaint_at: ts(s[1].as_i64().unwrap_or(0)),
                        profile: v.into(),
                    }
                })
                .collect();
            Ok((members, next))
        })
    })
    .await?
    .map_err(ApiError::or_missing("improvement"))?;
    Ok(web::Json(Page { items: members, next_cursor: next.as_deref().map(cursor_encode) }))
}
