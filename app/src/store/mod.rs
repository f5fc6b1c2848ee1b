//! The storage seam. Everything the product keeps goes through [`Store`]; callers hold an
//! `Arc<dyn Store>` and never learn which database is behind it. SQLite ([`sqlite::SqliteStore`])
//! is the default; a Postgres implementation can follow behind the same trait.

pub mod sqlite;

use async_trait::async_trait;

use crate::model::{
    HistoryPage, Message, RoomId, RoomListing, RoomSummary, RoomView, Sidebar, User, UserId,
};

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

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// Which slice of a room's history to read. `before` and `after` are exclusive seq bounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Only messages with a smaller seq (paging back); `None` means from the newest.
    pub before: Option<i64>,
    /// Only messages with a larger seq (catching up); when set, the page starts right after it.
    pub after: Option<i64>,
    /// Page size, already capped by [`crate::validate::page_limit`].
    pub limit: u32,
}

/// A message to store. The store assigns `seq`, `uid` and `created_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage<'a> {
    pub room_id: RoomId,
    pub author_id: UserId,
    pub body: &'a str,
    pub client_id: Option<&'a str>,
}

/// The storage operations Confab needs, each one atomic.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates an account and puts it in `general`. The first account is an admin.
    async fn create_user(&self, username: &str, password_hash: &str) -> StoreResult<User>;
    /// The account and its password hash (if it has one), looked up ignoring case.
    async fn credentials(&self, username: &str) -> StoreResult<Option<(User, Option<String>)>>;
    /// The account with this username, ignoring case.
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>>;

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

    /// The rooms and DMs `user_id` belongs to.
    async fn sidebar(&self, user_id: UserId) -> StoreResult<Sidebar>;
    /// Every public room, with whether `user_id` has joined it.
    async fn public_rooms(&self, user_id: UserId) -> StoreResult<Vec<RoomListing>>;
    /// Creates a public room with `creator` as its first member.
    async fn create_room(
        &self,
        creator: UserId,
        name: &str,
        topic: Option<&str>,
    ) -> StoreResult<RoomSummary>;
    /// A room as `user_id` sees it. DMs they are not in are `NotFound`.
    async fn room_view(&self, user_id: UserId, room_id: RoomId) -> StoreResult<RoomView>;
    /// Joins a public room (joining twice is fine).
    async fn join_room(&self, user_id: UserId, room_id: RoomId) -> StoreResult<()>;
    /// Leaves a public room (leaving one you are not in is fine). DMs cannot be left.
    async fn leave_room(&self, user_id: UserId, room_id: RoomId) -> StoreResult<()>;
    /// The DM between two users, created on first use. `a == b` is a note-to-self.
    async fn open_dm(&self, a: UserId, b: UserId) -> StoreResult<RoomId>;

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
}
