//! Import of the real fixture, cache hits, DoGet of all and of a range, DoPut, FlightInfo.

mod common;

use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::{FlightClient, FlightDescriptor};
use common::{FIXTURE, Server, do_get, ticket};
use futures::TryStreamExt;
use hop_core::PnlMatrix;
use hop_core::fixtures::{assert_bit_identical, matrix, path};
use hop_proto::v1::{FlightTicket, ImportRequest, StatRequest};
use prost::Message;

fn import_request(path: &std::path::Path) -> ImportRequest {
    ImportRequest {
        csv_path: path.display().to_string(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn import_twice_then_stream_all_and_a_range() {
    let server = Server::start(&[]);
    let mut ingest = server.ingest().await;
    let csv = path(FIXTURE);

    let first = ingest
        .import(import_request(&csv))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((first.strategies, first.days), (2500, 82));
    assert!(!first.cache_hit);
    assert_eq!(
        first.dataset_id,
        hop_columnar::dataset_id(&std::fs::read(&csv).unwrap())
    );
    let parquet = server
        .dir
        .path()
        .join("parquet")
        .join(format!("{}.parquet", first.dataset_id));
    assert!(parquet.is_file(), "{}", parquet.display());
    assert_eq!(std::path::Path::new(&first.parquet_path), parquet);

    let second = ingest
        .import(import_request(&csv))
        .await
        .unwrap()
        .into_inner();
    assert!(second.cache_hit);
    assert_eq!(second.dataset_id, first.dataset_id);
    assert_eq!((second.strategies, second.days), (2500, 82));

    let info = ingest
        .stat(StatRequest {
            dataset_id: first.dataset_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let expected = matrix(FIXTURE);
    assert_eq!((info.strategies, info.days), (2500, 82));
    assert_eq!(&info.first_date, expected.dates().first().unwrap());
    assert_eq!(&info.last_date, expected.dates().last().unwrap());
    assert_eq!(info.csv_bytes, std::fs::metadata(&csv).unwrap().len());
    assert_eq!(
        std::path::Path::new(&info.source_csv),
        csv.canonicalize().unwrap()
    );
    assert!(info.parquet_bytes > 0 && info.imported_at.is_some());

    let mut flight = server.flight().await;
    let (all, batches) = do_get(&mut flight, ticket(&first.dataset_id, None, None))
        .await
        .unwrap();
    assert_bit_identical(&all, &expected);
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2500);

    let (range, _) = do_get(&mut flight, ticket(&first.dataset_id, Some(100), Some(250)))
        .await
        .unwrap();
    let indices: Vec<usize> = (100..350).collect();
    assert_bit_identical(&range, &expected.select(&indices).unwrap());
    let (tail, _) = do_get(&mut flight, ticket(&first.dataset_id, Some(2400), None))
        .await
        .unwrap();
    assert_eq!(tail.n_strategies(), 100);

    let outside = do_get(
        &mut flight,
        ticket(&first.dataset_id, Some(2400), Some(101)),
    )
    .await
    .unwrap_err();
    assert_eq!(outside.code(), tonic::Code::InvalidArgument, "{outside:?}");

    // FlightInfo and ListFlights describe the dataset with a ticket that streams it all.
    let mut client = FlightClient::new(server.channel().await);
    let info = client
        .get_flight_info(FlightDescriptor::new_path(vec![first.dataset_id.clone()]))
        .await
        .unwrap();
    assert_eq!(info.total_records, 2500);
    let schema = info.clone().try_decode_schema().unwrap();
    assert_eq!(schema.metadata()[hop_columnar::META_DAYS], "82");
    let fetched = client
        .get_schema(FlightDescriptor::new_path(vec![first.dataset_id.clone()]))
        .await
        .unwrap();
    assert_eq!(fetched, schema);
    let ticket_bytes = info.endpoint[0].ticket.as_ref().unwrap().ticket.clone();
    let decoded = FlightTicket::decode(ticket_bytes).unwrap();
    assert_eq!(decoded.dataset_id, first.dataset_id);
    let listed: Vec<_> = client
        .list_flights(Vec::<u8>::new())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].flight_descriptor.as_ref().unwrap().path,
        vec![first.dataset_id.clone()]
    );
}

fn small_matrix() -> PnlMatrix {
    PnlMatrix::new(
        vec!["alpha".into(), "beta, quoted \"b\"".into(), "gamma".into()],
        vec!["2024-01-01".into(), "2024-01-02".into()],
        vec![0.1 + 0.2, -1e-300, 505.0525000000011, 0.0, -0.0, 1e15 / 3.0],
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn do_put_then_do_get() {
    let server = Server::start(&[]);
    let m = small_matrix();
    let batches = hop_columnar::to_batches(&m, 2, None).unwrap();
    let schema = batches[0].schema();
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(futures::stream::iter(batches.into_iter().map(Ok)));
    let mut client = FlightClient::new(server.channel().await);
    let results: Vec<_> = client
        .do_put(stream)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(results.len(), 1);
    let id = String::from_utf8(results[0].app_metadata.to_vec()).unwrap();
    assert_eq!(
        id,
        hop_columnar::dataset_id(&hop_core::csv::write_csv(&m, true))
    );

    let mut flight = server.flight().await;
    let (back, _) = do_get(&mut flight, ticket(&id, None, None)).await.unwrap();
    assert_bit_identical(&back, &m);

    let info = server
        .ingest()
        .await
        .stat(StatRequest {
            dataset_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((info.strategies, info.days), (3, 2));
    assert_eq!(info.source_csv, "flight:do_put");

    // A dataset that breaks the CSV rules (a bad date) is refused.
    let bad = PnlMatrix::new(vec!["a".into()], vec!["2024-02-30".into()], vec![1.0]).unwrap();
    let batches = hop_columnar::to_batches(&bad, 10, None).unwrap();
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(batches[0].schema())
        .build(futures::stream::iter(batches.into_iter().map(Ok)));
    let refused = match client.do_put(stream).await {
        Ok(results) => results.try_collect::<Vec<_>>().await.unwrap_err(),
        Err(e) => e,
    };
    let status = tonic::Status::from(refused);
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
}

/// The production shape (25,544 x 82) goes through DoPut and DoGet with default client limits,
/// with every IPC compression.
#[tokio::test(flavor = "multi_thread")]
async fn production_shape_streams_both_ways() {
    for compression in ["none", "lz4", "zstd"] {
        production_shape_round_trip(compression).await;
    }
}

async fn production_shape_round_trip(compression: &str) {
    let setting = format!("flight_compression={compression}");
    let server = Server::start(&["--set", &setting]);
    let m = hop_core::synth::bootstrap(&matrix(FIXTURE), 25_544, 7);
    let batches = hop_columnar::to_batches(&m, 4096, None).unwrap();
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(batches[0].schema())
        .build(futures::stream::iter(batches.into_iter().map(Ok)));
    let mut client = FlightClient::new(server.channel().await);
    let results: Vec<_> = client
        .do_put(stream)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let id = String::from_utf8(results[0].app_metadata.to_vec()).unwrap();
    let mut flight = server.flight().await;
    let (back, _) = do_get(&mut flight, ticket(&id, None, None)).await.unwrap();
    assert_bit_identical(&back, &m);
}
