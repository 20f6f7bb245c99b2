//! `hop service <name> [ARGS]` (hidden): runs one service in this process, exactly as its own
//! binary (`hop-<name>`) would — the same library entry point and flags. `hop up` starts each
//! service this way, as its own process, so that one `cargo run --bin hop` builds all of them.

use std::process::ExitCode;

use clap::{Args, Parser};

#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// ingest, compute, legacy, validator, router or bridge.
    pub name: String,
    /// The service's own flags (see `hop-<name> --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

fn parse<A: Parser>(binary: &str, args: &[String]) -> Result<A, ExitCode> {
    A::try_parse_from(std::iter::once(binary.to_owned()).chain(args.iter().cloned())).map_err(|e| {
        let _ = e.print();
        ExitCode::from(2)
    })
}

/// Runs the named service until it stops.
pub fn run(args: &ServiceArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let a = &args.args;
    let outcome = match args.name.as_str() {
        "ingest" => parse("hop-ingest", a).map(|x| runtime.block_on(hop_ingest::run(x))),
        "compute" => parse("hop-compute", a).map(|x| runtime.block_on(hop_compute::run(x))),
        "legacy" => parse("hop-legacy", a).map(|x| runtime.block_on(hop_legacy::run(x))),
        "validator" => parse("hop-validator", a).map(|x| runtime.block_on(hop_validator::run(x))),
        "router" => parse("hop-router", a).map(|x| runtime.block_on(hop_router::run(x))),
        "bridge" => parse("hop-bridge", a).map(|x| runtime.block_on(hop_bridge::run(x))),
        other => {
            eprintln!(
                "error: no service named {other:?}: ingest, compute, legacy, validator, router or \
                 bridge"
            );
            return ExitCode::from(2);
        }
    };
    outcome.unwrap_or_else(|code| code)
}
