//! Heavy Optimizer gRPC contracts, package `hop.v1`.
//!
//! Generated at build time from `proto/hop/v1/*.proto` with `protox` (a pure-Rust `.proto`
//! compiler, so no `protoc` is needed) and `tonic-prost-build`. One module, [`v1`], holds every
//! message, enum, client and server:
//!
//! | service | file | implemented by |
//! |---|---|---|
//! | `hop.v1.Engine` | `engine.proto` | `hop-compute` (green) and `hop-legacy` (blue) |
//! | `hop.v1.Ingest` | `ingest.proto` | `hop-ingest` (next to its Arrow Flight service) |
//! | `hop.v1.Validator` | `validator.proto` | `hop-validator` |
//! | `hop.v1.Jobs` | `router.proto` | `hop-router` |
//! | `hop.v1.Admin` | `router.proto` | `hop-router` |
//!
//! Shared messages (`JobSpec`, `JobOptions`, `JobEvent`, `JobResult`, `Side`, ...) live in
//! `common.proto`. Clients are `v1::<service>_client::<Service>Client`, servers
//! `v1::<service>_server::{<Service>, <Service>Server}`.

/// Everything generated from package `hop.v1`.
#[allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    clippy::nursery,
    reason = "generated code"
)]
pub mod v1 {
    tonic::include_proto!("hop.v1");

    impl JobEvent {
        /// An event stamped with the current time (`sequence` left at 0 for the sender to number).
        pub fn now(job_id: impl Into<String>, event: job_event::Event) -> Self {
            Self {
                job_id: job_id.into(),
                time: Some(std::time::SystemTime::now().into()),
                sequence: 0,
                event: Some(event),
            }
        }
    }
}

mod vocabulary;

pub use vocabulary::{FailureCode, limits};

/// The encoded `google.protobuf.FileDescriptorSet` of every `hop.v1` file and its imports (with
/// source comments), for gRPC reflection:
/// `tonic_reflection::server::Builder::configure().register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)`.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/hop_v1_descriptor.bin"));
