//! The operator CLI. `cdp` with no command serves.

use crate::{Application, BoxError, Settings};
use cdp_app::AppError;
use cdp_domain::auth::{Grants, Role};
use clap::{Parser, Subcommand};
use std::io::{Read, Write};

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
    /// Fill an empty database with a demo retailer: a Vietnamese dairy brand's year.
    Demo {
        /// People in the data set.
        #[arg(long, default_value_t = 2000)]
        customers: usize,
        /// The same seed (on the same day) gives the same data.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Import a POS export (CSV) of customers or orders into the database.
    Import {
        /// customers or orders.
        #[arg(value_parser = ["customers", "orders"])]
        kind: String,
        /// The CSV file (header row first; comma, semicolon or tab separated).
        file: std::path::PathBuf,
        /// Imported orders earn loyalty points and are announced to destinations, as live orders are.
        #[arg(long)]
        points: bool,
        /// The offset of times written without one.
        #[arg(long, default_value = "+07:00", allow_hyphen_values = true)]
        utc_offset: String,
        /// Write every refused row to this CSV file (row, field, code, message).
        #[arg(long)]
        errors: Option<std::path::PathBuf>,
    },
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
        /// admin, analyst or agent.
        #[arg(long)]
        role: String,
    },
    /// List operators (never their password hashes).
    List,
    /// Disable an operator: no new tokens, and the tokens already issued stop working.
    Disable { username: String },
    /// Enable a disabled operator again.
    Enable { username: String },
    /// Set a new password, from CDP_PASSWORD or stdin.
    ResetPassword { username: String },
}

/// Where an operator command reads and writes: the terminal for `cdp`, buffers in tests.
pub struct Console<'a> {
    pub input: &'a mut dyn Read,
    pub output: &'a mut dyn Write,
    /// A password given in the environment (`CDP_PASSWORD`); else one is read from `input`.
    pub password: Option<String>,
}

impl Console<'_> {
    fn password(&mut self) -> Result<String, BoxError> {
        match self.password.take().filter(|p| !p.is_empty()) {
            Some(p) => Ok(p),
            None => {
                let mut s = String::new();
                self.input.read_to_string(&mut s)?;
                Ok(s.trim_end_matches(['\r', '\n']).to_string())
            }
        }
    }
}

pub fn run() -> Result<(), BoxError> {
    let cli = Cli::parse();
    let settings = Settings::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        other => {
            let (stdin, stdout) = (std::io::stdin(), std::io::stdout());
            let console = Console { input: &mut stdin.lock(), output: &mut stdout.lock(), password: std::env::var("CDP_PASSWORD").ok() };
            execute(other, &settings, console)
        }
    }
}

/// Runs an operator command given as `cdp`'s arguments (without the program
/// name), against the database `settings` name. `serve` is not one of them.
pub fn command<I, T>(args: I, settings: &Settings, console: Console<'_>) -> Result<(), BoxError>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::try_parse_from(std::iter::once(std::ffi::OsString::from("cdp")).chain(args.into_iter().map(Into::into)))?;
    match cli.command {
        None | Some(Command::Serve) => Err("`serve` runs the server; it is not an operator command".into()),
        Some(other) => execute(other, settings, console),
    }
}

fn execute(command: Command, settings: &Settings, console: Console<'_>) -> Result<(), BoxError> {
    let out = &mut *console.output;
    match command {
        Command::Serve => unreachable!("served by `run`"),
        Command::Migrate => {
            let db = settings.connect_db()?;
            let applied = db.migrate()?;
            for name in &applied {
                writeln!(out, "applied {name}")?;
            }
            match applied.len() {
                0 => writeln!(out, "no pending migrations: the {} database is up to date", db.backend.as_str())?,
                n => writeln!(
                    out,
                    "applied {n} migration{}: the {} database is up to date",
                    if n == 1 { "" } else { "s" },
                    db.backend.as_str()
                )?,
            }
            Ok(())
        }
        Command::Openapi => {
            writeln!(out, "{}", serde_json::to_string_pretty(&cdp_api::openapi())?)?;
            Ok(())
        }
        Command::Keys(k) => keys_command(settings, k, out),
        Command::Demo { customers, seed } => {
            let started = std::time::Instant::now();
            let app = settings.app()?;
            let s = app.load_demo(&cdp_app::demo::DemoOptions { customers, seed }, &mut |step| eprintln!("demo: {step}"))?;
            writeln!(
                out,
                "demo data loaded in {:.1} s: {} customers ({} buying), {} events, {} orders, {} refunds, {} survey answers, {} cases, {} segments",
                started.elapsed().as_secs_f64(),
                s.customers,
                s.profiles,
                s.events,
                s.orders,
                s.refunds,
                s.feedback,
                s.cases,
                s.segments
            )?;
            Ok(())
        }
        Command::Import { kind, file, points, utc_offset, errors } => {
            let kind = cdp_domain::import::ImportKind::parse(&kind).ok_or("kind must be customers or orders")?;
            let opts = cdp_app::imports::ImportOptions { points, utc_offset, ..cdp_app::imports::ImportOptions::new(kind) };
            crate::import::run(&settings.app()?, &file, &opts, errors.as_deref(), out)
        }
        Command::Users(u) => users_command(settings, u, console),
    }
}

fn users_command(settings: &Settings, cmd: UsersCommand, mut console: Console<'_>) -> Result<(), BoxError> {
    match cmd {
        UsersCommand::Create { username, role } => {
            let role: Role = role.parse()?;
            let password = console.password()?;
            let row = settings.app()?.create_user(&username, role, &password)?;
            writeln!(console.output, "created {} user {} ({})", row.role, row.username, row.id)?;
        }
        UsersCommand::List => {
            for u in settings.app()?.list_users()? {
                let state = if u.disabled_at.is_some() { "disabled" } else { "active" };
                let created = cdp_store::from_micros(u.created_at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                writeln!(console.output, "{}\t{}\t{}\t{}\t{}", u.id, u.username, u.role, state, created)?;
            }
        }
        UsersCommand::Disable { username } => {
            let u = settings.app()?.set_user_disabled(&username, true).map_err(no_user(&username))?;
            writeln!(console.output, "disabled user {} ({})", u.username, u.id)?;
        }
        UsersCommand::Enable { username } => {
            let u = settings.app()?.set_user_disabled(&username, false).map_err(no_user(&username))?;
            writeln!(console.output, "enabled user {} ({})", u.username, u.id)?;
        }
        UsersCommand::ResetPassword { username } => {
            let password = console.password()?;
            settings.app()?.reset_password(&username, &password).map_err(no_user(&username))?;
            writeln!(console.output, "set a new password for user {username}")?;
        }
    }
    Ok(())
}

/// A missing user named in the message; other errors as they are.
fn no_user(username: &str) -> impl Fn(AppError) -> BoxError + '_ {
    move |e| match e {
        AppError::NotFound(_) => format!("no user named `{username}`").into(),
        e => e.into(),
    }
}

fn keys_command(settings: &Settings, cmd: KeysCommand, out: &mut dyn Write) -> Result<(), BoxError> {
    let app = settings.app()?;
    match cmd {
        KeysCommand::Create { name, scopes, source } => {
            let grants = Grants::from_text(&scopes.join(" "))?;
            let (row, key) = app.issue_key(&name, &grants, source.as_deref())?;
            writeln!(out, "created key {} ({}) with scopes: {}", row.id, row.name, row.scopes)?;
            writeln!(out, "{key}")?;
        }
        KeysCommand::List => {
            for k in app.list_keys()? {
                let state = if k.revoked_at.is_some() { "revoked" } else { "active" };
                writeln!(out, "{}\t{}\t{}…\t{}\t{}", k.id, state, k.prefix, k.scopes, k.name)?;
            }
        }
        KeysCommand::Revoke { id } => {
            let k = app.revoke_key(&id)?;
            writeln!(out, "revoked key {} ({})", k.id, k.name)?;
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
