//! Command line only: parse flags, start logging, serve.

use allocation_server::{app, serve, Cli};
use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let listen = cli.listen;
    let config = cli.into_config()?;
    let router = app(config).await?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let address = listener.local_addr()?;
    println!("allocation-server listening on http://{address}/");
    serve(listener, router).await?;
    Ok(())
}
