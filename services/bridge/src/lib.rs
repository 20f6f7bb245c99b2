//! Skeleton (being written).

use std::process::ExitCode;

use hop_runtime::config::CommonArgs;

#[derive(Debug, clap::Parser)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
}

pub async fn run(_args: Args) -> ExitCode {
    ExitCode::FAILURE
}
