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
    let b: ImprovementIn = json_body(&req, payload).await?;
    let input = cdp_app::interaction::ImprovementInput {
        title: b.title,
        description: b.description,
        categories: b.categories,
        channel: b.channel,
        published_at: b.published_at,
    };
    let row = crate::blocking(&state, move |app| app.create_improvement(&who, input)).await?;
    Ok(HttpResponse::Created().json(ImprovementOut::from(row)))
}

#[utoipa::path(tag = "interaction", operation_id = "list_improvements",
    security(("api_key" = ["segments:read"]), ("bearer" = ["segments:read"])),
    responses((status = 200, body = List<ImprovementOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/improvements")]
pub async fn list_improvements(state: web::Data<AppState>, who: Auth) -> ApiResult<web::Json<List<ImprovementOut>>> {
    who.require(Scope::SegmentsRead)?;
    let rows = crate::blocking(&state, |app| app.improvements()).await?;
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
    let (members, next) = crate::blocking(&state, move |app| app.improvement_audience(&id, after.as_deref(), limit)).await?;
    let items = members
        .into_iter()
        .map(|m| AudienceMember { complaints: m.complaints, last_complaint_at: ts(m.last_complaint_at), profile: m.profile.into() })
        .collect();
    Ok(web::Json(Page { items, next_cursor: next.as_deref().map(cursor_encode) }))
}
