//! The one write path. Every change that someone else, or another device of the same user, must
//! see goes through one function here, always in the same order: validate → store (the commit is
//! durable) → answer the caller → publish on the [`Bus`] → notify (hand the message to the push
//! queue, `crate::push::send`, which never waits; a first link to the preview queue,
//! `crate::preview::fetch`, and the room's outgoing webhooks, `crate::outgoing`, which
//! never wait either). Server functions (`crate::api`) and the socket's command loop (`server::ws`) are
//! thin adapters: they decode a request, name the caller, call one function here and encode
//! the answer. Nothing else publishes, and nothing here reaches another socket except through
//! the bus, so a cluster bus sees every change.
//!
//! A socket opening, going idle or closing changes its user's presence, which others see, so the
//! socket's lifecycle is here too. The hub is only this process's socket registry: presence over
//! every process is the bus's answer, and "last seen" is written when the bus says the user is
//! offline everywhere, not when this process loses its last socket of theirs.

use std::time::Duration;

use crate::error::AppError;
use crate::hub::{ConnId, Outbox, PresenceChange};
use crate::measure;
use crate::model::{Attachment, Message, RoomId, RoomSummary, User};
use crate::presence;
use crate::protocol::{ErrorCode, ServerFrame, TYPING_EVERY_MS};
use crate::state::AppState;
use crate::store::{ChangeKind, MemberPage, MessageChange, NewMessage, NewReply};

/// A message as a client asks to post it.
#[derive(Debug, Clone, Copy)]
pub struct Post<'a> {
    pub room_id: RoomId,
    pub text: &'a str,
    /// The client's id for this message; a retry with the same id stores nothing new.
    pub client_id: Option<&'a str>,
    /// A reply in the thread of the message with this seq.
    pub thread: Option<i64>,
    /// A reply also shown in the room's timeline.
    pub also_in_room: bool,
    /// Files sent with it, whose bytes are already kept (see `crate::files`).
    pub files: &'a [Attachment],
    /// The posting budget was drawn for this post already: an upload draws it before reading
    /// its body, so a user over the budget never makes the server read and keep the bytes.
    pub budget_drawn: bool,
    /// The name and picture an incoming webhook's payload asked to be shown with.
    pub persona: Option<&'a crate::model::Persona>,
}

/// Where the caller waits for its answer. An HTTP caller gets the returned value; a socket is
/// sent its `ack` before anyone else hears of the message, so the poster's own screen settles
/// first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Returned,
    Socket(ConnId),
}

/// Posts a message: validated, durably stored with its room's next seq, acknowledged, then
/// fanned out. A retry with the same client id answers the stored message again (and publishes
/// it again, which clients ignore: they key messages by seq). A reply is published as
/// `replied` with its root's new state, and as a `message` too when it is also in the room.
pub async fn post(
    state: &AppState,
    author: &User,
    post: Post<'_>,
    answer: Answer,
) -> Result<Message, AppError> {
    let arrived = std::time::Instant::now();
    let body = crate::validate::caption(post.text, post.files.len())?;
    let body = command_message(body)?;
    if post.files.len() > crate::validate::MAX_FILES_PER_MESSAGE {
        return Err(AppError::BadRequest(format!(
            "Send at most {} files with one message.",
            crate::validate::MAX_FILES_PER_MESSAGE
        )));
    }
    let client_id = crate::validate::client_id(post.client_id)?;
    if post.also_in_room && post.thread.is_none() {
        return Err(AppError::BadRequest(
            "Only a reply in a thread can also be sent to the room.".into(),
        ));
    }
    if !post.budget_drawn {
        state.limits.post(author.id)?;
    }
    let mentions = mentions(state, author, post.room_id, &body).await?;
    let html = crate::markdown::render_checked(&body, &mentions)?;
    let new = NewMessage {
        room_id: post.room_id,
        author_id: author.id,
        body: &body,
        client_id: client_id.as_deref(),
        html: &html,
        mentions: &mentions,
        files: post.files,
        persona: post.persona,
    };
    let (message, root) = match post.thread {
        Some(to) => {
            let replied = state
                .store
                .post_reply(NewReply {
                    message: new,
                    to,
                    also_in_room: post.also_in_room,
                })
                .await?;
            (replied.reply, Some(replied.root))
        }
        None => (state.store.post_message(new).await?, None),
    };
    if let Answer::Socket(conn) = answer {
        let ack = ServerFrame::Ack {
            // The id exactly as the client sent it: that is what it matches its outbox on.
            client_id: post.client_id.unwrap_or_default().to_owned(),
            message: message.clone(),
        };
        reply(state, conn, &ack).await;
    }
    measure::posted(arrived.elapsed());
    if message.in_timeline() {
        let frame = ServerFrame::Message {
            message: message.clone(),
        };
        publish(state, message.room_id, &frame).await;
    }
    if let Some(root) = root {
        let frame = ServerFrame::Replied {
            root: Box::new(root),
            reply: Box::new(message.clone()),
        };
        publish(state, message.room_id, &frame).await;
    }
    if let Some(push) = &state.push {
        push.notify(&message, author.id);
    }
    request_preview(state, &message, author.id);
    if let Some(outgoing) = &state.outgoing {
        outgoing.offer(&message);
    }
    Ok(message)
}

/// Asks for a card of the message's first link, if it has one; the fetch happens later
/// ([`crate::preview::fetch`]) and [`show_previews`] stores what it finds.
fn request_preview(state: &AppState, message: &Message, author_id: crate::model::UserId) {
    let (Some(previews), None) = (&state.previews, &message.preview) else {
        return;
    };
    if message.deleted_at.is_some() || message.event.is_some() {
        return;
    }
    if let Some(url) = crate::markdown::first_link(&message.body) {
        previews.request(crate::preview::fetch::Job {
            room_id: message.room_id,
            seq: message.seq,
            author_id,
            url,
        });
    }
}

/// `state` previewing links as `config` says (see [`crate::preview`]). Build the state with
/// everything else first: the task that shows the cards found keeps this copy of it.
pub fn with_previews(
    mut state: AppState,
    config: crate::preview::fetch::PreviewConfig,
) -> Result<AppState, reqwest::Error> {
    let (previewer, found) =
        crate::preview::fetch::Previewer::start(state.store.clone(), state.files.clone(), config)?;
    state.previews = Some(previewer);
    tokio::spawn(show_previews(state.clone(), found));
    Ok(state)
}

/// Shows each card the preview worker finds on its message: stored (for the message's
/// author, while its first link is still the one fetched), then published as `previewed`.
/// Runs for as long as the worker does.
async fn show_previews(
    state: AppState,
    mut found: tokio::sync::mpsc::Receiver<crate::preview::fetch::Found>,
) {
    while let Some(card) = found.recv().await {
        let stored = state
            .store
            .change_message(MessageChange {
                user_id: card.job.author_id,
                room_id: card.job.room_id,
                seq: card.job.seq,
                client_id: None,
                kind: ChangeKind::Preview {
                    preview: Some(&card.preview),
                },
            })
            .await;
        match stored {
            Ok(changed) if changed.changed => {
                measure::changed(measure::ChangeKind::Preview);
                let frame = ServerFrame::Previewed {
                    message: changed.message,
                };
                publish(&state, card.job.room_id, &frame).await;
            }
            Ok(_) => {}
            // The message or its author's place in the room went meanwhile.
            Err(e) => tracing::debug!("a link preview was not shown: {e}"),
        }
    }
}

/// Publishes a change that is stored and answered: a failure is logged, and clients catch up
/// by seq and rev.
async fn publish(state: &AppState, room_id: RoomId, frame: &ServerFrame) {
    match frame.encode() {
        Ok(encoded) => state.bus.publish(room_id, rev_of(frame), encoded).await,
        Err(e) => tracing::error!("publishing to room {room_id}: {e}"),
    }
}

/// The room's rev a stored change brings: the highest rev among the messages it carries (a
/// reply's root takes the rev after the reply's).
fn rev_of(frame: &ServerFrame) -> Option<i64> {
    match frame {
        ServerFrame::Message { message }
        | ServerFrame::Edited { message }
        | ServerFrame::Deleted { message }
        | ServerFrame::Reacted { message }
        | ServerFrame::Pinned { message }
        | ServerFrame::Previewed { message } => Some(message.rev),
        ServerFrame::Replied { root, reply } => Some(root.rev.max(reply.rev)),
        _ => None,
    }
}

/// The one rule for what a message mentions, for posts and edits alike (and so for every
/// count and notification that follows): each `@name` outside code that names a member of the
/// room, once, spelt as their account is, in the order first written; then `@room` and `@here`
/// in a named room, where `author` may use them (see [`group_mentions`]).
async fn mentions(
    state: &AppState,
    author: &User,
    room_id: RoomId,
    body: &str,
) -> Result<Vec<String>, AppError> {
    let names = crate::markdown::mentioned_names(body);
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let (groups, people): (Vec<String>, Vec<String>) =
        names.into_iter().partition(|n| Group::named(n).is_some());
    let members = if people.is_empty() {
        Vec::new()
    } else {
        state.store.members_named(room_id, &people).await?
    };
    let mut found: Vec<String> = people
        .iter()
        .filter_map(|name| members.iter().find(|m| m.eq_ignore_ascii_case(name)))
        .cloned()
        .collect();
    if !groups.is_empty() {
        group_mentions(state, author, room_id, &groups, &mut found).await?;
    }
    Ok(found)
}

/// A mention of a group of a room's members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    /// `@room`: every member (the database counts it for each, see `mentions` in the schema).
    Room,
    /// `@here`: the members online as it is sent, named in the message one by one.
    Here,
}

impl Group {
    fn named(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("room") {
            Some(Group::Room)
        } else if name.eq_ignore_ascii_case("here") {
            Some(Group::Here)
        } else {
            None
        }
    }
}

/// Adds `@room` and `@here` (with those it reaches) to `found`, when `author` may use them in
/// the room as its setting has it ([`crate::rights::Action::MentionGroup`]) and the room is no
/// larger than [`MAX_GROUP_MENTION_MEMBERS`]; refuses the message otherwise. In a
/// conversation they are words, not mentions: everyone in it is told of every message already.
async fn group_mentions(
    state: &AppState,
    author: &User,
    room_id: RoomId,
    groups: &[String],
    found: &mut Vec<String>,
) -> Result<(), AppError> {
    use crate::model::{Presence, MAX_GROUP_MENTION_MEMBERS, MENTION_HERE, MENTION_ROOM};
    use crate::rights::{Action, Standing};
    let view = state.store.room_view(author.id, room_id).await?;
    if !view.room.kind.is_named() {
        return Ok(());
    }
    let standing = Standing::of(&view);
    if let Some(refusal) = standing.refusal(Action::MentionGroup(view.settings.group_mentions)) {
        return Err(AppError::Forbidden(refusal.into()));
    }
    if view.member_count > MAX_GROUP_MENTION_MEMBERS {
        return Err(AppError::BadRequest(format!(
            "@room and @here notify rooms of at most {MAX_GROUP_MENTION_MEMBERS} members; this \
             one has {}. Mention people by name.",
            view.member_count
        )));
    }
    let wanted: Vec<Group> = groups.iter().filter_map(|g| Group::named(g)).collect();
    if wanted.contains(&Group::Room) {
        found.push(MENTION_ROOM.to_owned());
    }
    if wanted.contains(&Group::Here) {
        found.push(MENTION_HERE.to_owned());
        let members = state
            .store
            .room_members(author.id, room_id, MemberPage::ALL)
            .await?;
        let ids: Vec<_> = members.iter().map(|m| m.id).collect();
        let presence = state.bus.presence(&ids).await;
        for (member, status) in members.iter().zip(presence) {
            let named = found
                .iter()
                .any(|f| f.eq_ignore_ascii_case(&member.username));
            if status == Presence::Online && member.id != author.id && !named {
                found.push(member.username.clone());
            }
        }
    }
    Ok(())
}

/// The message a text posts: `/shrug …` becomes its message, `/me …` stays as typed (it is
/// drawn as an action), and a command that is not a message is refused, so it is never stored
/// as text (the message box runs those with [`command`]).
fn command_message(body: String) -> Result<String, AppError> {
    use crate::slash::{parse, shrugged, Slash};
    match parse(&body) {
        None | Some(Ok(Slash::Me(_))) => Ok(body),
        Some(Ok(Slash::Shrug(text))) => crate::validate::message_text(&shrugged(text)),
        Some(Ok(_)) => Err(AppError::BadRequest(
            "That is a command, not a message: it runs from the message box with JavaScript on. \
             Without it, use the room's menu."
                .into(),
        )),
        Some(Err(e)) => Err(e),
    }
}

/// Runs a slash command typed in `room_id`'s message box that is not a message (`/topic`,
/// `/invite`, `/leave`, `/mute`), through the same calls as the room's menus; answers what was
/// done, in words.
pub async fn command(
    state: &AppState,
    user: &User,
    room_id: RoomId,
    text: &str,
) -> Result<String, AppError> {
    use crate::slash::{parse, Slash};
    let command = parse(text).ok_or_else(|| {
        AppError::BadRequest("That is not a command: type / to see them.".into())
    })??;
    match command {
        Slash::Me(_) | Slash::Shrug(_) => Err(AppError::BadRequest(
            "That command is a message: send it as one.".into(),
        )),
        Slash::Topic(topic) => {
            configure_room(state, user, room_id, Setting::Topic(topic)).await?;
            Ok(if topic.is_empty() {
                "The topic is cleared.".to_owned()
            } else {
                "The topic is set.".to_owned()
            })
        }
        Slash::Invite(name) => {
            add_member(state, user, room_id, name).await?;
            Ok(format!("{name} is in the room."))
        }
        Slash::Leave => {
            leave(state, user, room_id).await?;
            Ok("You left the room.".to_owned())
        }
        Slash::Mute => {
            let push = state.store.push();
            let (_, muted) = push.notify_prefs(user.id).await?;
            let mute = !muted.contains(&room_id);
            push.set_muted(user.id, room_id, mute).await?;
            Ok(if mute {
                "Muted: this room no longer notifies you. /mute again to undo.".to_owned()
            } else {
                "Unmuted: this room notifies you again.".to_owned()
            })
        }
    }
}

/// A change to a message as a client asks for it.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub room_id: RoomId,
    pub seq: i64,
    /// The client's id for this change; a retry with the same id changes nothing more.
    pub client_id: Option<&'a str>,
    pub action: Action<'a>,
}

/// What a change does, as the client sent it (not yet validated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// Replace the text with this.
    Edit(&'a str),
    Delete,
    /// Toggle the user's reaction with this emoji.
    React(&'a str),
    /// Pin the message to its room (`true`) or unpin it.
    Pin(bool),
    /// Remove the card of the message's link (its author only).
    RemovePreview,
}

/// Edits, deletes, reacts to or pins a message: validated, stored with the room's next rev
/// (durably), answered, then published as `edited`, `deleted`, `reacted` or `pinned` to every
/// member's sockets. A change that changed nothing (a retry, an edit to the same text, a second delete)
/// is answered and not published.
pub async fn change(
    state: &AppState,
    user: &User,
    change: Change<'_>,
    answer: Answer,
) -> Result<Message, AppError> {
    let value = match change.action {
        Action::Edit(text) => Some(crate::validate::message_text(text)?),
        Action::React(emoji) => Some(crate::validate::reaction(emoji)?),
        Action::Delete | Action::Pin(_) | Action::RemovePreview => None,
    };
    let client_id = crate::validate::client_id(change.client_id)?;
    // Changes share the posting budget: each is a message's worth of fan-out.
    state.limits.post(user.id)?;
    let (mentions, html) = match (change.action, value.as_deref()) {
        (Action::Edit(_), Some(body)) => {
            let mentions = mentions(state, user, change.room_id, body).await?;
            let html = crate::markdown::render_checked(body, &mentions)?;
            (mentions, html)
        }
        _ => (Vec::new(), String::new()),
    };
    let kind = match (change.action, value.as_deref()) {
        (Action::Edit(_), Some(body)) => ChangeKind::Edit {
            body,
            html: &html,
            mentions: &mentions,
        },
        (Action::React(_), Some(emoji)) => ChangeKind::React { emoji },
        (Action::Pin(pinned), _) => ChangeKind::Pin { pinned },
        (Action::RemovePreview, _) => ChangeKind::Preview { preview: None },
        _ => ChangeKind::Delete,
    };
    let changed = state
        .store
        .change_message(MessageChange {
            user_id: user.id,
            room_id: change.room_id,
            seq: change.seq,
            client_id: client_id.as_deref(),
            kind,
        })
        .await?;
    if let Answer::Socket(conn) = answer {
        let ack = ServerFrame::Ack {
            client_id: change.client_id.unwrap_or_default().to_owned(),
            message: changed.message.clone(),
        };
        reply(state, conn, &ack).await;
    }
    if changed.changed {
        let message = changed.message.clone();
        let (frame, kind) = match change.action {
            Action::Edit(_) => (ServerFrame::Edited { message }, measure::ChangeKind::Edit),
            Action::Delete => (
                ServerFrame::Deleted { message },
                measure::ChangeKind::Delete,
            ),
            Action::React(_) => (ServerFrame::Reacted { message }, measure::ChangeKind::React),
            Action::Pin(_) => (ServerFrame::Pinned { message }, measure::ChangeKind::Pin),
            Action::RemovePreview => (
                ServerFrame::Previewed { message },
                measure::ChangeKind::Preview,
            ),
        };
        measure::changed(kind);
        publish(state, change.room_id, &frame).await;
        // A deleted reply: its root counts one fewer.
        if let Some(root) = changed.root {
            let frame = ServerFrame::Replied {
                root: Box::new(root),
                reply: Box::new(changed.message.clone()),
            };
            publish(state, change.room_id, &frame).await;
        }
        // An edit to another link: the new one gets its card.
        if matches!(change.action, Action::Edit(_)) {
            request_preview(state, &changed.message, user.id);
        }
    }
    Ok(changed.message)
}

/// Creates a public or private room with `creator` as its first member and owner.
pub async fn create_room(
    state: &AppState,
    creator: &User,
    name: &str,
    topic: Option<&str>,
    private: bool,
) -> Result<RoomSummary, AppError> {
    let name = crate::validate::room_name(name)?;
    let topic = crate::validate::topic(topic)?;
    state.limits.create(creator.id)?;
    let room = state
        .store
        .create_room(creator.id, &name, topic.as_deref(), private)
        .await?;
    state.bus.membership(creator.id, room.id, true).await;
    Ok(room)
}

/// Joins a public room; the user's sockets start receiving it.
pub async fn join(state: &AppState, user: &User, room_id: RoomId) -> Result<(), AppError> {
    state.store.join_room(user.id, room_id).await?;
    state.bus.membership(user.id, room_id, true).await;
    Ok(())
}

/// Leaves a public room; the user's sockets stop receiving it.
pub async fn leave(state: &AppState, user: &User, room_id: RoomId) -> Result<(), AppError> {
    state.store.leave_room(user.id, room_id).await?;
    state.bus.membership(user.id, room_id, false).await;
    Ok(())
}

/// `actor` removes `username` from the named room `room_id`, as [`crate::rights`] allows:
/// moderators remove members, owners anyone, and admins act as owners. The member's devices
/// are told, then stop receiving the room. Being removed is not a ban: a public room can be
/// joined again, and a private one's members can add them back.
pub async fn remove_member(
    state: &AppState,
    actor: &User,
    room_id: RoomId,
    username: &str,
) -> Result<(), AppError> {
    let member = named_user(state, username).await?;
    if member.id == actor.id {
        return Err(AppError::BadRequest(
            "To leave the room yourself, use Leave.".into(),
        ));
    }
    state
        .store
        .remove_member(actor.id, room_id, member.id)
        .await?;
    let by = actor.username.clone();
    let removed = ServerFrame::Removed {
        room_id,
        by,
        deleted: false,
    };
    tell(state, member.id, &removed).await?;
    state.bus.membership(member.id, room_id, false).await;
    tracing::info!(room_id, by = %actor.username, member = %member.username, "member removed");
    Ok(())
}

/// `actor`, a member of the named room `room_id`, adds `username` to it: the only way into a
/// private room. The new member's devices are told, so the room appears in their sidebar, and
/// start receiving it. Adding someone already in the room changes nothing.
pub async fn add_member(
    state: &AppState,
    actor: &User,
    room_id: RoomId,
    username: &str,
) -> Result<(), AppError> {
    let member = named_user(state, username).await?;
    state.limits.create(actor.id)?;
    if !state.store.add_member(actor.id, room_id, member.id).await? {
        return Ok(());
    }
    state.bus.membership(member.id, room_id, true).await;
    let by = actor.username.clone();
    tell(state, member.id, &ServerFrame::Added { room_id, by }).await?;
    tracing::info!(room_id, by = %actor.username, member = %member.username, "member added");
    Ok(())
}

/// `actor` gives `username` the role `role` in the named room `room_id` (owners, and admins,
/// only; a room always keeps an owner). The member's devices are told, so their room page
/// offers what the new role allows.
pub async fn set_role(
    state: &AppState,
    actor: &User,
    room_id: RoomId,
    username: &str,
    role: &str,
) -> Result<(), AppError> {
    let Some(role) = crate::model::Role::parse(role) else {
        return Err(AppError::BadRequest(
            "A role is owner, moderator or member.".into(),
        ));
    };
    let member = named_user(state, username).await?;
    state
        .store
        .set_role(actor.id, room_id, member.id, role)
        .await?;
    let by = actor.username.clone();
    tell(state, member.id, &ServerFrame::Role { room_id, role, by }).await?;
    tracing::info!(room_id, by = %actor.username, member = %member.username, role = role.as_str(), "role set");
    Ok(())
}

/// A setting of a named room as a client asks to change it (not yet validated). Empty text
/// clears a topic or description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting<'a> {
    Name(&'a str),
    Topic(&'a str),
    Description(&'a str),
    Private(bool),
    ReadOnly(bool),
    Archived(bool),
    GroupMentions(crate::model::GroupMentions),
}

impl<'a> Setting<'a> {
    /// Reads a setting from a form or a request: its field name and value (a flag as
    /// [`crate::validate::checkbox`] reads it).
    pub fn parse(field: &str, value: &'a str) -> Result<Self, AppError> {
        let flag = || crate::validate::checkbox(field, Some(value));
        Ok(match field {
            "name" => Setting::Name(value),
            "topic" => Setting::Topic(value),
            "description" => Setting::Description(value),
            "private" => Setting::Private(flag()?),
            "read_only" => Setting::ReadOnly(flag()?),
            "archived" => Setting::Archived(flag()?),
            "group_mentions" => Setting::GroupMentions(
                crate::model::GroupMentions::parse(value).ok_or_else(|| {
                    AppError::BadRequest(
                        "Who may use @room and @here is everyone, moderators or nobody.".into(),
                    )
                })?,
            ),
            _ => {
                return Err(AppError::BadRequest(
                    "A room setting is name, topic, description, private, read_only, archived \
                     or group_mentions."
                        .into(),
                ))
            }
        })
    }
}

/// `actor` changes one setting of the named room `room_id`: moderators its name, topic and
/// description, owners its privacy, read-only and archived state (admins act as owners). The
/// change is recorded in the room's timeline and published as a `message` frame carrying the
/// event, from which every member's page updates; returns that event, or `None` when the room
/// already was so.
pub async fn configure_room(
    state: &AppState,
    actor: &User,
    room_id: RoomId,
    setting: Setting<'_>,
) -> Result<Option<Message>, AppError> {
    use crate::model::RoomEvent;
    let change = match setting {
        Setting::Name(name) => RoomEvent::Renamed {
            name: crate::validate::room_name(name)?,
        },
        Setting::Topic(topic) => RoomEvent::Topic {
            topic: crate::validate::topic(Some(topic))?,
        },
        Setting::Description(text) => RoomEvent::Description {
            description: crate::validate::description(text)?,
        },
        Setting::Private(private) => RoomEvent::Privacy { private },
        Setting::ReadOnly(read_only) => RoomEvent::ReadOnly { read_only },
        Setting::Archived(archived) => RoomEvent::Archived { archived },
        Setting::GroupMentions(allowed) => RoomEvent::GroupMentions { allowed },
    };
    state.limits.create(actor.id)?;
    let event = state
        .store
        .configure_room(actor.id, room_id, &change)
        .await?;
    if let Some(event) = &event {
        let frame = ServerFrame::Message {
            message: event.clone(),
        };
        publish(state, room_id, &frame).await;
        tracing::info!(room_id, by = %actor.username, ?change, "room setting changed");
    }
    Ok(event)
}

/// A part of a profile as its owner's form sends it (not yet validated).
#[derive(Debug, Clone, Copy)]
pub enum ProfileForm<'a> {
    /// The display name and time zone; empty clears each.
    Details {
        display_name: &'a str,
        time_zone: &'a str,
    },
    /// A status: an emoji, words, and how many minutes it lasts (empty: until cleared).
    Status {
        emoji: &'a str,
        text: &'a str,
        minutes: &'a str,
    },
    ClearStatus,
    /// A picture the file checks made (`files::Upload::finish_avatar`, after the upload drew
    /// from the rate limit), or none.
    Avatar(Option<&'a crate::model::Avatar>),
}

/// `user` changes one part of their profile, which anyone signed in then reads (profile
/// cards fetch it when opened, so there is nothing to publish). Returns the profile as it is
/// now.
pub async fn update_profile(
    state: &AppState,
    user: &User,
    form: ProfileForm<'_>,
) -> Result<crate::model::Profile, AppError> {
    use crate::store::ProfileChange;
    use crate::validate;
    let (display_name, time_zone, status);
    let change = match form {
        ProfileForm::Details {
            display_name: name,
            time_zone: zone,
        } => {
            display_name = validate::display_name(name)?;
            time_zone = crate::zones::parse(zone)?;
            ProfileChange::Details {
                display_name: display_name.as_deref(),
                time_zone: time_zone.as_deref(),
            }
        }
        ProfileForm::Status {
            emoji,
            text,
            minutes,
        } => {
            let emoji = validate::status_emoji(emoji)?;
            let text = validate::status_text(text)?;
            if emoji.is_none() && text.is_none() {
                return Err(AppError::BadRequest(
                    "Give your status an emoji or some words, or clear it.".into(),
                ));
            }
            let until =
                validate::status_minutes(minutes)?.map(|m| crate::timestamp::now_ms() + m * 60_000);
            status = crate::model::Status { emoji, text, until };
            ProfileChange::Status(Some(&status))
        }
        ProfileForm::ClearStatus => ProfileChange::Status(None),
        ProfileForm::Avatar(avatar) => ProfileChange::Avatar(avatar),
    };
    // A new picture's upload drew from the budget before its body was read.
    if !matches!(form, ProfileForm::Avatar(Some(_))) {
        state.limits.create(user.id)?;
    }
    state.store.update_profile(user.id, &change).await?;
    Ok(state.store.profile(&user.username).await?)
}

/// `actor` bans `username` from the named room `room_id` (removing them from it), or lifts
/// the ban (`banned` false), as [`crate::rights`] allows: moderators ban members, owners
/// anyone. A banned user cannot join the room or be added to it until the ban is lifted. The
/// ban is recorded in the room's timeline; the banned user's devices are told they were
/// removed, and stop receiving the room.
pub async fn ban(
    state: &AppState,
    actor: &User,
    room_id: RoomId,
    username: &str,
    banned: bool,
) -> Result<(), AppError> {
    let member = named_user(state, username).await?;
    if member.id == actor.id {
        return Err(AppError::BadRequest("You cannot ban yourself.".into()));
    }
    state.limits.create(actor.id)?;
    let Some(event) = state
        .store
        .ban(actor.id, room_id, member.id, banned)
        .await?
    else {
        return Ok(());
    };
    let frame = ServerFrame::Message { message: event };
    publish(state, room_id, &frame).await;
    if banned {
        let by = actor.username.clone();
        let removed = ServerFrame::Removed {
            room_id,
            by,
            deleted: false,
        };
        tell(state, member.id, &removed).await?;
        state.bus.membership(member.id, room_id, false).await;
    }
    tracing::info!(room_id, by = %actor.username, member = %member.username, banned, "ban changed");
    Ok(())
}

/// `actor`, an instance admin, deletes the named room `room_id` with its whole history. Its
/// members' devices are told (the room leaves their sidebars, an open page says it was
/// deleted) and stop receiving it. Answers the name it had.
pub async fn delete_room(
    state: &AppState,
    actor: &User,
    room_id: RoomId,
) -> Result<String, AppError> {
    let (name, members) = state.store.delete_room(actor.id, room_id).await?;
    let frame = ServerFrame::Removed {
        room_id,
        by: actor.username.clone(),
        deleted: true,
    }
    .encode()?;
    for member in &members {
        state.bus.publish_user(*member, frame.clone()).await;
        state.bus.membership(*member, room_id, false).await;
    }
    tracing::info!(room_id, by = %actor.username, %name, members = members.len(), "room deleted");
    Ok(name)
}

/// Sends `frame` to every device of `user`, wherever they are connected.
async fn tell(
    state: &AppState,
    user: crate::model::UserId,
    frame: &ServerFrame,
) -> Result<(), AppError> {
    state.bus.publish_user(user, frame.encode()?).await;
    Ok(())
}

/// The account a form or request names.
async fn named_user(state: &AppState, username: &str) -> Result<User, AppError> {
    let name = crate::validate::username(username)?;
    state
        .store
        .user_by_name(&name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no user named {name}.")))
}

/// Opens (creating on first use) the direct conversation of `user` and the people `usernames`
/// names: one name for a DM, several (up to [`crate::validate::MAX_CONVERSATION_PEOPLE`] people
/// in all) for a group. Every member starts receiving it.
pub async fn open_dm(state: &AppState, user: &User, usernames: &str) -> Result<RoomId, AppError> {
    let names = crate::validate::conversation_names(usernames)?;
    state.limits.create(user.id)?;
    let mut people = vec![user.id];
    let mut unknown = Vec::new();
    for name in &names {
        match state.store.user_by_name(name).await? {
            Some(other) if !people.contains(&other.id) => people.push(other.id),
            Some(_) => {}
            None => unknown.push(name.as_str()),
        }
    }
    match unknown[..] {
        [] => {}
        [one] => return Err(AppError::NotFound(format!("There is no user named {one}."))),
        _ => {
            return Err(AppError::NotFound(format!(
                "There are no users named {}.",
                unknown.join(", ")
            )))
        }
    }
    let room_id = state.store.open_dm(user.id, &people).await?;
    for person in people {
        state.bus.membership(person, room_id, true).await;
    }
    Ok(room_id)
}

/// Records that `user` read `room_id` up to `seq` (forward only) and tells all of their devices
/// the stored position, which it returns.
pub async fn mark_read(
    state: &AppState,
    user: &User,
    room_id: RoomId,
    seq: i64,
) -> Result<i64, AppError> {
    let stored = state.store.mark_read(user.id, room_id, seq).await?;
    let frame = ServerFrame::Read {
        room_id,
        seq: stored,
    }
    .encode()?;
    state.bus.publish_user(user.id, frame).await;
    Ok(stored)
}

/// Records that `user` read the thread of `root` up to `seq` (forward only, threads they
/// follow) and tells all of their devices the stored position, which it returns.
pub async fn mark_thread_read(
    state: &AppState,
    user: &User,
    room_id: RoomId,
    root: i64,
    seq: i64,
) -> Result<i64, AppError> {
    let stored = state
        .store
        .mark_thread_read(user.id, room_id, root, seq)
        .await?;
    if stored > 0 {
        let frame = ServerFrame::ThreadRead {
            room_id,
            root,
            seq: stored,
        }
        .encode()?;
        state.bus.publish_user(user.id, frame).await;
    }
    Ok(stored)
}

/// `user` is typing in `room_id`: the room hears it, at most once per [`TYPING_EVERY_MS`].
/// Typing comes only from a socket, so its user's rooms are known to this process.
pub async fn typing(state: &AppState, user: &User, room_id: RoomId) -> Result<(), AppError> {
    if !state.hub.is_member(user.id, room_id) {
        return Err(AppError::NotFound(
            "That room does not exist, or you are not in it.".into(),
        ));
    }
    let every = Duration::from_millis(TYPING_EVERY_MS);
    if state.bus.typing_allowed(user.id, room_id, every).await {
        let frame = ServerFrame::Typing {
            room_id,
            user: user.username.clone(),
        }
        .encode()?;
        state.bus.publish(room_id, None, frame).await;
    }
    Ok(())
}

/// The rooms a new socket of `user` listens to, read before the upgrade so that a failure is
/// still an HTTP answer.
pub async fn socket_rooms(state: &AppState, user: &User) -> Result<Vec<RoomId>, AppError> {
    Ok(presence::rooms_of(state.store.as_ref(), user.id).await?)
}

/// Registers an upgraded socket of `user`, listening to `rooms`. Its queue starts with the
/// `welcome`, so nothing published meanwhile can overtake it; if the user was not online
/// anywhere, the people who share a room with them are told. `version` is the protocol
/// version negotiated for the socket ([`crate::protocol::negotiate`]).
pub async fn open_socket(
    state: &AppState,
    user: &User,
    rooms: Vec<RoomId>,
    version: u32,
) -> Outbox {
    let welcome = ServerFrame::Welcome {
        v: version,
        user: user.username.clone(),
    }
    .encode()
    .ok();
    state.bus.listen(user.id, &rooms).await;
    let (outbox, change) = state.hub.connect(user.id, rooms, welcome);
    if let Some(change) = change {
        presence_changed(state, user, change).await;
    }
    outbox
}

/// The tab behind socket `conn` is hidden or idle (`away`), or in use again.
pub async fn set_away(state: &AppState, user: &User, conn: ConnId, away: bool) {
    if let Some(change) = state.hub.set_away(conn, away) {
        presence_changed(state, user, change).await;
    }
}

/// Socket `conn` of `user` now shows the member list of `room` (`None`: of no room), so in a
/// crowded room it hears its members' presence (see [`crate::presence::announce`]).
pub fn show_members(
    state: &AppState,
    user: &User,
    conn: ConnId,
    room: Option<RoomId>,
) -> Result<(), AppError> {
    if state.hub.watch_members(conn, room) {
        Ok(())
    } else {
        tracing::debug!(
            user = user.id,
            ?room,
            "members of a room the user is not in"
        );
        Err(AppError::NotFound(
            "That room does not exist, or you are not in it.".into(),
        ))
    }
}

/// Unregisters a socket once its writer has finished; the user may now be away or offline.
pub async fn close_socket(state: &AppState, user: &User, conn: ConnId) {
    if let Some(change) = state.hub.disconnect(conn) {
        presence_changed(state, user, change).await;
    }
}

/// Sends one frame to one socket of this process (an answer to something it asked).
pub async fn reply(state: &AppState, conn: ConnId, frame: &ServerFrame) {
    if let Ok(frame) = frame.encode() {
        state.hub.send_to(conn, frame).await;
    }
}

/// Waits until socket `conn` has read what it was sent before a page (of history or changes)
/// is read and queued for it; false if it stopped reading (it is then closed). See
/// [`crate::hub::Hub::until_read`].
pub async fn until_read(state: &AppState, conn: ConnId) -> bool {
    state.hub.until_read(conn).await
}

/// Answers a socket's request with an `error` frame; `client_id` names the post it concerns.
pub async fn reply_error(
    state: &AppState,
    conn: ConnId,
    code: ErrorCode,
    message: String,
    client_id: Option<String>,
) {
    let frame = ServerFrame::Error {
        code,
        message,
        client_id,
    };
    reply(state, conn, &frame).await;
}

/// Sockets open in this process (shutdown waits for them to say goodbye).
pub fn open_sockets(state: &AppState) -> usize {
    state.hub.connections()
}

/// The bytes queued and not yet written on each socket in this process (`/metrics`).
pub fn queued_bytes(state: &AppState) -> Vec<usize> {
    state.hub.queued_bytes()
}

/// This process's view of `user` changed: ask the bus whether their presence over every process
/// did, and if so announce it.
async fn presence_changed(state: &AppState, user: &User, change: PresenceChange) {
    if let Some(status) = state.bus.local_presence(user.id, change.status).await {
        let (store, bus) = (state.store.as_ref(), state.bus.as_ref());
        let over = state.hub.crowded_over();
        presence::announce(store, bus, over, user, status, change.rooms).await;
    }
}
