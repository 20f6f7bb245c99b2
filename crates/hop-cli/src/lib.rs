//! `hop`: the Heavy Optimizer command line.
//!
//! | command | what it does |
//! |---|---|
//! | `hop run` | one job in this process, run folder written ([`run_command`]) |
//! | `hop up --share DIR` | the six services on loopback until Ctrl-C ([`up_command`], [`stack`]) |
//! | `hop demo` | a share, a real fixture, the services, a job file, the answer ([`demo_command`]) |
//! | `hop submit/watch/result` | the router's job API ([`client_commands`]) |
//! | `hop cutover status/set-weight/rollback/resume` | the router's admin API ([`cutover_command`]) |
//! | `hop service NAME` | (hidden) one service in this process, as `hop up` starts them |

pub mod client_commands;
pub mod cutover_command;
pub mod demo_command;
mod error;
pub mod local;
pub mod run_command;
pub mod service_command;
pub mod stack;
pub mod up_command;

use std::future::Future;
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
    /// Start the six services on loopback over a share folder; prints `ready`, stops on Ctrl-C.
    Up(up_command::UpArgs),
    /// Prepare a share with a real fixture, start the services, drop a job file and print the
    /// run folder.
    Demo(demo_command::DemoArgs),
    /// Submit a job to the router.
    Submit(client_commands::SubmitArgs),
    /// Follow a job's events until it ends.
    Watch(client_commands::WatchArgs),
    /// Print a finished job's result.
    Result(client_commands::ResultArgs),
    /// Control the blue -> green cut-over: status, weight, emergency rollback, resume.
    Cutover(cutover_command::CutoverArgs),
    /// Run one service in this process (what `hop up` starts).
    #[command(hide = true)]
    Service(service_command::ServiceArgs),
}

fn block_on(future: impl Future<Output = Result<(), CliError>>) -> Result<(), CliError> {
    tokio::runtime::Runtime::new()
        .map_err(|e| CliError::Stack(format!("cannot start the async runtime: {e}")))?
        .block_on(future)
}

/// Parses the command line, runs the command and turns its outcome into an exit code:
/// 0 success, 2 refused input or usage (the message says what and where), 1 anything else.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run(args) => run_command::run(&args),
        Command::Up(args) => block_on(up_command::run(&args)),
        Command::Demo(args) => block_on(demo_command::run(&args)),
        Command::Submit(args) => block_on(client_commands::submit(&args)),
        Command::Watch(args) => block_on(client_commands::watch(&args)),
        Command::Result(args) => block_on(client_commands::result(&args)),
        Command::Cutover(args) => block_on(cutover_command::run(&args)),
        Command::Service(args) => return service_command::run(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
