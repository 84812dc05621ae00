//! Shapes shared by several resources.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// RFC 3339 with `Z`, from stored microseconds.
pub fn ts(us: i64) -> String {
    cdp_app::rfc3339(us)
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

/// The page size asked for: 1 to 500, 50 when not given.
pub fn page_limit(limit: Option<i64>) -> Result<i64, crate::error::ApiError> {
    let limit = limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(crate::error::ApiError::field("limit", "out_of_range", "must be between 1 and 500"));
    }
    Ok(limit)
}

/// An opaque cursor for a position written as text.
pub fn cursor_encode(position: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(position)
}

/// The position in a cursor this API gave (none when absent or empty);
/// `parse` turns the text back into a position.
pub fn cursor_decode<T>(cursor: Option<&str>, parse: impl FnOnce(&str) -> Option<T>) -> Result<Option<T>, crate::error::ApiError> {
    use base64::Engine;
    match cursor.filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| parse(&t))
            .map(Some)
            .ok_or_else(|| crate::error::ApiError::field("cursor", "invalid", "is not a cursor this API gave")),
    }
}

/// An optional RFC 3339 time parameter, in µs; a clear 422 naming the field.
pub fn time_param(field: &str, v: Option<&str>) -> Result<Option<i64>, crate::error::ApiError> {
    match v.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => cdp_domain::event::parse_time(s)
            .map(|t| Some(t.timestamp_micros()))
            .ok_or_else(|| crate::error::ApiError::field(field, "invalid", "must be an RFC 3339 time")),
    }
}

/// `"{time}|{id}"`, the position of most keyset pages.
pub fn time_id(text: &str) -> Option<(i64, String)> {
    let (t, id) = text.split_once('|')?;
    Some((t.parse().ok()?, id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let c = cursor_encode("1763000000000000|01936f3e-8a4b-7c2d-9e1f-2a3b4c5d6e7f");
        assert_eq!(cursor_decode(Some(&c), time_id).unwrap(), Some((1_763_000_000_000_000, "01936f3e-8a4b-7c2d-9e1f-2a3b4c5d6e7f".into())));
        assert!(cursor_decode(Some("garbage!"), time_id).is_err());
        assert_eq!(cursor_decode(Some(""), time_id).unwrap(), None);
    }
}
