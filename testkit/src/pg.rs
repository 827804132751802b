//! A throwaway PostgreSQL cluster for the tests and the server bench: Debian's
//! binaries (`/usr/lib/postgresql/*/bin`), run as the `postgres` user in a
//! temporary directory on a free port with trust authentication. One cluster
//! per test process, one fresh database per test; a watchdog stops the
//! cluster and removes its directory when the process ends, however it ends.
//!
//! Missing binaries fail the test with what to do: CI installs them
//! (`scripts/setup`), so a skipped PostgreSQL test would hide a gap.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

pub struct Cluster {
    pub port: u16,
    pub dir: PathBuf,
    bin: PathBuf,
}

/// The newest installed PostgreSQL's `bin` directory.
fn bin_dir() -> Result<PathBuf, String> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or_else(|| {
        "PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb. \
         Run scripts/setup (it installs Debian's `postgresql` package); \
         the PostgreSQL tests do not skip."
            .to_owned()
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `program args…`, as the `postgres` user when we are root (initdb refuses root).
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("{what}: cannot run: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

impl Cluster {
    /// The test process's cluster, started on first use.
    pub fn shared() -> &'static Cluster {
        static CLUSTER: OnceLock<Cluster> = OnceLock::new();
        CLUSTER.get_or_init(|| Cluster::start().unwrap_or_else(|error| panic!("{error}")))
    }

    /// A new cluster of its own (for tests that stop it), without fsync.
    pub fn start() -> Result<Cluster, String> {
        Cluster::start_with(false)
    }

    /// A new cluster; `durable`: fsync on, as in production (the bench).
    pub fn start_with(durable: bool) -> Result<Cluster, String> {
        let bin = bin_dir()?;
        let dir = tempfile::Builder::new()
            .prefix("allocation-pg-")
            .tempdir_in("/tmp")
            .map_err(|error| format!("temp dir: {error}"))?
            .keep();
        if is_root() {
            let mut chown = Command::new("chown");
            chown.arg("postgres:").arg(&dir);
            run(chown, "chown the cluster directory to postgres")?;
        }
        // The watchdog first, so nothing is left behind even if start-up fails.
        let script = format!(
            "tail --pid={pid} -f /dev/null; \
             {prefix}'{bin}/pg_ctl' -D '{dir}/data' stop -m immediate >/dev/null 2>&1; \
             rm -rf '{dir}'",
            pid = std::process::id(),
            prefix = if is_root() {
                "runuser -u postgres -- "
            } else {
                ""
            },
            bin = bin.display(),
            dir = dir.display(),
        );
        Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("cannot start the cluster's watchdog: {error}"))?;
        let data = dir.join("data");
        let mut initdb = as_postgres(&bin.join("initdb"));
        initdb.arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        run(initdb, "initdb")?;
        let port = free_port();
        let mut options = format!(
            "-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c max_connections=400",
            dir = dir.display()
        );
        if !durable {
            options.push_str(" -c fsync=off -c full_page_writes=off");
        }
        let mut pg_ctl = as_postgres(&bin.join("pg_ctl"));
        pg_ctl
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.join("log"))
            .args(["-w", "-t", "60", "-o", &options, "start"]);
        run(pg_ctl, "pg_ctl start")?;
        Ok(Cluster { port, dir, bin })
    }

    /// A new empty database; its URL.
    pub fn database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut createdb = Command::new(self.bin.join("createdb"));
        createdb
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .arg(&name);
        run(createdb, "createdb").unwrap_or_else(|error| panic!("{error}"));
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Stops the cluster now (`-m fast`), as an outage would.
    pub fn stop(&self) {
        let mut pg_ctl = as_postgres(&self.bin.join("pg_ctl"));
        pg_ctl
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-w", "-m", "fast", "stop"]);
        run(pg_ctl, "pg_ctl stop").unwrap_or_else(|error| panic!("{error}"));
    }

    /// `psql -c sql` on `url`'s database, its output.
    pub fn psql(&self, url: &str, sql: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                url,
                "-c",
                sql,
            ])
            .stdin(Stdio::null())
            .output()
            .expect("psql runs");
        assert!(
            output.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}
