//! Every service killed with SIGKILL at a random point of a job and started again (same settings,
//! address and data directory), in each setup that puts it on the job's path: blue only
//! (`legacy` stage), green only (`green`) and blue primary with a green shadow compared by the
//! validator (`dual`). After every run the promises of SPEC 3 are checked (see tests/README.md):
//! no job lost, none run twice, no run folder that looks finished but is not, the share
//! consistent.
//!
//! `HOP_KILL_RUNS` runs per service (default 1), `HOP_KILL_SEED` replays the kill points of an
//! earlier run (the seed is printed). The kill point is a seeded fraction of the job's life (drop
//! of the job file to its settled record, measured once per setup on an unkilled job). One
//! cluster per service serves all its runs, each run with a fresh job id.
//! `HOP_KILL_RUNS=20 cargo test -p hop-e2e --release --test kill_restart -- --nocapture`.

#[path = "kill_restart/checks.rs"]
mod checks;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::{Duration, Instant};

use checks::{Finding, Share};
use hop_e2e::Cluster;
use hop_proto::v1::{GetRequest, JobRecord, JobState, ValidationOutcome};

const FIXTURE: &str = "sensex_2500x82.csv";
const SERVICES: [&str; 6] = [
    "ingest",
    "compute",
    "legacy",
    "validator",
    "router",
    "bridge",
];
/// A job with no completed or failed file this long after its drop counts as lost.
const LOST_AFTER: Duration = Duration::from_secs(240);

/// A job of a few seconds: two algorithms on the 2,500-strategy fixture.
fn fields() -> Vec<(&'static str, &'static str)> {
    vec![
        ("input_file", "\"sensex_2500x82.csv\""),
        ("portfolio_size", "35"),
        ("job_type", "\"complete_optimization\""),
        ("timestamp", "\"2025-07-30 15:45:00\""),
        ("algorithms", "[\"SA\", \"HC\"]"),
        ("budget", "2000000"),
    ]
}

/// Where the router sends the job: the stage in its watched cut-over file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Setup {
    Blue,
    Green,
    Shadow,
}

impl Setup {
    fn stage(self) -> &'static str {
        match self {
            Setup::Blue => "legacy",
            Setup::Green => "green",
            Setup::Shadow => "dual",
        }
    }
}

/// The setups that put `victim` on the job's path (green fetches its matrix through ingest).
fn setups(victim: &str) -> &'static [Setup] {
    match victim {
        "ingest" | "compute" => &[Setup::Green, Setup::Shadow],
        "legacy" => &[Setup::Blue, Setup::Shadow],
        "validator" => &[Setup::Shadow],
        _ => &[Setup::Blue, Setup::Green, Setup::Shadow],
    }
}

/// splitmix64: the kill points, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn fraction(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
    })
}

/// One service's runs.
#[derive(Debug, Default)]
struct Row {
    runs: u32,
    completed: u32,
    failed: u32,
    lost: u32,
    duplicates: u32,
    bad_folders: u32,
    leftovers: u32,
    seconds: f64,
}

#[tokio::test(flavor = "multi_thread")]
async fn every_service_killed_mid_job_loses_and_repeats_nothing() {
    let runs = env_number("HOP_KILL_RUNS").unwrap_or(1).max(1);
    let seed = env_number("HOP_KILL_SEED").unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        now.map_or(1, |d| d.as_nanos() as u64)
    });
    println!("kill_restart: {runs} run(s) per service, seed {seed} (replay: HOP_KILL_SEED={seed})");
    let mut rng = Rng(seed);
    let mut lives: HashMap<Setup, Duration> = HashMap::new();
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut leftovers = Vec::new();
    for victim in SERVICES {
        let started = Instant::now();
        let order = setups(victim);
        let first = (rng.fraction() * order.len() as f64) as usize;
        let mut cluster = Cluster::start_with_stage(
            100,
            Some(&stage_file(order[first])),
            &[
                ("router", "cutover.max_error_rate=1"),
                ("router", "cutover.max_runtime=1h"),
            ],
        );
        cluster.put_fixture(FIXTURE);
        let mut row = Row::default();
        for run in 0..runs {
            let setup = order[(first + run as usize) % order.len()];
            use_setup(&cluster, setup).await;
            if let Entry::Vacant(entry) = lives.entry(setup) {
                entry.insert(calibrate(&cluster, setup).await);
            }
            let fraction = rng.fraction();
            let job_id = format!("job_kill_{victim}_{run:02}");
            let finding = kill_run(&mut cluster, victim, &job_id, lives[&setup], fraction).await;
            println!(
                "{victim:9} run {:2}/{runs} [{:6}] killed at {fraction:.2} of the job ({}): {}",
                run + 1,
                setup.stage(),
                finding.phase,
                finding.outcome
            );
            row.runs += 1;
            match finding.outcome.as_str() {
                "completed" => row.completed += 1,
                "failed" => row.failed += 1,
                _ => row.lost += 1,
            }
            row.duplicates += u32::from(finding.duplicate);
            row.bad_folders += finding.bad_folders;
            row.leftovers += finding.leftovers.len() as u32;
            leftovers.extend(finding.leftovers.iter().map(|l| format!("{job_id}: {l}")));
            problems.extend(finding.problems.iter().map(|p| format!("{job_id}: {p}")));
            if finding.outcome == "lost" {
                break;
            }
        }
        row.seconds = started.elapsed().as_secs_f64();
        rows.push((victim, row));
    }
    print_table(&rows);
    for leftover in &leftovers {
        println!("leftover: {leftover}");
    }
    assert!(
        problems.is_empty(),
        "seed {seed}: {} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn stage_file(setup: Setup) -> String {
    format!("stage = \"{}\"\n", setup.stage())
}

/// Writes the setup's stage and waits until the router routes by it.
async fn use_setup(cluster: &Cluster, setup: Setup) {
    cluster.write_stage(&stage_file(setup));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = cluster.cutover().await;
        assert!(!status.latched, "the router rolled back: {status:?}");
        if status.stage == setup.stage() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the router never took stage {}: {status:?}",
            setup.stage()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An unkilled job's life in `setup`: from the drop of its file to its settled record.
async fn calibrate(cluster: &Cluster, setup: Setup) -> Duration {
    let job_id = format!("job_kill_calibrate_{}", setup.stage());
    let start = Instant::now();
    cluster.drop_job(&job_id, &fields());
    let (outcome, doc) = cluster.wait_outcome(&job_id, LOST_AFTER);
    assert_eq!(outcome, "completed", "the unkilled job: {doc:#}");
    settle(cluster, &job_id)
        .await
        .unwrap_or_else(|e| panic!("the unkilled job: {e}"));
    let life = start.elapsed();
    println!("{:6} job life without a kill: {life:.2?}", setup.stage());
    life
}

/// The job's record once it is final and its shadow (if any) compared.
async fn settle(cluster: &Cluster, job_id: &str) -> Result<JobRecord, String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut jobs = cluster.jobs().await;
    loop {
        let request = GetRequest {
            job_id: job_id.to_owned(),
        };
        let record = jobs.get(request).await.map(|r| r.into_inner());
        if let Ok(record) = &record
            && matches!(record.state(), JobState::Succeeded | JobState::Failed)
            && record.validation() != ValidationOutcome::Pending
        {
            return Ok(record.clone());
        }
        if Instant::now() >= deadline {
            return Err(format!("the router's record never settled: {record:?}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Drops a job, kills `victim` after `fraction` of `life`, restarts it and checks the promises.
async fn kill_run(
    cluster: &mut Cluster,
    victim: &str,
    job_id: &str,
    life: Duration,
    fraction: f64,
) -> Finding {
    let share = Share::new(cluster.share());
    let hidden_before = share.hidden_entries();
    let dropped = Instant::now();
    cluster.drop_job(job_id, &fields());
    // The kill point itself, not a wait for a condition.
    tokio::time::sleep_until((dropped + life.mul_f64(fraction)).into()).await;
    let pid = cluster.stack.pid(victim).expect("the victim runs");
    cluster.stack.kill(victim);
    let mut finding = Finding::new(share.phase(job_id));
    cluster
        .stack
        .restart(victim)
        .unwrap_or_else(|e| panic!("{victim} restarts: {e}"));
    let Some(outcome) = share.wait_outcome(job_id, dropped + LOST_AFTER) else {
        finding.lost(LOST_AFTER);
        return finding;
    };
    finding.outcome = outcome.to_owned();
    let record = settle(cluster, job_id).await;
    share.check(job_id, &mut finding, victim, pid, &hidden_before);
    match record {
        Ok(record) => finding.check_record(&record, &share, job_id),
        Err(e) => finding.problems.push(e),
    }
    finding
}

fn print_table(rows: &[(&str, Row)]) {
    println!(
        "\n| service | runs | completed | failed | lost | duplicates | bad folders | leftovers \
         | seconds |\n|---|---|---|---|---|---|---|---|---|"
    );
    for (service, r) in rows {
        println!(
            "| {service} | {} | {} | {} | {} | {} | {} | {} | {:.1} |",
            r.runs,
            r.completed,
            r.failed,
            r.lost,
            r.duplicates,
            r.bad_folders,
            r.leftovers,
            r.seconds
        );
    }
}
