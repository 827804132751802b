//! A fresh empty database of either kind for one test, and the macro that
//! runs a test on both.

use std::path::Path;

use allocation_server::{Database, ServerConfig};

use crate::pg;

/// A fresh temporary directory that lives as long as the test.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Which store a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh empty database of one kind, and a temporary directory for the
/// test's other files; both live as long as this value.
pub struct TestDb {
    pub database: Database,
    dir: tempfile::TempDir,
}

impl TestDb {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Demo pools on this database.
    pub fn demo(&self) -> ServerConfig {
        ServerConfig::demo(self.database.clone())
    }
}

impl Backend {
    pub fn fresh(self) -> TestDb {
        let dir = temp_dir();
        let database = match self {
            Backend::Sqlite => Database::Sqlite(dir.path().join("test.db")),
            Backend::Postgres => Database::Postgres(pg::Cluster::shared().database()),
        };
        TestDb { database, dir }
    }
}

/// Turns `async fn name(backend: Backend)` tests into `sqlite::name` and
/// `postgres::name`.
#[macro_export]
macro_rules! on_both_stores {
    (#[$test:meta] $($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[$test]
            async fn $name() {
                super::$name($crate::Backend::Sqlite).await
            })*
        }
        mod postgres {
            $(#[$test]
            async fn $name() {
                super::$name($crate::Backend::Postgres).await
            })*
        }
    };
    ($($name:ident),* $(,)?) => {
        $crate::on_both_stores!(#[tokio::test] $($name),*);
    };
}
