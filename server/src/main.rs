//! Command line only: parse flags, start logging, serve (or add a user).

use std::process::ExitCode;

use allocation_server::config::{Command, ServeArgs};
use allocation_server::identity::users::add_user;
use allocation_server::{app, serve, Cli};
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
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|error| anyhow::anyhow!("cannot start the runtime: {error}"))?;
    runtime.block_on(async move {
        let listen = args.listen;
        let options = args.serve_options();
        let config = args.into_config()?;
        let router = app(config).await?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|error| anyhow::anyhow!("cannot listen on {listen}: {error}"))?;
        let address = listener.local_addr()?;
        let serving = serve(listener, router, options);
        println!("allocation-server listening on http://{address}/");
        serving.await?;
        Ok(())
    })
}
