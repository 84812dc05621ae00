//! Memory: the servers' allocator, and giving freed memory back to the
//! system after a job that allocated a lot at once.
//!
//! Rust's allocations go to jemalloc (set here, so every binary that links
//! the application — `cdp`, the bench server, the test suite — runs the same one):
//! less CPU per request than glibc's malloc, without the page purging that
//! made mimalloc stall reads (docs/benchmarks.md). SQLite's own page caches
//! stay on the C library's malloc.
//!
//! RFM and the CLV fit hold hundreds of megabytes for a million customers on
//! a blocking-pool thread, and the next such job usually runs on another
//! thread, whose arena would not reuse what the first freed. The jobs call
//! [`release_freed`] once their data is dropped.

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Returns what is free in every jemalloc arena and every glibc malloc arena
/// (SQLite's) to the system. Costs milliseconds: for rare, large jobs.
pub fn release_freed() {
    let rc = purge_jemalloc();
    if rc != 0 {
        log::debug!("jemalloc purge answered {rc}");
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::os::raw::c_int;
        }
        // SAFETY: malloc_trim takes no pointers and is thread-safe; it only
        // releases memory no allocation holds.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// `arena.<MALLCTL_ARENAS_ALL>.purge`; answers jemalloc's error code (0: done).
fn purge_jemalloc() -> i32 {
    #[cfg(not(target_env = "msvc"))]
    {
        // A void control: no old value read, no new value written.
        const PURGE_ALL: &std::ffi::CStr = c"arena.4096.purge";
        // SAFETY: the name is a NUL-terminated control that takes no value;
        // the null pointers say so, as jemalloc requires for void controls.
        unsafe { tikv_jemalloc_sys::mallctl(PURGE_ALL.as_ptr(), std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut(), 0) }
    }
    #[cfg(target_env = "msvc")]
    0
}

#[cfg(test)]
mod tests {
    #[test]
    fn freed_memory_is_released_without_error() {
        let big: Vec<u8> = vec![1; 64 << 20];
        assert_eq!(big.iter().map(|&b| usize::from(b)).sum::<usize>(), 64 << 20);
        drop(big);
        assert_eq!(super::purge_jemalloc(), 0);
        super::release_freed();
    }
}
