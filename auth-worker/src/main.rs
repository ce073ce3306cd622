use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// The auth worker: accounts and tokens as a NATS service.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the auth endpoints (the default).
    Serve,
    /// Give an existing account the admin role.
    GrantAdmin { username: String },
    /// Write a new Ed25519 key pair (private key mode 0600) for signing tokens.
    Keygen {
        #[arg(long)]
        private: PathBuf,
        #[arg(long)]
        public: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let command = Cli::parse().command.unwrap_or(Command::Serve);
    if !matches!(command, Command::Keygen { .. }) {
        common::telemetry::init("auth-worker");
    }
    match command {
        Command::Serve => {
            let settings = auth_worker::Settings::from_env()?;
            auth_worker::run(settings, common::service::shutdown_signal()).await?;
        }
        Command::GrantAdmin { username } => {
            let settings = auth_worker::Settings::from_env()?;
            let accounts = auth_worker::accounts(&settings).await?;
            let found = accounts.promote(&username).await?;
            anyhow::ensure!(found, "no account named {username}");
            println!("{username} is now an admin");
        }
        Command::Keygen { private, public } => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let (private_pem, public_pem) = auth_worker::keys::generate();
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&private)
                .and_then(|mut f| f.write_all(private_pem.as_bytes()))
                .with_context(|| format!("writing {}", private.display()))?;
            std::fs::write(&public, public_pem).with_context(|| format!("writing {}", public.display()))?;
        }
    }
    Ok(())
}
