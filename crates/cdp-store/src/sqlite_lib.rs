//! Process-wide settings of the SQLite library, made once before the first
//! connection opens (SQLite refuses them after it has initialised; then they
//! are logged and its defaults stay — slower, equally correct):
//!
//! - Multi-thread mode instead of serialized: no mutex around every call on a
//!   connection. Sound here because a connection is only ever used by the one
//!   thread holding it (r2d2 hands it out; diesel's connection is not `Sync`);
//!   the pager and the WAL keep their own locks between connections.
//! - No memory statistics: otherwise every allocation SQLite makes takes a
//!   global mutex to count it.
//! - The default page cache behind a wrapper that skips the commit-time
//!   truncations with nothing to remove (`crate::pcache`).
//!
//! The bundled SQLite is compiled without memory statistics already
//! (`.cargo/config.toml`); the call stays for a build against another library.

use libsqlite3_sys as ffi;
use std::os::raw::c_int;

/// Opens a connection with the settings above applied first. Every SQLite
/// connection this crate opens, its tests' included, comes through here: a
/// connection opened before them initialises SQLite, which then refuses them.
pub(crate) fn establish(path: &str) -> diesel::ConnectionResult<diesel::SqliteConnection> {
    configure();
    <diesel::SqliteConnection as diesel::Connection>::establish(path)
}

/// Applies the settings above, once per process, before the first connection.
fn configure() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: called before this process opens any connection (Once, ahead
        // of the first `establish`), as sqlite3_config requires. If the library
        // was initialised anyway it answers SQLITE_MISUSE and changes nothing.
        let settings = unsafe {
            [
                ("multi-thread mode", ffi::sqlite3_config(ffi::SQLITE_CONFIG_MULTITHREAD)),
                ("memory statistics off", ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int)),
                ("the page cache's wrapper", crate::pcache::install()),
            ]
        };
        for (what, rc) in settings {
            if rc != ffi::SQLITE_OK {
                log::warn!("SQLite refused {what} (code {rc}); keeping its default");
            }
        }
    });
}
