//! The storage seam. Everything the product keeps goes through [`Store`]; callers hold an
//! `Arc<dyn Store>` and never learn which database is behind it. SQLite ([`sqlite::SqliteStore`])
//! is the default; PostgreSQL ([`postgres::PgStore`]) serves a cluster of nodes. [`open`] picks
//! one by the URL's scheme.

/// Compiles the store written once for both backends (`store/sql/`) into a backend: declares
/// the types and the dialect that code runs on, then its modules (`docs/architecture.md`, "One
/// source for both databases"). `$db` is the sqlx database, `$dialect` its
/// [`dialect::Dialect`], `$store` the store type the methods are for.
macro_rules! written_once {
    ($db:ty, $dialect:expr, $store:ty) => {
        /// The database the SQL written once for both backends runs on here.
        type Db = $db;
        /// Its pool.
        type Pool = sqlx::Pool<Db>;
        /// Its connection, for the steps that run inside a caller's transaction.
        type Conn = <Db as sqlx::Database>::Connection;
        /// The dialect that SQL is spoken in here.
        const DIALECT: $crate::store::dialect::Dialect = $dialect;
        /// The store the methods of `store/sql/methods.rs` are for.
        type Backend = $store;

        written_once!(
            "sql/access.rs" access,
            "sql/admin.rs" admin,
            "sql/backup.rs" backup,
            "sql/changes.rs" changes,
            "sql/dialect.rs" dialect,
            "sql/methods.rs" methods,
            "sql/posts.rs" posts,
            "sql/profiles.rs" profiles,
            "sql/push.rs" push,
            "sql/settings.rs" settings,
            "sql/threads.rs" threads,
            "sql/tokens.rs" tokens,
            "sql/webhooks.rs" webhooks
        );
    };
    ($($file:literal $name:ident),*) => {$(
        #[path = $file]
        #[allow(clippy::duplicate_mod, reason = "written once, compiled into each backend")]
        mod $name;
    )*};
}

pub mod changes;
mod dialect;
mod export;
mod group_commit;
pub mod postgres;
pub mod records;
mod rows;
pub mod schema;
pub mod sqlite;

use async_trait::async_trait;

pub use changes::{ChangeKind, Changed, MessageChange};
use records::{BackupResult, EndRecord, Place, Record, RoomRecord, Scope, UserRecord};

mod threads;

use crate::model::{
    Attachment, Changes, HistoryPage, Message, NotifyLevel, OutgoingWebhookRow, PushDevice,
    RegistrationMode, RoomId, RoomListing, RoomSummary, RoomView, Sidebar, TokenRow, User, UserId,
    WebhookRow,
};

/// Which of a room's members to read: a page in name order (ignoring case), so a room of
/// thousands is read a screenful at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberPage<'a> {
    /// Only those whose name sorts after this one (the last name of the page before).
    pub after: Option<&'a str>,
    pub limit: u32,
}

impl MemberPage<'_> {
    /// Every member: for callers bounded otherwise (a room page's own list, `@here` in a room
    /// small enough for group mentions).
    pub const ALL: Self = Self {
        after: None,
        limit: u32::MAX,
    };
}

/// A member of a room as stored: presence is added from the live side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMember {
    pub id: UserId,
    pub username: String,
    /// When their last live connection closed (UTC ms), if ever.
    pub last_seen_at: Option<i64>,
    pub role: crate::model::Role,
    /// A bot account.
    pub bot: bool,
}

/// What push notifications keep: the instance's VAPID key, browsers' subscriptions and the
/// preferences the notification rule reads. Part of every [`Store`] ([`Store::push`]); both
/// backends share its SQL (`push_sql`).
#[async_trait]
pub trait PushStore: Send + Sync {
    /// The instance's VAPID private key: the stored one, or else `generated`, stored now. Every
    /// node of a cluster may offer its own at first start; the first stored wins.
    async fn push_key(&self, generated: &[u8]) -> StoreResult<Vec<u8>>;
    /// Replaces the VAPID key and drops every subscription (each was made for the old key);
    /// returns how many were dropped.
    async fn replace_push_key(&self, key: &[u8]) -> StoreResult<u64>;
    /// Stores the subscription of one browser for the session's user. The same endpoint again
    /// (the browser renewing, or now logged in as someone else) moves its row, provided its keys
    /// match; different keys for a known endpoint are `Conflict`.
    async fn add_push_subscription(&self, new: NewSubscription<'_>) -> StoreResult<PushDevice>;
    /// The user's devices, oldest first.
    async fn push_devices(&self, user_id: UserId) -> StoreResult<Vec<PushDevice>>;
    /// Removes one of the user's devices; `NotFound` if it is not theirs.
    async fn remove_push_device(&self, user_id: UserId, id: i64) -> StoreResult<()>;
    /// Removes a subscription its push service says is gone (404, 410).
    async fn remove_push_endpoint(&self, endpoint: &str) -> StoreResult<()>;
    /// Mutes or unmutes a room for one of its members; `NotFound` for anyone else.
    async fn set_muted(&self, user_id: UserId, room_id: RoomId, muted: bool) -> StoreResult<()>;
    /// Sets which messages notify the user.
    async fn set_notify_level(&self, user_id: UserId, level: NotifyLevel) -> StoreResult<()>;
    /// The user's level and the rooms they muted.
    async fn notify_prefs(&self, user_id: UserId) -> StoreResult<(NotifyLevel, Vec<RoomId>)>;
    /// Every push subscription of the members of `room_id` other than `author_id`, with what
    /// the notification rule needs to know of its owner. `thread` is the seq of the root when
    /// the message is a reply.
    async fn push_targets(
        &self,
        room_id: RoomId,
        author_id: UserId,
        thread: Option<i64>,
    ) -> StoreResult<Vec<PushTarget>>;
}

/// A personal access token as it is made, already checked (`crate::tokens::create`).
#[derive(Debug, Clone, Copy)]
pub struct NewAccessToken<'a> {
    pub user_id: UserId,
    /// The SHA-256 of its secret.
    pub hash: &'a [u8],
    pub name: &'a str,
    pub scopes: &'a [crate::model::TokenScope],
    /// `None`: it never expires.
    pub expires_at: Option<i64>,
    /// The most tokens one user may hold: another is refused in the transaction that would
    /// add it.
    pub max_per_user: usize,
}

/// An incoming webhook as it is made, already checked (`crate::webhooks::create`): its own bot
/// account `name` is made with it and joins the room.
#[derive(Debug, Clone, Copy)]
pub struct NewIncomingWebhook<'a> {
    /// Who makes it: one of the room's moderators, as [`crate::rights`] decides.
    pub actor: UserId,
    pub room_id: RoomId,
    /// The SHA-256 of its secret.
    pub hash: &'a [u8],
    /// Its bot's username, which must be free.
    pub name: &'a str,
    /// The most hooks one room may hold: another is refused in the transaction that would add
    /// it.
    pub max_per_room: usize,
}

/// An outgoing webhook as it is made, already checked (`crate::outgoing::create`): its own bot
/// account `name` is made with it and joins the room.
#[derive(Debug, Clone, Copy)]
pub struct NewOutgoingHook<'a> {
    /// Who makes it: one of the room's moderators, as [`crate::rights`] decides.
    pub actor: UserId,
    pub room_id: RoomId,
    /// Its id, made at random.
    pub id: &'a str,
    /// Its bot's username, which must be free.
    pub name: &'a str,
    /// Where messages are sent, already vetted.
    pub url: &'a str,
    /// Its trigger words, lower case.
    pub triggers: &'a [String],
    /// What its deliveries are signed with.
    pub secret: &'a str,
    /// The most outgoing hooks one room may hold.
    pub max_per_room: usize,
}

/// An outgoing webhook as its deliveries need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingHook {
    pub id: String,
    pub room_id: RoomId,
    pub room_name: String,
    pub bot: User,
    pub url: String,
    pub triggers: Vec<String>,
    pub secret: String,
}

/// What a webhook's secret grants: posting as its bot into its room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookGrant {
    /// [`crate::model::WebhookRow::id`].
    pub hook_id: String,
    pub room_id: RoomId,
    pub bot: User,
}

/// What a token shown in a request grants: its owner, as stored, and its scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub user: User,
    /// [`crate::model::TokenRow::id`].
    pub token_id: String,
    pub scopes: Vec<crate::model::TokenScope>,
}

/// A browser's push subscription as it arrives, already checked (`crate::push::subscription`).
#[derive(Debug, Clone, Copy)]
pub struct NewSubscription<'a> {
    pub user_id: UserId,
    /// The SHA-256 of the session token that subscribes: the row goes with the session.
    pub session_hash: &'a [u8],
    pub endpoint: &'a str,
    pub p256dh: &'a [u8],
    pub auth: &'a [u8],
    pub label: &'a str,
    /// The most subscriptions one user may have: a new endpoint beyond it is refused (409),
    /// in the same transaction that would add it.
    pub max_per_user: usize,
}

/// One subscription a new message may be pushed to, with its owner's preferences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    pub user_id: UserId,
    pub username: String,
    pub level: NotifyLevel,
    pub muted: bool,
    /// The owner follows the thread the message is a reply in.
    pub follows_thread: bool,
    /// The room's name as the owner sees it (for a DM, the other members).
    pub room_name: String,
    pub room_kind: crate::model::RoomKind,
    pub endpoint: String,
    pub p256dh: Vec<u8>,
    pub auth: Vec<u8>,
}

/// The host a push endpoint belongs to, for the device list.
pub(crate) fn push_service(endpoint: &str) -> String {
    endpoint
        .parse::<http::Uri>()
        .ok()
        .and_then(|uri| uri.host().map(str::to_owned))
        .unwrap_or_default()
}

/// A device removal that removed nothing: not the caller's device.
pub(crate) fn found_device(removed: u64) -> StoreResult<()> {
    if removed == 0 {
        return Err(StoreError::NotFound(
            "That device is not among yours (it may be removed already).".into(),
        ));
    }
    Ok(())
}

/// A preference change for a room that changed no membership: not the caller's room.
pub(crate) fn found_membership(changed: u64) -> StoreResult<()> {
    if changed == 0 {
        return Err(StoreError::NotFound(
            "That room does not exist, or you are not in it.".into(),
        ));
    }
    Ok(())
}

/// A stored level word read back (the column's CHECK keeps it one of the three).
pub(crate) fn stored_level(word: Option<&str>) -> NotifyLevel {
    word.and_then(NotifyLevel::parse).unwrap_or_default()
}

/// A push target row, as both backends select it.
pub(crate) type PushTargetRow = (
    UserId,
    String,
    String,
    bool,
    bool,
    String,
    String,
    String,
    Vec<u8>,
    Vec<u8>,
);

pub(crate) fn push_target(row: PushTargetRow) -> PushTarget {
    let (user_id, username, level, muted, follows_thread, room_name, kind, endpoint, p256dh, auth) =
        row;
    PushTarget {
        user_id,
        username,
        level: stored_level(Some(&level)),
        muted,
        follows_thread,
        room_name,
        room_kind: crate::model::RoomKind::from_db(&kind),
        endpoint,
        p256dh,
        auth,
    }
}

/// Why a store call failed. Mapped to [`crate::error::AppError`] at the server-function edge.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such row, or one the caller may not see (a DM they are not in).
    #[error("{0}")]
    NotFound(String),
    /// The caller may see the thing but not do this (post in a room they have not joined).
    #[error("{0}")]
    Forbidden(String),
    /// A unique name is taken.
    #[error("{0}")]
    Conflict(String),
    /// The request contradicts what is stored (a client id reused for another room).
    #[error("{0}")]
    Invalid(String),
    /// The database failed; details go to the log, not the user.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the schema failed at start-up.
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Opens the store a database URL names: `postgres://` (or `postgresql://`) for PostgreSQL,
/// `sqlite:` for SQLite; any other scheme is refused. Either store is created and migrated as
/// needed.
pub async fn open(url: &str) -> StoreResult<std::sync::Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(postgres::PgStore::open(url).await?))
    } else if url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(
            sqlite::SqliteStore::open(url, sqlite::Durability::Full).await?,
        ))
    } else {
        let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
        Err(StoreError::Invalid(format!(
            "unsupported database \u{201c}{scheme}\u{201d}: use a sqlite:// URL (or a file \
             path) or a postgres:// URL"
        )))
    }
}

/// Reactions as the `reactions` column stores them (JSON; `None` for none), for a restore.
pub fn reactions_column(reactions: &[crate::model::Reaction]) -> Option<String> {
    rows::list_json(reactions)
}

/// Files as the `files` column stores them (JSON; `None` for none), for a restore.
pub fn files_column(files: &[Attachment]) -> Option<String> {
    rows::list_json(files)
}

/// Mentions as the `mentions` column stores them (JSON; `None` for none), for a restore.
pub fn mentions_column(mentions: &[String]) -> Option<String> {
    rows::list_json(mentions)
}

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// Which slice of a room's history to read. `before` and `after` are exclusive seq bounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Only messages with a smaller seq (paging back); `None` means from the newest.
    pub before: Option<i64>,
    /// Only messages with a larger seq (catching up); when set, the page starts right after it.
    pub after: Option<i64>,
    /// Only messages created at or after this instant (UTC ms), oldest first.
    pub since: Option<i64>,
    /// Page size, already capped by [`crate::validate::page_limit`].
    pub limit: u32,
    /// The replies of the thread this message (a root, or a reply naming its root) starts,
    /// instead of the room's timeline.
    pub thread: Option<i64>,
}

/// The condition that keeps one slice of a room's messages (`m`): a thread's replies, whose
/// root's uid is bound as `param`, or (`param` bound to NULL) the room's timeline. Either way
/// the statement has the parameter, so its callers bind the same arguments.
pub(crate) fn slice(thread: bool, param: &str) -> String {
    if thread {
        format!("m.thread_uid = {param}")
    } else {
        format!("(m.thread_uid IS NULL OR m.also_in_room) AND {param} IS NULL")
    }
}

/// One part of a profile, as its owner sets it (each already validated; `None` clears it).
#[derive(Debug, Clone, Copy)]
pub enum ProfileChange<'a> {
    Details {
        display_name: Option<&'a str>,
        time_zone: Option<&'a str>,
    },
    Status(Option<&'a crate::model::Status>),
    Avatar(Option<&'a crate::model::Avatar>),
}

/// A message to store. The store assigns `seq`, `uid` and `created_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage<'a> {
    pub room_id: RoomId,
    pub author_id: UserId,
    pub body: &'a str,
    pub client_id: Option<&'a str>,
    /// The body rendered by [`crate::markdown::render`] with `mentions`; empty to have the
    /// store render it (tools that store raw text do).
    pub html: &'a str,
    /// The usernames it mentions, as the server decided.
    pub mentions: &'a [String],
    /// Files sent with it, whose bytes the caller has already kept.
    pub files: &'a [Attachment],
    /// The name and picture its webhook asked to be shown with.
    pub persona: Option<&'a crate::model::Persona>,
}

/// A reply to store in a thread: the message, and the seq of the message it answers (the
/// root, or any reply of the thread: a reply always joins its root's thread).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReply<'a> {
    pub message: NewMessage<'a>,
    pub to: i64,
    /// Also show it in the room's timeline ("also send to room").
    pub also_in_room: bool,
}

/// A stored reply, with its thread's root as it stands after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replied {
    pub reply: Message,
    pub root: Message,
    /// False for a retry: the reply had been stored before, nothing changed now.
    pub new: bool,
}

impl NewMessage<'_> {
    /// The HTML to store: as given, or rendered here.
    pub(crate) fn html(&self) -> String {
        rendered(self.body, self.html, self.mentions)
    }
}

/// `html` if the caller rendered `body`, otherwise `body` rendered now.
pub(crate) fn rendered(body: &str, html: &str, mentions: &[String]) -> String {
    if html.is_empty() && !body.is_empty() {
        crate::markdown::render(body, mentions)
    } else {
        html.to_owned()
    }
}

/// What a search asks a store for: messages the searcher can read (rooms and DMs they are in)
/// matching every term and every filter given, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchFilter<'a> {
    pub terms: &'a [crate::query::Term],
    pub author: Option<UserId>,
    pub room: Option<RoomId>,
    /// Only messages created before this instant (UTC ms).
    pub before: Option<i64>,
    /// Only messages created at or after this instant (UTC ms).
    pub after: Option<i64>,
    /// The `next` cursor of the page before, as this store wrote it.
    pub page: Option<&'a str>,
    pub limit: u32,
    /// Longest the database may look ([`SEARCH_TIME_LIMIT`] for people's searches); a search
    /// that takes longer is stopped and answered with a request to narrow it.
    pub time_limit: std::time::Duration,
}

/// A page of found messages, newest first, and the cursor of the next page if there is one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub messages: Vec<Message>,
    pub next: Option<String>,
}

/// The answer to a page cursor a store did not write.
pub(crate) fn bad_page() -> StoreError {
    StoreError::Invalid("This page of results is out of date: search again.".into())
}

/// Longest one search may run in the database. Words walk the full-text index newest first and
/// fill a page quickly; filters alone (`before:1970-01-02`) or very narrow ones could otherwise
/// walk every message of every room the caller is in.
pub const SEARCH_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The answer to a search stopped at [`SEARCH_TIME_LIMIT`].
pub(crate) fn search_too_slow() -> StoreError {
    StoreError::Invalid(
        "This search took too long. Add a word to look for, or narrow it with in: or from:.".into(),
    )
}

/// The key that makes a set of people's direct conversation unique: their ids in ascending
/// order, joined by `:`. A note-to-self is `id:id`, so a pair keeps the `lo:hi` form it has
/// always had.
pub(crate) fn dm_key(people: &[UserId]) -> String {
    let mut ids = people.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if let [only] = ids[..] {
        ids.push(only);
    }
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(":")
}

/// The people a [`dm_key`] names, each once; `None` if it is not one.
pub(crate) fn dm_key_people(key: &str) -> Option<Vec<UserId>> {
    let mut ids = key
        .split(':')
        .map(|id| id.parse().ok())
        .collect::<Option<Vec<UserId>>>()?;
    ids.dedup();
    Some(ids)
}

/// Why an account is being created.
#[derive(Debug, Clone, Copy)]
pub enum Admission<'a> {
    /// By the operator (restore, tools): no registration rules apply.
    Always,
    /// Someone registering themselves, with the hash of an invite code if they have one.
    Register { invite: Option<&'a [u8]> },
}

/// Why a self-registration is refused in each mode.
pub const REGISTRATION_CLOSED: &str =
    "Registration is closed on this instance. Ask an admin for an account.";
pub const INVITE_NEEDED: &str =
    "Registration here needs an invite. Ask an admin for an invite link.";
/// Why an account cannot be claimed with an invite.
pub const INVITE_NOT_CLAIMABLE: &str =
    "That account can log in already, or is a bot: there is nothing to claim.";
/// Why a claim invite is refused for the username given.
pub const INVITE_FOR_ANOTHER: &str =
    "This invite is for another account, or that account can log in already: register under \
     the username the invite names.";
pub const INVITE_INVALID: &str =
    "This invite is not valid: it may have been used up, revoked, or have expired.";

/// The rule both backends apply inside the registering transaction, once the account row exists
/// (`first`: it is the instance's first account). `Ok(Some(hash))`: admitted if that invite can
/// be used up now; `Ok(None)`: admitted.
pub(crate) fn admit<'a>(
    admission: Admission<'a>,
    mode: RegistrationMode,
    first: bool,
) -> StoreResult<Option<&'a [u8]>> {
    let Admission::Register { invite } = admission else {
        return Ok(None);
    };
    match mode {
        _ if first => Ok(None),
        RegistrationMode::Open => Ok(None),
        RegistrationMode::Closed => Err(StoreError::Forbidden(REGISTRATION_CLOSED.into())),
        RegistrationMode::Invite => invite
            .map(Some)
            .ok_or_else(|| StoreError::Forbidden(INVITE_NEEDED.into())),
    }
}

/// The stored registration mode (`None`: never set, so open).
pub(crate) fn stored_mode(value: Option<String>) -> RegistrationMode {
    value
        .as_deref()
        .and_then(RegistrationMode::parse)
        .unwrap_or_default()
}

/// The storage operations Confab needs, each one atomic.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates an account and puts it in `general`. The first account is an admin.
    async fn create_user(&self, username: &str, password_hash: &str) -> StoreResult<User> {
        self.register_user(username, password_hash, Admission::Always)
            .await
    }
    /// Creates an account as [`Store::create_user`] does, once `admission` allows it: a
    /// self-registration is checked against the registration mode in the same transaction, and
    /// uses up its invite there (so a refused or failed registration spends nothing).
    async fn register_user(
        &self,
        username: &str,
        password_hash: &str,
        admission: Admission<'_>,
    ) -> StoreResult<User>;
    /// Who may register now (always `Open` while there are no accounts).
    async fn registration_mode(&self) -> StoreResult<RegistrationMode>;
    async fn set_registration_mode(&self, mode: RegistrationMode) -> StoreResult<()>;
    /// Records an invite, known by the hash of its code, usable `max_uses` times until
    /// `expires_at`. With `for_user`, it claims that account (see [`INVITE_NOT_CLAIMABLE`]):
    /// refused with a conflict unless the account has no password and is not a bot.
    async fn create_invite(
        &self,
        code_hash: &[u8],
        created_by: Option<UserId>,
        expires_at: i64,
        max_uses: i64,
        for_user: Option<UserId>,
    ) -> StoreResult<()>;
    /// The newest `limit` invites, newest first, whatever their state.
    async fn invites(&self, limit: u32) -> StoreResult<Vec<crate::model::InviteRow>>;
    /// Revokes the invite [`crate::model::InviteRow::id`] names, at `now`; false when no
    /// unrevoked invite has that id.
    async fn revoke_invite(&self, id: &str, now: i64) -> StoreResult<bool>;
    /// The account and its password hash (if it has one), looked up ignoring case.
    async fn credentials(&self, username: &str) -> StoreResult<Option<(User, Option<String>)>>;
    /// The account with this username, ignoring case.
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>>;
    /// The account with this id.
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;

    /// Records a session for `user_id`, known by the hash of its token.
    async fn create_session(
        &self,
        token_hash: &[u8],
        user_id: UserId,
        expires_at: i64,
    ) -> StoreResult<()>;
    /// The user whose unexpired session has this token hash.
    async fn session_user(&self, token_hash: &[u8], now: i64) -> StoreResult<Option<User>>;
    /// Ends a session (logging out); unknown hashes are ignored.
    async fn delete_session(&self, token_hash: &[u8]) -> StoreResult<()>;
    /// Ends every session of `user` ("log out everywhere", an admin's order); returns how many.
    async fn end_sessions(&self, user_id: UserId) -> StoreResult<u64>;
    /// Deletes every session that expired before `now`; returns how many.
    async fn purge_expired_sessions(&self, now: i64) -> StoreResult<u64>;

    /// Records a personal access token of `new.user_id`, known by the hash of its secret.
    /// Refused (`Conflict`) when its owner has a token of that name already, or
    /// `new.max_per_user` tokens.
    async fn create_token(&self, new: NewAccessToken<'_>) -> StoreResult<TokenRow>;
    /// The user's tokens, newest first, expired ones included.
    async fn tokens(&self, user_id: UserId) -> StoreResult<Vec<TokenRow>>;
    /// Deletes the user's token that [`TokenRow::id`] names; false when they have none by it.
    async fn revoke_token(&self, user_id: UserId, id: &str) -> StoreResult<bool>;
    /// The enabled account whose unexpired token has this hash, with what the token grants.
    /// Notes the use at `now`, at most once a minute per token.
    async fn token_user(&self, token_hash: &[u8], now: i64) -> StoreResult<Option<TokenGrant>>;

    /// Makes the bot account `name`: no password, marked as a bot wherever its name shows, and
    /// used through the tokens an admin gives it. Refused (`Conflict`) when the name is taken.
    async fn create_bot(&self, name: &str) -> StoreResult<User>;
    /// Makes an incoming webhook and its bot account, and adds the bot to the room, in one
    /// transaction. Refused (`Forbidden`) unless `new.actor` may manage the room's hooks,
    /// (`Conflict`) when the name is taken or the room has `new.max_per_room` hooks.
    async fn create_webhook(&self, new: NewIncomingWebhook<'_>) -> StoreResult<WebhookRow>;
    /// The room's incoming webhooks, newest first, for one who may manage them.
    async fn webhooks(&self, actor: UserId, room_id: RoomId) -> StoreResult<Vec<WebhookRow>>;
    /// Deletes the room's hook that [`WebhookRow::id`] names, for one who may manage them;
    /// false when it has none by it. Its bot stays, as the author of what it posted.
    async fn revoke_webhook(&self, actor: UserId, room_id: RoomId, id: &str) -> StoreResult<bool>;
    /// What the hook with this secret hash grants, while its bot is enabled. Notes the use at
    /// `now`, at most once a minute per hook.
    async fn webhook(&self, hook_hash: &[u8], now: i64) -> StoreResult<Option<WebhookGrant>>;
    /// Makes an outgoing webhook and its bot account, and adds the bot to the room, in one
    /// transaction: refused unless the actor may manage the room's hooks, when the room holds
    /// the most it may, or when the bot's name is taken.
    async fn create_outgoing_webhook(
        &self,
        new: NewOutgoingHook<'_>,
    ) -> StoreResult<OutgoingWebhookRow>;
    /// The room's outgoing webhooks, newest first, for one who may manage them.
    async fn outgoing_webhooks(
        &self,
        actor: UserId,
        room_id: RoomId,
    ) -> StoreResult<Vec<OutgoingWebhookRow>>;
    /// Deletes the room's outgoing hook `id`, for one who may manage them; false when the room
    /// has none by that id.
    async fn revoke_outgoing_webhook(
        &self,
        actor: UserId,
        room_id: RoomId,
        id: &str,
    ) -> StoreResult<bool>;
    /// Every outgoing hook of the room whose bot is enabled, with what a delivery needs.
    async fn room_outgoing_hooks(&self, room_id: RoomId) -> StoreResult<Vec<OutgoingHook>>;
    /// Notes how the delivery at `now` to hook `id` went.
    async fn note_outgoing_delivery(&self, id: &str, status: &str, now: i64) -> StoreResult<()>;

    /// The rooms and DMs `user_id` belongs to.
    async fn sidebar(&self, user_id: UserId) -> StoreResult<Sidebar>;
    /// The ids of the rooms and DMs of [`Store::sidebar`], without its counts: what a socket
    /// listens to and who hears of a user's presence, read on every connect.
    async fn rooms_of(&self, user_id: UserId) -> StoreResult<Vec<RoomId>>;
    /// Every public room (private ones are not listed), with whether `user_id` has joined it.
    async fn public_rooms(&self, user_id: UserId) -> StoreResult<Vec<RoomListing>>;
    /// Creates a public or private room with `creator` as its first member and owner.
    async fn create_room(
        &self,
        creator: UserId,
        name: &str,
        topic: Option<&str>,
        private: bool,
    ) -> StoreResult<RoomSummary>;
    /// `actor` adds `member` to a named room, if [`crate::rights`] lets them invite; `false`
    /// when they were in it already.
    async fn add_member(&self, actor: UserId, room_id: RoomId, member: UserId)
        -> StoreResult<bool>;
    /// `actor` gives `member` this role in a room. A room always keeps an owner.
    async fn set_role(
        &self,
        actor: UserId,
        room_id: RoomId,
        member: UserId,
        role: crate::model::Role,
    ) -> StoreResult<()>;
    /// `actor` removes `member` from a named room, if their roles allow it.
    async fn remove_member(
        &self,
        actor: UserId,
        room_id: RoomId,
        member: UserId,
    ) -> StoreResult<()>;
    /// `actor` changes one setting of a named room (`change` is one of the settings events:
    /// name, topic, description, privacy, read-only, archived), if [`crate::rights`] allows,
    /// and records it in the room's timeline; returns that event, or `None` when the room
    /// already was so.
    async fn configure_room(
        &self,
        actor: UserId,
        room_id: RoomId,
        change: &crate::model::RoomEvent,
    ) -> StoreResult<Option<Message>>;
    /// `actor` bans `member` from a named room (removing them from it), or lifts the ban,
    /// if their roles allow it, and records it in the room's timeline; returns that event, or
    /// `None` when it changed nothing. A banned user cannot join or be added again.
    async fn ban(
        &self,
        actor: UserId,
        room_id: RoomId,
        member: UserId,
        banned: bool,
    ) -> StoreResult<Option<Message>>;
    /// The room's pinned messages, newest pin first (at most
    /// [`crate::validate::MAX_PINS_PER_ROOM`]), for its members.
    async fn pins(&self, user_id: UserId, room_id: RoomId) -> StoreResult<Vec<Message>>;
    /// `username`'s profile, for anyone signed in; `NotFound` when there is no such account.
    async fn profile(&self, username: &str) -> StoreResult<crate::model::Profile>;
    /// Changes one part of what `user_id` says of themselves.
    async fn update_profile(&self, user_id: UserId, change: &ProfileChange<'_>) -> StoreResult<()>;
    /// The people banned from a named room, for its moderators.
    async fn bans(
        &self,
        actor: UserId,
        room_id: RoomId,
    ) -> StoreResult<Vec<crate::model::BanEntry>>;
    /// A room as `user_id` sees it. Private rooms and DMs they are not in are `NotFound`.
    async fn room_view(&self, user_id: UserId, room_id: RoomId) -> StoreResult<RoomView>;
    /// Joins a public room (joining twice is fine).
    async fn join_room(&self, user_id: UserId, room_id: RoomId) -> StoreResult<()>;
    /// Leaves a named room (leaving one you are not in is fine). DMs cannot be left, and a
    /// room's only owner cannot leave others behind with none.
    async fn leave_room(&self, user_id: UserId, room_id: RoomId) -> StoreResult<()>;
    /// The direct conversation of exactly `people` (each once; one person is a note-to-self,
    /// three or more a group), created by `creator` on first use with all of them as members.
    async fn open_dm(&self, creator: UserId, people: &[UserId]) -> StoreResult<RoomId>;

    /// A page of history, oldest first, for a member of the room.
    async fn history(
        &self,
        user_id: UserId,
        room_id: RoomId,
        query: HistoryQuery,
    ) -> StoreResult<HistoryPage>;
    /// Stores a message from a member, assigning the room's next seq in the same transaction.
    /// Returns only once the commit is durable. A repeated `(author, client_id)` returns the
    /// message stored the first time instead of storing another.
    async fn post_message(&self, message: NewMessage<'_>) -> StoreResult<Message>;
    /// Edits or deletes a message for a member of its room, as [`changes::decide`] allows,
    /// giving it the room's next rev in the same transaction. Returns once the commit is
    /// durable. A repeated `(user, client_id)` for the same message changes nothing more.
    async fn change_message(&self, change: MessageChange<'_>) -> StoreResult<Changed>;
    /// Stores a reply in a thread from a member, in one transaction that is durable before it
    /// returns: the reply takes the room's next seq and rev, its root counts it (taking the
    /// rev after), and the replier, the root's author and everyone it mentions follow the
    /// thread. A repeated `(author, client_id)` returns the reply stored the first time.
    async fn post_reply(&self, reply: NewReply<'_>) -> StoreResult<Replied>;
    /// One message of a room, for a member.
    async fn message(&self, user_id: UserId, room_id: RoomId, seq: i64) -> StoreResult<Message>;
    /// Moves the user's read position in the thread of `root` forward to `seq` (never back,
    /// never past the room's newest message); returns the position now stored, or 0 when they
    /// do not follow that thread.
    async fn mark_thread_read(
        &self,
        user_id: UserId,
        room_id: RoomId,
        root: i64,
        seq: i64,
    ) -> StoreResult<i64>;
    /// The rev each of `rooms` is at now (its last change's), for a cluster node to see that
    /// it missed a change; a room that does not exist is left out. Not a member's read: only
    /// the server's own bookkeeping asks.
    async fn room_revs(&self, rooms: &[RoomId]) -> StoreResult<Vec<(RoomId, i64)>>;
    /// Of `rooms`, those with more than `over` members: where presence goes only to those
    /// looking at the member list. Reads at most `over + 1` memberships a room.
    async fn crowded_rooms(&self, rooms: &[RoomId], over: u32) -> StoreResult<Vec<RoomId>>;
    /// What changed in a room after `after_rev`, for a member: the current state of every
    /// message posted, edited or deleted since, in rev order, at most `limit`.
    async fn changes(
        &self,
        user_id: UserId,
        room_id: RoomId,
        after_rev: i64,
        limit: u32,
    ) -> StoreResult<Changes>;

    /// Messages `user_id` can read that match `filter`, newest first, deleted ones never:
    /// a page of at most `filter.limit`.
    async fn search(&self, user_id: UserId, filter: &SearchFilter<'_>) -> StoreResult<Found>;

    /// Moves the member's read position in the room forward to `seq` (never back, never past the
    /// room's newest message) and returns the position now stored.
    async fn mark_read(&self, user_id: UserId, room_id: RoomId, seq: i64) -> StoreResult<i64>;
    /// The members of a room, for someone who may see it (public rooms: anyone; private rooms
    /// and DMs: members), in name order ignoring case: those named after `page.after`, at most
    /// `page.limit`.
    async fn room_members(
        &self,
        user_id: UserId,
        room_id: RoomId,
        page: MemberPage<'_>,
    ) -> StoreResult<Vec<StoredMember>>;
    /// Of `names` (compared ignoring case), those who are members of `room_id`, spelt as their
    /// accounts are: who a message naming them mentions.
    async fn members_named(&self, room_id: RoomId, names: &[String]) -> StoreResult<Vec<String>>;
    /// Records that the user's last live connection closed at `at` (UTC ms).
    async fn set_last_seen(&self, user_id: UserId, at: i64) -> StoreResult<()>;
    /// The content hashes (files and thumbnails) of every file a message still carries, of
    /// every link preview's thumbnail, of every avatar and of every webhook persona's icon: what
    /// a prune of the file store must keep. Read as a stream, so memory follows the distinct
    /// files, not the messages.
    async fn file_hashes_in_use(&self) -> StoreResult<std::collections::HashSet<String>>;
    /// What fetching `url` gave, if it was fetched after `fetched_after` (UTC ms): a card, or
    /// `None` when the page had none. `None` when it must be fetched (again).
    async fn cached_preview(
        &self,
        url: &str,
        fetched_after: i64,
    ) -> StoreResult<Option<Option<crate::model::LinkPreview>>>;
    /// Keeps what fetching `url` gave at `at`, and forgets what was fetched before
    /// `forget_before`.
    async fn keep_preview(
        &self,
        url: &str,
        preview: Option<&crate::model::LinkPreview>,
        at: i64,
        forget_before: i64,
    ) -> StoreResult<()>;

    /// Push subscriptions, the VAPID key and notification preferences.
    fn push(&self) -> &dyn PushStore;

    /// Reads one consistent snapshot of what `request` covers into `sink`, and returns the
    /// counts it wrote (also sent as the final [`Record::End`]).
    async fn export(
        &self,
        request: &ExportRequest,
        sink: &mut dyn ExportSink,
    ) -> BackupResult<EndRecord>;
    /// Starts a restore.
    async fn begin_restore(&self) -> StoreResult<Box<dyn RestoreTx>>;
    /// Grants or revokes admin rights.
    async fn set_admin(&self, username: &str, admin: bool) -> StoreResult<User>;
    /// Sets a user's password hash (e.g. for an account restored without credentials).
    async fn set_password_hash(&self, username: &str, hash: &str) -> StoreResult<User>;
    /// Disables (`at` is `Some(time)`) or enables again (`None`) the account `username`.
    /// Disabling ends its sessions in the same transaction.
    async fn set_disabled(&self, username: &str, at: Option<i64>) -> StoreResult<User>;
    /// Whether `user` is disabled (a login with the right password is still refused).
    async fn is_disabled(&self, user_id: UserId) -> StoreResult<bool>;
    /// Adds a line to the audit log.
    async fn record_audit(&self, entry: &NewAudit<'_>) -> StoreResult<()>;
    /// The audit log, newest first: up to `limit` lines older than the line `before`, or the
    /// newest.
    async fn audit_log(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<crate::model::AuditEntry>>;
    /// Accounts whose name contains `search` (ignoring case; all for an empty one), in name
    /// order after `after`, up to `limit`, with their sessions unexpired at `now`.
    async fn accounts(
        &self,
        search: &str,
        after: Option<&str>,
        limit: u32,
        now: i64,
    ) -> StoreResult<Vec<crate::model::AccountRow>>;
    /// Public rooms whose name contains `search` (ignoring case; all for an empty one), in
    /// name order after `after`, up to `limit`, with their member counts. Private rooms and
    /// conversations are never listed: they exist only for their members.
    async fn admin_rooms(
        &self,
        search: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<crate::model::AdminRoomRow>>;
    /// `actor` (an instance admin, as [`crate::rights`] requires) deletes the named room
    /// `room_id` with everything in it: members, messages, threads, mentions, bans. Returns
    /// the name it had and who its members were, to tell their devices.
    async fn delete_room(
        &self,
        actor: UserId,
        room_id: RoomId,
    ) -> StoreResult<(String, Vec<UserId>)>;
    /// What the instance holds: accounts, rooms, DMs, messages, and the database's size.
    async fn figures(&self) -> StoreResult<crate::model::InstanceFigures>;
    /// Writes a consistent copy of the database to `path` (which must not exist) while the
    /// store keeps serving. SQLite only: other backends answer `Invalid`, naming their own tool.
    async fn snapshot(&self, path: &std::path::Path) -> StoreResult<()>;
    /// Whether the database answers a query now (`/readyz`). The caller bounds the wait.
    async fn ping(&self) -> StoreResult<()>;
    /// Each connection pool's size and idle connections, and how long a connection took to
    /// get, waiting at most `bound` (`/metrics`).
    async fn pools(&self, bound: std::time::Duration) -> Vec<crate::measure::PoolFigures>;
    /// Closes the connections, waiting for queries in flight (graceful shutdown).
    async fn close(&self);
}

/// An admin action for the audit log ([`crate::model::AuditEntry`] says what each part is).
#[derive(Debug, Clone, Copy)]
pub struct NewAudit<'a> {
    pub at: i64,
    /// The admin's account; `None` from the command line.
    pub actor_id: Option<UserId>,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub detail: &'a str,
    pub origin: &'a str,
}

/// What to back up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportRequest {
    pub scope: Scope,
    /// Include password hashes (whole-instance backups by an operator only).
    pub credentials: bool,
}

/// Where [`Store::export`] puts what it reads.
#[async_trait]
pub trait ExportSink: Send {
    /// Called once before any record, with how many messages will follow.
    async fn begin(&mut self, messages: u64) -> BackupResult<()>;
    /// One record; users, rooms, members, messages, then the end record, in that order.
    async fn record(&mut self, record: Record) -> BackupResult<()>;
}

/// A message waiting in a restore, resolved to ids. `place` says where in the file it was, for
/// errors found only when the restore finishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedMessage {
    pub uid: String,
    pub room_id: RoomId,
    pub author_id: UserId,
    pub body: String,
    pub created_at: i64,
    pub client_id: Option<String>,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
    /// The reactions column as stored (JSON), or `None`.
    pub reactions: Option<String>,
    /// The rendered text (`None`: rendered when first read).
    pub html: Option<String>,
    /// The mentions column as stored (JSON), or `None`.
    pub mentions: Option<String>,
    /// For a reply: its thread's root (uid), a message of the same room before it (stored, or
    /// earlier in the restore).
    pub thread_uid: Option<String>,
    pub also_in_room: bool,
    /// The files column as stored (JSON `Attachment`s), or `None`.
    pub files: Option<String>,
    /// The event column as stored (JSON [`crate::model::RoomEvent`]), or `None`.
    pub event: Option<String>,
    /// When it was pinned, and by whom (`None`: not pinned).
    pub pinned: Option<(i64, UserId)>,
    /// The persona column as stored (JSON [`crate::model::Persona`]), or `None`.
    pub persona: Option<String>,
    pub place: Place,
}

/// What a restore changed (or, in a dry run, would have changed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreCounts {
    pub users_created: u64,
    pub rooms_created: u64,
    pub members_added: u64,
    pub messages_added: u64,
    /// Messages whose id was already stored (or repeated in the file): kept once.
    pub messages_skipped: u64,
}

/// One restore, inside one transaction: nothing is visible until [`RestoreTx::finish`] commits,
/// and dropping it without finishing changes nothing.
#[async_trait]
pub trait RestoreTx: Send {
    /// The user with this name, created (as in the record) if missing. An existing user keeps
    /// their settings; their creation time becomes the earlier of the two, and a missing
    /// password hash is taken from the record.
    async fn user(&mut self, user: &UserRecord) -> StoreResult<UserId>;
    /// The public room with this name, created if missing (topic and creator kept if set).
    async fn room(&mut self, room: &RoomRecord, created_by: Option<UserId>) -> StoreResult<RoomId>;
    /// The direct conversation of exactly `people` (one for a note-to-self), created if
    /// missing, with all of them as members.
    async fn dm(
        &mut self,
        people: &[UserId],
        created_at: i64,
        created_by: Option<UserId>,
    ) -> StoreResult<RoomId>;
    /// Makes `user` a member of `room`; an existing membership keeps the earlier join time.
    async fn member(
        &mut self,
        room: RoomId,
        user: UserId,
        joined_at: i64,
        role: Option<crate::model::Role>,
    ) -> StoreResult<()>;
    /// Adds a message. One whose `uid` is already stored (or came earlier in the file) is
    /// skipped; the rest go after their room's last seq, ordered by time, then by position in
    /// the file.
    async fn message(&mut self, message: StagedMessage) -> StoreResult<()>;
    /// Applies what is still queued, then commits (or, for a dry run, rolls back).
    async fn finish(self: Box<Self>, commit: bool) -> StoreResult<RestoreCounts>;
}
