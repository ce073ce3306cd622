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
            common::jobs::provision(&js)
                .await
                .map_err(|e| anyhow::anyhow!("provisioning: {e}"))?;
            client.flush().await?;
            println!("streams, consumers and the package bucket are ready");
        }
    }
    Ok(())
}
