//! The operator CLI. `cdp` with no command serves.

use crate::{Application, BoxError, Settings};
use cdp_api::routes::keys::issue_key;
use cdp_api::secrets;
use cdp_domain::auth::{Grants, Role};
use cdp_store::repo::{keys, users};
use clap::{Parser, Subcommand};
use std::io::Read;

#[derive(Parser)]
#[command(name = "cdp", version, about = "Headless customer-data platform")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage operator accounts.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key; the key itself is the last line of stdout (shown once).
    Create {
        #[arg(long)]
        name: String,
        /// Repeat for several scopes: events:write, profiles:read, …, admin.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Bind the key to a source (its events get the source's channel).
        #[arg(long)]
        source: Option<String>,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id.
    Revoke { id: String },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create an operator; the password comes from CDP_PASSWORD or stdin.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        role: String,
    },
}

pub fn run() -> Result<(), BoxError> {
    let cli = Cli::parse();
    let settings = Settings::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate => {
            let db = settings.open_db()?;
            let applied = db.migrate()?;
            println!("database is up to date ({} backend)", db.backend.as_str());
            let _ = applied;
            Ok(())
        }
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&cdp_api::openapi())?);
            Ok(())
        }
        Command::Keys(k) => keys_command(&settings, k),
        Command::Users(UsersCommand::Create { username, role }) => {
            let role: Role = role.parse()?;
            let password = match std::env::var("CDP_PASSWORD") {
                Ok(p) if !p.is_empty() => p,
                _ => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s)?;
                    s.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            if password.chars().count() < 10 {
                return Err("the password must be at least 10 characters".into());
            }
            let hash = secrets::hash_password(&password)?;
            let db = settings.open_db()?;
            let row = users::UserRow {
                id: cdp_store::new_id(),
                username: username.trim().to_string(),
                password_hash: hash,
                role: role.as_str().into(),
                created_at: cdp_store::now_micros(),
                disabled_at: None,
            };
            db.write(|c| users::insert(c, &row))?;
            println!("created {} user {} ({})", row.role, row.username, row.id);
            Ok(())
        }
    }
}

fn keys_command(settings: &Settings, cmd: KeysCommand) -> Result<(), BoxError> {
    let db = settings.open_db()?;
    match cmd {
        KeysCommand::Create { name, scopes, source } => {
            let grants = Grants::from_text(&scopes.join(" "))?;
            let (row, key) = db.write(|c| issue_key(c, &name, &grants, source.as_deref()))?;
            println!("created key {} ({}) with scopes: {}", row.id, row.name, row.scopes);
            println!("{key}");
        }
        KeysCommand::List => {
            for k in db.read(keys::list)? {
                let state = if k.revoked_at.is_some() { "revoked" } else { "active" };
                println!("{}\t{}\t{}…\t{}\t{}", k.id, state, k.prefix, k.scopes, k.name);
            }
        }
        KeysCommand::Revoke { id } => {
            let k = db.write(|c| keys::revoke(c, &id, cdp_store::now_micros()))?;
            println!("revoked key {} ({})", k.id, k.name);
        }
    }
    Ok(())
}

fn serve(settings: Settings) -> Result<(), BoxError> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(&settings)?;
        app.run_until_stopped().await?;
        log::info!("stopped");
        Ok(())
    })
}
