//! Command line only: parse flags, start logging, serve (or add a user, or
//! back up a SQLite database).

use std::io::IsTerminal;
use std::process::ExitCode;

use allocation_server::config::{Command, LogFormat, ServeArgs};
use allocation_server::identity::users::add_user;
use allocation_server::{
    app_with_state, purge_periodically, sample_periodically, serve, sweep_periodically, Cli,
};
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::AddUser { users, admin, name }) => add_user(&users, &name, admin).map(|token| {
            eprintln!(
                "added {name:?}{} to {}; its token (shown only this once, the file keeps its hash):",
                if admin { " (admin)" } else { "" },
                users.display()
            );
            println!("{token}");
        }),
        Some(Command::Backup { db, to }) => allocation_server::store::sqlite::backup(&db, &to)
            .map(|()| eprintln!("backed up {} to {}", db.display(), to.display())),
        None => run_server(cli.serve),
    };
    match result {
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

fn run_server(args: ServeArgs) -> anyhow::Result<()> {
    // Logs on stderr; stdout carries only the "listening on" line.
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(std::io::stderr().is_terminal());
    match args.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|error| anyhow::anyhow!("cannot start the runtime: {error}"))?;
    runtime.block_on(async move {
        let (listen, retention) = (args.listen, args.retention);
        let event_retention = args.event_retention();
        let options = args.serve_options();
        let config = args.into_config()?;
        let (router, state) = app_with_state(config).await?;
        tokio::spawn(purge_periodically(
            state.store.clone(),
            retention,
            event_retention,
        ));
        tokio::spawn(sample_periodically(state.store.clone()));
        tokio::spawn(sweep_periodically(state.store.clone()));
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|error| anyhow::anyhow!("cannot listen on {listen}: {error}"))?;
        let address = listener.local_addr()?;
        let serving = serve(listener, router, options, state.shutdown.clone());
        println!("allocation-server listening on http://{address}/");
        serving.await?;
        if let Some(webhooks) = &state.webhooks {
            webhooks.stop().await;
        }
        Ok(())
    })
}
