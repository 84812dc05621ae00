//! Giving freed memory back to the system after a job that allocated a lot at once.
//!
//! glibc's malloc keeps what a thread frees in that thread's arena for later
//! allocations there. RFM and the CLV fit hold hundreds of megabytes for a
//! million customers on a blocking-pool thread, and the next such job usually
//! runs on another thread, in another arena: `cdp-bench value --backend
//! sqlite` peaked at 437–535 MiB after its first RFM + CLV pass and 475–620 MiB
//! after the second, against a 512 MiB target. The jobs call
//! [`release_freed`] once their data is dropped.

/// Returns the free memory of every malloc arena to the system (glibc's
/// `malloc_trim`); a no-op elsewhere. Costs milliseconds: for rare, large jobs.
pub fn release_freed() {
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
