#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init("edge");
    let settings = edge::Settings::from_env()?;
    let edge = edge::Edge::bind(settings).await?;
    println!("edge listening on http://{}", edge.local_addr());
    edge.run(common::service::shutdown_signal()).await?;
    Ok(())
}
