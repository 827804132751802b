//! `alloc`: parse, run the command, exit with its code (`alloc --help`).

use std::process::ExitCode;

use allocation_cli::args::Cli;
use allocation_cli::commands::dispatch;
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.global.json;
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            if json {
                allocation_cli::err!("{}", failure.to_json());
            } else {
                allocation_cli::err!("alloc: {failure}");
            }
            ExitCode::from(failure.exit().code())
        }
    }
}
