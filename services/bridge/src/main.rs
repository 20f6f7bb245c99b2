//! `hop-bridge`: parses the flags and runs the service (all logic is in the library).

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hop_bridge::run(hop_bridge::Args::parse()).await
}
