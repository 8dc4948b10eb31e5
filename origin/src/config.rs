//! Configuration: environment variables (and a `.env` file) with matching command-line flags.
//! Bad values stop start-up with a message naming the variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "usso-origin",
    version,
    about = "USSO-compatible identity service (origin)"
)]
pub struct Cli {
    /// Settings shared by every command.
    #[command(flatten)]
    pub config: Config,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Settings.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(
        long,
        env = "USSO_LISTEN",
        default_value = "127.0.0.1:8000",
        global = true
    )]
    pub listen: SocketAddr,
    /// Directory of the embedded stores and the generated master key.
    #[arg(long, env = "USSO_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// Master key sealing private keys at rest (32 bytes, base64url); generated and saved in
    /// the data directory on first start when absent.
    #[arg(long, env = "USSO_MASTER_KEY", hide_env_values = true, global = true)]
    pub master_key: Option<String>,
    /// The system administrator's password (username `system`); generated and shown once on
    /// first start when unset; setting it later and restarting resets it.
    #[arg(long, env = "SYSTEM_PASSWORD", hide_env_values = true, global = true)]
    pub system_password: Option<String>,
    /// Issuer URL of the default tenant (default: `http://localhost:<port>`).
    #[arg(long, env = "USSO_ISSUER", global = true)]
    pub issuer: Option<String>,
    /// Access-token lifetime in seconds for new tenants.
    #[arg(
        long,
        env = "ACCESS_TOKEN_EXPIRE",
        default_value_t = 3600,
        global = true
    )]
    pub access_token_expire: i64,
    /// Refresh-token lifetime in seconds for new tenants.
    #[arg(
        long,
        env = "REFRESH_TOKEN_EXPIRE",
        default_value_t = 2_592_000,
        global = true
    )]
    pub refresh_token_expire: i64,
    /// Log format: `text` or `json`.
    #[arg(long, env = "USSO_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"], global = true)]
    pub log_format: String,
    /// Argon2id memory cost in KiB (OWASP minimum 19456).
    #[arg(
        long,
        env = "USSO_ARGON2_MEMORY_KIB",
        default_value_t = 19_456,
        global = true
    )]
    pub argon2_memory_kib: u32,
    /// Argon2id iterations (minimum 2).
    #[arg(
        long,
        env = "USSO_ARGON2_ITERATIONS",
        default_value_t = 2,
        global = true
    )]
    pub argon2_iterations: u32,
    /// Argon2id parallelism.
    #[arg(
        long,
        env = "USSO_ARGON2_PARALLELISM",
        default_value_t = 1,
        global = true
    )]
    pub argon2_parallelism: u32,
    /// Concurrent password hashes (default: the number of cores).
    #[arg(long, env = "USSO_HASH_WORKERS", global = true)]
    pub hash_workers: Option<usize>,
    /// Password hashes allowed to wait for a worker before answering 429.
    #[arg(long, env = "USSO_HASH_QUEUE", default_value_t = 64, global = true)]
    pub hash_queue: usize,
    /// Check on every verify that the session is still live (instant revocation, one read).
    #[arg(
        long,
        env = "USSO_STRICT_VERIFY",
        default_value_t = false,
        global = true
    )]
    pub strict_verify: bool,
    /// MongoDB Data API base URL (up to `/action/…`): the durable store is MongoDB instead of the
    /// embedded SQLite.
    #[arg(long, env = "USSO_MONGO_DATA_API_URL", global = true)]
    pub mongo_url: Option<String>,
    /// Data API key (Atlas: `apiKey` header).
    #[arg(
        long,
        env = "USSO_MONGO_DATA_API_KEY",
        hide_env_values = true,
        global = true
    )]
    pub mongo_api_key: Option<String>,
    /// Data API user for HTTP Basic authentication (FerretDB), with `USSO_MONGO_PASSWORD`.
    #[arg(long, env = "USSO_MONGO_USER", global = true)]
    pub mongo_user: Option<String>,
    /// Data API password for HTTP Basic authentication.
    #[arg(
        long,
        env = "USSO_MONGO_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub mongo_password: Option<String>,
    /// The Data API `dataSource` (Atlas: the linked cluster's name).
    #[arg(
        long,
        env = "USSO_MONGO_DATA_SOURCE",
        default_value = "mongodb-atlas",
        global = true
    )]
    pub mongo_data_source: String,
    /// The database.
    #[arg(
        long,
        env = "USSO_MONGO_DATABASE",
        default_value = "usso",
        global = true
    )]
    pub mongo_database: String,
    /// Seconds before a Data API request times out.
    #[arg(
        long,
        env = "USSO_MONGO_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub mongo_timeout_secs: u64,
    /// SMTP relay for one-time codes and magic links (unset: the development mailer, which only
    /// logs and writes `<data dir>/dev-outbox.jsonl`).
    #[arg(long, env = "USSO_SMTP_HOST", global = true)]
    pub smtp_host: Option<String>,
    /// SMTP port.
    #[arg(long, env = "USSO_SMTP_PORT", default_value_t = 587, global = true)]
    pub smtp_port: u16,
    /// `starttls` (required STARTTLS), `tls` (SMTPS) or `none`.
    #[arg(
        long,
        env = "USSO_SMTP_SECURITY",
        default_value = "starttls",
        global = true
    )]
    pub smtp_security: String,
    /// SMTP user (AUTH).
    #[arg(long, env = "USSO_SMTP_USER", global = true)]
    pub smtp_user: Option<String>,
    /// SMTP password.
    #[arg(
        long,
        env = "USSO_SMTP_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub smtp_password: Option<String>,
    /// Sender mailbox, e.g. `Acme <no-reply@acme.test>`.
    #[arg(long, env = "USSO_SMTP_FROM", global = true)]
    pub smtp_from: Option<String>,
    /// Twilio account SID (SMS through Twilio's Messages API).
    #[arg(long, env = "USSO_TWILIO_ACCOUNT_SID", global = true)]
    pub twilio_account_sid: Option<String>,
    /// Twilio auth token.
    #[arg(
        long,
        env = "USSO_TWILIO_AUTH_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub twilio_auth_token: Option<String>,
    /// Twilio sender number.
    #[arg(long, env = "USSO_TWILIO_FROM", global = true)]
    pub twilio_from: Option<String>,
    /// Twilio API base URL (tests point it at a local receiver).
    #[arg(long, env = "USSO_TWILIO_BASE_URL", global = true)]
    pub twilio_base_url: Option<String>,
    /// Any SMS gateway: messages are POSTed here with an HMAC signature.
    #[arg(long, env = "USSO_SMS_WEBHOOK_URL", global = true)]
    pub sms_webhook_url: Option<String>,
    /// The webhook's HMAC secret.
    #[arg(
        long,
        env = "USSO_SMS_WEBHOOK_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub sms_webhook_secret: Option<String>,
    /// Serve the edge core's opt-in benchmark routes (`/__bench/*`; never in production).
    #[arg(
        long,
        env = "USSO_BENCH_ROUTES",
        default_value_t = false,
        global = true
    )]
    pub bench_routes: bool,
    /// Upstash REST URL of the hot store (with `UPSTASH_REDIS_REST_TOKEN`).
    #[arg(long, env = "UPSTASH_REDIS_REST_URL", global = true)]
    pub upstash_url: Option<String>,
    /// Upstash REST token.
    #[arg(
        long,
        env = "UPSTASH_REDIS_REST_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub upstash_token: Option<String>,
    /// A self-hosted Redis as the hot store (`redis://host:port/db`); also what the
    /// Upstash-compatible gateway serves when `USSO_GATEWAY_TOKEN` is set.
    #[arg(long, env = "USSO_REDIS_URL", hide_env_values = true, global = true)]
    pub redis_url: Option<String>,
    /// Bearer token edge functions send to the gateway at `/redis` (≥ 16 characters).
    #[arg(
        long,
        env = "USSO_GATEWAY_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub gateway_token: Option<String>,
    /// Key prefix the gateway confines clients to.
    #[arg(
        long,
        env = "USSO_GATEWAY_PREFIX",
        default_value = "usso:",
        global = true
    )]
    pub gateway_prefix: String,
    /// Trust `X-Forwarded-For` for the client address (only behind your own proxy).
    #[arg(long, env = "USSO_TRUST_PROXY", default_value_t = false, global = true)]
    pub trust_proxy: bool,
    /// Longest wait for a request's headers, from the moment the connection may send one (so
    /// it also closes idle keep-alive connections and connections that send nothing).
    #[arg(
        long,
        env = "USSO_HEADER_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub header_timeout_secs: u64,
    /// `host:port`s whose OAuth client metadata documents may be fetched over plain HTTP and
    /// from loopback or private addresses (comma-separated). For tests only: leave it empty.
    #[arg(
        long,
        env = "USSO_OAUTH_METADATA_INSECURE_HOSTS",
        value_delimiter = ',',
        global = true
    )]
    pub oauth_metadata_insecure_hosts: Vec<String>,
    /// Longest wait for a request's whole body once its headers arrived.
    #[arg(
        long,
        env = "USSO_BODY_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub body_timeout_secs: u64,
    /// Most connections served at once; beyond it new connections are closed at once (keep it
    /// well below the process's file-descriptor limit).
    #[arg(
        long,
        env = "USSO_MAX_CONNECTIONS",
        default_value_t = 1024,
        global = true
    )]
    pub max_connections: usize,
    /// Threads serving connections, each with its own single-threaded runtime, connections
    /// handed to them in turn (default: the number of cores; 0: served on the main runtime).
    #[arg(long, env = "USSO_CONN_THREADS", global = true)]
    pub conn_threads: Option<usize>,
    /// Largest request head (request line and headers), in bytes (8192 to 1048576); larger
    /// heads are refused with 431.
    #[arg(
        long,
        env = "USSO_MAX_HEADER_BYTES",
        default_value_t = 16384,
        global = true
    )]
    pub max_header_bytes: usize,
    /// Whether `X-Tenant-ID` may choose the tenant (the contract's first rule). `false`: only
    /// `Host` (and `?domain=` for JWKS/discovery) does.
    #[arg(long, env = "USSO_TENANT_HEADER", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub tenant_header: bool,
    /// Generation of the edge key (`key edge-secret`): raise it to rotate the key the edges
    /// hold without changing the master key.
    #[arg(
        long,
        env = "USSO_EDGE_KEY_GENERATION",
        default_value_t = 1,
        global = true
    )]
    pub edge_key_generation: u32,
    /// Audit entries older than this many days are deleted (hourly); 0 keeps them forever.
    #[arg(
        long,
        env = "USSO_AUDIT_RETENTION_DAYS",
        default_value_t = 365,
        global = true
    )]
    pub audit_retention_days: u32,
    /// How many reverse proxies in front of the origin append to `X-Forwarded-For` /
    /// `Forwarded`: the client address is that many entries from the right (0: the socket
    /// peer). `USSO_TRUST_PROXY=true` alone means 1.
    #[arg(long, env = "USSO_TRUSTED_PROXY_HOPS", global = true)]
    pub trusted_proxy_hops: Option<u8>,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Key(KeyCommand),
}

/// Tenant commands.
#[derive(Debug, Subcommand)]
// Parsed once per process from the command line: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum TenantCommand {
    /// Create a tenant (with its first signing key).
    Create {
        /// Tenant id (A-Z a-z 0-9 _ -).
        id: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Host names resolving to the tenant (repeatable).
        #[arg(long = "domain")]
        domains: Vec<String>,
        /// Issuer URL (default: `https://<first domain>`).
        #[arg(long)]
        issuer: Option<String>,
        /// Issue tokens without `aud`.
        #[arg(long)]
        no_audience: bool,
        /// Where magic links may redirect (absolute URL, or a prefix ending in `/`; repeatable).
        #[arg(long = "redirect")]
        redirects: Vec<String>,
        /// What a password account needs before it signs in: `identifier` (its email or phone
        /// proven by a code first; the default for new tenants) or `none`.
        #[arg(long, default_value = "identifier", value_parser = ["identifier", "none"])]
        activation: String,
        /// Password logins also need a one-time code.
        #[arg(long)]
        require_mfa: bool,
        /// Routes that need a solved proof-of-work challenge: otp, magic_link, login
        /// (repeatable).
        #[arg(long = "captcha")]
        captcha: Vec<String>,
        /// The tenant's own SMTP relay (else the origin's `USSO_SMTP_*`).
        #[arg(long = "tenant-smtp-host")]
        smtp_host: Option<String>,
        /// Its port.
        #[arg(long = "tenant-smtp-port", default_value_t = 587)]
        smtp_port: u16,
        /// `starttls`, `tls` or `none`.
        #[arg(long = "tenant-smtp-security", default_value = "starttls")]
        smtp_security: String,
        /// Its user.
        #[arg(long = "tenant-smtp-user")]
        smtp_user: Option<String>,
        /// Its password (sealed at rest), from the environment only.
        #[arg(
            long = "tenant-smtp-password",
            env = "USSO_TENANT_SMTP_PASSWORD",
            hide_env_values = true
        )]
        smtp_password: Option<String>,
        /// The tenant's sender, e.g. `Acme <no-reply@acme.test>`.
        #[arg(long = "tenant-smtp-from")]
        smtp_from: Option<String>,
    },
    /// List tenants.
    List,
    /// Change a tenant's policy: a JSON object of fields (name, registration_enabled,
    /// password_min_length, login/otp limits, otp {length, ttl_secs, max_attempts}, templates,
    /// magic_link_ttl_secs, allowed_redirects, require_mfa, captcha, is_active, token lifetimes).
    Update {
        /// Tenant.
        tenant: String,
        /// The changes, e.g. `{"otp": {"length": 8}}`.
        #[arg(long = "set")]
        set: String,
    },
    /// Export everything the tenant holds as JSON lines on stdout (users, identifiers, the
    /// tenant record, the audit trail; password hashes redacted, signing keys left out).
    Export {
        /// Tenant.
        #[arg(default_value = "org_default")]
        tenant: String,
    },
}

/// User commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user with a password (read from USSO_NEW_PASSWORD or the --password flag).
    Create {
        /// Email, phone (E.164) or username.
        identifier: String,
        /// Tenant.
        #[arg(long, default_value = "org_default")]
        tenant: String,
        /// Password.
        #[arg(long, env = "USSO_NEW_PASSWORD", hide_env_values = true)]
        password: String,
        /// Role slugs (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Direct scopes (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// Disable a user: they can no longer sign in, and every session of theirs ends at once.
    Disable {
        /// Any of the user's identifiers (email, phone, username).
        identifier: String,
        /// Tenant.
        #[arg(long, default_value = "org_default")]
        tenant: String,
    },
    /// Enable a disabled user again.
    Enable {
        /// Any of the user's identifiers.
        identifier: String,
        /// Tenant.
        #[arg(long, default_value = "org_default")]
        tenant: String,
    },
    /// Erase a user: revoke their sessions, delete their account and identifiers, strip the
    /// audit entries that name them.
    Erase {
        /// Any of the user's identifiers (email, phone, username).
        identifier: String,
        /// Tenant.
        #[arg(long, default_value = "org_default")]
        tenant: String,
    },
}

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Rotate a tenant's signing key.
    Rotate {
        /// Tenant.
        #[arg(default_value = "org_default")]
        tenant: String,
    },
    /// List a tenant's keys.
    List {
        /// Tenant.
        #[arg(default_value = "org_default")]
        tenant: String,
    },
    /// Print the edge key (`USSO_EDGE_KEY` of the Workers and Spin deployments): it opens the
    /// published signing key and nothing else the origin seals.
    EdgeSecret {
        /// Generation to print (default: the configured `USSO_EDGE_KEY_GENERATION`); the next
        /// one, while rotating.
        #[arg(long)]
        generation: Option<u32>,
    },
}

/// The machine's cores (2 when the platform cannot tell): the default number of password-hash
/// workers and of connection threads.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

impl Config {
    /// Trusted reverse proxies in front of the origin (see `trusted_proxy_hops`).
    pub fn proxy_hops(&self) -> u8 {
        self.trusted_proxy_hops
            .unwrap_or(if self.trust_proxy { 1 } else { 0 })
    }

    /// Checks values that clap cannot.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=3600).contains(&self.header_timeout_secs)
            || !(1..=3600).contains(&self.body_timeout_secs)
        {
            return Err("USSO_HEADER_TIMEOUT_SECS and USSO_BODY_TIMEOUT_SECS: 1 to 3600".into());
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return Err("USSO_MAX_CONNECTIONS: 1 to 1000000".into());
        }
        if self.conn_threads.is_some_and(|n| n > 1024) {
            return Err("USSO_CONN_THREADS: 0 to 1024".into());
        }
        if !(8192..=1_048_576).contains(&self.max_header_bytes) {
            return Err("USSO_MAX_HEADER_BYTES: 8192 to 1048576".into());
        }
        if !(60..=86_400).contains(&self.access_token_expire) {
            return Err(format!(
                "ACCESS_TOKEN_EXPIRE must be between 60 and 86400 seconds, got {}",
                self.access_token_expire
            ));
        }
        if self.refresh_token_expire <= self.access_token_expire
            || self.refresh_token_expire > 31_536_000
        {
            return Err(format!(
                "REFRESH_TOKEN_EXPIRE must be longer than ACCESS_TOKEN_EXPIRE and at most 31536000 seconds, got {}",
                self.refresh_token_expire
            ));
        }
        if let Some(iss) = &self.issuer {
            if !(iss.starts_with("http://") || iss.starts_with("https://")) || iss.len() > 200 {
                return Err(format!("USSO_ISSUER must be an http(s) URL, got `{iss}`"));
            }
        }
        if self.gateway_token.is_some() && self.redis_url.is_none() {
            return Err(
                "USSO_GATEWAY_TOKEN needs USSO_REDIS_URL (the Redis the gateway serves)".into(),
            );
        }
        if self.upstash_url.is_some() != self.upstash_token.is_some() {
            return Err("UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN go together".into());
        }
        if self.upstash_url.is_some() && self.redis_url.is_some() {
            return Err("choose one hot store: USSO_REDIS_URL or UPSTASH_REDIS_REST_URL".into());
        }
        if let Some(u) = &self.upstash_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(format!(
                    "UPSTASH_REDIS_REST_URL must be an http(s) URL, got `{u}`"
                ));
            }
        }
        if let Some(u) = &self.mongo_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(format!(
                    "USSO_MONGO_DATA_API_URL must be an http(s) URL, got `{u}`"
                ));
            }
            match (&self.mongo_api_key, &self.mongo_user, &self.mongo_password) {
                (Some(_), None, None) | (None, Some(_), Some(_)) => {}
                _ => {
                    return Err("USSO_MONGO_DATA_API_URL needs either USSO_MONGO_DATA_API_KEY or USSO_MONGO_USER with USSO_MONGO_PASSWORD".into())
                }
            }
            if self.mongo_database.is_empty() || self.mongo_data_source.is_empty() {
                return Err(
                    "USSO_MONGO_DATABASE and USSO_MONGO_DATA_SOURCE must not be empty".into(),
                );
            }
            if !(1..=300).contains(&self.mongo_timeout_secs) {
                return Err("USSO_MONGO_TIMEOUT_SECS must be 1 to 300".into());
            }
        } else if self.mongo_api_key.is_some() || self.mongo_user.is_some() {
            return Err(
                "USSO_MONGO_DATA_API_KEY / USSO_MONGO_USER need USSO_MONGO_DATA_API_URL".into(),
            );
        }
        if self.hash_workers == Some(0) {
            return Err("USSO_HASH_WORKERS must be at least 1".into());
        }
        Ok(())
    }

    /// The default tenant's issuer.
    pub fn issuer(&self, bound: SocketAddr) -> String {
        self.issuer
            .clone()
            .unwrap_or_else(|| format!("http://localhost:{}", bound.port()))
    }
}
