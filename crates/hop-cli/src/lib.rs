//! `hop`: the Heavy Optimizer command line.

mod error;
mod run_command;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use error::CliError;
pub use run_command::{JobOutput, RunArgs, run_job};

#[derive(Debug, Parser)]
#[command(
    name = "hop",
    version,
    about = "Heavy Optimizer: pick the best portfolio of trading strategies"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one optimization job in this process and write its run folder.
    Run(RunArgs),
}

/// Parses the command line, runs the command and turns its outcome into an exit code:
/// 0 success, 2 refused input (the message says what and where), 1 anything else.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run(args) => run_command::run(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
