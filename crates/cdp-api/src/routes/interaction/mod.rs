//! Interaction: surveys and feedback (NPS, CSAT, text with sentiment), cases
//! with SLA, the agent's context view, and "you spoke, we listened".

use crate::auth::Auth;
use crate::body::json_body;
use crate::dto::{cursor_decode, cursor_encode, page_limit, time_id, ts, List, Page};
use crate::error::{ApiResult, ErrorBody};
use crate::routes::analytics::ValueOut;
use crate::routes::consent::{ConsentsOut, PreferencesOut};
use crate::routes::profiles::{EventOut, ProfileOut};
use crate::state::AppState;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use cdp_app::interaction::{CaseRow, CaseView, FeedbackRow, ImprovementRow, SurveyRow};
use cdp_domain::auth::Scope;
use cdp_domain::commerce::to_major;
use cdp_domain::interaction::Satisfaction;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

mod cases;
mod context;
mod feedback;
mod improvements;
mod nps;
mod surveys;

pub use cases::*;
pub use context::*;
pub use feedback::*;
pub use improvements::*;
pub use nps::*;
pub use surveys::*;
