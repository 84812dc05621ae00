//! Survey definitions.

use super::*;

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"name": "NPS after delivery", "kind": "nps", "question": "Bạn có sẵn lòng giới thiệu chúng tôi cho bạn bè không?", "channels": ["app", "email"]}))]
pub struct SurveyIn {
    pub name: String,
    /// nps (0–10), csat (1–5) or text.
    pub kind: String,
    pub question: String,
    /// Channels it is asked on.
    pub channels: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SurveyOut {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub question: String,
    pub channels: Vec<String>,
    pub created_at: String,
}

impl From<SurveyRow> for SurveyOut {
    fn from(r: SurveyRow) -> Self {
        SurveyOut {
            channels: serde_json::from_str(&r.channels).unwrap_or_default(),
            id: r.id,
            name: r.name,
            kind: r.kind,
            question: r.question,
            created_at: ts(r.created_at),
        }
    }
}

/// Defines a survey: what is asked, how it is scored, on which channels.
#[utoipa::path(tag = "interaction", operation_id = "create_survey", request_body = SurveyIn,
    security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 201, body = SurveyOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/surveys")]
pub async fn create_survey(state: web::Data<AppState>, who: Auth, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    who.require(Scope::Admin)?;
    let body: SurveyIn = json_body(&req, payload).await?;
    let input = cdp_app::interaction::SurveyInput { name: body.name, kind: body.kind, question: body.question, channels: body.channels };
    let row = crate::blocking(&state, move |app| app.create_survey(&who, input)).await?;
    Ok(HttpResponse::Created().json(SurveyOut::from(row)))
}

#[utoipa::path(tag = "interaction", operation_id = "list_surveys",
    security(("api_key" = ["profiles:read"]), ("bearer" = ["profiles:read"])),
    responses((status = 200, body = List<SurveyOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/surveys")]
pub async fn list_surveys(state: web::Data<AppState>, who: Auth) -> ApiResult<web::Json<List<SurveyOut>>> {
    who.require(Scope::ProfilesRead)?;
    let rows = crate::blocking(&state, |app| app.surveys()).await?;
    Ok(web::Json(List { items: rows.into_iter().map(SurveyOut::from).collect() }))
}
