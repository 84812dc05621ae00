//! "You spoke, we listened": improvements and who to tell about them.

use super::{category_field, text_field, time_field};
use crate::store::{ImprovementRow, InteractionStore, Page, ProfileStore, ProfileView};
use crate::{App, AppError, AppResult, Principal};
use serde_json::json;

/// An improvement to publish.
#[derive(Debug, Clone)]
pub struct ImprovementInput {
    pub title: String,
    pub description: String,
    pub categories: Vec<String>,
    pub channel: String,
    pub published_at: Option<String>,
}

/// One person to tell about an improvement: their profile, how many negative
/// answers they gave in its categories and when the last was.
#[derive(Debug, Clone)]
pub struct AudienceMember {
    pub profile: ProfileView,
    pub complaints: i64,
    pub last_complaint_at: i64,
}

impl App {
    pub fn create_improvement(&self, who: &Principal, input: ImprovementInput) -> AppResult<ImprovementRow> {
        let title = text_field("title", Some(&input.title), 300, true)?.unwrap_or_default();
        let description = text_field("description", Some(&input.description), 5000, true)?.unwrap_or_default();
        if input.categories.is_empty() {
            return Err(AppError::field("categories", "required", "must name at least one category"));
        }
        let categories: Vec<String> = input
            .categories
            .iter()
            .enumerate()
            .map(|(i, c)| category_field(&format!("categories[{i}]"), Some(c), true).map(Option::unwrap_or_default))
            .collect::<AppResult<_>>()?;
        if !cdp_domain::consent::is_consent_channel(&input.channel) {
            return Err(AppError::field(
                "channel",
                "invalid",
                format!("must be one of {}", cdp_domain::consent::CONSENT_CHANNELS.join(", ")),
            ));
        }
        let now = crate::store::now_micros();
        let row = ImprovementRow {
            id: crate::store::new_id(),
            title,
            description,
            categories: json!(categories).to_string(),
            channel: input.channel,
            published_at: time_field("published_at", input.published_at.as_deref())?.unwrap_or(now),
            created_by: who.actor(),
            created_at: now,
        };
        self.db.write(|c| InteractionStore::add_improvement(c, &row))?;
        Ok(row)
    }

    pub fn improvements(&self) -> AppResult<Vec<ImprovementRow>> {
        Ok(self.db.read(|c| InteractionStore::improvements(c))?)
    }

    /// Everyone who gave negative feedback in the improvement's categories up
    /// to its publication and whose consent on its channel is granted now.
    pub fn improvement_audience(&self, id: &str, after: Option<&str>, limit: i64) -> AppResult<Page<AudienceMember, String>> {
        self.db
            .read(|c| {
                let imp = InteractionStore::improvement(c, id)?;
                let cats: Vec<String> = serde_json::from_str(&imp.categories).unwrap_or_default();
                let (rows, next) = InteractionStore::audience(c, &cats, imp.published_at, &imp.channel, after, limit)?;
                let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
                let mut views: std::collections::HashMap<String, ProfileView> =
                    ProfileStore::get_many(c, &ids)?.into_iter().map(|v| (v.profile.id.clone(), v)).collect();
                let members = rows
                    .into_iter()
                    .filter_map(|(p, complaints, last)| {
                        views.remove(&p).map(|profile| AudienceMember { profile, complaints, last_complaint_at: last })
                    })
                    .collect();
                Ok((members, next))
            })
            .map_err(AppError::or_missing("improvement"))
    }
}
