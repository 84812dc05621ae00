//! Process-wide settings of the SQLite library, made once before the first
//! connection opens (SQLite refuses them after it has initialised; then they
//! are logged and its defaults stay — slower, equally correct).
//!
//! - Multi-thread mode instead of serialized: no mutex around every call on a
//!   connection. Sound here because a connection is only ever used by the one
//!   thread holding it (r2d2 hands it out; diesel's connection is not `Sync`);
//!   the pager and the WAL keep their own locks between connections.
//! - No memory statistics: otherwise every allocation SQLite makes takes a
//!   global mutex to count it.
//! - SQLite allocates through Rust's global allocator (whatever the binary
//!   chose: `cdp` uses mimalloc) instead of the C library's `malloc`.
//!
//! Measured before: the SQLite writer thread spent 6.7% of its perf samples in
//! `pthread_mutex_lock`/`unlock` and ~18% in glibc `malloc`/`free`.

use libsqlite3_sys as ffi;
use std::alloc::{alloc, dealloc, realloc, Layout};
use std::os::raw::{c_int, c_void};

/// Each block starts with a header holding its usable size, because SQLite
/// frees without saying how much; 16 bytes keep the block 16-byte aligned.
const HEADER: usize = 16;

fn layout(size: usize) -> Option<Layout> {
    Layout::from_size_align(size.checked_add(HEADER)?, HEADER).ok()
}

unsafe extern "C" fn x_malloc(n: c_int) -> *mut c_void {
    let size = n.max(0) as usize;
    let Some(l) = layout(size) else { return std::ptr::null_mut() };
    // SAFETY: the layout has a non-zero size (HEADER > 0).
    let base = unsafe { alloc(l) };
    if base.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: base is valid for HEADER + size bytes and 16-byte aligned.
    unsafe {
        (base as *mut usize).write(size);
        base.add(HEADER) as *mut c_void
    }
}

/// The block's start and usable size, from a pointer `x_malloc` returned.
unsafe fn header(p: *mut c_void) -> (*mut u8, usize) {
    // SAFETY: p came from x_malloc/x_realloc, so HEADER bytes before it hold the size.
    unsafe {
        let base = (p as *mut u8).sub(HEADER);
        (base, (base as *const usize).read())
    }
}

unsafe extern "C" fn x_free(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    // SAFETY: p came from x_malloc/x_realloc with this size's layout.
    unsafe {
        let (base, size) = header(p);
        if let Some(l) = layout(size) {
            dealloc(base, l);
        }
    }
}

unsafe extern "C" fn x_realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    if p.is_null() {
        // SAFETY: as x_malloc.
        return unsafe { x_malloc(n) };
    }
    let size = n.max(0) as usize;
    // SAFETY: p came from x_malloc/x_realloc; the new size plus the header fits the layout rules.
    unsafe {
        let (base, old) = header(p);
        let (Some(old_layout), Some(_)) = (layout(old), layout(size)) else { return std::ptr::null_mut() };
        let moved = realloc(base, old_layout, size + HEADER);
        if moved.is_null() {
            return std::ptr::null_mut();
        }
        (moved as *mut usize).write(size);
        moved.add(HEADER) as *mut c_void
    }
}

unsafe extern "C" fn x_size(p: *mut c_void) -> c_int {
    if p.is_null() {
        return 0;
    }
    // SAFETY: as x_free.
    unsafe { header(p).1 as c_int }
}

unsafe extern "C" fn x_roundup(n: c_int) -> c_int {
    (n + 7) & !7
}

unsafe extern "C" fn x_init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_shutdown(_: *mut c_void) {}

/// Applies the settings above, once per process, before the first connection.
pub(crate) fn configure() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let methods = ffi::sqlite3_mem_methods {
            xMalloc: Some(x_malloc),
            xFree: Some(x_free),
            xRealloc: Some(x_realloc),
            xSize: Some(x_size),
            xRoundup: Some(x_roundup),
            xInit: Some(x_init),
            xShutdown: Some(x_shutdown),
            pAppData: std::ptr::null_mut(),
        };
        // SAFETY: called before this process opens any connection (Once, ahead
        // of the first `establish`), as sqlite3_config requires; SQLite copies
        // the methods struct. If the library was initialised anyway it answers
        // SQLITE_MISUSE and changes nothing.
        let settings = unsafe {
            [
                ("multi-thread mode", ffi::sqlite3_config(ffi::SQLITE_CONFIG_MULTITHREAD)),
                ("memory statistics off", ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int)),
                ("the Rust allocator", ffi::sqlite3_config(ffi::SQLITE_CONFIG_MALLOC, &methods as *const ffi::sqlite3_mem_methods)),
            ]
        };
        for (what, rc) in settings {
            if rc != ffi::SQLITE_OK {
                log::warn!("SQLite refused {what} (code {rc}); keeping its default");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_keep_their_size_and_contents_through_realloc() {
        unsafe {
            let p = x_malloc(10) as *mut u8;
            assert!(!p.is_null());
            assert_eq!(p as usize % 8, 0);
            assert_eq!(x_size(p as *mut c_void), 10);
            for i in 0..10 {
                p.add(i).write(i as u8);
            }
            let q = x_realloc(p as *mut c_void, 5000) as *mut u8;
            assert_eq!(x_size(q as *mut c_void), 5000);
            assert!((0..10).all(|i| q.add(i).read() == i as u8));
            x_free(q as *mut c_void);
            x_free(std::ptr::null_mut());
            assert_eq!(x_roundup(13), 16);
        }
    }
}
