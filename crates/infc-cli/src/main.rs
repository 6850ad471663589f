//! The `infc` binary: argument parsing and error reporting. Each subcommand lives in its own module.

mod bench_shapes;
mod cli;
mod cmd_compile;
mod cmd_explain;
mod cmd_profile;
mod cmd_run;
mod int8;
mod run_inputs;

use infc_cli::npy_io;

use clap::Parser as _;

/// Restore the default SIGPIPE action so `infc explain … | head` ends quietly like other Unix
/// tools, instead of `print!` panicking on a closed pipe (Rust ignores SIGPIPE by default).
fn default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any thread exists; it only resets one signal
    // disposition to the OS default.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> std::process::ExitCode {
    default_sigpipe();
    // Bad flags exit 1 like every other error (clap's own default is 2); help and version exit 0.
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                std::process::ExitCode::FAILURE
            } else {
                std::process::ExitCode::SUCCESS
            };
        }
    };
    let result = match args.command {
        cli::Command::Compile(a) => cmd_compile::run(a),
        cli::Command::Explain(a) => cmd_explain::run(a),
        cli::Command::Run(a) => cmd_run::run(a),
        cli::Command::Profile(a) => cmd_profile::run(a),
        cli::Command::Verify(a) => cmd_explain::verify(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
