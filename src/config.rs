//! Configuration: `config.toml` (every key optional, defaults below), then
//! `MENTORQ__SECTION__KEY=value` environment overrides.
//!
//! An invalid value stops start-up with a message naming the key; an unknown key is
//! only a warning, so a config written for a newer or older release still starts.

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Config {
    pub http: HttpConfig,
    pub store: StoreConfig,
    pub auth: AuthConfig,
    pub queue: QueueConfig,
    pub slack: SlackConfig,
    pub sessions: SessionsConfig,
    pub realtime: RealtimeConfig,
    pub compat: CompatConfig,
    pub metrics: MetricsConfig,
    /// Outbound webhooks (`[[webhooks]]`), each its own ordered stream of events.
    pub webhooks: Vec<WebhookConfig>,
    pub email: EmailConfig,
}

/// `[email]`: the SMTP relay e-mails go through. Without `smtp_url`, none are sent.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct EmailConfig {
    /// `smtp://host:port` (plain), `smtp://host:port?tls=required` (STARTTLS) or
    /// `smtps://host:port` (TLS from the start).
    pub smtp_url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sender, e.g. `Mentoring desk <desk@example.org>`.
    pub from: String,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            smtp_url: None,
            username: None,
            password: None,
            from: "mentorq <mentorq@localhost>".into(),
        }
    }
}

/// One `[[webhooks]]` entry.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct WebhookConfig {
    pub url: String,
    /// Event kinds to send (`ticket.created`, …), or `["*"]` for all.
    #[serde(default = "every_event")]
    pub events: Vec<String>,
    #[serde(default)]
    pub format: WebhookFormat,
    /// For `standard`: `whsec_<base64>`, or any other string of at least 24 bytes.
    pub secret: Option<String>,
    /// How long one event is retried before it is skipped (and logged).
    #[serde(default = "one_day")]
    pub retry_hours: u64,
}

fn every_event() -> Vec<String> {
    vec!["*".into()]
}

fn one_day() -> u64 {
    24
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// The Standard Webhooks specification: signed JSON.
    #[default]
    Standard,
    /// `{"text": "…"}`, as Slack's and Discord's incoming webhooks take it.
    Slack,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct MetricsConfig {
    /// When set, `GET /metrics` asks for `Authorization: Bearer <token>`.
    pub token: Option<String>,
}

/// Shapes for HackRU mentorq's own React frontend, where it cannot agree with the
/// contract's defaults.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct CompatConfig {
    /// The slack link as a bare JSON string, refresh tokens that do not rotate, and up
    /// to 5 active tickets per participant (each unless set on its own).
    pub hackru_frontend: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    pub host: String,
    /// 0 picks any free port; the bound address is printed on stdout.
    pub port: u16,
    /// Origins allowed to call the API from a browser; empty allows none but our own.
    pub cors_origins: Vec<String>,
    pub body_limit_bytes: usize,
    /// How long a graceful stop waits for open connections.
    pub shutdown_timeout_seconds: u64,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// The kernel send buffer of each connection in bytes; 0 leaves it to the kernel's
    /// autotuning. A small value bounds what a client that stops reading can hold in
    /// kernel memory before its outbox fills and it is closed (4008).
    pub socket_send_buffer_bytes: usize,
    /// Reverse proxies whose `X-Forwarded-For` is believed: for a request from one of
    /// these, the client's address (for the sign-in throttles) is the last forwarded
    /// address that is not itself a trusted proxy.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The longest request head (request line and header fields) accepted: 414 or 431
    /// beyond it, with the JSON error body.
    pub max_request_head_bytes: usize,
    /// How long a client may take to send a request head (from connecting, for its
    /// first request): 408 after it.
    pub request_head_timeout_ms: u64,
    /// The server's address as clients reach it (`https://mentors.example.org`), for the
    /// absolute URLs in answers; unset, the request's own host is used.
    pub public_url: Option<String>,
}

impl HttpConfig {
    /// The base of absolute URLs when `public_url` is set (without a trailing `/`).
    pub fn public_base(&self) -> Option<String> {
        self.public_url
            .as_deref()
            .map(|url| url.trim_end_matches('/').to_string())
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            host: "127.0.0.1".into(),
            port: 8080,
            cors_origins: Vec::new(),
            body_limit_bytes: 64 * 1024,
            shutdown_timeout_seconds: 3,
            workers: 0,
            socket_send_buffer_bytes: 0,
            trusted_proxies: Vec::new(),
            max_request_head_bytes: 32 * 1024,
            request_head_timeout_ms: 5_000,
            public_url: None,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct StoreConfig {
    pub path: PathBuf,
    /// sled's page cache; sled's own default (1 GiB) is too much for a small VM.
    pub cache_capacity_bytes: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from("data"),
            cache_capacity_bytes: 64 * 1024 * 1024,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Local,
    Lcs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LcsFlavor {
    Legacy,
    Current,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    pub provider: Provider,
    /// The HMAC key for access tokens (its UTF-8 bytes, at least 32). Generated and
    /// kept in the data folder when not given.
    pub jwt_secret: Option<String>,
    pub access_ttl_seconds: u64,
    pub refresh_ttl_days: u64,
    pub bootstrap_directors: Vec<String>,
    /// Sign-in and registration attempts per minute for one email from one address.
    pub login_attempts_per_minute: u32,
    /// Sign-in, registration and refresh attempts per minute from one address, for
    /// every email together (a venue's NAT is one address).
    pub address_attempts_per_minute: u32,
    /// How long a sign-in waits for the password hasher (one argon2 per core at a
    /// time) before it is answered 503 `busy`.
    pub hash_queue_timeout_ms: u64,
    /// Whether each refresh hands out a new refresh token (and a replayed old one
    /// revokes the device session). Off, the refresh token stays the same until it
    /// expires or its session is revoked.
    pub rotate_refresh_tokens: bool,
    pub local: LocalAuthConfig,
    pub lcs: LcsConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            provider: Provider::Local,
            jwt_secret: None,
            access_ttl_seconds: 900,
            refresh_ttl_days: 14,
            bootstrap_directors: Vec::new(),
            login_attempts_per_minute: 10,
            address_attempts_per_minute: 600,
            hash_queue_timeout_ms: 3_000,
            rotate_refresh_tokens: true,
            local: LocalAuthConfig::default(),
            lcs: LcsConfig::default(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct LocalAuthConfig {
    pub open_registration: bool,
}

impl Default for LocalAuthConfig {
    fn default() -> Self {
        LocalAuthConfig {
            open_registration: true,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct LcsConfig {
    pub url: String,
    pub flavor: LcsFlavor,
    pub timeout_ms: u64,
}

impl Default for LcsConfig {
    fn default() -> Self {
        LcsConfig {
            url: String::new(),
            flavor: LcsFlavor::Current,
            timeout_ms: 5000,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct QueueConfig {
    /// OPEN or CLAIMED tickets one participant may hold at once.
    pub max_active_tickets: u32,
    /// Writes (POST, PATCH, PUT, DELETE) one user may make per minute.
    pub writes_per_minute: u32,
    /// A CLAIMED ticket whose mentor showed no sign of life (a WebSocket connection or
    /// an authenticated request) for this long goes back to OPEN; 0 = never.
    pub claim_release_seconds: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_active_tickets: 1,
            writes_per_minute: 30,
            claim_release_seconds: 600,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct SlackConfig {
    pub team_id: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct SessionsConfig {
    /// The meeting link stored on confirmation; `{token}` becomes an unguessable token.
    pub meeting_url_template: String,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        SessionsConfig {
            meeting_url_template: "https://meet.jit.si/mentorq-{token}".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct RealtimeConfig {
    /// How many of the newest events are kept for clients resuming with `since`.
    pub retain_events: u64,
    /// Frames a client may have unwritten before it is closed with 4008 (lagging).
    pub outbox_limit: usize,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        RealtimeConfig {
            retain_events: 100_000,
            outbox_limit: 1024,
        }
    }
}

/// Why the configuration could not be used. Each names the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid TOML: {source}")]
    Syntax { path: PathBuf, source: toml::de::Error },
    #[error("invalid value for `{key}`: {detail}")]
    Invalid { key: String, detail: String },
}

/// The environment variable prefix; levels are joined by `__`.
pub const ENV_PREFIX: &str = "MENTORQ__";

impl Config {
    /// Reads `path` (missing means defaults) and the process environment.
    /// Unknown keys are returned so the caller can log them once logging is set up.
    pub fn load(path: &Path) -> Result<(Config, Vec<String>), ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let table: toml::Table = toml::from_str(&text).map_err(|source| ConfigError::Syntax {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_table(table, std::env::vars())
    }

    /// Builds the configuration from a parsed file and `KEY=value` overrides.
    pub fn from_table(
        mut table: toml::Table,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Config, Vec<String>), ConfigError> {
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let keys: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            set_path(&mut table, &keys, env_value(&raw)).map_err(|detail| ConfigError::Invalid {
                key: keys.join("."),
                detail,
            })?;
        }
        apply_profiles(&mut table);
        let mut unknown = Vec::new();
        let mut note_unknown = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
        let deserializer = serde_ignored::Deserializer::new(toml::Value::Table(table), &mut note_unknown);
        let config: Config =
            serde_path_to_error::deserialize(deserializer).map_err(|e| ConfigError::Invalid {
                key: e.path().to_string(),
                detail: e.inner().to_string(),
            })?;
        config.validate()?;
        Ok((config, unknown))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, detail: &str| {
            Err(ConfigError::Invalid {
                key: key.into(),
                detail: detail.into(),
            })
        };
        if let Some(url) = &self.email.smtp_url {
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                return invalid("email.smtp_url", "must be an smtp:// or smtps:// URL");
            }
        }
        if !self.email.from.contains('@') {
            return invalid(
                "email.from",
                "must be an address, e.g. Mentoring desk <desk@example.org>",
            );
        }
        for (i, hook) in self.webhooks.iter().enumerate() {
            let key = |field: &str| format!("webhooks[{i}].{field}");
            if !(hook.url.starts_with("http://") || hook.url.starts_with("https://")) {
                return invalid(&key("url"), "must be an http:// or https:// URL");
            }
            if hook.events.is_empty() {
                return invalid(&key("events"), "must list event kinds, or \"*\" for all");
            }
            if hook.format == WebhookFormat::Standard {
                match hook.secret.as_deref().map(crate::domain::webhook::secret_bytes) {
                    None => return invalid(&key("secret"), "is required for the standard format"),
                    Some(Err(why)) => return invalid(&key("secret"), why),
                    Some(Ok(_)) => {}
                }
            }
            if hook.retry_hours == 0 || hook.retry_hours > 24 * 30 {
                return invalid(&key("retry_hours"), "must be from 1 to 720");
            }
        }
        if let Some(secret) = &self.auth.jwt_secret {
            if secret.len() < 32 {
                return invalid("auth.jwt_secret", "must be at least 32 bytes long");
            }
        }
        // Bounds that keep every later computation with these values (token expiry
        // times, buffers, threads) in range, so a typo stops start-up instead of
        // panicking on the first login.
        let within = |key: &str, value: u64, min: u64, max: u64| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                invalid(key, &format!("must be from {min} to {max}"))
            }
        };
        within("auth.access_ttl_seconds", self.auth.access_ttl_seconds, 1, 86_400)?;
        within("auth.refresh_ttl_days", self.auth.refresh_ttl_days, 1, 3_650)?;
        within(
            "auth.login_attempts_per_minute",
            self.auth.login_attempts_per_minute.into(),
            1,
            1_000_000,
        )?;
        within(
            "auth.address_attempts_per_minute",
            self.auth.address_attempts_per_minute.into(),
            1,
            10_000_000,
        )?;
        within(
            "auth.hash_queue_timeout_ms",
            self.auth.hash_queue_timeout_ms,
            1,
            600_000,
        )?;
        // actix-http itself refuses heads over 128 KiB.
        within(
            "http.max_request_head_bytes",
            self.http.max_request_head_bytes as u64,
            1_024,
            131_072,
        )?;
        within(
            "http.request_head_timeout_ms",
            self.http.request_head_timeout_ms,
            100,
            600_000,
        )?;
        within("auth.lcs.timeout_ms", self.auth.lcs.timeout_ms, 1, 600_000)?;
        within("http.workers", self.http.workers as u64, 0, 1_024)?;
        within(
            "http.shutdown_timeout_seconds",
            self.http.shutdown_timeout_seconds,
            0,
            3_600,
        )?;
        within(
            "realtime.outbox_limit",
            self.realtime.outbox_limit as u64,
            1,
            1_000_000,
        )?;
        if self.auth.provider == Provider::Lcs && self.auth.lcs.url.trim().is_empty() {
            return invalid("auth.lcs.url", "is required when auth.provider = \"lcs\"");
        }
        if self.http.body_limit_bytes == 0 {
            return invalid("http.body_limit_bytes", "must be at least 1");
        }
        if self.queue.max_active_tickets == 0 {
            return invalid("queue.max_active_tickets", "must be at least 1");
        }
        if !self.sessions.meeting_url_template.contains("{token}") {
            return invalid(
                "sessions.meeting_url_template",
                "must contain {token}, so that every meeting link is unguessable",
            );
        }
        if self.queue.writes_per_minute == 0 {
            return invalid("queue.writes_per_minute", "must be at least 1");
        }
        Ok(())
    }
}

/// An environment value is read as a TOML value when it is one (`9000`, `false`,
/// `["a", "b"]`), and as a plain string otherwise.
fn env_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

/// The defaults a profile changes, for each key not set explicitly.
fn apply_profiles(table: &mut toml::Table) {
    let hackru = table
        .get("compat")
        .and_then(|c| c.get("hackru_frontend"))
        .and_then(toml::Value::as_bool)
        .unwrap_or(false);
    if hackru {
        for (section, key, value) in [
            ("queue", "max_active_tickets", toml::Value::Integer(5)),
            ("auth", "rotate_refresh_tokens", toml::Value::Boolean(false)),
        ] {
            if let Some(section) = table
                .entry(section)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
            {
                section.entry(key).or_insert(value);
            }
        }
    }
}

fn set_path(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = keys.split_last().ok_or("empty key")?;
    let mut current = table;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{key}` is not a section"))?;
    }
    current.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<(Config, Vec<String>), ConfigError> {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Config::from_table(toml::from_str(text).unwrap(), env)
    }

    #[test]
    fn the_shipped_config_toml_lists_known_keys_at_their_defaults() {
        let shipped = include_str!("../config.toml");
        let (config, unknown) = load(shipped, &[]).unwrap();
        assert!(
            unknown.is_empty(),
            "config.toml has keys the server ignores: {unknown:?}"
        );
        assert_eq!(format!("{config:?}"), format!("{:?}", Config::default()));
    }

    #[test]
    fn the_hackru_profile_changes_only_the_defaults_not_set_explicitly() {
        let (config, _) = load("[compat]\nhackru_frontend = true\n", &[]).unwrap();
        assert_eq!(config.queue.max_active_tickets, 5);
        assert!(!config.auth.rotate_refresh_tokens);
        let (config, _) = load(
            "[compat]\nhackru_frontend = true\n[queue]\nmax_active_tickets = 2\n",
            &[("MENTORQ__AUTH__ROTATE_REFRESH_TOKENS", "true")],
        )
        .unwrap();
        assert_eq!(config.queue.max_active_tickets, 2);
        assert!(config.auth.rotate_refresh_tokens);
        let (config, _) = load("", &[("MENTORQ__COMPAT__HACKRU_FRONTEND", "true")]).unwrap();
        assert_eq!(config.queue.max_active_tickets, 5);
        let (config, _) = load("", &[]).unwrap();
        assert_eq!(config.queue.max_active_tickets, 1);
        assert!(config.auth.rotate_refresh_tokens && !config.compat.hackru_frontend);
    }

    #[test]
    fn an_empty_file_gives_the_documented_defaults() {
        let (config, unknown) = load("", &[]).unwrap();
        assert_eq!(config.http.port, 8080);
        assert_eq!(config.http.host, "127.0.0.1");
        assert_eq!(config.store.path, PathBuf::from("data"));
        assert_eq!(config.auth.access_ttl_seconds, 900);
        assert_eq!(config.auth.refresh_ttl_days, 14);
        assert!(config.auth.local.open_registration);
        assert_eq!(config.queue.max_active_tickets, 1);
        assert!(unknown.is_empty());
    }

    #[test]
    fn the_environment_overrides_nested_keys() {
        let (config, _) = load(
            "[http]\nport = 1",
            &[
                ("MENTORQ__HTTP__PORT", "9000"),
                ("MENTORQ__AUTH__LOCAL__OPEN_REGISTRATION", "false"),
                ("MENTORQ__AUTH__BOOTSTRAP_DIRECTORS", "[\"ops@example.org\"]"),
                ("MENTORQ__STORE__PATH", "/tmp/x y"),
                ("OTHER", "ignored"),
            ],
        )
        .unwrap();
        assert_eq!(config.http.port, 9000);
        assert!(!config.auth.local.open_registration);
        assert_eq!(config.auth.bootstrap_directors, vec!["ops@example.org"]);
        assert_eq!(config.store.path, PathBuf::from("/tmp/x y"));
    }

    #[test]
    fn an_invalid_value_names_its_key() {
        let err = load("[http]\nport = \"eighty\"", &[]).unwrap_err();
        assert!(err.to_string().contains("http.port"), "{err}");
        let err = load("", &[("MENTORQ__HTTP__PORT", "99999")]).unwrap_err();
        assert!(err.to_string().contains("http.port"), "{err}");
    }

    #[test]
    fn values_that_would_overflow_later_are_refused_at_start_up() {
        let error = load("", &[("MENTORQ__AUTH__REFRESH_TTL_DAYS", "1000000000")]).unwrap_err();
        assert!(error.to_string().contains("auth.refresh_ttl_days"), "{error}");
        assert!(error.to_string().contains("from 1 to 3650"), "{error}");
        let error = load("[auth]\naccess_ttl_seconds = 0\n", &[]).unwrap_err();
        assert!(error.to_string().contains("auth.access_ttl_seconds"), "{error}");
        assert!(load("[auth]\nrefresh_ttl_days = 3650\n", &[]).is_ok());
    }

    #[test]
    fn a_short_jwt_secret_is_refused() {
        let err = load("[auth]\njwt_secret = \"short\"", &[]).unwrap_err();
        assert!(err.to_string().contains("auth.jwt_secret"));
    }

    #[test]
    fn unknown_keys_are_reported_not_fatal() {
        let (_, unknown) = load("[http]\nprot = 1\n[future]\nx = 1", &[]).unwrap();
        assert!(unknown.contains(&"http.prot".to_string()), "{unknown:?}");
        assert!(unknown.contains(&"future".to_string()), "{unknown:?}");
    }

    #[test]
    fn lcs_needs_a_url() {
        let err = load("[auth]\nprovider = \"lcs\"", &[]).unwrap_err();
        assert!(err.to_string().contains("auth.lcs.url"));
    }
}
