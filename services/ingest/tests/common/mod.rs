//! Starts the real `hop-ingest` binary on loopback port 0 with a temporary data directory.

#![allow(dead_code, reason = "each test file uses a part")]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow_flight::Ticket;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_client::FlightServiceClient;
use futures::{StreamExt, TryStreamExt};
use hop_core::PnlMatrix;
use hop_proto::v1::FlightTicket;
use hop_proto::v1::ingest_client::IngestClient;
use prost::Message;
use tonic::transport::Channel;

pub const FIXTURE: &str = "sensex_2500x82.csv";

/// A running `hop-ingest`; killed when dropped.
pub struct Server {
    child: Child,
    pub grpc: SocketAddr,
    pub metrics: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl Server {
    /// Starts the binary with `--data-dir <tempdir>` and the extra arguments.
    pub fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_hop-ingest"))
            .args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
            .args(["--log-filter", "warn"])
            .arg("--data-dir")
            .arg(dir.path())
            .args(extra)
            .env_remove("HOP_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("hop-ingest starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(ready) = hop_runtime::ready::parse_ready_line(&line) {
                    let _ = tx.send(ready);
                }
            }
        });
        let ready = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(ready) => ready,
            Err(e) => {
                let _ = child.kill();
                panic!("hop-ingest printed no HOP_READY line: {e}");
            }
        };
        assert_eq!(ready.service, "ingest");
        Self {
            child,
            grpc: ready.addr("grpc").unwrap(),
            metrics: ready.addr("metrics").unwrap(),
            dir,
        }
    }

    pub async fn channel(&self) -> Channel {
        tonic::transport::Endpoint::from_shared(format!("http://{}", self.grpc))
            .unwrap()
            .connect()
            .await
            .expect("connects")
    }

    pub async fn ingest(&self) -> IngestClient<Channel> {
        IngestClient::new(self.channel().await)
    }

    pub async fn flight(&self) -> FlightServiceClient<Channel> {
        FlightServiceClient::new(self.channel().await)
    }

    /// Sends SIGTERM and waits up to `limit` for the exit status.
    pub fn terminate(&mut self, limit: Duration) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < limit,
                "hop-ingest did not exit within {limit:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// DoGet of `ticket`, reassembled into a matrix.
pub async fn do_get(
    client: &mut FlightServiceClient<Channel>,
    ticket: FlightTicket,
) -> Result<(PnlMatrix, Vec<RecordBatch>), tonic::Status> {
    let response = client
        .do_get(Ticket::new(ticket.encode_to_vec()))
        .await?
        .into_inner();
    let mut stream =
        FlightRecordBatchStream::new_from_flight_data(response.map_err(FlightError::from));
    let mut batches = Vec::new();
    while let Some(batch) = stream.next().await {
        batches.push(batch.map_err(tonic::Status::from)?);
    }
    let schema = stream.schema().cloned().expect("the stream has a schema");
    let matrix = hop_columnar::from_batches(&schema, &batches).expect("a valid matrix");
    Ok((matrix, batches))
}

pub fn ticket(id: &str, first: Option<u32>, count: Option<u32>) -> FlightTicket {
    FlightTicket {
        dataset_id: id.to_owned(),
        first_strategy: first,
        strategy_count: count,
    }
}
