//! Repositories: one module per resource, each function one unit of work on
//! a connection the caller holds (inside a transaction when it writes).

pub mod campaigns;
pub mod consent;
pub mod identity;
pub mod imports;
pub mod ingest;
pub mod interaction;
pub mod keys;
pub mod loyalty;
pub mod orders;
pub mod outbox;
pub mod privacy;
pub mod profiles;
pub mod referrals;
pub mod segments;
pub mod sources;
pub mod tracking;
pub mod undo;
pub mod users;
pub mod value;
pub mod vouchers;

pub use cdp_app::store::Page;

diesel::define_sql_function! {
    /// SQL's COALESCE of a nullable text and a text.
    fn coalesce(x: diesel::sql_types::Nullable<diesel::sql_types::Text>, y: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Moves a merged profile's rows of `$table` to the survivor, keeping in
/// `origin_profile_id` (set once) the profile each row first belonged to:
/// what undoing the merge gives back. Answers how many rows moved.
macro_rules! move_rows {
    ($conn:expr, $table:ident, $merged:expr, $into:expr) => {{
        use diesel::prelude::*;
        use $crate::schema::$table;
        diesel::update($table::table.filter($table::profile_id.eq($merged)))
            .set((
                $table::origin_profile_id.eq($crate::repo::coalesce($table::origin_profile_id, $table::profile_id).nullable()),
                $table::profile_id.eq($into),
            ))
            .execute($conn)
    }};
}
pub(crate) use move_rows;

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
