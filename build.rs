//! With the `split` feature, the wasm binary keeps its relocations, which
//! the split tool (`wasm-split-cli`, scripts/trunk-post-build) reads to cut
//! the split points' code into chunks.
fn main() {
    let split = std::env::var_os("CARGO_FEATURE_SPLIT").is_some();
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|arch| arch == "wasm32");
    if split && wasm {
        println!("cargo:rustc-link-arg-bins=--emit-relocs");
    }
}
