//! The command line and environment: every option `confab --help` documents.

use std::net::SocketAddr;
use std::path::PathBuf;

use app::backup::Format;
use app::limits::{LimitsConfig, Rate};
use clap::{Args, Parser, Subcommand};
use ipnet::IpNet;

/// Confab: self-hosted real-time chat.
#[derive(Debug, Parser)]
#[command(name = "confab", version, about, long_about = None)]
pub struct Cli {
    /// How log lines are written: `text` to read on a terminal, or `json`, one object a line
    /// with the request's id, for a log shipper.
    #[arg(long, env = "CONFAB_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// What to do; serving is the default.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web app (the default when no command is given).
    Serve(Box<ServeArgs>),
    /// Write a backup of the instance, or of some rooms or a time range, as JSONL, XML or CSV.
    Backup(BackupArgs),
    /// Merge a backup (JSONL, XML or CSV) into the instance, all or nothing.
    Restore(RestoreArgs),
    /// Bring in another product's history: users, rooms, conversations, messages with their
    /// threads, reactions and files. All or nothing, like a restore; a second run adds nothing.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Write a consistent copy of the live database to FILE while the server keeps serving.
    Snapshot(SnapshotArgs),
    /// Manage accounts from the server's shell.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Remove the stored files that no message names any more (a running server also does
    /// this every ten minutes), once they are an hour old.
    PruneFiles(PruneArgs),
    /// Personal access tokens for the HTTP API (`/api/v1`): make one for a user, list a user's,
    /// or revoke one.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Bot accounts: programs that act through tokens, with no password.
    #[command(subcommand)]
    Bot(BotCommand),
    /// Web Push: show the instance's VAPID public key, or rotate the key pair.
    #[command(subcommand)]
    Push(PushCommand),
    /// Check a configuration (the serving options and environment) and say what to fix:
    /// database reachable and migrations current, the built site, the files folder and its free
    /// disk, push's public URL, and Redis in cluster mode. Changes nothing.
    Doctor(Box<ServeArgs>),
}

/// `confab token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make an access token for USER and print its secret (shown this once: only its hash is
    /// kept).
    Create {
        #[command(flatten)]
        db: DatabaseArg,
        user: String,
        /// What it is for, as the user's list of tokens shows it.
        #[arg(long)]
        name: String,
        /// What it may do: read, write and admin (an admin's powers; only for an admin),
        /// separated by commas.
        #[arg(long, default_value = "read,write")]
        scopes: String,
        /// How many days it lasts (at most 366); 0: until revoked.
        #[arg(long, default_value_t = 90)]
        days: u32,
    },
    /// List USER's tokens (never their secrets).
    List {
        #[command(flatten)]
        db: DatabaseArg,
        user: String,
    },
    /// Revoke USER's token ID (as `list` shows it): it lets no one in from the next request.
    Revoke {
        #[command(flatten)]
        db: DatabaseArg,
        user: String,
        id: String,
    },
}

/// `confab bot ...`.
#[derive(Debug, Subcommand)]
pub enum BotCommand {
    /// Make the bot account NAME: no password (no one logs in as it), marked as a bot wherever
    /// its name shows. Give it a token with `confab token create NAME`.
    Create {
        #[command(flatten)]
        db: DatabaseArg,
        name: String,
    },
}

/// `confab push ...`.
#[derive(Debug, Subcommand)]
pub enum PushCommand {
    /// Print the VAPID public key browsers subscribe with (made now if the instance has none).
    Keys {
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Make a new VAPID key pair. Every subscription was made for the old key, so all are
    /// dropped: each browser subscribes again the next time Confab is opened in it. Restart
    /// running servers afterwards, as they sign with the key they read at start.
    RotateKeys {
        #[command(flatten)]
        db: DatabaseArg,
    },
}

/// How this server sends Web Push notifications.
#[derive(Debug, Clone, Args)]
pub struct PushArgs {
    /// The address people reach Confab at (e.g. `https://chat.example.org`). Push services
    /// are told it (the VAPID `sub`) as the way to contact whoever runs this instance.
    #[arg(long, env = "CONFAB_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Whom push services should contact instead, as `mailto:` or `https:` (defaults to the
    /// public URL).
    #[arg(long, env = "CONFAB_PUSH_CONTACT")]
    pub push_contact: Option<String>,
    /// An origin taken as a push endpoint though it is not a public https host (a push service
    /// of your own network, e.g. `http://autopush.lan:8082`). Repeatable; the environment
    /// variable takes a comma-separated list.
    #[arg(
        long = "push-allow-endpoint",
        env = "CONFAB_PUSH_ALLOW_ENDPOINTS",
        value_delimiter = ','
    )]
    pub push_allow_endpoints: Vec<String>,
}

impl PushArgs {
    /// The sender's configuration, or why these options cannot work.
    pub fn config(&self) -> Result<app::push::send::PushConfig, String> {
        let subject = match (&self.push_contact, &self.public_url) {
            (Some(contact), _) => contact.trim().to_owned(),
            (None, Some(url)) => url.trim().trim_end_matches('/').to_owned(),
            (None, None) => DEFAULT_PUSH_CONTACT.to_owned(),
        };
        if !(subject.starts_with("mailto:") || subject.starts_with("https://")) {
            return Err(format!(
                "the push contact {subject:?} must start with mailto: or https:// \
                 (set --public-url to the https address of this instance, or --push-contact)"
            ));
        }
        let mut config = app::push::send::PushConfig::new(subject);
        for origin in &self.push_allow_endpoints {
            let origin = origin.trim().trim_end_matches('/');
            let uri: http::Uri = origin
                .parse()
                .map_err(|_| format!("--push-allow-endpoint {origin:?} is not an origin"))?;
            if uri.scheme().is_none() || uri.authority().is_none() || uri.path() != "/" {
                return Err(format!(
                    "--push-allow-endpoint {origin:?} must be an origin such as http://host:port"
                ));
            }
            config.allowed_origins.push(origin.to_owned());
        }
        Ok(config)
    }
}

/// How this server previews links posted in messages.
#[derive(Debug, Clone, Args)]
pub struct PreviewArgs {
    /// Fetch the first link of each message and show its title, description and image under
    /// it: `on` or `off`.
    #[arg(long, env = "CONFAB_LINK_PREVIEWS", default_value = "on", value_parser = ["on", "off"])]
    pub link_previews: String,
    /// Preview only links to these hosts (and their subdomains). Repeatable; the environment
    /// variable takes a comma-separated list. Without it, every public host is previewed.
    #[arg(
        long = "preview-allow-host",
        env = "CONFAB_PREVIEW_ALLOW_HOSTS",
        value_delimiter = ','
    )]
    pub allow_hosts: Vec<String>,
    /// Never preview links to these hosts (and their subdomains).
    #[arg(
        long = "preview-deny-host",
        env = "CONFAB_PREVIEW_DENY_HOSTS",
        value_delimiter = ','
    )]
    pub deny_hosts: Vec<String>,
    /// A host previewed even on a private or local address (an intranet's wiki). Every other
    /// host must resolve to public addresses only.
    #[arg(
        long = "preview-trust-host",
        env = "CONFAB_PREVIEW_TRUSTED_HOSTS",
        value_delimiter = ','
    )]
    pub trusted_hosts: Vec<String>,
    /// A fixed address for a name, as `name=address`, used instead of DNS when previewing
    /// (as `/etc/hosts` is). The address is still vetted unless the name is trusted.
    #[arg(
        long = "preview-resolve",
        env = "CONFAB_PREVIEW_RESOLVE",
        value_delimiter = ','
    )]
    pub resolve: Vec<String>,
}

impl PreviewArgs {
    /// The fetcher's configuration, or `None` when previews are off; or why these options
    /// cannot work.
    pub fn config(&self) -> Result<Option<app::preview::fetch::PreviewConfig>, String> {
        if self.link_previews == "off" {
            return Ok(None);
        }
        let hosts = |list: &[String]| -> Vec<String> {
            list.iter()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .collect()
        };
        let mut config = app::preview::fetch::PreviewConfig {
            policy: app::preview::Policy {
                allow: hosts(&self.allow_hosts),
                deny: hosts(&self.deny_hosts),
                trusted: hosts(&self.trusted_hosts),
            },
            ..Default::default()
        };
        for entry in &self.resolve {
            let (name, ip) = entry
                .split_once('=')
                .and_then(|(n, a)| Some((n.trim(), a.trim().parse::<std::net::IpAddr>().ok()?)))
                .ok_or_else(|| format!("--preview-resolve {entry:?} must be name=address"))?;
            config.hosts.insert(name.to_owned(), ip);
        }
        Ok(Some(config))
    }
}

/// How this server calls rooms' outgoing webhooks.
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// A host an outgoing webhook may call on a private or local address (a bot on the
    /// intranet). Repeatable; the environment variable takes a comma-separated list. Every
    /// other host must resolve to public addresses only.
    #[arg(
        long = "webhook-trust-host",
        env = "CONFAB_WEBHOOK_TRUSTED_HOSTS",
        value_delimiter = ','
    )]
    pub webhook_trusted_hosts: Vec<String>,
    /// The longest one call of an outgoing webhook may take, in seconds.
    #[arg(
        long = "webhook-timeout",
        env = "CONFAB_WEBHOOK_TIMEOUT",
        default_value_t = 5
    )]
    pub webhook_timeout: u64,
}

impl WebhookArgs {
    /// The caller's configuration.
    pub fn config(&self) -> app::outgoing::OutgoingConfig {
        app::outgoing::OutgoingConfig {
            trusted: self
                .webhook_trusted_hosts
                .iter()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .collect(),
            timeout: std::time::Duration::from_secs(self.webhook_timeout.clamp(1, 60)),
            ..Default::default()
        }
    }
}

/// The VAPID contact of an instance whose public URL was not given: push services accept it,
/// but cannot reach its operator (the log says so at start).
pub const DEFAULT_PUSH_CONTACT: &str = "mailto:postmaster@localhost";

/// Where files sent with messages are kept, and how large one upload may be.
#[derive(Debug, Clone, Args)]
pub struct FilesArgs {
    /// The folder files are kept in, by content hash. Defaults to `files` beside the SQLite
    /// database (`data/files` for the default database), or `data/files` for PostgreSQL;
    /// every node of a cluster must share it (e.g. over NFS).
    #[arg(long, env = "CONFAB_FILES_DIR")]
    pub files_dir: Option<PathBuf>,
    /// The largest upload: the files of one message together (bytes, or with a K, M or G
    /// suffix).
    #[arg(long, env = "CONFAB_MAX_UPLOAD", default_value = "25M", value_parser = parse_size)]
    pub max_upload: u64,
    /// Free space uploads must leave on the files' disk; below it they are refused (bytes, or
    /// with a K, M or G suffix).
    #[arg(long, env = "CONFAB_MIN_FREE_DISK", default_value = "512M", value_parser = parse_size)]
    pub min_free_disk: u64,
}

impl FilesArgs {
    /// The folder files are kept in, for the database at `database_url`.
    pub fn dir(&self, database_url: &str) -> PathBuf {
        if let Some(dir) = &self.files_dir {
            return dir.clone();
        }
        let sqlite = database_url
            .strip_prefix("sqlite://")
            .or_else(|| database_url.strip_prefix("sqlite:"))
            .map(|rest| rest.split('?').next().unwrap_or(rest))
            .filter(|path| !path.is_empty() && !path.starts_with(':'));
        match sqlite.and_then(|path| std::path::Path::new(path).parent()) {
            Some(parent) => parent.join("files"),
            None => PathBuf::from("data/files"),
        }
    }
}

/// `confab prune-files`.
#[derive(Debug, Clone, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub db: DatabaseArg,
    #[command(flatten)]
    pub files: FilesArgs,
}

/// Which database a command works on.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArg {
    /// The database: a `sqlite://` URL or a file path (created and migrated if missing), or a
    /// `postgres://` URL (an existing database; its tables are created or migrated).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/confab.db")]
    pub database_url: String,
}

/// `confab backup`.
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub db: DatabaseArg,
    /// Output format: jsonl (lossless), xml or csv (messages only).
    #[arg(long, default_value = "jsonl", value_parser = parse_format)]
    pub format: Format,
    /// Where to write; `-` (the default) is standard output. A file appears only once complete.
    #[arg(long, short, default_value = "-")]
    pub out: PathBuf,
    /// Only this room (a name, or `@alice,bob` for a DM). Repeatable.
    #[arg(long = "room")]
    pub rooms: Vec<String>,
    /// Only messages at or after this instant (RFC 3339, e.g. 2024-01-01T00:00:00Z).
    #[arg(long, value_parser = parse_instant)]
    pub since: Option<i64>,
    /// Only messages before this instant (RFC 3339).
    #[arg(long, value_parser = parse_instant)]
    pub until: Option<i64>,
    /// Include password hashes (JSONL only), so restored accounts can log in. Keep such files safe.
    #[arg(long)]
    pub include_credentials: bool,
    /// Also write the bytes of the backed-up messages' files (and thumbnails) to OUT.files.tar,
    /// each named by its SHA-256 (JSONL with --out only).
    #[arg(long)]
    pub include_files: bool,
    #[command(flatten)]
    pub files: FilesArgs,
}

/// `confab restore`.
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub db: DatabaseArg,
    /// The backup file; `-` reads standard input.
    pub file: PathBuf,
    /// The file's format; detected from its first bytes when not given.
    #[arg(long, value_parser = parse_format)]
    pub format: Option<Format>,
    /// Check the whole file and report what would change, without changing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Room for XML and CSV messages that name none (classic chat-history XML).
    #[arg(long, default_value = "imported")]
    pub room: String,
    /// Refuse files larger than this (bytes, or with a K, M or G suffix).
    #[arg(long, default_value = "1G", value_parser = parse_size)]
    pub max_size: u64,
    /// A companion archive of files (`backup --include-files` writes FILE.files.tar): each
    /// file's bytes are checked against its name's hash and kept in the files folder first.
    #[arg(long = "files")]
    pub files_archive: Option<PathBuf>,
    #[command(flatten)]
    pub files: FilesArgs,
}

/// `confab import ...`.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// A Slack workspace export (the ZIP of "Export data"): users.json, channels.json,
    /// groups.json, dms.json, mpims.json and each conversation's day files. People come in
    /// with no password (`confab admin set-password USER` lets one log in).
    Slack(SlackImportArgs),
    /// A Mattermost bulk export (JSONL, version 1: `mmctl export create`, or written for
    /// Mattermost's bulk import): teams, channels, users, posts with replies and reactions,
    /// direct and group channels, and attachments by path. People come in with no password.
    Mattermost(MattermostImportArgs),
}

/// `confab import mattermost`.
#[derive(Debug, Clone, Args)]
pub struct MattermostImportArgs {
    #[command(flatten)]
    pub db: DatabaseArg,
    /// The bulk file (JSONL).
    pub file: PathBuf,
    /// Import only this team's channels, under their own names. Without it, a file of one
    /// team keeps channel names and a file of several prefixes each with its team
    /// (`acme-town-square`).
    #[arg(long)]
    pub team: Option<String>,
    /// The folder attachments' paths are relative to (default: the file's folder); a path
    /// leaving it is refused.
    #[arg(long)]
    pub files_root: Option<PathBuf>,
    /// Read the whole file and report what would be added, without changing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Refuse files larger than this (bytes, or with a K, M or G suffix).
    #[arg(long, default_value = "4G", value_parser = parse_size)]
    pub max_size: u64,
    #[command(flatten)]
    pub files: FilesArgs,
}

/// `confab import slack`.
#[derive(Debug, Clone, Args)]
pub struct SlackImportArgs {
    #[command(flatten)]
    pub db: DatabaseArg,
    /// The export's ZIP file.
    pub file: PathBuf,
    /// Read the whole export and report what would be added, without changing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Refuse ZIP files larger than this (bytes, or with a K, M or G suffix).
    #[arg(long, default_value = "4G", value_parser = parse_size)]
    pub max_size: u64,
    /// Refuse archives that unpack to more than this in all: a zip bomb stops here.
    #[arg(long, default_value = "16G", value_parser = parse_size)]
    pub max_unpacked: u64,
    #[command(flatten)]
    pub files: FilesArgs,
}

/// `confab snapshot`.
#[derive(Debug, Clone, Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub db: DatabaseArg,
    /// The copy to write; must not exist yet.
    pub file: PathBuf,
}

/// `confab admin ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// Make USER an admin (admins can download a full instance backup).
    Grant {
        #[command(flatten)]
        db: DatabaseArg,
        user: String,
    },
    /// Take admin rights away from USER.
    Revoke {
        #[command(flatten)]
        db: DatabaseArg,
        user: String,
    },
    /// End every session of USER (a lost device, a compromised account). Open tabs of a running
    /// server notice within a minute and close their live connection.
    EndSessions {
        #[command(flatten)]
        db: DatabaseArg,
        user: String,
    },
    /// Disable USER: their sessions end and they cannot log in (their messages stay). Open tabs
    /// of a running server notice within a minute.
    Disable {
        #[command(flatten)]
        db: DatabaseArg,
        user: String,
    },
    /// Let a disabled USER log in again.
    Enable {
        #[command(flatten)]
        db: DatabaseArg,
        user: String,
    },
    /// Set who may register: open (anyone), invite (holders of an invite) or closed.
    Registration {
        #[command(flatten)]
        db: DatabaseArg,
        #[arg(value_parser = parse_mode)]
        mode: app::model::RegistrationMode,
    },
    /// Print a new invite code, good for one registration within a week unless told otherwise
    /// (the link is https://YOUR-SITE/?invite=CODE).
    Invite {
        #[command(flatten)]
        db: DatabaseArg,
        /// How many people may register with it (1 to 100).
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// How many days it lasts (1 to 30).
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// For this one account, which has no password (brought in by `confab import` or a
        /// restore): registering with the code under its username sets its password.
        #[arg(long = "for", value_name = "USER")]
        claim: Option<String>,
    },
    /// Set USER's password, read as one line from standard input (e.g. an account restored
    /// from a backup without credentials). Ends the user's sessions.
    SetPassword {
        #[command(flatten)]
        db: DatabaseArg,
        user: String,
    },
}

/// An address (`127.0.0.1`, `::1`) or a CIDR range (`10.0.0.0/8`).
fn parse_net(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is not an address or a CIDR range (e.g. 10.0.0.0/8)"))
}

fn parse_mode(text: &str) -> Result<app::model::RegistrationMode, String> {
    app::model::RegistrationMode::parse(text)
        .ok_or_else(|| format!("unknown mode {text:?}: use open, invite or closed"))
}

fn parse_format(text: &str) -> Result<Format, String> {
    Format::parse(text).ok_or_else(|| format!("unknown format {text:?}: use jsonl, xml or csv"))
}

fn parse_instant(text: &str) -> Result<i64, String> {
    app::timestamp::parse_rfc3339(text)
        .ok_or_else(|| format!("{text:?} is not an RFC 3339 date (e.g. 2024-01-31T09:00:00Z)"))
}

/// Bytes, with an optional K, M or G suffix (powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, shift) = match text.char_indices().last() {
        Some((i, 'k' | 'K')) => (&text[..i], 10),
        Some((i, 'm' | 'M')) => (&text[..i], 20),
        Some((i, 'g' | 'G')) => (&text[..i], 30),
        _ => (text, 0),
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("{text:?} is not a size (e.g. 500M or 2G)"))
}

/// Options for serving.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on. Defaults to the Leptos site address (LEPTOS_SITE_ADDR, set by
    /// cargo-leptos; 127.0.0.1:3000).
    #[arg(long, env = "CONFAB_ADDR")]
    pub addr: Option<SocketAddr>,

    /// The database: a `sqlite://` URL or a file path (created, with its folder, if missing),
    /// or a `postgres://` URL, which every node of a cluster shares (its tables are created or
    /// migrated at start).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/confab.db")]
    pub database_url: String,

    /// Mark cookies `Secure` (set this when users reach Confab over https; a proxy's
    /// `X-Forwarded-Proto: https` does the same per request).
    #[arg(long, env = "CONFAB_SECURE_COOKIES")]
    pub secure_cookies: bool,

    /// Another origin allowed to open the WebSocket (e.g. `https://chat.example.org` when a
    /// proxy rewrites the Host). The site's own origin is always allowed. Repeatable; the
    /// environment variable takes a comma-separated list.
    #[arg(
        long = "allowed-origin",
        env = "CONFAB_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,

    /// Cluster mode: the Redis that links this node to the others (`redis://host:6379`). Without
    /// it the node serves alone. Every node of a cluster must use the same database and Redis.
    #[arg(long, env = "CONFAB_REDIS_URL")]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key and channel, so several Confab instances can share one Redis.
    #[arg(long, env = "CONFAB_REDIS_NAMESPACE", default_value = "confab")]
    pub redis_namespace: String,

    /// Seconds a node that stops without saying so (a crash, a cut cable) keeps its users
    /// counted as online; the other nodes then announce them offline.
    #[arg(
        long,
        env = "CONFAB_NODE_TTL",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub node_ttl: u64,

    /// Seconds the node keeps serving after SIGTERM while `/readyz` already answers 503, so a
    /// load balancer stops sending it traffic before it closes its port. Ctrl-C, or a second
    /// signal, stops at once.
    #[arg(
        long,
        env = "CONFAB_DRAIN_SECONDS",
        default_value_t = 5,
        value_parser = clap::value_parser!(u64).range(0..=600)
    )]
    pub drain: u64,

    /// Where Prometheus metrics are served, at `/metrics`: `off`, `site` (on the site's own
    /// address), or an address of their own such as `127.0.0.1:9464`, off the public port.
    #[arg(long, env = "CONFAB_METRICS", default_value = "off")]
    pub metrics: crate::metrics::MetricsAt,

    #[command(flatten)]
    pub limits: LimitArgs,

    #[command(flatten)]
    pub files: FilesArgs,

    #[command(flatten)]
    pub push: PushArgs,

    #[command(flatten)]
    pub previews: PreviewArgs,

    #[command(flatten)]
    pub webhooks: WebhookArgs,
}

/// Rate limits (README, "Security"). A rate is COUNT/PERIOD: bursts of COUNT, refilled evenly
/// over PERIOD, e.g. `10/min`, `30/3s`, `5/15min`, `20/hour`.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Login attempts from one address (an IPv6 address counts as its /64).
    #[arg(long, env = "CONFAB_LOGIN_RATE_PER_IP", default_value = "10/min")]
    pub login_rate_per_ip: Rate,
    /// Login attempts on one account from browsers that have never logged in to it (browsers
    /// that have are not counted, so this cannot lock the owner out).
    #[arg(long, env = "CONFAB_LOGIN_RATE_PER_ACCOUNT", default_value = "5/15min")]
    pub login_rate_per_account: Rate,
    /// Accounts created from one address.
    #[arg(long, env = "CONFAB_REGISTER_RATE_PER_IP", default_value = "10/hour")]
    pub register_rate_per_ip: Rate,
    /// Messages one user may post, over HTTP and all of their sockets together.
    #[arg(long, env = "CONFAB_POST_RATE_PER_USER", default_value = "30/3s")]
    pub post_rate_per_user: Rate,
    /// Rooms one user may create and DMs they may open.
    #[arg(long, env = "CONFAB_CREATE_RATE_PER_USER", default_value = "20/min")]
    pub create_rate_per_user: Rate,
    /// A reverse proxy (an address or a CIDR range) whose `X-Forwarded-For` names the client.
    /// Without one, limits count the TCP peer, which behind a proxy is the proxy. Repeatable;
    /// the environment variable takes a comma-separated list.
    #[arg(
        long = "trusted-proxy",
        env = "CONFAB_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_net
    )]
    pub trusted_proxies: Vec<IpNet>,
    /// Passwords hashed or checked at once (each needs 19 MiB and a core for about 50 ms);
    /// 0 means one per core.
    #[arg(long, env = "CONFAB_HASHING_SLOTS", default_value_t = 0)]
    pub hashing_slots: usize,
    /// WebSockets one user may have open on a node at once (0: no limit).
    #[arg(long, env = "CONFAB_MAX_SOCKETS_PER_USER", default_value_t = 16)]
    pub max_sockets_per_user: usize,
    /// WebSockets one client address may have open on a node at once (0: no limit).
    #[arg(long, env = "CONFAB_MAX_SOCKETS_PER_IP", default_value_t = 256)]
    pub max_sockets_per_ip: usize,
    /// Searches per user.
    #[arg(long, env = "CONFAB_SEARCH_RATE_PER_USER", default_value = "30/min")]
    pub search_rate_per_user: Rate,
    /// Pages of messages (history, threads, changes, a socket's sync) per user.
    #[arg(long, env = "CONFAB_READ_RATE_PER_USER", default_value = "300/min")]
    pub read_rate_per_user: Rate,
    /// Requests to the HTTP API (`/api/v1`) per access token.
    #[arg(long, env = "CONFAB_API_RATE_PER_TOKEN", default_value = "600/min")]
    pub api_rate_per_token: Rate,
    /// Push subscriptions made per user.
    #[arg(
        long,
        env = "CONFAB_SUBSCRIBE_RATE_PER_USER",
        default_value = "10/hour"
    )]
    pub subscribe_rate_per_user: Rate,
    /// Downloads ("Download my data", instance backups) prepared at once on a node.
    #[arg(long, env = "CONFAB_EXPORTS_AT_ONCE", default_value_t = 2)]
    pub exports_at_once: usize,
    /// Downloads one user may start.
    #[arg(long, env = "CONFAB_EXPORT_RATE_PER_USER", default_value = "10/hour")]
    pub export_rate_per_user: Rate,
    /// MiB one user may upload, as a rate (a burst of that many MiB, refilled over the period).
    #[arg(long, env = "CONFAB_UPLOAD_QUOTA_PER_USER", default_value = "1024/day")]
    pub upload_quota_per_user: Rate,
    /// Rooms of more members than this tell a member's presence (online, away, offline) only
    /// to those looking at the room's member list, not to every member.
    #[arg(long, env = "CONFAB_PRESENCE_ROOM_MEMBERS", default_value_t = app::limits::PRESENCE_ROOM_MEMBERS)]
    pub presence_room_members: u32,
}

impl LimitArgs {
    /// The limits these flags describe.
    pub fn config(&self) -> LimitsConfig {
        let defaults = LimitsConfig::default();
        LimitsConfig {
            login_per_ip: self.login_rate_per_ip,
            login_per_account: self.login_rate_per_account,
            register_per_ip: self.register_rate_per_ip,
            posts_per_user: self.post_rate_per_user,
            creates_per_user: self.create_rate_per_user,
            trusted_proxies: self.trusted_proxies.clone(),
            hashing_slots: match self.hashing_slots {
                0 => defaults.hashing_slots,
                n => n,
            },
            sockets_per_user: self.max_sockets_per_user,
            sockets_per_ip: self.max_sockets_per_ip,
            searches_per_user: self.search_rate_per_user,
            reads_per_user: self.read_rate_per_user,
            api_per_token: self.api_rate_per_token,
            subscribes_per_user: self.subscribe_rate_per_user,
            exports_at_once: self.exports_at_once,
            exports_per_user: self.export_rate_per_user,
            upload_mib_per_user: self.upload_quota_per_user,
            presence_room_members: self.presence_room_members,
        }
    }
}

/// Accepts a bare path as well as a URL; a URL's scheme is checked when the store opens it.
pub fn database_url(raw: &str) -> String {
    if raw.starts_with("sqlite:") || raw.contains("://") {
        raw.to_owned()
    } else {
        format!("sqlite://{raw}")
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_option_has_a_name_of_its_own() {
        // Two flattened groups with a field of one name would share one option, and one of
        // them would never get its value.
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "confab",
            "--preview-trust-host",
            "wiki.internal",
            "--webhook-trust-host",
            "127.0.0.1,bots.internal",
        ])
        .unwrap();
        assert_eq!(
            cli.serve.webhooks.config().trusted,
            vec!["127.0.0.1", "bots.internal"]
        );
        assert_eq!(cli.serve.previews.trusted_hosts, vec!["wiki.internal"]);
    }

    #[test]
    fn files_live_beside_the_database() {
        let files = |dir: Option<&str>| FilesArgs {
            files_dir: dir.map(PathBuf::from),
            max_upload: 1,
            min_free_disk: 0,
        };
        assert_eq!(
            files(None).dir("sqlite://data/confab.db"),
            PathBuf::from("data/files")
        );
        assert_eq!(
            files(None).dir("sqlite:///srv/chat/c.db?mode=rwc"),
            PathBuf::from("/srv/chat/files")
        );
        assert_eq!(
            files(None).dir("postgres://db/confab"),
            PathBuf::from("data/files")
        );
        assert_eq!(
            files(Some("/x")).dir("sqlite://data/confab.db"),
            PathBuf::from("/x")
        );
    }

    #[test]
    fn bare_paths_become_urls() {
        assert_eq!(database_url("data/x.db"), "sqlite://data/x.db");
        assert_eq!(database_url("/tmp/x.db"), "sqlite:///tmp/x.db");
        assert_eq!(database_url("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(
            database_url("postgres://confab@db:5432/confab"),
            "postgres://confab@db:5432/confab"
        );
    }

    #[test]
    fn default_limits_match_the_library_defaults() {
        let cli = Cli::try_parse_from(["confab"]).unwrap();
        let flags = cli.serve.limits.config();
        assert_eq!(flags, LimitsConfig::default());
        assert_eq!(
            cli.serve.files.min_free_disk,
            app::files::DEFAULT_MIN_FREE_BYTES
        );
        let cli = Cli::try_parse_from([
            "confab",
            "--login-rate-per-ip",
            "3/hour",
            "--trusted-proxy",
            "10.0.0.0/8",
            "--trusted-proxy",
            "127.0.0.1",
        ])
        .unwrap();
        assert_eq!(cli.serve.limits.config().login_per_ip.to_string(), "3/hour");
        assert_eq!(cli.serve.limits.trusted_proxies.len(), 2);
        let bad = Cli::try_parse_from(["confab", "--post-rate-per-user", "fast"]).unwrap_err();
        assert!(bad.to_string().contains("is not a rate"), "{bad}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("500m"), Ok(500 << 20));
        assert_eq!(parse_size("12"), Ok(12));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999G").is_err());
    }
}
