//! `hop-legacy`: parses the flags and runs the service (all logic is in the library).

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hop_legacy::run(hop_legacy::Args::parse()).await
}
