//! Generates the `hop.v1` messages, clients and servers from `hop/v1/*.proto`.
//!
//! `protox` parses the files in pure Rust (no system `protoc` anywhere), `tonic-prost-build`
//! turns the descriptors into code, and the encoded descriptor set (with imports and source
//! comments) is written to `OUT_DIR/hop_v1_descriptor.bin` for gRPC reflection.

use std::path::PathBuf;

use protox::prost::Message;

/// The contract files, one per concern, relative to this crate's root.
const PROTOS: [&str; 5] = [
    "hop/v1/common.proto",
    "hop/v1/engine.proto",
    "hop/v1/ingest.proto",
    "hop/v1/validator.proto",
    "hop/v1/router.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    println!("cargo:rerun-if-changed=build.rs");

    // Imports and source info are included: reflection clients need the well-known types, and the
    // comments become the Rust docs.
    let fds = protox::compile(PROTOS, ["."])?;

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("hop_v1_descriptor.bin"), fds.encode_to_vec())?;

    tonic_prost_build::configure()
        // Boxed so that a JobResult stays small enough to sit in an enum variant by value.
        .boxed(".hop.v1.JobResult.walk_forward")
        .boxed(".hop.v1.JobResult.selection")
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
