//! The `mentorq` command: `serve` (the default) and `user add`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use mentorq::config::Config;
use mentorq::domain::user::{NewAccount, Role, Roles};
use std::io::Read;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "mentorq",
    version,
    about = "The mentoring desk of a hackathon in one binary."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The configuration file; a missing file means the defaults.
    #[arg(long, global = true, default_value = "config.toml")]
    config: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Start the server (the default).
    Serve,
    /// Manage user accounts (on the data folder of a stopped server).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Write a backup of a stopped server's data folder to FILE (as `GET /api/admin/backup/`).
    Backup {
        /// The data folder (default: `store.path` of the configuration).
        #[arg(long)]
        data: Option<PathBuf>,
        file: PathBuf,
    },
    /// Build a data folder (absent or empty) from a backup FILE.
    Restore {
        file: PathBuf,
        #[arg(long)]
        data: PathBuf,
    },
    /// Write every record of one kind, oldest first, from a stopped server's data folder:
    /// tickets, feedback, sessions, availability, events or users.
    Export {
        kind: String,
        /// csv or jsonl.
        #[arg(long, default_value = "csv")]
        format: String,
        /// The data folder (default: `store.path` of the configuration).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Where to write (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a local account; the password is read from standard input.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// A role to grant (repeatable): mentor, organizer, director.
        #[arg(long = "role")]
        roles: Vec<Role>,
    },
}

fn main() -> std::process::ExitCode {
    return_large_allocations_at_once();
    let cli = Cli::parse();
    init_logging();
    let result = actix_web::rt::System::new().block_on(async move {
        let (config, unknown) = Config::load(&cli.config)?;
        for key in unknown {
            tracing::warn!(key, "unknown configuration key ignored");
        }
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(config).await,
            Command::User {
                command: UserCommand::Add { email, name, roles },
            } => add_user(config, email, name, roles).await,
            Command::Export {
                kind,
                format,
                data,
                out,
            } => export(config, &kind, &format, data, out),
            Command::Backup { data, file } => backup(config, data, &file),
            Command::Restore { file, data } => restore(&file, &data),
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mentorq: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_web::middleware::logger=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, not in a log file or journal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

async fn serve(config: Config) -> anyhow::Result<()> {
    match raise_open_file_limit() {
        Ok(files) => tracing::info!(
            open_files = files,
            connections = files.saturating_sub(FILES_KEPT_BACK),
            "open-file limit at its hard limit: room for about {} connections",
            files.saturating_sub(FILES_KEPT_BACK)
        ),
        Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
    }
    let host = config.http.host.clone();
    let app = mentorq::Application::build(config).await?;
    stop_on_signals(app.handle())?;
    // On stdout whatever the log level: scripts using port 0 read it.
    println!("listening on http://{host}:{}", app.port());
    tracing::info!(port = app.port(), "listening");
    app.run_until_stopped().await?;
    tracing::info!("stopped; the store is durable");
    Ok(())
}

/// SIGINT or SIGTERM: stop accepting, finish in-flight requests, then the caller
/// makes the store durable. The handlers exist before this returns.
fn stop_on_signals(server: actix_web::dev::ServerHandle) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    actix_web::rt::spawn(async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
            _ = interrupt.recv() => tracing::info!("SIGINT: stopping"),
        }
        server.stop(true).await;
    });
    Ok(())
}

async fn add_user(config: Config, email: String, name: String, roles: Vec<Role>) -> anyhow::Result<()> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("cannot read the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']).to_string();
    let account = NewAccount::parse(Some(&email), Some(&password), Some(&name)).map_err(|errors| {
        let lines: Vec<String> = errors
            .0
            .iter()
            .map(|(field, problems)| format!("{field} {}", problems.join(", ")))
            .collect();
        anyhow::anyhow!("invalid account: {}", lines.join("; "))
    })?;
    let user = mentorq::startup::add_local_user(config, account, Roles::from_iter(roles)).await?;
    println!(
        "created user {} <{}> with roles {}",
        user.id,
        user.email,
        user.roles.names().join(", ")
    );
    Ok(())
}

fn backup(config: Config, data: Option<PathBuf>, file: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    let path = data.unwrap_or(config.store.path.clone());
    let store = mentorq::store::Store::open_with_cache(&path, config.store.cache_capacity_bytes)?;
    let snapshot = store.snapshot()?;
    let seq = snapshot.seq();
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(file).with_context(|| format!("cannot create {}", file.display()))?,
    );
    for piece in snapshot.into_pieces() {
        out.write_all(&piece)?;
    }
    out.into_inner()?.sync_all()?;
    println!(
        "backup of {} written to {} (up to event {seq})",
        path.display(),
        file.display()
    );
    Ok(())
}

fn restore(file: &std::path::Path, data: &std::path::Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let seq = mentorq::store::backup::restore(&bytes, data)?;
    println!(
        "restored {} into {} (up to event {seq})",
        file.display(),
        data.display()
    );
    Ok(())
}

fn export(
    config: Config,
    kind: &str,
    format: &str,
    data: Option<PathBuf>,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    use mentorq::api::export::{pages, Format, Kind};
    use std::io::Write;
    let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
    let kind =
        Kind::parse(kind).with_context(|| format!("unknown kind `{kind}`: one of {}", names.join(", ")))?;
    let format = Format::parse(format).with_context(|| format!("unknown format `{format}`: csv or jsonl"))?;
    let path = data.unwrap_or(config.store.path.clone());
    let store = mentorq::store::Store::open_with_cache(&path, config.store.cache_capacity_bytes)?;
    let base = config
        .http
        .public_base()
        .unwrap_or_else(|| format!("http://{}:{}", config.http.host, config.http.port));
    let mut sink: Box<dyn Write> = match &out {
        Some(file) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(file).with_context(|| format!("cannot create {}", file.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    for page in pages(&store, kind, format, base) {
        sink.write_all(&page?)?;
    }
    sink.flush()?;
    Ok(())
}

/// Descriptors the server holds besides client sockets (the store's files, listeners,
/// the runtime's), kept back from the connection count it reports.
const FILES_KEPT_BACK: u64 = 64;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (distributions start processes at
/// a soft 1,024, which caps the WebSocket clients one server can hold); the new soft
/// limit.
fn raise_open_file_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(limit.rlim_cur)
}

/// Makes glibc serve every allocation of 1 MiB or more with its own mapping, given
/// back to the OS when freed. Left alone, glibc raises that threshold after the first
/// such free, and each thread's arena then keeps argon2's 19 MiB buffers for good
/// (measured: 146 MiB at rest after five logins instead of ~14 MiB).
fn return_large_allocations_at_once() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any other
    // thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        // A fixed mmap threshold also fixes the trim threshold at 128 KiB, so every free
        // near the heap's top would return memory to the kernel at once; writes at
        // concurrency 64 measured 2 % faster with it at 8 MiB.
        libc::mallopt(libc::M_TRIM_THRESHOLD, 8 << 20);
    }
}
