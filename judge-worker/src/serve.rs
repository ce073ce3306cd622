//! `judge-worker serve`: the judge as a NATS participant. For now it joins NATS as the `judge`
//! service, advertising the languages this machine can run (with versions) in the service's
//! metadata (`nats micro info judge`), and stops cleanly on SIGTERM/SIGINT. Pulling grading jobs
//! from JetStream comes with the grading pipeline.

use std::collections::HashMap;

use async_nats::service::ServiceExt;
use common::nats::NatsSettings;

use crate::{Judge, JudgeConfig};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] common::config::ConfigError),
    #[error("judge: {0}")]
    Judge(#[from] crate::JudgeError),
    #[error("nats connect: {0}")]
    Connect(#[from] async_nats::ConnectError),
    #[error("nats: {0}")]
    Nats(async_nats::Error),
}

/// The languages as service metadata: `languages` is a JSON array of `{id, name, version}`.
pub fn language_metadata(judge: &Judge) -> HashMap<String, String> {
    let languages = serde_json::to_string(&judge.languages()).unwrap_or_else(|_| "[]".to_owned());
    HashMap::from([("languages".to_owned(), languages)])
}

/// Runs until SIGTERM or SIGINT.
pub async fn serve(config: JudgeConfig) -> Result<(), ServeError> {
    let settings = NatsSettings::from_env("judge")?;
    let judge = tokio::task::spawn_blocking(move || Judge::new(config))
        .await
        .expect("preparing the judge does not panic")?;
    let client = common::nats::connect(&settings, "judge-worker").await?;
    let service = client
        .service_builder()
        .description("Compiles and runs submissions in a sandbox")
        .metadata(language_metadata(&judge))
        .start("judge", env!("CARGO_PKG_VERSION"))
        .await
        .map_err(ServeError::Nats)?;
    let offered: Vec<String> = judge.languages().into_iter().map(|l| l.id).collect();
    tracing::info!(languages = ?offered, "judge service ready");
    common::service::shutdown_signal().await;
    service.stop().await.map_err(ServeError::Nats)?;
    common::service::drain(&client).await;
    tracing::info!("judge worker stopped");
    Ok(())
}
