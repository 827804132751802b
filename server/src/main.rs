//! Command line only: parse flags, start logging, serve.

use std::process::ExitCode;

use std::io::IsTerminal;

use allocation_server::config::{Command, LogFormat};
use allocation_server::{app_with_state, purge_periodically, serve, Cli, Database};
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(std::io::stdout().is_terminal());
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("allocation-server: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The message and its causes, without a backtrace: this is for
            // whoever runs the server (e.g. a pools file's line and field).
            eprintln!("allocation-server: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  {}", cause.to_string().replace('\n', "\n  "));
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(mut cli: Cli) -> anyhow::Result<()> {
    if let Some(Command::Backup { to }) = cli.command.take() {
        let Database::Sqlite(from) = cli.db else {
            anyhow::bail!(
                "backup copies a SQLite database; for PostgreSQL use pg_dump (docs/deploy.md)"
            );
        };
        tokio::task::spawn_blocking(move || allocation_server::store::sqlite::backup(&from, &to))
            .await??;
        return Ok(());
    }
    let (listen, retention) = (cli.listen, cli.retention);
    let config = cli.into_config()?;
    let (router, state) = app_with_state(config).await?;
    tokio::spawn(purge_periodically(state.store.clone(), retention));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {listen}: {error}"))?;
    let address = listener.local_addr()?;
    let serving = serve(listener, router);
    println!("allocation-server listening on http://{address}/");
    serving.await?;
    Ok(())
}
