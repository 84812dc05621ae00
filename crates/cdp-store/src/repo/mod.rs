//! Repositories: one module per resource, each function one unit of work on
//! a connection the caller holds (inside a transaction when it writes).

pub mod consent;
pub mod identity;
pub mod ingest;
pub mod interaction;
pub mod keys;
pub mod loyalty;
pub mod orders;
pub mod privacy;
pub mod profiles;
pub mod segments;
pub mod sources;
pub mod users;
pub mod value;

pub use cdp_app::store::Page;

/// Cuts a page fetched with `limit + 1` rows down to `limit`, and answers the
/// key of its last row when there is a next page.
pub(crate) fn page_end<T, K>(rows: &mut Vec<T>, limit: i64, key: impl Fn(&T) -> K) -> Option<K> {
    if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(key)
    } else {
        None
    }
}
