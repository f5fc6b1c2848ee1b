//! The command line and environment: every option `confab --help` documents.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

/// Confab: self-hosted real-time chat.
#[derive(Debug, Parser)]
#[command(name = "confab", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// What to do; serving is the default.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web app (the default when no command is given).
    Serve(ServeArgs),
}

/// Options for serving.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on. Defaults to the Leptos site address (LEPTOS_SITE_ADDR, set by
    /// cargo-leptos; 127.0.0.1:3000).
    #[arg(long, env = "CONFAB_ADDR")]
    pub addr: Option<SocketAddr>,

    /// SQLite database: a `sqlite://` URL or a file path. Created, with its folder, if missing.
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
}

/// Accepts a bare path as well as a `sqlite:` URL.
pub fn database_url(raw: &str) -> String {
    if raw.starts_with("sqlite:") {
        raw.to_owned()
    } else {
        format!("sqlite://{raw}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_paths_become_urls() {
        assert_eq!(database_url("data/x.db"), "sqlite://data/x.db");
        assert_eq!(database_url("/tmp/x.db"), "sqlite:///tmp/x.db");
        assert_eq!(database_url("sqlite::memory:"), "sqlite::memory:");
    }
}
