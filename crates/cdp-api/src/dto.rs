//! Shapes shared by several resources.

use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// RFC 3339 with `Z`, from stored microseconds.
pub fn ts(us: i64) -> String {
    cdp_store::from_micros(us).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A touchpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelName {
    Store,
    Web,
    App,
    Hotline,
    Social,
    Email,
    Other,
}

impl From<ChannelName> for cdp_domain::Channel {
    fn from(c: ChannelName) -> Self {
        use cdp_domain::Channel as C;
        match c {
            ChannelName::Store => C::Store,
            ChannelName::Web => C::Web,
            ChannelName::App => C::App,
            ChannelName::Hotline => C::Hotline,
            ChannelName::Social => C::Social,
            ChannelName::Email => C::Email,
            ChannelName::Other => C::Other,
        }
    }
}

/// One identifier of a person.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"type": "phone", "value": "+84912345678"}))]
pub struct IdentityOut {
    /// user_id, email, phone, anonymous_id, loyalty_card, facebook_id, zalo_id or a custom type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Normalised: e-mails lowercase, phones in E.164.
    pub value: String,
}

/// A page of items and the cursor to the next page (null on the last).
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A list that is not paged.
#[derive(Debug, Serialize, ToSchema)]
pub struct List<T: ToSchema> {
    pub items: Vec<T>,
}
