//! Runtime configuration: `Leptos.toml`, each key overridden by its
//! environment variable. Loaded once in `main`; nothing below reads the
//! environment.

use crate::shapes::retention::MAX_RETENTION;
use app::backend::{Placement, MAIN};
use serde::Deserialize;
use std::{fmt, net::SocketAddr, path::Path, time::Duration};

/// Longest a held request may be held (`sync.long_poll_timeout_secs`,
/// `sync.sse_timeout_secs`): an hour.
const MAX_HOLD_SECS: u64 = 3600;

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub session: SessionConfig,
    pub invites: InviteConfig,
    pub groups: GroupsConfig,
    pub sync: SyncConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub mail: MailConfig,
    #[serde(default)]
    pub accounts: AccountsConfig,
    #[serde(default)]
    pub files: FilesConfig,
    /// The group databases (`[[databases]]`); none listed: one, `main`, the
    /// registry's own (see [`Config::group_databases`]).
    #[serde(default)]
    pub databases: Vec<GroupDatabaseConfig>,
    /// Running under `cargo leptos watch` (`LEPTOS_WATCH`), not a file setting.
    #[serde(skip)]
    pub live_reload: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub site_addr: SocketAddr,
    pub log: String,
    /// The origin browsers reach the site at (`https://courtyard.example`);
    /// empty: the request's own `Host`, over https when cookies are Secure.
    pub public_origin: String,
    /// PEM files of the certificate chain and its private key: both set,
    /// the server speaks HTTPS (HTTP/2 or HTTP/1.1 by ALPN); both empty,
    /// plain HTTP (HTTP/1.1, or HTTP/2 with prior knowledge).
    #[serde(default)]
    pub tls_cert: String,
    #[serde(default)]
    pub tls_key: String,
    /// The load balancers in front (addresses or networks): their requests'
    /// `X-Forwarded-For` names the client (routes/proxies.rs).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

impl ServerConfig {
    /// `trusted_proxies` parsed (an address alone is a network of one);
    /// `None` if one does not parse.
    pub fn trusted_proxies(&self) -> Option<Vec<ipnet::IpNet>> {
        self.trusted_proxies
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry.parse().ok().or_else(|| entry.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
            })
            .collect()
    }

    /// The certificate chain's and the key's files, when TLS is on.
    pub fn tls(&self) -> Option<(&Path, &Path)> {
        let (cert, key) = (self.tls_cert.trim(), self.tls_key.trim());
        (!cert.is_empty() && !key.is_empty()).then(|| (Path::new(cert), Path::new(key)))
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
    /// Group schemas migrated at once (in the background after start-up,
    /// or by `server admin migrate`); 0 (or unset): `min(4, max_connections - 2)`.
    #[serde(default)]
    pub migrate_parallelism: usize,
    /// Where new groups go among the group databases that take them.
    #[serde(default)]
    pub placement: Placement,
    /// How long the old copy of a moved group stays (refusing writes)
    /// before a server drops it.
    #[serde(default = "default_move_grace", with = "humantime_serde")]
    pub move_grace: Duration,
}

fn default_move_grace() -> Duration {
    Duration::from_secs(3600)
}

/// A group database: where group schemas may live.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDatabaseConfig {
    /// Recorded in `groups.database` for each group placed on it: never
    /// rename one that holds groups.
    pub name: String,
    /// Empty: the registry's own database (and its pool).
    #[serde(default)]
    pub url: String,
    /// Its pool's size (ignored for the registry's own database).
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// New groups may be placed on it (false: it keeps the groups it has).
    #[serde(default = "yes")]
    pub new_groups: bool,
}

fn default_max_connections() -> u32 {
    10
}

fn yes() -> bool {
    true
}

impl GroupDatabaseConfig {
    /// The registry's own database, as the one group database of a
    /// single-machine install.
    fn main() -> Self {
        Self { name: MAIN.to_owned(), url: String::new(), max_connections: 0, new_groups: true }
    }

    /// Whether it is the registry's own database (sharing its pool): no
    /// url, or one naming the same host, port and database.
    pub fn is_registry(&self, registry_url: &str) -> bool {
        use sqlx::postgres::PgConnectOptions;
        let (url, registry_url) = (self.url.trim(), registry_url.trim());
        if url.is_empty() || url == registry_url {
            return true;
        }
        let place = |options: PgConnectOptions| {
            (options.get_host().to_owned(), options.get_port(), options.get_database().map(str::to_owned))
        };
        match (url.parse::<PgConnectOptions>(), registry_url.parse::<PgConnectOptions>()) {
            (Ok(one), Ok(other)) => place(one) == place(other),
            _ => false,
        }
    }

    /// `name=url` entries (whitespace between), as `COURTYARD_DATABASES`
    /// gives them; an empty url is the registry's own database.
    fn parse_list(text: &str) -> Option<Vec<Self>> {
        text.split_whitespace()
            .map(|entry| {
                let (name, url) = entry.split_once('=')?;
                let (name, url) = (name.to_owned(), url.to_owned());
                Some(Self { name, url, max_connections: default_max_connections(), new_groups: true })
            })
            .collect()
    }
}

impl fmt::Debug for GroupDatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupDatabaseConfig")
            .field("name", &self.name)
            .field("url", &redact_password(&self.url))
            .field("max_connections", &self.max_connections)
            .field("new_groups", &self.new_groups)
            .finish()
    }
}

impl DatabaseConfig {
    /// Group schemas migrated at once: the pool less the LISTEN connection
    /// and one for the requests served meanwhile.
    pub fn migrate_parallelism(&self) -> usize {
        match self.migrate_parallelism {
            0 => self.spare_connections().min(4),
            n => n,
        }
    }

    fn spare_connections(&self) -> usize {
        (self.max_connections as usize).saturating_sub(2).max(1)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    pub ttl_days: u32,
    pub secure_cookie: bool,
    pub max_login_failures_per_account: u32,
    pub max_login_failures_per_ip: u32,
    pub login_failure_window_minutes: u32,
    pub max_signups_per_ip: u32,
    pub signup_window_minutes: u32,
    /// 0: one per core.
    pub password_hashes_at_once: usize,
    /// 0: one per core.
    pub password_hashes_waiting: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteConfig {
    pub ttl_hours: u32,
    #[serde(default = "yes")]
    pub email_needs_verified: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupsConfig {
    pub max_per_user: u32,
    /// How long a closed group stays, read-only with its export, before
    /// its schema is dropped.
    #[serde(default = "default_close_grace", with = "humantime_serde")]
    pub close_grace: Duration,
}

fn default_close_grace() -> Duration {
    Duration::from_secs(30 * 86_400)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    pub long_poll_timeout_secs: u64,
    pub sse_timeout_secs: u64,
    pub chunk_bytes: usize,
    /// Bytes of recent changes all groups' in-memory tails may hold together.
    pub tail_budget_bytes: usize,
    /// How far (in log positions) a snapshot may fall behind the log's head
    /// before its offset is refused with 409.
    pub max_snapshot_lag: i64,
    /// How long the change log keeps an entry ("7d", "12h", "30s").
    #[serde(with = "humantime_serde")]
    pub log_retention: Duration,
    /// The latest log positions always kept, however old.
    pub log_keep_min: i64,
    /// Merge runs of updates to one row in the kept log (compaction).
    pub log_compaction: bool,
    /// How often the retention job goes over the groups' logs.
    #[serde(with = "humantime_serde")]
    pub log_sweep_interval: Duration,
}

#[derive(Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Label the change log's sizes and the mutations by group too (one
    /// series per group: mind the cardinality).
    pub per_group: bool,
    /// Set: `/metrics` answers `Authorization: Bearer <token>` only.
    /// Empty: it answers requests from this machine that came through no
    /// proxy only.
    pub token: String,
}

impl fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = if self.token.trim().is_empty() { "" } else { "<set>" };
        f.debug_struct("MetricsConfig").field("per_group", &self.per_group).field("token", &token).finish()
    }
}

/// Outgoing mail (server/src/mail.rs).
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// `smtp://host:25` (plain), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS), `smtps://user:pass@host:465` (TLS). Empty: each message
    /// is written to the log instead (and shown at /dev/mail in debug builds).
    pub smtp_url: String,
    /// The sender, `Name <address>`.
    pub from: String,
    /// The first wait after a failed send; each next one doubles, up to `retry_max`.
    #[serde(with = "humantime_serde")]
    pub retry_initial: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    /// A message not sent after this long is given up on (logged).
    #[serde(with = "humantime_serde")]
    pub give_up_after: Duration,
    /// How often each server looks for mail to send.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// How long a sent or given-up message is listed in mail_queue.
    #[serde(with = "humantime_serde")]
    pub keep_sent: Duration,
    /// How often each server reads the groups' logs for notifications.
    #[serde(with = "humantime_serde")]
    pub notify_interval: Duration,
    /// How often a group's other new notices go out in a digest.
    #[serde(with = "humantime_serde")]
    pub digest_every: Duration,
    /// How long before a booking starts its reminder goes.
    #[serde(with = "humantime_serde")]
    pub booking_reminder: Duration,
}

/// Photos and documents (`[files]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesConfig {
    /// A directory (made if missing), or `s3://bucket/prefix` (credentials,
    /// region and endpoint from the `AWS_*` environment variables).
    pub store: String,
    /// Largest file taken, in bytes.
    pub max_file_bytes: u32,
    /// Most bytes one group's files may take.
    pub max_group_bytes: u64,
    /// How often each server deletes the bytes no file has named for longer
    /// than `sync.log_retention`, and uploads left unfinished for a day.
    #[serde(with = "humantime_serde")]
    pub sweep_interval: Duration,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            store: "data/files".to_owned(),
            max_file_bytes: 10 * 1024 * 1024,
            max_group_bytes: 1024 * 1024 * 1024,
            sweep_interval: Duration::from_secs(3600),
        }
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_url: String::new(),
            from: "Courtyard <courtyard@localhost>".to_owned(),
            retry_initial: Duration::from_secs(10),
            retry_max: Duration::from_secs(600),
            give_up_after: Duration::from_secs(3 * 86_400),
            poll_interval: Duration::from_secs(2),
            keep_sent: Duration::from_secs(30 * 86_400),
            notify_interval: Duration::from_secs(60),
            digest_every: Duration::from_secs(86_400),
            booking_reminder: Duration::from_secs(86_400),
        }
    }
}

impl fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailConfig")
            .field("smtp_url", &redact_password(&self.smtp_url))
            .field("from", &self.from)
            .field("retry_initial", &self.retry_initial)
            .field("retry_max", &self.retry_max)
            .field("give_up_after", &self.give_up_after)
            .field("poll_interval", &self.poll_interval)
            .field("keep_sent", &self.keep_sent)
            .field("notify_interval", &self.notify_interval)
            .field("digest_every", &self.digest_every)
            .field("booking_reminder", &self.booking_reminder)
            .finish()
    }
}

/// Account recovery and verification by email.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsConfig {
    #[serde(with = "humantime_serde")]
    pub reset_link_ttl: Duration,
    #[serde(with = "humantime_serde")]
    pub verify_link_ttl: Duration,
    pub max_resets_per_email: u32,
    pub max_resets_per_ip: u32,
    #[serde(with = "humantime_serde")]
    pub reset_window: Duration,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            reset_link_ttl: Duration::from_secs(3600),
            verify_link_ttl: Duration::from_secs(7 * 86_400),
            max_resets_per_email: 3,
            max_resets_per_ip: 20,
            reset_window: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is invalid: {source}")]
    Parse { path: String, source: toml::de::Error },
    #[error("environment variable {name} is invalid: {value:?}")]
    Env { name: &'static str, value: String },
    #[error("{name} {reason}")]
    Invalid { name: &'static str, reason: &'static str },
}

impl Config {
    /// Reads `path` and applies the overrides `env` returns (pass
    /// `|name| std::env::var(name).ok()` in `main`).
    pub fn load(path: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: shown.clone(), source })?;
        let mut config: Config = toml::from_str(&text).map_err(|source| ConfigError::Parse { path: shown, source })?;
        config.apply_env(env)?;
        config.check()?;
        Ok(config)
    }

    /// Settings that would make every request fail, or overflow a time
    /// computed from them, refused at start-up.
    fn check(&self) -> Result<(), ConfigError> {
        let server = &self.server;
        if server.tls_cert.trim().is_empty() != server.tls_key.trim().is_empty() {
            let name = if server.tls_cert.trim().is_empty() { "server.tls_cert" } else { "server.tls_key" };
            return Err(ConfigError::Invalid {
                name,
                reason: "must be set too (server.tls_cert and server.tls_key go together)",
            });
        }
        let database = &self.database;
        if database.max_connections < 3 {
            return Err(ConfigError::Invalid {
                name: "database.max_connections",
                reason: "must be at least 3 (one is held for LISTEN, and requests and migrations need their own)",
            });
        }
        if database.migrate_parallelism > database.spare_connections() {
            return Err(ConfigError::Invalid {
                name: "database.migrate_parallelism",
                reason:
                    "must leave two of database.max_connections free (LISTEN, and the requests), or 0 for the default",
            });
        }
        if self.server.trusted_proxies().is_none() {
            return Err(ConfigError::Invalid {
                name: "server.trusted_proxies",
                reason: "must list addresses (10.0.0.5) or networks (10.0.0.0/24)",
            });
        }
        self.check_databases()?;
        if self.database.move_grace < Duration::from_secs(60) {
            return Err(ConfigError::Invalid {
                name: "database.move_grace",
                reason: "must be at least 1m (requests under way when a group moves still read its old copy)",
            });
        }
        if self.database.move_grace > MAX_RETENTION {
            return Err(ConfigError::Invalid {
                name: "database.move_grace",
                reason: "must be at most 10 years (\"10y\")",
            });
        }
        let metrics = &self.metrics;
        if !metrics.token.is_empty() && metrics.token.trim().is_empty() {
            return Err(ConfigError::Invalid {
                name: "metrics.token",
                reason: "is only blanks: set a token or leave it empty",
            });
        }
        if metrics.per_group && metrics.token.is_empty() {
            return Err(ConfigError::Invalid {
                name: "metrics.per_group",
                reason: "needs metrics.token (per-group metrics name the groups)",
            });
        }
        self.check_mail()?;
        self.check_files()?;
        let session = &self.session;
        let at_least_one = [
            ("session.max_login_failures_per_account", session.max_login_failures_per_account),
            ("session.max_login_failures_per_ip", session.max_login_failures_per_ip),
            ("session.login_failure_window_minutes", session.login_failure_window_minutes),
            ("session.max_signups_per_ip", session.max_signups_per_ip),
            ("session.signup_window_minutes", session.signup_window_minutes),
            ("session.ttl_days", session.ttl_days),
        ];
        if let Some((name, _)) = at_least_one.into_iter().find(|(_, value)| *value == 0) {
            return Err(ConfigError::Invalid { name, reason: "must be at least 1" });
        }
        let sync = &self.sync;
        if sync.sse_timeout_secs < 2 {
            return Err(ConfigError::Invalid { name: "sync.sse_timeout_secs", reason: "must be at least 2" });
        }
        let held = [
            ("sync.long_poll_timeout_secs", sync.long_poll_timeout_secs),
            ("sync.sse_timeout_secs", sync.sse_timeout_secs),
        ];
        if let Some((name, _)) = held.into_iter().find(|(_, secs)| *secs > MAX_HOLD_SECS) {
            return Err(ConfigError::Invalid { name, reason: "must be at most 3600 (an hour)" });
        }
        if sync.log_retention.is_zero() {
            return Err(ConfigError::Invalid { name: "sync.log_retention", reason: "must be longer than 0s" });
        }
        if sync.log_retention > MAX_RETENTION {
            return Err(ConfigError::Invalid {
                name: "sync.log_retention",
                reason: "must be at most 10 years (\"10y\")",
            });
        }
        if sync.log_keep_min < 1 {
            return Err(ConfigError::Invalid { name: "sync.log_keep_min", reason: "must be at least 1" });
        }
        if sync.log_sweep_interval.is_zero() {
            return Err(ConfigError::Invalid { name: "sync.log_sweep_interval", reason: "must be longer than 0s" });
        }
        if sync.log_sweep_interval > MAX_RETENTION {
            return Err(ConfigError::Invalid {
                name: "sync.log_sweep_interval",
                reason: "must be at most 10 years (\"10y\")",
            });
        }
        Ok(())
    }

    fn check_files(&self) -> Result<(), ConfigError> {
        let files = &self.files;
        let invalid = |name, reason| Err(ConfigError::Invalid { name, reason });
        if files.store.trim().is_empty() {
            return invalid("files.store", "must name a directory or an s3:// URL");
        }
        // A file is put together in memory once all of it has come.
        if !(1024..=100 * 1024 * 1024).contains(&files.max_file_bytes) {
            return invalid("files.max_file_bytes", "must be from 1024 (1 KiB) to 104857600 (100 MiB)");
        }
        if files.max_group_bytes < u64::from(files.max_file_bytes) {
            return invalid("files.max_group_bytes", "must be at least files.max_file_bytes");
        }
        if files.sweep_interval.is_zero() || files.sweep_interval > MAX_RETENTION {
            return invalid("files.sweep_interval", "must be longer than 0s and at most 10 years");
        }
        Ok(())
    }

    fn check_mail(&self) -> Result<(), ConfigError> {
        let invalid = |name, reason| Err(ConfigError::Invalid { name, reason });
        if crate::mail::sender(&self.mail.from).is_none() {
            return invalid("mail.from", "must be an address, or Name <address>");
        }
        if !self.mail.smtp_url.trim().is_empty() && crate::mail::transport(&self.mail.smtp_url).is_err() {
            return invalid("mail.smtp_url", "must be smtp://host[:port], smtps://... or empty (see Leptos.toml)");
        }
        let origin = self.server.public_origin.trim().trim_end_matches('/');
        let is_origin = ["http://", "https://"].iter().any(|scheme| {
            origin.strip_prefix(scheme).is_some_and(|host| !host.is_empty() && !host.contains(['/', '?', '#']))
        });
        if !origin.is_empty() && !is_origin {
            return invalid("server.public_origin", "must be an origin: https://host[:port], no path");
        }
        if !self.mail.smtp_url.trim().is_empty() && self.server.public_origin.trim().is_empty() {
            return invalid(
                "server.public_origin",
                "must be set when mail.smtp_url is: links in mail start with it (https://courtyard.example)",
            );
        }
        let mail = &self.mail;
        let accounts = &self.accounts;
        let times = [
            ("mail.retry_initial", mail.retry_initial),
            ("mail.retry_max", mail.retry_max),
            ("mail.give_up_after", mail.give_up_after),
            ("mail.poll_interval", mail.poll_interval),
            ("mail.keep_sent", mail.keep_sent),
            ("mail.notify_interval", mail.notify_interval),
            ("mail.digest_every", mail.digest_every),
            ("mail.booking_reminder", mail.booking_reminder),
            ("accounts.reset_link_ttl", accounts.reset_link_ttl),
            ("accounts.verify_link_ttl", accounts.verify_link_ttl),
            ("accounts.reset_window", accounts.reset_window),
            ("groups.close_grace", self.groups.close_grace),
        ];
        if let Some((name, _)) = times.iter().find(|(_, time)| time.is_zero()) {
            return invalid(name, "must be longer than 0s");
        }
        if let Some((name, _)) = times.iter().find(|(_, time)| *time > MAX_RETENTION) {
            return invalid(name, "must be at most 10 years (\"10y\")");
        }
        if accounts.max_resets_per_email == 0 || accounts.max_resets_per_ip == 0 {
            let name = if accounts.max_resets_per_email == 0 {
                "accounts.max_resets_per_email"
            } else {
                "accounts.max_resets_per_ip"
            };
            return invalid(name, "must be at least 1");
        }
        Ok(())
    }

    /// The site's address at the start of links sent by email.
    pub fn links_base(&self) -> String {
        let origin = self.server.public_origin.trim().trim_end_matches('/');
        if origin.is_empty() {
            let scheme = if self.server.tls().is_some() { "https" } else { "http" };
            format!("{scheme}://{}", self.server.site_addr)
        } else {
            origin.to_owned()
        }
    }

    /// The group databases: those listed, or else the registry's own.
    pub fn group_databases(&self) -> Vec<GroupDatabaseConfig> {
        if self.databases.is_empty() {
            vec![GroupDatabaseConfig::main()]
        } else {
            self.databases.clone()
        }
    }

    fn check_databases(&self) -> Result<(), ConfigError> {
        let list = self.group_databases();
        let invalid = |reason| Err(ConfigError::Invalid { name: "databases", reason });
        for (i, db) in list.iter().enumerate() {
            let name_ok = !db.name.is_empty()
                && db.name.len() <= 32
                && db.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
            if !name_ok {
                return invalid("each needs a name of 1 to 32 characters a-z, 0-9, _ or -");
            }
            if db.name == "registry" {
                return invalid("cannot be named registry (the registry's own name in /readyz and metrics)");
            }
            if list[..i].iter().any(|other| other.name == db.name) {
                return invalid("names must be distinct");
            }
            if list[..i].iter().any(|other| other.is_registry(&self.database.url) && db.is_registry(&self.database.url))
            {
                return invalid("name the registry's own database (empty url) once at most");
            }
            if !db.is_registry(&self.database.url) && db.max_connections < 3 {
                return invalid("max_connections must be at least 3 (LISTEN, requests and migrations)");
            }
        }
        if !list.iter().any(|db| db.new_groups) {
            return invalid("at least one must take new groups (new_groups = true)");
        }
        Ok(())
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        set(&env, "COURTYARD_SITE_ADDR", &mut self.server.site_addr)?;
        set(&env, "RUST_LOG", &mut self.server.log)?;
        set(&env, "COURTYARD_PUBLIC_ORIGIN", &mut self.server.public_origin)?;
        set(&env, "COURTYARD_TLS_CERT", &mut self.server.tls_cert)?;
        set(&env, "COURTYARD_TLS_KEY", &mut self.server.tls_key)?;
        if let Some(value) = env("COURTYARD_TRUSTED_PROXIES") {
            self.server.trusted_proxies = value
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .collect();
        }
        set(&env, "DATABASE_URL", &mut self.database.url)?;
        set(&env, "COURTYARD_DATABASE_MAX_CONNECTIONS", &mut self.database.max_connections)?;
        set(&env, "COURTYARD_DATABASE_MIGRATE_PARALLELISM", &mut self.database.migrate_parallelism)?;
        set(&env, "COURTYARD_DATABASE_PLACEMENT", &mut self.database.placement)?;
        set_duration(&env, "COURTYARD_DATABASE_MOVE_GRACE", &mut self.database.move_grace)?;
        if let Some(value) = env("COURTYARD_DATABASES") {
            self.databases = GroupDatabaseConfig::parse_list(&value)
                .ok_or(ConfigError::Env { name: "COURTYARD_DATABASES", value })?;
        }
        set(&env, "COURTYARD_SESSION_TTL_DAYS", &mut self.session.ttl_days)?;
        set(&env, "COURTYARD_SESSION_SECURE_COOKIE", &mut self.session.secure_cookie)?;
        let session = &mut self.session;
        set(&env, "COURTYARD_SESSION_MAX_LOGIN_FAILURES_PER_ACCOUNT", &mut session.max_login_failures_per_account)?;
        set(&env, "COURTYARD_SESSION_MAX_LOGIN_FAILURES_PER_IP", &mut session.max_login_failures_per_ip)?;
        set(&env, "COURTYARD_SESSION_LOGIN_FAILURE_WINDOW_MINUTES", &mut session.login_failure_window_minutes)?;
        set(&env, "COURTYARD_SESSION_MAX_SIGNUPS_PER_IP", &mut session.max_signups_per_ip)?;
        set(&env, "COURTYARD_SESSION_SIGNUP_WINDOW_MINUTES", &mut session.signup_window_minutes)?;
        set(&env, "COURTYARD_SESSION_PASSWORD_HASHES_AT_ONCE", &mut session.password_hashes_at_once)?;
        set(&env, "COURTYARD_SESSION_PASSWORD_HASHES_WAITING", &mut session.password_hashes_waiting)?;
        set(&env, "COURTYARD_INVITE_TTL_HOURS", &mut self.invites.ttl_hours)?;
        set(&env, "COURTYARD_INVITES_EMAIL_NEEDS_VERIFIED", &mut self.invites.email_needs_verified)?;
        set_duration(&env, "COURTYARD_GROUPS_CLOSE_GRACE", &mut self.groups.close_grace)?;
        set(&env, "COURTYARD_GROUPS_MAX_PER_USER", &mut self.groups.max_per_user)?;
        let sync = &mut self.sync;
        set(&env, "COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", &mut sync.long_poll_timeout_secs)?;
        set(&env, "COURTYARD_SYNC_SSE_TIMEOUT_SECS", &mut sync.sse_timeout_secs)?;
        set(&env, "COURTYARD_SYNC_CHUNK_BYTES", &mut sync.chunk_bytes)?;
        set(&env, "COURTYARD_SYNC_TAIL_BUDGET_BYTES", &mut sync.tail_budget_bytes)?;
        set(&env, "COURTYARD_SYNC_MAX_SNAPSHOT_LAG", &mut sync.max_snapshot_lag)?;
        set_duration(&env, "COURTYARD_SYNC_LOG_RETENTION", &mut sync.log_retention)?;
        set(&env, "COURTYARD_SYNC_LOG_KEEP_MIN", &mut sync.log_keep_min)?;
        set(&env, "COURTYARD_SYNC_LOG_COMPACTION", &mut sync.log_compaction)?;
        set_duration(&env, "COURTYARD_SYNC_LOG_SWEEP_INTERVAL", &mut sync.log_sweep_interval)?;
        let mail = &mut self.mail;
        set(&env, "COURTYARD_MAIL_SMTP_URL", &mut mail.smtp_url)?;
        set(&env, "COURTYARD_MAIL_FROM", &mut mail.from)?;
        set_duration(&env, "COURTYARD_MAIL_RETRY_INITIAL", &mut mail.retry_initial)?;
        set_duration(&env, "COURTYARD_MAIL_RETRY_MAX", &mut mail.retry_max)?;
        set_duration(&env, "COURTYARD_MAIL_GIVE_UP_AFTER", &mut mail.give_up_after)?;
        set_duration(&env, "COURTYARD_MAIL_POLL_INTERVAL", &mut mail.poll_interval)?;
        set_duration(&env, "COURTYARD_MAIL_KEEP_SENT", &mut mail.keep_sent)?;
        set_duration(&env, "COURTYARD_MAIL_NOTIFY_INTERVAL", &mut mail.notify_interval)?;
        set_duration(&env, "COURTYARD_MAIL_DIGEST_EVERY", &mut mail.digest_every)?;
        set_duration(&env, "COURTYARD_MAIL_BOOKING_REMINDER", &mut mail.booking_reminder)?;
        let accounts = &mut self.accounts;
        set_duration(&env, "COURTYARD_ACCOUNTS_RESET_LINK_TTL", &mut accounts.reset_link_ttl)?;
        set_duration(&env, "COURTYARD_ACCOUNTS_VERIFY_LINK_TTL", &mut accounts.verify_link_ttl)?;
        set(&env, "COURTYARD_ACCOUNTS_MAX_RESETS_PER_EMAIL", &mut accounts.max_resets_per_email)?;
        set(&env, "COURTYARD_ACCOUNTS_MAX_RESETS_PER_IP", &mut accounts.max_resets_per_ip)?;
        set_duration(&env, "COURTYARD_ACCOUNTS_RESET_WINDOW", &mut accounts.reset_window)?;
        let files = &mut self.files;
        set(&env, "COURTYARD_FILES_STORE", &mut files.store)?;
        set(&env, "COURTYARD_FILES_MAX_FILE_BYTES", &mut files.max_file_bytes)?;
        set(&env, "COURTYARD_FILES_MAX_GROUP_BYTES", &mut files.max_group_bytes)?;
        set_duration(&env, "COURTYARD_FILES_SWEEP_INTERVAL", &mut files.sweep_interval)?;
        set(&env, "COURTYARD_METRICS_PER_GROUP", &mut self.metrics.per_group)?;
        set(&env, "COURTYARD_METRICS_TOKEN", &mut self.metrics.token)?;
        // Set by `cargo leptos watch`: its live-reload socket must pass the CSP.
        self.live_reload = env("LEPTOS_WATCH").is_some();
        Ok(())
    }

    /// The settings request handling needs.
    pub fn settings(&self, leptos: &leptos::config::LeptosOptions) -> app::backend::Settings {
        let session = &self.session;
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let or_cores = |n: usize| if n == 0 { cores } else { n };
        let origin = self.server.public_origin.trim().trim_end_matches('/');
        app::backend::Settings {
            session_ttl: chrono::Duration::days(session.ttl_days.into()),
            // Served over HTTPS, the site's origin is https and its cookie
            // Secure, whatever `session.secure_cookie` says.
            secure_cookies: session.secure_cookie || self.server.tls().is_some(),
            invite_ttl: chrono::Duration::hours(self.invites.ttl_hours.into()),
            email_invites_need_verified: self.invites.email_needs_verified,
            close_grace: chrono_duration(self.groups.close_grace),
            login_limits: app::backend::LoginLimits {
                per_account: session.max_login_failures_per_account.into(),
                per_ip: session.max_login_failures_per_ip.into(),
                window: chrono::Duration::minutes(session.login_failure_window_minutes.into()),
            },
            signup_limits: app::backend::SignupLimits {
                per_ip: session.max_signups_per_ip.into(),
                window: chrono::Duration::minutes(session.signup_window_minutes.into()),
            },
            max_groups_per_user: self.groups.max_per_user.into(),
            hashes_at_once: or_cores(session.password_hashes_at_once),
            hashes_waiting: or_cores(session.password_hashes_waiting),
            public_origin: (!origin.is_empty()).then(|| origin.to_owned()),
            live_reload_port: self.live_reload.then(|| leptos.reload_external_port.unwrap_or(leptos.reload_port)),
            metrics_per_group: self.metrics.per_group,
            links_base: self.links_base(),
            reset_link_ttl: chrono_duration(self.accounts.reset_link_ttl),
            verify_link_ttl: chrono_duration(self.accounts.verify_link_ttl),
            reset_limits: app::backend::EmailLimits {
                per_email: self.accounts.max_resets_per_email.into(),
                per_ip: self.accounts.max_resets_per_ip.into(),
                window: chrono_duration(self.accounts.reset_window),
            },
            notify: !self.mail.smtp_url.trim().is_empty() || cfg!(debug_assertions),
            digest_every: chrono_duration(self.mail.digest_every),
            booking_reminder: chrono_duration(self.mail.booking_reminder),
            files: app::backend::files::FileSettings {
                store: self.files.store.trim().to_owned(),
                max_file_bytes: self.files.max_file_bytes,
                max_group_bytes: self.files.max_group_bytes,
                keep_released: chrono_duration(self.sync.log_retention),
            },
        }
    }
}

/// (Bounded by the checks: at most 10 years.)
fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

fn set<T: std::str::FromStr>(
    env: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    field: &mut T,
) -> Result<(), ConfigError> {
    if let Some(value) = env(name) {
        *field = value.trim().parse().map_err(|_| ConfigError::Env { name, value })?;
    }
    Ok(())
}

/// A duration from the environment, written as in `Leptos.toml` ("7d").
fn set_duration(
    env: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    field: &mut Duration,
) -> Result<(), ConfigError> {
    if let Some(value) = env(name) {
        *field = humantime_serde::re::humantime::parse_duration(value.trim())
            .map_err(|_| ConfigError::Env { name, value })?;
    }
    Ok(())
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("server", &self.server)
            .field("database", &self.database)
            .field("session", &self.session)
            .field("invites", &self.invites)
            .field("groups", &self.groups)
            .field("sync", &self.sync)
            .field("metrics", &self.metrics)
            .field("mail", &self.mail)
            .field("accounts", &self.accounts)
            .field("databases", &self.databases)
            .finish()
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact_password(&self.url))
            .field("max_connections", &self.max_connections)
            .field("migrate_parallelism", &self.migrate_parallelism)
            .field("placement", &self.placement)
            .field("move_grace", &self.move_grace)
            .finish()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Leptos.toml");
        Config::load(&path, |name| env.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn the_shipped_leptos_toml_loads() {
        let config = load(&[]).unwrap();
        assert_eq!(config.sync.long_poll_timeout_secs, 20);
        assert_eq!(config.server.site_addr.port(), 3000);
        assert_eq!(config.sync.log_retention, Duration::from_secs(7 * 86_400));
        assert_eq!(config.sync.log_sweep_interval, Duration::from_secs(60));
    }

    #[test]
    fn environment_overrides_the_file() {
        let config = load(&[
            ("DATABASE_URL", "postgres://u:pw@db/x"),
            ("COURTYARD_SITE_ADDR", "0.0.0.0:8080"),
            ("COURTYARD_SYNC_CHUNK_BYTES", "4096"),
            ("COURTYARD_SYNC_LOG_RETENTION", "90s"),
            ("COURTYARD_SYNC_LOG_COMPACTION", "false"),
        ])
        .unwrap();
        assert_eq!(config.sync.log_retention, Duration::from_secs(90));
        assert!(!config.sync.log_compaction);
        assert_eq!(config.database.url, "postgres://u:pw@db/x");
        assert_eq!(config.server.site_addr.port(), 8080);
        assert_eq!(config.sync.chunk_bytes, 4096);
    }

    #[test]
    fn a_limit_of_zero_is_refused_at_start_up() {
        let error = load(&[("COURTYARD_SESSION_MAX_LOGIN_FAILURES_PER_ACCOUNT", "0")]).unwrap_err();
        assert!(error.to_string().contains("max_login_failures_per_account"), "{error}");
        let error = load(&[("COURTYARD_SYNC_LOG_KEEP_MIN", "0")]).unwrap_err();
        assert!(error.to_string().contains("log_keep_min"), "{error}");
        let error = load(&[("COURTYARD_SYNC_LOG_SWEEP_INTERVAL", "0s")]).unwrap_err();
        assert!(error.to_string().contains("log_sweep_interval"), "{error}");
    }

    #[test]
    fn times_that_could_overflow_are_refused_at_start_up() {
        for (name, value, key) in [
            ("COURTYARD_SYNC_SSE_TIMEOUT_SECS", "3601", "sync.sse_timeout_secs"),
            ("COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", "3601", "sync.long_poll_timeout_secs"),
            ("COURTYARD_SYNC_LOG_RETENTION", "0s", "sync.log_retention"),
            ("COURTYARD_SYNC_LOG_RETENTION", "11y", "sync.log_retention"),
            ("COURTYARD_SYNC_LOG_RETENTION", "100000000y", "sync.log_retention"),
            ("COURTYARD_SYNC_LOG_SWEEP_INTERVAL", "11y", "sync.log_sweep_interval"),
        ] {
            let error = load(&[(name, value)]).unwrap_err();
            assert!(matches!(error, ConfigError::Invalid { name, .. } if name == key), "{name}={value}: {error}");
        }
        // The bounds themselves are fine.
        let config = load(&[
            ("COURTYARD_SYNC_SSE_TIMEOUT_SECS", "3600"),
            ("COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", "3600"),
            ("COURTYARD_SYNC_LOG_RETENTION", "10y"),
            ("COURTYARD_SYNC_LOG_SWEEP_INTERVAL", "10y"),
        ])
        .unwrap();
        assert_eq!(config.sync.log_retention, MAX_RETENTION);
    }

    #[test]
    fn migrations_leave_the_requests_a_connection() {
        let config = load(&[]).unwrap();
        assert_eq!(config.database.migrate_parallelism(), 4, "the default, from 10 connections");
        let config = load(&[("COURTYARD_DATABASE_MAX_CONNECTIONS", "4")]).unwrap();
        assert_eq!(config.database.migrate_parallelism(), 2, "LISTEN and the requests keep one each");
        let config = load(&[("COURTYARD_DATABASE_MAX_CONNECTIONS", "3")]).unwrap();
        assert_eq!(config.database.migrate_parallelism(), 1);
        let config = load(&[("COURTYARD_DATABASE_MIGRATE_PARALLELISM", "8")]).unwrap();
        assert_eq!(config.database.migrate_parallelism(), 8);
        let error = load(&[("COURTYARD_DATABASE_MIGRATE_PARALLELISM", "9")]).unwrap_err();
        assert!(error.to_string().contains("migrate_parallelism"), "{error}");
        let error = load(&[("COURTYARD_DATABASE_MAX_CONNECTIONS", "2")]).unwrap_err();
        assert!(error.to_string().contains("max_connections"), "{error}");
    }

    #[test]
    fn mail_settings_are_checked_at_start_up() {
        let config = load(&[]).unwrap();
        assert!(config.mail.smtp_url.is_empty(), "mail goes to the log by default");
        assert_eq!(config.links_base(), "http://127.0.0.1:3000");
        let error = load(&[("COURTYARD_MAIL_SMTP_URL", "smtps://u:secret@mail.example")]).unwrap_err();
        assert!(error.to_string().contains("server.public_origin"), "mail needs the links' origin: {error}");
        let config = load(&[
            ("COURTYARD_MAIL_SMTP_URL", "smtps://u:secret@mail.example"),
            ("COURTYARD_PUBLIC_ORIGIN", "https://courtyard.example/"),
        ])
        .unwrap();
        assert_eq!(config.links_base(), "https://courtyard.example");
        assert!(!format!("{config:?}").contains("secret"), "the SMTP password is not logged");
        for (name, value, key) in [
            ("COURTYARD_MAIL_FROM", "not an address", "mail.from"),
            ("COURTYARD_MAIL_RETRY_INITIAL", "0s", "mail.retry_initial"),
            ("COURTYARD_ACCOUNTS_RESET_LINK_TTL", "11y", "accounts.reset_link_ttl"),
            ("COURTYARD_ACCOUNTS_MAX_RESETS_PER_IP", "0", "accounts.max_resets_per_ip"),
            ("COURTYARD_PUBLIC_ORIGIN", "courtyard.example", "server.public_origin"),
            ("COURTYARD_PUBLIC_ORIGIN", "https://courtyard.example/app", "server.public_origin"),
        ] {
            let error = load(&[(name, value)]).unwrap_err();
            assert!(matches!(error, ConfigError::Invalid { name, .. } if name == key), "{name}={value}: {error}");
        }
        let error = load(&[
            ("COURTYARD_MAIL_SMTP_URL", "http://mail.example"),
            ("COURTYARD_PUBLIC_ORIGIN", "https://courtyard.example"),
        ])
        .unwrap_err();
        assert!(error.to_string().contains("mail.smtp_url"), "{error}");
    }

    #[test]
    fn per_group_metrics_need_a_token() {
        let error = load(&[("COURTYARD_METRICS_PER_GROUP", "true")]).unwrap_err();
        assert!(error.to_string().contains("metrics.per_group"), "{error}");
        let config = load(&[("COURTYARD_METRICS_PER_GROUP", "true"), ("COURTYARD_METRICS_TOKEN", "t0ken")]).unwrap();
        assert!(config.metrics.per_group);
    }

    #[test]
    fn a_config_file_from_before_the_metrics_mail_and_accounts_sections_still_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Leptos.toml");
        let shipped = std::fs::read_to_string(path).unwrap();
        let old: String = shipped
            .split("\n[metrics]")
            .next()
            .unwrap()
            .lines()
            .filter(|line| !line.starts_with("migrate_parallelism"))
            .map(|line| format!("{line}\n"))
            .collect();
        let dir = std::env::temp_dir().join(format!("courtyard-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("Leptos.toml");
        std::fs::write(&file, old).unwrap();
        let config = Config::load(&file, |_| None).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(!config.metrics.per_group);
        assert!(config.metrics.token.is_empty());
        assert_eq!(config.database.migrate_parallelism(), 4);
    }

    #[test]
    fn tls_needs_both_the_certificate_and_the_key() {
        let leptos = leptos::config::LeptosOptions::builder().output_name("courtyard").build();
        let config = load(&[]).unwrap();
        assert_eq!(config.server.tls(), None, "plain HTTP unless set");
        assert!(!config.settings(&leptos).secure_cookies);
        let error = load(&[("COURTYARD_TLS_CERT", "/etc/courtyard/cert.pem")]).unwrap_err();
        assert!(error.to_string().contains("server.tls_key"), "{error}");
        let error = load(&[("COURTYARD_TLS_KEY", "/etc/courtyard/key.pem")]).unwrap_err();
        assert!(error.to_string().contains("server.tls_cert"), "{error}");
        let config =
            load(&[("COURTYARD_TLS_CERT", "/etc/courtyard/cert.pem"), ("COURTYARD_TLS_KEY", "/etc/courtyard/key.pem")])
                .unwrap();
        assert_eq!(
            config.server.tls(),
            Some((Path::new("/etc/courtyard/cert.pem"), Path::new("/etc/courtyard/key.pem")))
        );
        // Served over HTTPS: the cookie is Secure and the origin https.
        assert!(config.settings(&leptos).secure_cookies);
    }

    #[test]
    fn a_malformed_override_names_its_variable() {
        let error = load(&[("COURTYARD_SESSION_TTL_DAYS", "soon")]).unwrap_err();
        assert!(error.to_string().contains("COURTYARD_SESSION_TTL_DAYS"));
        let error = load(&[("COURTYARD_SYNC_LOG_RETENTION", "a week")]).unwrap_err();
        assert!(error.to_string().contains("COURTYARD_SYNC_LOG_RETENTION"));
    }

    #[test]
    fn debug_output_hides_the_database_password() {
        let config = load(&[("DATABASE_URL", "postgres://u:hunter2@db/x")]).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("u:***@db"));
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let config = load(&[("COURTYARD_TRUSTED_PROXIES", "10.0.0.5, 172.28.0.0/24 ::1")]).unwrap();
        let proxies = config.server.trusted_proxies().unwrap();
        assert_eq!(proxies.len(), 3);
        assert!(proxies[0].contains(&"10.0.0.5".parse::<std::net::IpAddr>().unwrap()));
        let error = load(&[("COURTYARD_TRUSTED_PROXIES", "nginx")]).unwrap_err();
        assert!(error.to_string().contains("server.trusted_proxies"), "{error}");
    }

    #[test]
    fn without_databases_listed_the_registry_is_the_one_group_database() {
        let config = load(&[]).unwrap();
        let list = config.group_databases();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].name, "main");
        assert!(list[0].is_registry(&config.database.url) && list[0].new_groups);
        assert_eq!(config.database.placement, Placement::FewestGroups);
    }

    #[test]
    fn group_databases_from_the_environment() {
        let config = load(&[
            ("COURTYARD_DATABASES", "main= east=postgres://u:pw@east/groups"),
            ("COURTYARD_DATABASE_PLACEMENT", "random"),
        ])
        .unwrap();
        let list = config.group_databases();
        assert_eq!(list.iter().map(|db| db.name.as_str()).collect::<Vec<_>>(), ["main", "east"]);
        assert!(list[0].is_registry(&config.database.url));
        assert!(!list[1].is_registry(&config.database.url));
        assert_eq!(list[1].max_connections, 10);
        assert_eq!(config.database.placement, Placement::Random);
        assert!(!format!("{config:?}").contains("u:pw@"), "the password is hidden");
        let spelled =
            load(&[("COURTYARD_DATABASES", "main=postgres://postgres@127.0.0.1/courtyard?application_name=x")])
                .unwrap();
        assert!(
            spelled.group_databases()[0].is_registry(&spelled.database.url),
            "the same database, spelled otherwise"
        );
        let error = load(&[("COURTYARD_DATABASES", "east")]).unwrap_err();
        assert!(error.to_string().contains("COURTYARD_DATABASES"));
        let error = load(&[("COURTYARD_DATABASE_PLACEMENT", "anywhere")]).unwrap_err();
        assert!(error.to_string().contains("COURTYARD_DATABASE_PLACEMENT"));
    }

    #[test]
    fn group_databases_that_cannot_work_are_refused() {
        for list in [
            "main= main=postgres://other/db",
            "Main=",
            "=postgres://other/db",
            "a= b=",
            "a-very-long-name-that-goes-on-and-on=postgres://x/y",
            "registry=postgres://x/y",
        ] {
            let error = load(&[("COURTYARD_DATABASES", list)]).unwrap_err();
            assert!(error.to_string().starts_with("databases "), "{list}: {error}");
        }
    }
}
