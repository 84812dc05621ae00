//! PostgreSQL's transaction-scoped advisory locks, keyed by what writers
//! touch (identities, dedupe keys, orders, accounts): writers that share a
//! key queue, others proceed in parallel. SQLite serialises writers anyway.

use crate::error::StoreResult;
use crate::AnyConnection;
use diesel::RunQueryDsl;

/// On PostgreSQL, takes transaction-scoped advisory locks on `keys` (from
/// `lock_keys_of`), in their one global order. Writers that share an
/// identity queue instead of racing; writers that share nothing proceed in
/// parallel; since every such lock is taken up front in a fixed order, and
/// profile rows next in id order, writers do not deadlock.
/// On SQLite `BEGIN IMMEDIATE` already serialises writers: nothing to do.
pub(crate) fn lock_keys(conn: &mut AnyConnection, keys: &[i64]) -> StoreResult<()> {
    let AnyConnection::Postgresql(pg) = conn else { return Ok(()) };
    if keys.is_empty() {
        return Ok(());
    }
    crate::cached!("SELECT pg_advisory_xact_lock(k) FROM unnest($1) AS k ORDER BY k")
        .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(keys)
        .execute(pg)?;
    Ok(())
}

/// The lock key of an identity, as ingestion takes it.
pub(crate) fn identity_key(kind: &str, value: &str) -> i64 {
    lock_key(&[kind, value])
}

/// A stable 64-bit key (FNV-1a) for an advisory lock: the same in every
/// process and version, so that several `cdp` processes agree.
pub(crate) fn lock_key(parts: &[&str]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (n, p) in parts.iter().enumerate() {
        if n > 0 {
            h ^= 0x1f;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in p.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h as i64
}

#[cfg(test)]
mod tests {
    use super::lock_key;

    #[test]
    fn lock_keys_are_stable_and_separate_parts() {
        // Fixed forever: other processes and versions must compute the same keys.
        assert_eq!(lock_key(&["phone", "+84912345678"]), lock_key(&["phone", "+84912345678"]));
        assert_ne!(lock_key(&["ab", "c"]), lock_key(&["a", "bc"]));
        assert_eq!(lock_key(&[""]), 0xcbf2_9ce4_8422_2325_u64 as i64);
    }
}
