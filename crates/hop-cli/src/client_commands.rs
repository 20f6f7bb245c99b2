//! `hop submit`, `hop watch`, `hop result`: the router's `hop.v1.Jobs` from the command line.

use std::path::PathBuf;

use clap::Args;
use futures::StreamExt;
use hop_proto::v1::job_event::Event;
use hop_proto::v1::job_spec::Input;
use hop_proto::v1::jobs_client::JobsClient;
use hop_proto::v1::{
    GetRequest, JobEvent, JobRecord, JobSpec, JobState, SubmitRequest, WatchRequest,
};
use hop_runtime::client::ServiceChannel;
use hop_runtime::security::CallerKind;

use crate::CliError;
use crate::local;
use crate::run_command::JobOptionArgs;

#[derive(Debug, Clone, Args)]
pub struct RouterArg {
    /// The router, e.g. http://127.0.0.1:50050 (default: the local `hop up`'s).
    #[arg(long, env = "HOP_ROUTER")]
    pub router: Option<String>,
    /// A file whose content is this client's token (the `client` kind; default: the local
    /// `hop up`'s). TLS: set HOP_TLS_CERT, HOP_TLS_KEY and HOP_TLS_CA.
    #[arg(long, env = "HOP_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
}

impl RouterArg {
    async fn client(&self) -> Result<JobsClient<ServiceChannel>, CliError> {
        let token = local::caller_token(self.token_file.as_deref(), CallerKind::Client)?;
        let channel = local::router_channel(self.router.as_deref(), token).await?;
        Ok(
            JobsClient::new(channel)
                .max_decoding_message_size(hop_proto::limits::MAX_MESSAGE_BYTES),
        )
    }
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The input CSV, as the services see it (made absolute here).
    #[arg(long)]
    pub csv: PathBuf,
    /// The job's id (default: `job_<pid>_<local time>`).
    #[arg(long)]
    pub job_id: Option<String>,
    #[command(flatten)]
    pub options: JobOptionArgs,
    /// Follow the job's events until it ends, then print its result.
    #[arg(long)]
    pub watch: bool,
    #[command(flatten)]
    pub router: RouterArg,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The job to follow.
    pub job_id: String,
    /// Only events after this sequence number.
    #[arg(long, default_value_t = 0)]
    pub after: u64,
    #[command(flatten)]
    pub router: RouterArg,
}

#[derive(Debug, Args)]
pub struct ResultArgs {
    /// The job.
    pub job_id: String,
    /// Print the complete result (the engine's RunResult) as JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub router: RouterArg,
}

/// `hop submit`.
pub async fn submit(args: &SubmitArgs) -> Result<(), CliError> {
    let csv = std::fs::canonicalize(&args.csv).map_err(|source| CliError::Read {
        path: args.csv.display().to_string(),
        source,
    })?;
    let options = args.options.options();
    options.validate(usize::MAX)?;
    let job_id = args.job_id.clone().unwrap_or_else(|| {
        format!(
            "job_{}_{}",
            std::process::id(),
            chrono::Local::now().format("%Y%m%d_%H%M%S")
        )
    });
    let spec = JobSpec {
        job_id: job_id.clone(),
        input: Some(Input::CsvPath(csv.display().to_string())),
        options: Some(hop_contract::options_to_proto(&options)),
        labels: [("submitted_by".to_owned(), "hop submit".to_owned())].into(),
    };
    let mut client = args.router.client().await?;
    let reply = client
        .submit(SubmitRequest { spec: Some(spec) })
        .await
        .map_err(|s| CliError::rpc("submit", &s))?
        .into_inner();
    let side = reply
        .side()
        .as_str_name()
        .trim_start_matches("SIDE_")
        .to_lowercase();
    if reply.duplicate {
        println!("{job_id} already exists (side {side}); not run again");
    } else {
        println!("{job_id} submitted (side {side})");
    }
    if args.watch {
        follow(&mut client, &job_id, 0).await?;
        print_result(&fetch(&mut client, &job_id).await?, false)?;
    }
    Ok(())
}

/// `hop watch`.
pub async fn watch(args: &WatchArgs) -> Result<(), CliError> {
    let mut client = args.router.client().await?;
    follow(&mut client, &args.job_id, args.after).await
}

/// `hop result`.
pub async fn result(args: &ResultArgs) -> Result<(), CliError> {
    let mut client = args.router.client().await?;
    print_result(&fetch(&mut client, &args.job_id).await?, args.json)
}

async fn fetch(
    client: &mut JobsClient<ServiceChannel>,
    job_id: &str,
) -> Result<JobRecord, CliError> {
    let request = GetRequest {
        job_id: job_id.to_owned(),
    };
    Ok(client
        .get(request)
        .await
        .map_err(|s| CliError::rpc(format!("get {job_id}"), &s))?
        .into_inner())
}

/// Prints each event on a line until the final one.
async fn follow(
    client: &mut JobsClient<ServiceChannel>,
    job_id: &str,
    after: u64,
) -> Result<(), CliError> {
    let request = WatchRequest {
        job_id: job_id.to_owned(),
        after_sequence: after,
    };
    let mut stream = client
        .watch(request)
        .await
        .map_err(|s| CliError::rpc(format!("watch {job_id}"), &s))?
        .into_inner();
    while let Some(event) = stream.next().await {
        let event = event.map_err(|s| CliError::rpc(format!("watch {job_id}"), &s))?;
        println!("{}", describe(&event));
    }
    Ok(())
}

/// One line per event: `#<sequence> <what>`.
fn describe(event: &JobEvent) -> String {
    let what = match &event.event {
        Some(Event::Queued(_)) => "queued".to_owned(),
        Some(Event::Started(s)) => format!(
            "started on {} ({})",
            s.side()
                .as_str_name()
                .trim_start_matches("SIDE_")
                .to_lowercase(),
            s.engine
        ),
        Some(Event::Progress(p)) => format!(
            "{:5.1} %  size {} {:<3} {} evaluations{}",
            p.percent,
            p.portfolio_size,
            p.algorithm,
            p.evaluations,
            p.best_fitness
                .map_or_else(String::new, |f| format!(", best fitness {f}"))
        ),
        Some(Event::Finished(f)) => format!(
            "finished: best fitness {}",
            f.result.as_ref().map_or(f64::NAN, |r| r.best_fitness)
        ),
        Some(Event::Failed(f)) => format!("failed ({}): {}", f.code, f.message),
        None => "(empty event)".to_owned(),
    };
    format!("#{} {what}", event.sequence)
}

fn print_result(record: &JobRecord, json: bool) -> Result<(), CliError> {
    let state = record.state();
    let Some(result) = record
        .result
        .as_ref()
        .filter(|_| state == JobState::Succeeded)
    else {
        return Err(CliError::JobFailed {
            job_id: record.job_id.clone(),
            state: state
                .as_str_name()
                .trim_start_matches("JOB_STATE_")
                .to_lowercase(),
            message: if record.error_message.is_empty() {
                "no result yet".to_owned()
            } else {
                record.error_message.clone()
            },
        });
    };
    if json {
        println!("{}", result.result_json);
        return Ok(());
    }
    println!("job:        {}", record.job_id);
    println!(
        "side:       {} (engine {})",
        result
            .side()
            .as_str_name()
            .trim_start_matches("SIDE_")
            .to_lowercase(),
        result.engine
    );
    println!(
        "best:       fitness {} by {} at size {}",
        result.best_fitness, result.best_algorithm, result.best_size
    );
    for a in &result.algorithms {
        println!(
            "  size {:>3} {:<3} fitness {:>22} evaluations {:>8} {:.3} s",
            a.portfolio_size, a.algorithm, a.fitness, a.evaluations, a.seconds
        );
    }
    println!("engine time: {:.3} s", result.seconds);
    Ok(())
}
