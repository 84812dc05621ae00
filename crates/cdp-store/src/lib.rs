//! Durability for the CDP: one diesel code base over SQLite and PostgreSQL.

pub mod cached;
pub mod conn;
pub mod error;
pub mod group;
pub mod in_list;
mod macros;
mod pcache;
pub mod repo;
pub mod schema;
mod sqlite_lib;
pub mod writer;

pub use conn::{AnyConnection, Backend, Db, DbOptions, DbUrl};
pub use error::{StoreError, StoreResult, TxError};

/// A new time-ordered id (UUIDv7, text).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Lower-case hexadecimal of some bytes (digests), without a `format!` per byte.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Microseconds since the Unix epoch, the unit of every stored time.
pub fn micros(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(us: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(us).unwrap_or_default()
}

pub fn now_micros() -> i64 {
    micros(chrono::Utc::now())
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(super::hex(&[]), "");
    }
}
