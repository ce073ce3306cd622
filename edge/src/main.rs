use clap::Parser;

/// The HTTP edge: serves the API and the web page, turning HTTP requests into NATS requests.
/// Every setting comes from the environment (EDGE_ADDR, NATS_*, JWT_PUBLIC_KEY, ...; see the
/// README's configuration table).
#[derive(Parser)]
#[command(version, about)]
struct Cli {}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // No arguments; parsing still answers --help and --version, and refuses anything else (so a
    // mistyped compose command fails instead of starting a server that ignores it).
    Cli::parse();
    common::telemetry::init("edge");
    let settings = edge::Settings::from_env()?;
    let edge = edge::Edge::bind(settings).await?;
    println!("edge listening on http://{}", edge.local_addr());
    edge.run(common::service::shutdown_signal()).await?;
    Ok(())
}
