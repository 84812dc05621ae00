//! Cases: opening, working, listing, and their analytics.

use super::*;

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"identities": {"facebook_id": "fb-1029384756"}, "category": "product_quality", "priority": "high",
    "channel": "social", "subject": "Sữa bị vón cục", "description": "Hộp sữa mua hôm qua ở Quận 1 bị vón cục"}))]
pub struct CaseIn {
    pub profile_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub identities: Option<Value>,
    /// A code: delivery, product_quality, billing, return_request, question…
    pub category: String,
    /// low (due in 7 days), normal (72 h), high (24 h) or urgent (4 h).
    pub priority: Option<String>,
    pub channel: String,
    pub subject: String,
    pub description: Option<String>,
    pub assignee: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"status": "resolved", "resolution": "Đổi hộp sữa mới, xin lỗi khách", "note": "gọi lại lúc 10:05"}))]
pub struct CasePatch {
    /// open, pending, resolved or closed (closed is final; a resolved case may be reopened).
    pub status: Option<String>,
    pub assignee: Option<String>,
    pub resolution: Option<String>,
    pub priority: Option<String>,
    /// A note for the history.
    pub note: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CaseHistoryOut {
    pub status: String,
    pub assignee: Option<String>,
    pub note: Option<String>,
    /// The key or user that made the change.
    pub actor: String,
    pub at: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-9200-7000-8000-000000000001", "profile_id": "01936f3e-8a40-7000-8000-000000000001",
    "category": "product_quality", "priority": "high", "channel": "social", "subject": "Sữa bị vón cục", "description": "",
    "status": "open", "assignee": null, "resolution": null, "due_at": "2026-11-24T08:00:00Z", "overdue": false,
    "created_by": "key:01936f3e-0000-7000-8000-00000000000a", "created_at": "2026-11-23T08:00:00Z", "updated_at": "2026-11-23T08:00:00Z",
    "resolved_at": null, "resolved_by": null}))]
pub struct CaseOut {
    pub id: String,
    pub profile_id: String,
    pub category: String,
    pub priority: String,
    pub channel: String,
    pub subject: String,
    pub description: String,
    pub status: String,
    pub assignee: Option<String>,
    pub resolution: Option<String>,
    /// When the SLA of its priority runs out.
    pub due_at: String,
    /// Active and past due now.
    pub overdue: bool,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
    pub resolved_by: Option<String>,
    /// Every change, oldest first (on single-case answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<CaseHistoryOut>>,
}

pub(crate) fn case_out(r: CaseRow, now: i64) -> CaseOut {
    let active = CaseStatus::parse(&r.status).is_some_and(CaseStatus::is_active);
    CaseOut {
        overdue: active && r.due_at < now,
        id: r.id,
        profile_id: r.profile_id,
        category: r.category,
        priority: r.priority,
        channel: r.channel,
        subject: r.subject,
        description: r.description,
        status: r.status,
        assignee: r.assignee,
        resolution: r.resolution,
        due_at: ts(r.due_at),
        created_by: r.created_by,
        created_at: ts(r.created_at),
        updated_at: ts(r.updated_at),
        resolved_at: r.resolved_at.map(ts),
        resolved_by: r.resolved_by,
        history: None,
    }
}

fn with_history(c: &mut AnyConnection, r: CaseRow, now: i64) -> StoreResult<CaseOut> {
    let history = store::case_history(c, &r.id)?
        .into_iter()
        .map(|h| CaseHistoryOut { status: h.status, assignee: h.assignee, note: h.note, actor: h.actor, at: ts(h.at) })
        .collect();
    Ok(CaseOut { history: Some(history), ..case_out(r, now) })
}

/// Opens a case (complaint, question, return request) for a profile given by
/// id or by any identity; due by the SLA of its priority; on the timeline.
#[utoipa::path(tag = "interaction", operation_id = "create_case", request_body = CaseIn,
    security(("api_key" = ["profiles:write"]), ("bearer" = ["profiles:write"])),
    responses((status = 201, body = CaseOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/cases")]
pub async fn create_case(state: web::Data<AppState>, who: Auth, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    who.require(Scope::ProfilesWrite)?;
    let body: CaseIn = json_body(&req, payload).await?;
    let category = category_field("category", Some(&body.category), true)?.unwrap_or_default();
    let priority = match body.priority.as_deref() {
        None => Priority::Normal,
        Some(p) => Priority::parse(p).ok_or_else(|| ApiError::field("priority", "invalid", "must be low, normal, high or urgent"))?,
    };
    let channel = channel_field("channel", &body.channel)?;
    let subject = text_field("subject", Some(&body.subject), 300, true)?.unwrap_or_default();
    let description = text_field("description", body.description.as_deref(), 5000, false)?.unwrap_or_default();
    let assignee = text_field("assignee", body.assignee.as_deref(), 200, false)?;
    let (db, origin, currency, actor, pid) = (state.db.clone(), who.origin(), state.currency.clone(), who.actor(), body.profile_id.clone());
    let now = cdp_store::now_micros();
    let mut row = CaseRow {
        id: cdp_store::new_id(),
        profile_id: String::new(),
        category,
        priority: priority.as_str().into(),
        channel: channel.as_str().into(),
        subject,
        description,
        status: "open".into(),
        assignee,
        resolution: None,
        due_at: now + priority.sla_hours() * HOUR_US,
        created_by: actor,
        created_at: now,
        updated_at: now,
        resolved_at: None,
        resolved_by: None,
    };
    // With identities the person is resolved like an event's (created if
    // new), and the `Case Opened` event is that ingested event.
    let event = match (&body.identities, &body.profile_id) {
        (Some(ids), _) => Some(event_from(
            &state,
            &who,
            json!({"type": "track", "event": "Case Opened", "channel": channel.as_str(), "identities": ids,
                       "properties": store::case_opened_properties(&row)}),
        )?),
        (None, Some(_)) => None,
        (None, None) => return Err(ApiError::field("profile_id", "required", "give profile_id or identities")),
    };
    let out = web::block(move || {
        db.write(|c| {
            row.profile_id = match &event {
                Some(e) => match ingest::ingest_one(c, &origin, e, &currency, now)? {
                    Outcome::Accepted { profile_id, .. } | Outcome::Duplicate { profile_id, .. } => profile_id,
                    Outcome::Erased { .. } => return Err(cdp_store::StoreError::Conflict(ERASED.into())),
                },
                None => profiles::resolve(c, pid.as_deref().unwrap_or_default())?.id,
            };
            store::open_case(c, &row, event.is_none())?;
            with_history(c, row.clone(), now)
        })
    })
    .await?
    .map_err(store_error("profile"))?;
    Ok(HttpResponse::Created().json(out))
}

#[utoipa::path(tag = "interaction", operation_id = "get_case",
    security(("api_key" = ["profiles:read"]), ("bearer" = ["profiles:read"])),
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, body = CaseOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/cases/{id}")]
pub async fn get_case(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<CaseOut>> {
    who.require(Scope::ProfilesRead)?;
    let db = state.db.clone();
    let now = cdp_store::now_micros();
    let out = web::block(move || db.read(|c| store::case(c, &id).and_then(|r| with_history(c, r, now))))
        .await?
        .map_err(ApiError::or_missing("case"))?;
    Ok(web::Json(out))
}

/// Works a case: status (open → pending → resolved → closed; resolved may
/// reopen), assignee, priority, resolution. Who and when go to its history;
/// status changes go to the timeline.
#[utoipa::path(tag = "interaction", operation_id = "update_case", request_body = CasePatch,
    security(("api_key" = ["profiles:write"]), ("bearer" = ["profiles:write"])),
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, body = CaseOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[patch("/cases/{id}")]
pub async fn update_case(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<web::Json<CaseOut>> {
    who.require(Scope::ProfilesWrite)?;
    let body: CasePatch = json_body(&req, payload).await?;
    let status = body
        .status
        .as_deref()
        .map(|s| CaseStatus::parse(s).ok_or_else(|| ApiError::field("status", "invalid", "must be open, pending, resolved or closed")))
        .transpose()?;
    let priority = body
        .priority
        .as_deref()
        .map(|p| Priority::parse(p).ok_or_else(|| ApiError::field("priority", "invalid", "must be low, normal, high or urgent")))
        .transpose()?;
    let assignee = text_field("assignee", body.assignee.as_deref(), 200, false)?;
    let resolution = text_field("resolution", body.resolution.as_deref(), 5000, false)?;
    let note = text_field("note", body.note.as_deref(), 2000, false)?;
    let (db, actor, id) = (state.db.clone(), who.actor(), id.into_inner());
    let now = cdp_store::now_micros();
    let out = web::block(move || -> ApiResult<CaseOut> {
        let refused = std::cell::Cell::new(None);
        let out = db.write(|c| {
            let before = store::lock_case(c, &id)?;
            let from = CaseStatus::parse(&before.status).unwrap_or(CaseStatus::Open);
            let to = status.unwrap_or(from);
            if !from.can_become(to) {
                refused.set(Some((from, to)));
                return Err(cdp_store::StoreError::Conflict("transition".into()));
            }
            let mut after = before.clone();
            after.status = to.as_str().into();
            if let Some(a) = &assignee {
                after.assignee = Some(a.clone());
            }
            if let Some(r) = &resolution {
                after.resolution = Some(r.clone());
            }
            if let Some(p) = priority {
                after.priority = p.as_str().into();
                after.due_at = before.created_at + p.sla_hours() * HOUR_US;
            }
            if to == CaseStatus::Resolved && from != CaseStatus::Resolved {
                after.resolved_at = Some(now);
                after.resolved_by = Some(actor.clone());
            }
            if to == CaseStatus::Open && from == CaseStatus::Resolved {
                after.resolved_at = None;
                after.resolved_by = None;
            }
            after.updated_at = now;
            store::save_case(c, &before, &after, note.as_deref(), &actor, now)?;
            with_history(c, after, now)
        });
        match (out, refused.get()) {
            (Err(cdp_store::StoreError::Conflict(_)), Some((from, to))) => Err(ApiError::new(
                actix_web::http::StatusCode::CONFLICT,
                "invalid_transition",
                format!("a {} case cannot become {}", from.as_str(), to.as_str()),
            )),
            (out, _) => out.map_err(ApiError::or_missing("case")),
        }
    })
    .await??;
    Ok(web::Json(out))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CasesQuery {
    /// Comma-separated statuses (open,pending…); default all.
    pub status: Option<String>,
    pub profile_id: Option<String>,
    pub assignee: Option<String>,
    /// Only active cases past their due time.
    pub overdue: Option<bool>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Cases, newest first: open ones, overdue ones, one person's.
#[utoipa::path(tag = "interaction", operation_id = "list_cases", params(CasesQuery),
    security(("api_key" = ["profiles:read"]), ("bearer" = ["profiles:read"])),
    responses((status = 200, body = Page<CaseOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/cases")]
pub async fn list_cases(state: web::Data<AppState>, who: Auth, q: web::Query<CasesQuery>) -> ApiResult<web::Json<Page<CaseOut>>> {
    who.require(Scope::ProfilesRead)?;
    let q = q.into_inner();
    let limit = page_limit(q.limit)?;
    let mut statuses = Vec::new();
    for s in q.status.as_deref().unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let st = CaseStatus::parse(s)
            .ok_or_else(|| ApiError::field("status", "invalid", format!("`{s}` must be open, pending, resolved or closed")))?;
        statuses.push(st.as_str().to_string());
    }
    let now = cdp_store::now_micros();
    let filter = CaseFilter {
        statuses,
        profile_id: q.profile_id,
        assignee: q.assignee,
        overdue_at: q.overdue.unwrap_or(false).then_some(now),
        after: cursor_decode(q.cursor.as_deref(), time_id)?,
    };
    let db = state.db.clone();
    let (rows, next) = web::block(move || {
        db.read(|c| {
            let mut f = filter;
            if let Some(p) = f.profile_id.take() {
                f.profile_id = Some(profiles::resolve(c, &p)?.id);
            }
            store::list_cases(c, &f, limit)
        })
    })
    .await?
    .map_err(ApiError::or_missing("profile"))?;
    Ok(web::Json(Page {
        items: rows.into_iter().map(|r| case_out(r, now)).collect(),
        next_cursor: next.map(|(t, id)| cursor_encode(&format!("{t}|{id}"))),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseStatsQuery {
    /// First day cases were opened (default: 29 days before `to`).
    pub from: Option<String>,
    /// Last day (default: today).
    pub to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CategoryCount {
    pub category: String,
    pub cases: u64,
    /// Of those, resolved or closed after their due time, or still open past it.
    pub sla_breaches: u64,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"from": "2026-10-25", "to": "2026-11-23", "opened": 42, "resolved": 35, "active_now": 9, "overdue_now": 2,
    "median_hours_to_resolve": 6.5, "sla_breaches": 4, "top_categories": [{"category": "delivery", "cases": 18, "sla_breaches": 3}]}))]
pub struct CaseStatsOut {
    pub from: String,
    pub to: String,
    /// Cases opened in the period.
    pub opened: u64,
    /// Of those, resolved (or closed after resolution).
    pub resolved: u64,
    /// Open or pending now, whenever opened.
    pub active_now: i64,
    pub overdue_now: i64,
    /// Median time from opening to resolution of the cases resolved; null when none.
    pub median_hours_to_resolve: Option<f64>,
    /// Cases of the period resolved after their due time or still active past it.
    pub sla_breaches: u64,
    /// "Which problems are reported most", most first.
    pub top_categories: Vec<CategoryCount>,
}

/// Case volume, time to resolve, SLA breaches and the top categories.
#[utoipa::path(tag = "analytics", operation_id = "get_case_stats", params(CaseStatsQuery),
    security(("api_key" = ["analytics:read"]), ("bearer" = ["analytics:read"])),
    responses((status = 200, body = CaseStatsOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/analytics/cases")]
pub async fn get_case_stats(state: web::Data<AppState>, who: Auth, q: web::Query<CaseStatsQuery>) -> ApiResult<web::Json<CaseStatsOut>> {
    who.require(Scope::AnalyticsRead)?;
    let (from, to) = period(q.from.as_deref(), q.to.as_deref(), 30)?;
    let db = state.db.clone();
    let now = cdp_store::now_micros();
    let (rows, (active_now, overdue_now)) = web::block(move || {
        db.read(|c| Ok::<_, cdp_store::StoreError>((store::cases_opened_between(c, from, to)?, store::active_counts(c, now)?)))
    })
    .await??;
    let mut hours = Vec::new();
    let mut by_cat: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut breaches = 0;
    for r in &rows {
        let breach = match r.resolved_at {
            Some(t) => t > r.due_at,
            None => CaseStatus::parse(&r.status).is_some_and(CaseStatus::is_active) && now > r.due_at,
        };
        if let Some(t) = r.resolved_at {
            hours.push((t - r.created_at) as f64 / HOUR_US as f64);
        }
        let e = by_cat.entry(r.category.clone()).or_default();
        e.0 += 1;
        e.1 += u64::from(breach);
        breaches += u64::from(breach);
    }
    let mut top: Vec<CategoryCount> =
        by_cat.into_iter().map(|(category, (cases, sla_breaches))| CategoryCount { category, cases, sla_breaches }).collect();
    top.sort_by(|a, b| b.cases.cmp(&a.cases).then_with(|| a.category.cmp(&b.category)));
    let day = |us: i64| cdp_store::from_micros(us).date_naive().to_string();
    Ok(web::Json(CaseStatsOut {
        from: day(from),
        to: day(to - 1),
        opened: rows.len() as u64,
        resolved: hours.len() as u64,
        active_now,
        overdue_now,
        median_hours_to_resolve: interaction::median(&mut hours).map(|h| (h * 100.0).round() / 100.0),
        sla_breaches: breaches,
        top_categories: top,
    }))
}
