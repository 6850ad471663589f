//! The `infc` binary: argument parsing and error reporting. Each subcommand lives in its own module.

mod cli;
mod cmd_compile;
mod cmd_explain;
mod model;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    let result = match args.command {
        cli::Command::Compile(a) => cmd_compile::run(a),
        cli::Command::Explain(a) => cmd_explain::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
