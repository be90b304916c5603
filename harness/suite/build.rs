//! Rebuilds the suite when a feature file changes: `include_dir!` embeds `features/`
//! (see `builtin.rs`), but the compiler does not track the files it reads, so without
//! this an edited feature would not reach the binary. Cargo scans a directory given to
//! `rerun-if-changed` recursively.

fn main() {
    println!("cargo:rerun-if-changed=../../features");
    println!("cargo:rerun-if-changed=build.rs");
}
