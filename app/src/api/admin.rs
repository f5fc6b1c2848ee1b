//! The admin console's one read: the instance's figures and settings, a page of accounts, a
//! page of the audit log, and the newest invites. Its actions (moderating an account,
//! registration, invites) are in `api::auth`. Only instance admins get an answer; anyone else is told there is nothing here.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::model::{AccountRow, AuditEntry, InstanceFigures, InviteRow, RegistrationMode};

/// Accounts shown on one page of the console.
pub const ACCOUNTS_PAGE: u32 = 50;
/// Audit log lines shown on one page of the console.
pub const AUDIT_PAGE: u32 = 50;
/// Invites listed, newest first.
pub const INVITES_SHOWN: u32 = 20;

/// What the admin console shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminView {
    pub figures: InstanceFigures,
    /// Live connections on the node that answered.
    pub sockets: usize,
    /// The instance's push (VAPID) public key.
    pub push_key: Option<String>,
    /// The limits the node runs with, by name.
    pub limits: Vec<(String, String)>,
    pub registration: RegistrationMode,
    /// The newest invites, in any state, and the time the console was read (to say which are
    /// still open).
    pub invites: Vec<InviteRow>,
    pub now: i64,
    /// The page of accounts asked for, and the name the next page starts after, if any.
    pub accounts: Vec<AccountRow>,
    pub more_accounts: Option<String>,
    /// The page of the audit log asked for, and the line the next (older) page starts before.
    pub audit: Vec<AuditEntry>,
    pub older_audit: Option<i64>,
}

/// The console: accounts whose name contains `search`, after the name `after`; the audit log
/// before the line `before`.
#[server(endpoint = "admin_console")]
pub async fn admin_console(
    search: Option<String>,
    after: Option<String>,
    before: Option<i64>,
) -> Result<AdminView, AppError> {
    use super::ssr::{require_admin, state};
    require_admin().await?;
    let state = state()?;
    let store = state.store.as_ref();
    let search = search.unwrap_or_default();
    let search = search.trim();
    if search.chars().count() > 64 {
        return Err(AppError::BadRequest(
            "Search for at most 64 characters of a name.".into(),
        ));
    }
    let now = crate::timestamp::now_ms();
    let mut accounts = store
        .accounts(search, after.as_deref(), ACCOUNTS_PAGE + 1, now)
        .await?;
    let more_accounts = next_page(&mut accounts, ACCOUNTS_PAGE, |a| a.username.clone());
    let mut audit = store.audit_log(before, AUDIT_PAGE + 1).await?;
    let older_audit = next_page(&mut audit, AUDIT_PAGE, |line| line.id);
    Ok(AdminView {
        figures: store.figures().await?,
        sockets: crate::chat::open_sockets(&state),
        push_key: state.push.as_ref().map(|p| p.public_key().to_owned()),
        limits: state
            .limits
            .listed()
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect(),
        registration: store.registration_mode().await?,
        invites: store.invites(INVITES_SHOWN).await?,
        now,
        accounts,
        more_accounts,
        audit,
        older_audit,
    })
}

/// Keeps the first `page` of `rows` (read one past it) and, when there were more, says where
/// the next page starts: after the last row kept.
#[cfg(feature = "ssr")]
fn next_page<T, K>(rows: &mut Vec<T>, page: u32, key: impl Fn(&T) -> K) -> Option<K> {
    let page = page as usize;
    if rows.len() <= page {
        return None;
    }
    rows.truncate(page);
    rows.last().map(key)
}
