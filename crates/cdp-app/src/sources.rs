//! Sources: the touchpoints events come from, each with its write key.

pub use crate::store::SourceRow;
use crate::store::SourceStore;
use crate::{keys, App, AppError, AppResult};
use cdp_domain::auth::{Grants, Scope};
use cdp_domain::Channel;

impl App {
    /// Registers a source and issues its write key (an `events:write` key
    /// bound to it), in one transaction; answers the key, shown this once.
    pub fn create_source(&self, name: &str, channel: Channel) -> AppResult<(SourceRow, String)> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(AppError::field("name", "invalid", "must be 1 to 200 characters"));
        }
        self.db.write(|c| {
            let row = SourceRow {
                id: crate::store::new_id(),
                name: name.to_string(),
                channel: channel.as_str().into(),
                created_at: crate::store::now_micros(),
            };
            SourceStore::insert(c, &row)?;
            let (_, key) = keys::issue(c, &format!("write key of {}", row.name), &Grants::new(vec![Scope::EventsWrite]), Some(&row.id))?;
            Ok::<_, AppError>((row, key))
        })
    }

    pub fn list_sources(&self) -> AppResult<Vec<SourceRow>> {
        Ok(self.db.read(|c| SourceStore::list(c))?)
    }
}
