//! The console's release build, as `trunk build --release` leaves it.

use std::path::{Path, PathBuf};

/// `CONSOLE_DIST`, or `dist/` at the workspace root; an error that says how
/// to build it when it holds no `index.html`.
pub fn console_dist() -> Result<PathBuf, String> {
    let dist = std::env::var_os("CONSOLE_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("testkit/ sits in the workspace")
                .join("dist")
        });
    if dist.join("index.html").is_file() {
        Ok(dist)
    } else {
        Err(format!(
            "no built console at {}: run scripts/test (or `trunk build --release`) first",
            dist.display()
        ))
    }
}
