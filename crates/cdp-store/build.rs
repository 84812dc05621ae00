//! `embed_migrations!` reads `migrations/` at compile time, but cargo does not
//! know that: without this, a new or edited migration left the crate
//! unrebuilt and the binary without it.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
