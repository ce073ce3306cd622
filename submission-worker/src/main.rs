//! The submission worker. For now it only joins NATS as the `submission` service (visible to
//! `nats micro ls`) and stops cleanly; problems, submissions and comments come with the grading
//! pipeline.

use common::nats::NatsSettings;
use common::subjects::submission;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init("submission-worker");
    let settings = NatsSettings::from_env("submission")?;
    let client = common::nats::connect(&settings, "submission-worker").await?;
    let service = common::service::start_service(
        &client,
        submission::SERVICE,
        submission::QUEUE_GROUP,
        "Problems, submissions and comments",
    )
    .await
    .map_err(|e| anyhow::anyhow!("starting the service: {e}"))?;
    tracing::info!("submission service ready");
    common::service::shutdown_signal().await;
    service
        .stop()
        .await
        .map_err(|e| anyhow::anyhow!("stopping the service: {e}"))?;
    common::service::drain(&client).await;
    tracing::info!("submission worker stopped");
    Ok(())
}
