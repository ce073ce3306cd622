use clap::{Parser, Subcommand};

/// The submission worker: problems and submissions as a NATS service.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve (the default).
    Serve,
    /// Create the JetStream streams, consumers and the package bucket (operator credentials:
    /// NATS_USER=admin).
    Provision,
    /// Check and store problem packages (directories; each named after its folder). Each new
    /// version's own submissions are judged by the running judges (none running: the version is
    /// stored unverified), unless `--no-verify`.
    Import {
        dirs: Vec<std::path::PathBuf>,
        #[arg(long)]
        no_verify: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init("submission-worker");
    match Cli::parse().command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let settings = submission_worker::Settings::from_env()?;
            submission_worker::run(settings, common::service::shutdown_signal()).await?;
        }
        Command::Provision => {
            let settings = common::nats::NatsSettings::from_env("admin")?;
            let client = common::nats::connect(&settings, "provision").await?;
            let js = async_nats::jetstream::new(client.clone());
            let provisioning = common::jobs::Provisioning {
                replicas: common::nats::replicas_from_env()?,
                ..Default::default()
            };
            // A cluster that has just started has no JetStream meta leader for a few seconds
            // (an election takes 4–12 s): retry for a minute before giving up.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            let mut pause = std::time::Duration::from_millis(250);
            loop {
                match common::jobs::provision_with(&js, &provisioning).await {
                    Ok(()) => break,
                    Err(e) if std::time::Instant::now() < deadline => {
                        tracing::warn!(error = %e, "provisioning failed; retrying");
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(std::time::Duration::from_secs(4));
                    }
                    Err(e) => anyhow::bail!("provisioning: {e}"),
                }
            }
            client.flush().await?;
            println!("streams, consumers and the package bucket are ready");
        }
        Command::Import { dirs, no_verify } => {
            let settings = submission_worker::Settings::from_env()?;
            let svc = submission_worker::Service::connect(&settings).await?;
            for dir in dirs {
                let zip = problem_package::pack_zip(&dir)?;
                let id = dir.file_name().map(|n| n.to_string_lossy().into_owned());
                match submission_worker::problems::import(&svc, id, zip.into(), !no_verify).await {
                    Ok((p, _)) => println!(
                        "imported {} (version {} in use, newest {})",
                        p.id,
                        p.version,
                        p.latest_version.max(p.version)
                    ),
                    Err(e) => anyhow::bail!("{}: {e}", dir.display()),
                }
            }
            svc.client.flush().await?;
        }
    }
    Ok(())
}
