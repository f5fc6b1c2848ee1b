//! The data both sides agree on: what the server sends to the browser and the browser renders.
//! One definition serves SSR, hydration and the server functions' wire format.

use serde::{Deserialize, Serialize};

/// Database id of a user.
pub type UserId = i64;
/// Database id of a room or DM.
pub type RoomId = i64;

/// A logged-in account, as the UI needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub is_admin: bool,
}

/// Who may create an account: anyone (the default), holders of an invite, or no one. An
/// instance without accounts is always open, to the first account, which becomes its admin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationMode {
    #[default]
    Open,
    Invite,
    Closed,
}

impl RegistrationMode {
    pub const ALL: [RegistrationMode; 3] = [
        RegistrationMode::Open,
        RegistrationMode::Invite,
        RegistrationMode::Closed,
    ];

    /// The word for it in settings, forms and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationMode::Open => "open",
            RegistrationMode::Invite => "invite",
            RegistrationMode::Closed => "closed",
        }
    }

    /// Reads the word back; `None` for anything else.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == word.trim())
    }
}

/// Whether a room is a public room anyone may join, a private room only its members know of,
/// or a direct conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    Public,
    Private,
    Dm,
}

impl RoomKind {
    /// The word the store reads for a room: its `rooms.kind` column, or `private` for a named
    /// room whose `private` flag is set (see the store's `ROOM_KIND`).
    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Public => "public",
            RoomKind::Private => "private",
            RoomKind::Dm => "dm",
        }
    }

    /// Reads [`RoomKind::as_str`] back; anything unknown is treated as a DM, the most private
    /// kind.
    pub fn from_db(kind: &str) -> Self {
        match kind {
            "public" => RoomKind::Public,
            "private" => RoomKind::Private,
            _ => RoomKind::Dm,
        }
    }

    /// A named room (public or private), as opposed to a direct conversation.
    pub fn is_named(self) -> bool {
        self != RoomKind::Dm
    }

    /// Whether only its members may know the room exists.
    pub fn is_secret(self) -> bool {
        self != RoomKind::Public
    }

    /// What goes before a room's name in lists: `#` for a public room, a lock for a private
    /// one, `@` for a conversation.
    pub fn sigil(self) -> &'static str {
        match self {
            RoomKind::Public => "# ",
            RoomKind::Private => "\u{1f512} ",
            RoomKind::Dm => "@ ",
        }
    }
}

/// A member's role in a named room. Instance admins act as owners in rooms they can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Moderator,
    Owner,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Moderator, Role::Member];

    /// The value stored in `memberships.role`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Moderator => "moderator",
            Role::Member => "member",
        }
    }

    /// Reads the stored word back; anything unknown is the least, a member.
    pub fn from_db(word: &str) -> Self {
        Self::parse(word).unwrap_or(Role::Member)
    }

    /// Reads a role from a form or a request; `None` for anything else.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == word.trim())
    }

    /// How the member list words it.
    pub fn label(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Moderator => "Moderator",
            Role::Member => "Member",
        }
    }
}

/// A room as the sidebar and the room header show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RoomSummary {
    #[cfg_attr(feature = "ssr", schema(value_type = i64))]
    pub id: RoomId,
    pub kind: RoomKind,
    /// The room's name, or for a DM the other members' usernames in name order, joined by ", ".
    pub name: String,
    pub topic: Option<String>,
    /// The seq of the room's newest message (0 while it has none).
    #[serde(default)]
    pub last_seq: i64,
    /// Messages by others the viewer has not read, capped at 1,000 ([`UNREAD_CAP`]; 0 where the
    /// viewer is not a member).
    #[serde(default)]
    pub unread: u32,
    /// Of those, the ones that mention the viewer, capped the same way.
    #[serde(default)]
    pub mentions: u32,
}

/// Unread counts stop here; the sidebar shows "999+".
pub const UNREAD_CAP: u32 = 1000;

/// Whether someone can be reached right now, over all their devices and tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// At least one connection with a visible, recently used tab.
    Online,
    /// Connected, but every tab has been hidden or idle for a while.
    Away,
    /// No live connection.
    Offline,
}

impl Presence {
    /// How the member list words it.
    pub fn label(self) -> &'static str {
        match self {
            Presence::Online => "online",
            Presence::Away => "away",
            Presence::Offline => "offline",
        }
    }
}

/// One member of a room as the member list shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Member {
    pub username: String,
    pub presence: Presence,
    /// When their last connection closed (UTC ms); null if never connected or connected now.
    pub last_seen: Option<i64>,
    #[serde(default = "member_role")]
    pub role: Role,
    /// A bot account (see `crate::webhooks`): a program, marked as one wherever its name shows.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bot: bool,
}

fn member_role() -> Role {
    Role::Member
}

/// A public room in the directory, with whether the viewer is in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomListing {
    pub room: RoomSummary,
    pub member_count: i64,
    pub joined: bool,
    /// Archived: listed after the others, read but not posted in.
    #[serde(default)]
    pub archived: bool,
}

/// A person's status: an emoji and a few words, which clear themselves at `until` if it is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Status {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// When it clears (UTC ms); absent: when they clear it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
}

/// An avatar as kept: the SHA-256 of its two squares, re-encoded by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Avatar {
    /// 128 × 128 px.
    pub large: String,
    /// 64 × 64 px.
    pub small: String,
}

/// What a person says of themselves, as their profile card shows it to anyone signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Profile {
    /// The unique handle, as the account spells it.
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Their status, unless it has cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// An IANA time zone name, such as `Europe/Paris`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<Avatar>,
    pub is_admin: bool,
    /// When the account was made (UTC ms).
    pub joined_at: i64,
}

impl Profile {
    /// The name to show: the display name, else the username.
    pub fn shown_name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.username)
    }
}

/// The address of `username`'s avatar, `size` 128 or 64 px: their picture, or their initials
/// drawn by the server when they have none. `version` (the picture's hash) makes the address
/// change with the picture, so it can be kept long.
pub fn avatar_url(username: &str, size: u32, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("/avatars/{username}/{size}?v={}", &v[..v.len().min(12)]),
        None => format!("/avatars/{username}/{size}"),
    }
}

/// Up to two letters for a picture-less avatar: the first letters of the first two words of
/// `name`, capitalised ("Ada Lovelace" → "AL", "bob" → "B").
pub fn initials(name: &str) -> String {
    name.split(|c: char| c.is_whitespace() || matches!(c, '.' | '_' | '-'))
        .filter_map(|word| word.chars().find(|c| c.is_alphanumeric()))
        .take(2)
        .flat_map(char::to_uppercase)
        .collect()
}

/// Someone banned from a room, as its moderators see the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanEntry {
    pub username: String,
    /// Who banned them, while that account exists.
    pub by: Option<String>,
    /// When (UTC ms).
    pub at: i64,
}

/// One line of the audit log: an admin action, who took it, when, on what and from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    /// When (UTC ms).
    pub at: i64,
    /// The admin's username as it was, or `(command line)`.
    pub actor: String,
    /// What was done, e.g. `disable`, `set_registration`, `create_invite`.
    pub action: String,
    /// What it was done to (a username), or empty.
    pub target: String,
    /// More about it (the new mode, an invite's expiry), or empty.
    pub detail: String,
    /// The client's address, or `command line (user)`.
    pub origin: String,
}

/// An account as the admin console lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRow {
    pub username: String,
    pub is_admin: bool,
    /// A bot account (an incoming webhook's).
    #[serde(default)]
    pub bot: bool,
    pub disabled: bool,
    pub created_at: i64,
    /// When their last connection closed (UTC ms); `None` if never connected.
    pub last_seen_at: Option<i64>,
    /// Sessions that have not expired (logged-in browsers and devices).
    pub sessions: i64,
}

/// A public room as the admin console lists it, to archive or delete it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminRoomRow {
    pub id: RoomId,
    pub name: String,
    pub members: i64,
    /// Messages and events in its timeline, deleted ones included (its last seq).
    pub messages: i64,
    /// When its newest message was posted (UTC ms); 0 if never.
    pub last_message_at: i64,
    pub archived: bool,
}

/// What a personal access token lets its holder do with the HTTP API (`/api/v1`), as its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// Read: the rooms, history, changes, members and search the owner can see.
    Read,
    /// Write: post, edit, delete, react, join and leave, as the owner.
    Write,
    /// Admin: the owner's instance-admin calls, those `crate::auth::admin_only` guards (only an
    /// admin can grant it). Without it, an admin's token is refused them. In rooms a token acts
    /// with its owner's standing, which the store reads by account.
    Admin,
}

impl TokenScope {
    /// Every scope, in the order they are shown.
    pub const ALL: [TokenScope; 3] = [TokenScope::Read, TokenScope::Write, TokenScope::Admin];

    /// The scope's word, as stored, sent and typed (`read`, `write`, `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Write => "write",
            TokenScope::Admin => "admin",
        }
    }

    /// The scope named by `word`, if any.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(word.trim()))
    }

    /// Scopes written as words separated by spaces or commas (`read write`, `read,admin`);
    /// `None` if a word is not a scope. Sorted, without repeats.
    pub fn parse_list(words: &str) -> Option<Vec<Self>> {
        let mut scopes = words
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|w| !w.is_empty())
            .map(Self::parse)
            .collect::<Option<Vec<_>>>()?;
        scopes.sort();
        scopes.dedup();
        Some(scopes)
    }

    /// Scopes as stored: their words, separated by spaces.
    pub fn join(scopes: &[Self]) -> String {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Names an invite or a token without its secret: the first eight bytes of the secret's hash,
/// in hex.
pub fn hash_id(hash: &[u8]) -> String {
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A personal access token as its owner's list shows it: never the secret, which is shown
/// once, when made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    /// Names it to revoke it: the start of its hash, in hex.
    pub id: String,
    pub name: String,
    pub scopes: Vec<TokenScope>,
    pub created_at: i64,
    /// `None`: it never expires.
    pub expires_at: Option<i64>,
    /// When it was last used (to the minute), if ever.
    pub last_used_at: Option<i64>,
}

impl TokenRow {
    /// Whether it is past its expiry at `now`.
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// A token just made: its row, and the secret, which is shown this once and never again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub token: TokenRow,
    pub secret: String,
}

/// An incoming webhook as its room's settings list it: never its secret URL, which is shown
/// once, when made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRow {
    /// Names it to revoke it: the start of its secret's hash, in hex.
    pub id: String,
    /// Its bot's username: what its messages show as their author.
    pub name: String,
    /// Who made it, while their account exists.
    pub created_by: Option<String>,
    pub created_at: i64,
    /// When it last posted (to the minute), if ever.
    pub last_used_at: Option<i64>,
}

/// A webhook just made: its row, and the path its secret URL has on this server, which is
/// shown this once and never again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWebhook {
    pub hook: WebhookRow,
    pub path: String,
}

/// An outgoing webhook as a room's moderators see it: never its signing secret, which is shown
/// once, when made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingWebhookRow {
    /// Names it to revoke it.
    pub id: String,
    /// Its bot's username: the author of the answers it posts, and the name that calls it.
    pub name: String,
    /// Where messages are sent.
    pub url: String,
    /// The words that call it when a message starts with one (its bot's mention always does).
    pub triggers: Vec<String>,
    /// Who made it, while their account exists.
    pub created_by: Option<String>,
    pub created_at: i64,
    /// When a message was last sent to it, if ever, and how that went ("200", "timed out"…).
    pub last_used_at: Option<i64>,
    pub last_status: Option<String>,
}

/// An outgoing webhook just made, with the secret its deliveries are signed with, which is
/// shown this once and never again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOutgoingWebhook {
    pub hook: OutgoingWebhookRow,
    pub secret: String,
}

/// An invite as the admin console lists it: never its code, which is shown once, when made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRow {
    /// Names it to revoke it: the start of its code's hash, in hex.
    pub id: String,
    /// The admin who made it (`None`: the command line, or an account since gone).
    pub created_by: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// Registrations it has admitted, of the `max_uses` it may.
    pub uses: i64,
    pub max_uses: i64,
    pub revoked_at: Option<i64>,
}

impl InviteRow {
    /// Whether it still lets someone register at `now`.
    pub fn open(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.uses < self.max_uses && self.expires_at > now
    }

    /// What the console says of it at `now`.
    pub fn state(&self, now: i64) -> &'static str {
        if self.revoked_at.is_some() {
            "Revoked"
        } else if self.uses >= self.max_uses {
            "Used up"
        } else if self.expires_at <= now {
            "Expired"
        } else {
            "Open"
        }
    }
}

/// What the instance holds, for the admin console.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceFigures {
    pub users: i64,
    /// Public rooms.
    pub rooms: i64,
    /// Private rooms: counted, never named (they exist only for their members).
    pub private_rooms: i64,
    pub dms: i64,
    /// Messages and thread replies, deleted ones included (they are kept as tombstones).
    pub messages: i64,
    /// The database's size on disk.
    pub database_bytes: i64,
}

/// The rooms and DMs a user belongs to, for the sidebar.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Sidebar {
    pub rooms: Vec<RoomSummary>,
    pub dms: Vec<RoomSummary>,
}

/// Everything the sidebar shows: who is logged in and where they can go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Navigation {
    pub user: User,
    pub sidebar: Sidebar,
    /// Who may register, for admins (their sidebar has the setting); `None` for everyone else.
    #[serde(default)]
    pub registration: Option<RegistrationMode>,
}

/// What the room page needs before it shows history: who is in it and whether the viewer is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomView {
    pub room: RoomSummary,
    pub member_count: i64,
    pub is_member: bool,
    /// The viewer's role, when they are a member.
    #[serde(default)]
    pub role: Option<Role>,
    /// The viewer is an instance admin (who acts as an owner in named rooms).
    #[serde(default)]
    pub admin: bool,
    /// The viewer muted the room: it sends them no notifications (unread is still counted).
    #[serde(default)]
    pub muted: bool,
    /// The viewer's username (whose messages they may edit).
    #[serde(default)]
    pub viewer: String,
    /// The last seq the viewer had read when the room was loaded (the room's last seq when
    /// they are not a member): "New messages" begins after it.
    #[serde(default)]
    pub last_read_seq: i64,
    /// The room's settings beyond its name and topic.
    #[serde(default)]
    pub settings: RoomSettings,
    /// The room's own slash commands, for a member's message box to list.
    #[serde(default)]
    pub commands: Vec<RoomCommand>,
}

/// A room's own slash command: an outgoing webhook's trigger word that starts with `/`. A
/// message that starts with it calls the hook, whose bot answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomCommand {
    /// Its name, without the `/`.
    pub name: String,
    /// The bot of the hook it calls.
    pub bot: String,
}

/// A named room's settings beyond its name and topic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSettings {
    /// Longer than the topic: what the room is for, its rules.
    #[serde(default)]
    pub description: Option<String>,
    /// Only moderators and owners post to the timeline; everyone reacts and replies.
    #[serde(default)]
    pub read_only: bool,
    /// No one posts; it is out of the sidebar and listed last in the directory, still read and
    /// searched by its members.
    #[serde(default)]
    pub archived: bool,
    /// Who may notify the whole room with `@room` and `@here`.
    #[serde(default)]
    pub group_mentions: GroupMentions,
}

/// Who may notify a whole room at once, with `@room` (every member) and `@here` (the members
/// online when it is sent): a room's setting, which its owners change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GroupMentions {
    #[default]
    Everyone,
    /// Moderators and owners only.
    Moderators,
    Nobody,
}

impl GroupMentions {
    pub const ALL: [GroupMentions; 3] = [
        GroupMentions::Everyone,
        GroupMentions::Moderators,
        GroupMentions::Nobody,
    ];

    /// Whether this is what a room has until its owners change it (every member).
    pub fn is_default(&self) -> bool {
        *self == GroupMentions::default()
    }

    /// The value stored in `rooms.group_mentions`, and sent by the settings form.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupMentions::Everyone => "everyone",
            GroupMentions::Moderators => "moderators",
            GroupMentions::Nobody => "nobody",
        }
    }

    /// Reads the stored word back; anything unknown is the strictest, nobody.
    pub fn from_db(word: &str) -> Self {
        Self::parse(word).unwrap_or(GroupMentions::Nobody)
    }

    /// Reads the setting from a form or a request; `None` for anything else.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == word.trim())
    }

    /// How the settings form words it.
    pub fn label(self) -> &'static str {
        match self {
            GroupMentions::Everyone => "Every member",
            GroupMentions::Moderators => "Moderators and owners",
            GroupMentions::Nobody => "No one",
        }
    }
}

/// The two mentions of a group, as a message's `mentions` list records them: usernames cannot
/// hold an `@`, so these cannot name a person. `@here` is recorded with the names of those it
/// reached; `@room` alone, and the database counts it for every member.
pub const MENTION_ROOM: &str = "@room";
pub const MENTION_HERE: &str = "@here";

/// The largest room `@room` and `@here` notify: past it, a mention of everyone is a broadcast
/// (and `@here` would list too many names in the message).
pub const MAX_GROUP_MENTION_MEMBERS: i64 = 1_000;

/// Whether a message's `mentions` list names `user`, or the whole room (`@room`).
pub fn mentions_user(mentions: &[String], user: &str) -> bool {
    mentions
        .iter()
        .any(|m| m == MENTION_ROOM || m.eq_ignore_ascii_case(user))
}

/// One chat message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Message {
    /// Stable global id (UUIDv7 text).
    pub uid: String,
    #[cfg_attr(feature = "ssr", schema(value_type = i64))]
    pub room_id: RoomId,
    /// Position in the room: 1, 2, 3, ... with no gaps, assigned when the message is stored.
    pub seq: i64,
    pub author: String,
    pub body: String,
    /// UTC milliseconds since the Unix epoch.
    pub created_at: i64,
    pub client_id: Option<String>,
    /// The room's change counter when this message last changed (posted, edited, deleted):
    /// every change in a room takes the room's next rev, so "what changed since rev R" is one
    /// range of the room's messages. 0 from servers that predate edits.
    #[serde(default)]
    pub rev: i64,
    /// When the text was last edited (UTC ms); absent if never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<i64>,
    /// When the message was deleted (UTC ms). A deleted message stays as a tombstone: its uid,
    /// seq, author and time are kept, its body is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<i64>,
    /// Reactions, each emoji once with who reacted, in the order they were first given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// The text as safe HTML, rendered from its Markdown by the server when it was stored or
    /// edited (empty for a tombstone, and from servers that predate Markdown: show the text).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub html: String,
    /// The usernames this message mentions, as the server decided (members of the room named
    /// with `@`, outside code), and `@room` or `@here` for a group ([`MENTION_ROOM`],
    /// [`MENTION_HERE`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// For a reply: the seq of its thread's root (a message of the same room). Replies stay
    /// out of the room's timeline unless `also_in_room`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<i64>,
    /// A reply its author also sent to the room ("also send to room"): shown in both places.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub also_in_room: bool,
    /// For a thread's root: how many replies it has (tombstones not counted).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub replies: i64,
    /// For a thread's root: when its newest reply was posted (UTC ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reply_at: Option<i64>,
    /// For a thread's root: who follows the thread (its author, everyone who replied or was
    /// mentioned in a reply), whose unread counts and notifications its replies reach.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub followers: Vec<String>,
    /// Files sent with it, in the order they were attached (none once it is deleted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<Attachment>,
    /// For a timeline event (its author changed a room setting or banned someone): what
    /// happened. An event has no text; it cannot be edited, deleted, reacted or replied to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<RoomEvent>,
    /// Pinned to the room: by whom and when (listed in the room's pins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<Pin>,
    /// What the server found at the message's first link (see `crate::preview`), once it has
    /// fetched it; gone when the author removes it or edits the link away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<LinkPreview>,
    /// The author's display name, as their profile had it when the message was read (absent
    /// when they have none): what the timeline shows, with `author` the handle behind it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    /// The author is a bot account (an incoming webhook's, or one an admin made): the timeline
    /// marks its name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub author_bot: bool,
    /// The name an incoming webhook's payload asked to be shown with (Slack's `username`):
    /// shown in the author's place beside its bot's own name, never taken for anyone's
    /// identity. `author` stays the bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persona_name: Option<String>,
    /// A thumbnail the server fetched once of the payload's `icon_url` (members' browsers never
    /// contact that host), served at [`Message::persona_icon_url`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persona_icon: Option<PreviewImage>,
}

/// How a webhook's message presents itself, as the server stores it and backups carry it: a
/// name of the sender's choosing and its icon's thumbnail (on the wire, a message's
/// `persona_name` and `persona_icon`, two fields the client already knows how to read).
#[cfg(feature = "ssr")]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Persona {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<PreviewImage>,
}

impl Message {
    /// The name the timeline shows for the author: their display name, else their username.
    pub fn shown_author(&self) -> &str {
        self.author_name.as_deref().unwrap_or(&self.author)
    }

    /// Where the thumbnail of its link card is served, to those who may read it.
    pub fn preview_image_url(&self) -> String {
        format!("/previews/{}/{}", self.room_id, self.seq)
    }

    /// Where the picture its webhook asked to be shown with is served, to those who may read it.
    pub fn persona_icon_url(&self) -> String {
        format!("/previews/{}/{}/icon", self.room_id, self.seq)
    }

    /// The name and icon its webhook asked for, as one value.
    #[cfg(feature = "ssr")]
    pub fn persona(&self) -> Option<Persona> {
        let name = self.persona_name.clone()?;
        Some(Persona {
            name,
            icon: self.persona_icon.clone(),
        })
    }

    /// Shows it with `persona` (or as its author only, with `None`).
    #[cfg(feature = "ssr")]
    pub fn set_persona(&mut self, persona: Option<Persona>) {
        let (name, icon) = persona.map_or((None, None), |p| (Some(p.name), p.icon));
        self.persona_name = name;
        self.persona_icon = icon;
    }
}

/// A link's card: the page's own title, description and site name (OpenGraph, Twitter card or
/// `<title>`), and a thumbnail of its image fetched once and served by this server, so members'
/// browsers never contact the linked site to show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LinkPreview {
    /// The link as written in the message.
    pub url: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<PreviewImage>,
}

/// A preview's thumbnail, re-encoded by the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PreviewImage {
    /// SHA-256 of the thumbnail's bytes, hex: where they are kept.
    pub sha256: String,
    pub width: u32,
    pub height: u32,
}

/// Who pinned a message, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Pin {
    /// Their username (empty once the account is gone).
    pub by: String,
    /// UTC ms.
    pub at: i64,
}

/// Something that happened to a room, recorded in its timeline by whoever did it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RoomEvent {
    Renamed { name: String },
    Topic { topic: Option<String> },
    Description { description: Option<String> },
    Privacy { private: bool },
    ReadOnly { read_only: bool },
    Archived { archived: bool },
    GroupMentions { allowed: GroupMentions },
    Banned { username: String },
    Unbanned { username: String },
}

impl RoomEvent {
    /// What the timeline says, after the name of who did it: "set the topic to “Launch”".
    pub fn sentence(&self) -> String {
        match self {
            RoomEvent::Renamed { name } => format!("renamed the room to \u{201c}{name}\u{201d}"),
            RoomEvent::Topic { topic: Some(t) } => format!("set the topic to \u{201c}{t}\u{201d}"),
            RoomEvent::Topic { topic: None } => "cleared the topic".into(),
            RoomEvent::Description {
                description: Some(_),
            } => "changed the description".into(),
            RoomEvent::Description { description: None } => "cleared the description".into(),
            RoomEvent::Privacy { private: true } => "made the room private".into(),
            RoomEvent::Privacy { private: false } => "made the room public".into(),
            RoomEvent::ReadOnly { read_only: true } => "made the room read-only".into(),
            RoomEvent::ReadOnly { read_only: false } => "let everyone post again".into(),
            RoomEvent::Archived { archived: true } => "archived the room".into(),
            RoomEvent::Archived { archived: false } => {
                "brought the room back from the archive".into()
            }
            RoomEvent::GroupMentions { allowed } => match allowed {
                GroupMentions::Everyone => "let every member use @room and @here".into(),
                GroupMentions::Moderators => {
                    "let only moderators and owners use @room and @here".into()
                }
                GroupMentions::Nobody => "turned off @room and @here".into(),
            },
            RoomEvent::Banned { username } => format!("banned {username} from the room"),
            RoomEvent::Unbanned { username } => format!("lifted the ban on {username}"),
        }
    }
}

/// A file sent with a message. Its bytes are kept once per content (by `sha256`) and served
/// at `/files/{room}/{seq}/{id}` ([`Attachment::url`]) to members of the message's room only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Attachment {
    /// Names the file within its message (UUID text); part of its URL.
    pub id: String,
    /// The name it was uploaded with, cleaned of paths and control characters.
    pub name: String,
    pub size: u64,
    /// The type its content shows (sniffed by the server, never taken from the uploader).
    pub content_type: String,
    /// SHA-256 of the content, hex: where the bytes are kept.
    pub sha256: String,
    /// For an image: its size in pixels and its thumbnail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageInfo>,
}

/// What the browser needs to show an image before its thumbnail loads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ImageInfo {
    pub width: u32,
    pub height: u32,
    /// SHA-256 of the thumbnail (JPEG or PNG), hex.
    pub thumb_sha256: String,
    pub thumb_width: u32,
    pub thumb_height: u32,
}

impl Message {
    /// Where the message is seen in context: its room at it, or its thread at it for a reply
    /// kept in the thread.
    pub fn url(&self) -> String {
        match self.thread {
            Some(root) => format!("/r/{}?thread={root}#m{}", self.room_id, self.seq),
            None => format!("/r/{}#m{}", self.room_id, self.seq),
        }
    }
}

/// The tag of a message's notification: one per room, and one per thread, so a newer message
/// replaces the older one's notification (from a push or from an open tab alike).
pub fn notification_tag(message: &Message) -> String {
    match message.thread {
        Some(root) => format!("confab-thread-{}-{root}", message.room_id),
        None => format!("confab-room-{}", message.room_id),
    }
}

impl Attachment {
    /// Where members download it (a message's files are addressed through the message, so
    /// the message's access rules are the file's).
    pub fn url(&self, room_id: RoomId, seq: i64) -> String {
        format!("/files/{room_id}/{seq}/{}", self.id)
    }

    /// Where members get its thumbnail (images only).
    pub fn thumb_url(&self, room_id: RoomId, seq: i64) -> String {
        format!("{}/thumb", self.url(room_id, seq))
    }

    /// Where programs get it through the HTTP API, with a token (`server::api_files`).
    #[cfg(feature = "ssr")]
    pub fn api_path(&self, room_id: RoomId, seq: i64) -> String {
        format!("/api/v1/rooms/{room_id}/messages/{seq}/files/{}", self.id)
    }

    /// Its size as people read it: "812 B", "14.2 KB", "3.1 MB".
    pub fn size_label(&self) -> String {
        size_label(self.size)
    }
}

/// A byte count as people read it, in decimal units as file managers show them.
pub fn size_label(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// One emoji on a message and the people who reacted with it, in the order they did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Reaction {
    pub emoji: String,
    pub users: Vec<String>,
}

impl Reaction {
    /// How a screen reader names it: "👍 2, reacted by alice and bob".
    pub fn label(&self) -> String {
        let who = match self.users.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
        };
        format!("{} {}, reacted by {who}", self.emoji, self.users.len())
    }

    /// Whether `user` is among those who reacted.
    pub fn by(&self, user: &str) -> bool {
        self.users.iter().any(|u| u.eq_ignore_ascii_case(user))
    }
}

impl Message {
    /// Whether it mentions `user`, by name or as one of the room (never its own author).
    pub fn mentions(&self, user: &str) -> bool {
        !self.author.eq_ignore_ascii_case(user) && mentions_user(&self.mentions, user)
    }

    /// Whether this is the tombstone of a deleted message.
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    /// Whether the room's timeline shows it: every message but a reply kept in its thread.
    pub fn in_timeline(&self) -> bool {
        self.thread.is_none() || self.also_in_room
    }

    /// Whether `user` follows the thread this root starts.
    pub fn followed_by(&self, user: &str) -> bool {
        self.followers.iter().any(|f| f.eq_ignore_ascii_case(user))
    }
}

/// One page of a room's history, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HistoryPage {
    pub messages: Vec<Message>,
    /// True when messages older than the first one on this page exist.
    pub has_older: bool,
    /// The room's change counter, read before the page: every change after the page was read
    /// has a larger rev, so a client catches up with `changes` after this rev.
    #[serde(default)]
    pub rev: i64,
}

impl Message {
    /// About how many bytes this message takes as JSON (quotes in its HTML escaped, its lists):
    /// what the byte limit of a page counts.
    pub fn wire_size(&self) -> usize {
        let names = |list: &[String]| list.iter().map(|n| n.len() + 3).sum::<usize>();
        200 + self.author.len()
            + self.body.len() * 2
            + self.html.len() * 3 / 2
            + names(&self.mentions)
            + names(&self.followers)
            + self
                .reactions
                .iter()
                .map(|r| r.emoji.len() + 24 + names(&r.users))
                .sum::<usize>()
            + self
                .files
                .iter()
                .map(|f| f.name.len() * 2 + 320)
                .sum::<usize>()
    }
}

/// Keeps as many of `messages` as fit in `max_bytes` ([`Message::wire_size`]), always at least
/// one: the first ones, or with `keep_last` the last ones. True when any were left out.
pub fn fit_page(messages: &mut Vec<Message>, max_bytes: usize, keep_last: bool) -> bool {
    let mut total = 0;
    let sizes: Vec<usize> = if keep_last {
        messages.iter().rev().map(Message::wire_size).collect()
    } else {
        messages.iter().map(Message::wire_size).collect()
    };
    let keep = sizes
        .iter()
        .take_while(|size| {
            total += **size;
            total <= max_bytes
        })
        .count()
        .max(1)
        .min(messages.len());
    let dropped = messages.len() - keep;
    if keep_last {
        messages.drain(..dropped);
    } else {
        messages.truncate(keep);
    }
    dropped > 0
}

impl HistoryPage {
    /// Holds the page to `max_bytes`. A page read backwards (the newest, or before a seq) keeps
    /// its newest messages and says older ones exist; a page read forwards keeps its oldest and
    /// answers whether any were left out (the caller pages on after its last).
    pub fn fit(&mut self, max_bytes: usize, forwards: bool) -> bool {
        let cut = fit_page(&mut self.messages, max_bytes, !forwards);
        if cut && !forwards {
            self.has_older = true;
        }
        cut
    }
}

impl Changes {
    /// Holds the answer to `max_bytes`; what is left out comes with the next page.
    pub fn fit(&mut self, max_bytes: usize) {
        if fit_page(&mut self.messages, max_bytes, false) {
            self.complete = false;
        }
    }
}

/// A thread: its root and a page of its replies, oldest first (`replies.has_older` when
/// older replies exist).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    pub root: Message,
    pub replies: HistoryPage,
}

/// What changed in a room after a rev: the current state of every message posted, edited or
/// deleted since, in rev order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Changes {
    pub messages: Vec<Message>,
    /// False when more changes follow: ask again after the last message's rev.
    pub complete: bool,
}

/// One message found by a search, with the room it is in as the searcher sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SearchHit {
    /// The room's name, or for a DM the other members' (as a room summary's `name`).
    pub room_name: String,
    pub room_kind: RoomKind,
    pub message: Message,
}

/// A page of search results, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// Where the next (older) page starts: pass it back as `page`. Null on the last page.
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reaction_is_named_with_its_count_and_people() {
        let r = |users: &[&str]| Reaction {
            emoji: "👍".into(),
            users: users.iter().map(|u| u.to_string()).collect(),
        };
        assert_eq!(r(&["alice"]).label(), "👍 1, reacted by alice");
        assert_eq!(
            r(&["alice", "bob"]).label(),
            "👍 2, reacted by alice and bob"
        );
        assert_eq!(
            r(&["alice", "bob", "carol"]).label(),
            "👍 3, reacted by alice, bob and carol"
        );
        assert!(r(&["Alice"]).by("alice"));
    }

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(size_label(0), "0 B");
        assert_eq!(size_label(999), "999 B");
        assert_eq!(size_label(1000), "1.0 KB");
        assert_eq!(size_label(14_200), "14.2 KB");
        assert_eq!(size_label(999_990), "1.0 MB");
        assert_eq!(size_label(26_214_400), "26.2 MB");
    }
}

/// Which new messages reach a user as a notification when no tab of theirs is in view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyLevel {
    /// Every message in their rooms and DMs.
    All,
    /// DMs, mentions of them, and replies in threads they follow (the default).
    #[default]
    Mentions,
    /// None at all.
    Nothing,
}

impl NotifyLevel {
    pub const ALL: [NotifyLevel; 3] = [
        NotifyLevel::All,
        NotifyLevel::Mentions,
        NotifyLevel::Nothing,
    ];

    /// The word stored and sent for it.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyLevel::All => "all",
            NotifyLevel::Mentions => "mentions",
            NotifyLevel::Nothing => "nothing",
        }
    }

    /// Reads the word back; `None` for anything else.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == word.trim())
    }

    /// How the settings page names it.
    pub fn label(self) -> &'static str {
        match self {
            NotifyLevel::All => "All new messages",
            NotifyLevel::Mentions => "Direct messages, mentions and thread replies",
            NotifyLevel::Nothing => "Nothing",
        }
    }
}

/// One device (a browser profile) that receives the user's push notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushDevice {
    pub id: i64,
    /// What the browser said it is when it subscribed, e.g. "Chrome on Linux".
    pub label: String,
    /// When it subscribed (UTC ms).
    pub created_at: i64,
    /// The push service's host (e.g. `fcm.googleapis.com`), so the user can tell devices apart.
    pub service: String,
    /// The subscription's endpoint, which lets the browser find its own entry in the list.
    pub endpoint: String,
}

/// A user's notification settings as the settings page shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSettings {
    pub level: NotifyLevel,
    /// The instance's VAPID public key (base64url, uncompressed P-256 point), which the browser
    /// subscribes with.
    pub vapid_public_key: String,
    pub devices: Vec<PushDevice>,
    /// Rooms and DMs the user muted.
    pub muted: Vec<RoomId>,
}

/// How the interface is coloured on one device: as the system says, or always light or dark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

impl Theme {
    /// Every theme, in the order the switch offers them.
    pub const ALL: [Theme; 3] = [Theme::System, Theme::Light, Theme::Dark];

    /// Its name in a form and a cookie.
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// The theme named `name` (as [`Theme::as_str`] writes it).
    pub fn parse(name: &str) -> Option<Theme> {
        Theme::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// What the switch calls it.
    pub fn label(self) -> &'static str {
        match self {
            Theme::System => "System",
            Theme::Light => "Light",
            Theme::Dark => "Dark",
        }
    }

    /// The `data-theme` of `<html>`: none when the system decides.
    pub fn attr(self) -> Option<&'static str> {
        (self != Theme::System).then(|| self.as_str())
    }
}
