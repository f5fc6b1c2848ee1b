//! One message as a person sees it, in the room's timeline or in a thread panel: author, time,
//! text, reactions, files and thread summary, the actions the viewer may take on it, and a
//! message still in the outbox.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};

use super::message_actions::{DeleteForm, EditForm, Place, ReactButton, ReactForm, ReactionPicker};
use crate::api::messages::{DeleteMessage, EditMessage, PinMessage, React, RemovePreview};
use crate::error::AppError;
use crate::model::Message;
use crate::ui::live::{Live, Pending};
use crate::ui::local_time::LocalTime;
use crate::ui::menu::Menu;

/// What the viewer may do to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Actions {
    pub edit: bool,
    pub delete: bool,
    pub react: bool,
    /// Pin it to the room, or unpin it.
    pub pin: bool,
}

impl Actions {
    /// What `viewer` may do to `message` (`can_moderate`: a public room's creator or an admin).
    pub fn for_message(message: &Message, viewer: &str, can_moderate: bool) -> Self {
        let mine = message.author.eq_ignore_ascii_case(viewer);
        let live = !message.is_deleted();
        Actions {
            edit: mine && live,
            delete: (mine || can_moderate) && live,
            react: live,
            pin: false,
        }
    }

    /// The same, with Pin / Unpin where the viewer may pin (`can_pin`, see
    /// [`crate::rights::Action::Pin`]).
    pub fn pinning(self, message: &Message, can_pin: bool) -> Self {
        Actions {
            pin: can_pin && !message.is_deleted(),
            ..self
        }
    }
}

/// The newest message shown that `viewer` may edit: where ↑ in an empty message box goes.
pub(super) fn last_editable(all: &BTreeMap<i64, Message>, viewer: &str) -> Option<i64> {
    all.values()
        .rev()
        .find(|m| Actions::for_message(m, viewer, false).edit)
        .map(|m| m.seq)
}

/// The actions every message's forms submit to (the room's, or the thread panel's).
#[derive(Clone, Copy)]
pub(super) struct Forms {
    pub edit: ServerAction<EditMessage>,
    pub delete: ServerAction<DeleteMessage>,
    pub react: ServerAction<React>,
    pub pin: ServerAction<PinMessage>,
    pub unpreview: ServerAction<RemovePreview>,
}

impl Forms {
    /// One edit, one delete and one reaction at a time, owned by the place that shows the
    /// messages: a message shown may be rebuilt (its live `edited` frame can beat the answer),
    /// the action and its follow-up must not be. A done change is merged and its form closed.
    pub fn new(place: Place, merge: Callback<Message>) -> Self {
        let forms = Forms {
            edit: ServerAction::new(),
            delete: ServerAction::new(),
            react: ServerAction::new(),
            pin: ServerAction::new(),
            unpreview: ServerAction::new(),
        };
        let navigate = StoredValue::new(use_navigate());
        let settle = move |done: Option<Result<Message, AppError>>| {
            if let Some(Ok(message)) = done {
                merge.run(message);
                navigate.with_value(|go| go(&place.url(), Default::default()));
            }
        };
        Effect::new(move |_| settle(forms.edit.value().get()));
        Effect::new(move |_| settle(forms.delete.value().get()));
        Effect::new(move |_| settle(forms.react.value().get()));
        Effect::new(move |_| settle(forms.pin.value().get()));
        Effect::new(move |_| settle(forms.unpreview.value().get()));
        forms
    }
}

/// One message: author, local time, text, "edited" with when, or "Message deleted" for a
/// tombstone. The text is the HTML the server rendered from its Markdown and sanitised
/// ([`crate::markdown`]); a message without it (not yet stored, or from an older server) shows
/// its words as plain text. A message that mentions the viewer is marked. Its "⋯" menu holds
/// what the viewer may do: React, and on their own messages (and, for a room's creator and
/// admins, everyone's) Edit and Delete: links to `?react=SEQ`, `?edit=SEQ` and `?delete=SEQ`,
/// which open the form in place, with or without JavaScript.
///
/// In the timeline, a thread's root shows how many replies it has and when the last came, and
/// every message's menu has Reply: a link to `?thread=SEQ`, the thread panel.
#[component]
pub(super) fn MessageItem(
    message: Message,
    actions: Actions,
    forms: Forms,
    place: Place,
    viewer: String,
    /// It continues the group of the message before it (see [`super::timeline::Entry`]).
    #[prop(optional)]
    compact: bool,
) -> impl IntoView {
    let Forms {
        edit,
        delete,
        react,
        pin,
        unpreview,
    } = forms;
    let query = use_query_map();
    let seq = message.seq;
    let room_id = message.room_id;
    // A form opens where its link was: in the thread panel, or (with no panel open) the room.
    let in_thread = place.thread.is_some();
    let asked = move |what: &str| {
        query.with(|q| {
            q.get("thread").is_some() == in_thread
                && q.get(what).and_then(|s| s.parse::<i64>().ok()) == Some(seq)
        })
    };
    let editing = move || actions.edit && asked("edit");
    let deleting = move || actions.delete && asked("delete");
    let picking = move || actions.react && asked("react");
    // The message a search or a link pointed at: marked, and scrolled to once it is shown.
    let found = query.with_untracked(|q| {
        q.get("thread").is_some() == in_thread
            && q.get("at").and_then(|s| s.parse::<i64>().ok()) == Some(seq)
    });
    let article = NodeRef::<leptos::html::Article>::new();
    if found {
        Effect::new(move |_| {
            if let Some(el) = article.get() {
                el.scroll_into_view();
            }
        });
    }
    let deleted = message.is_deleted();
    let files = crate::ui::files::file_list(&message);
    let edited = message
        .edited_at
        .filter(|_| !deleted)
        .map(|ms| view! { <span class="edited">"(edited " <LocalTime ms/> ")"</span> });
    let body = message.body.clone();
    let html = message.html.clone();
    let mentions_me = message.mentions(&viewer);
    let text = move || {
        if deleted {
            view! { <p class="body deleted">"Message deleted"</p> }.into_any()
        } else if editing() {
            view! { <EditForm room_id seq body=body.clone() edit place/> }.into_any()
        } else if body.is_empty() {
            // Files sent without a caption.
            ().into_any()
        } else if html.is_empty() {
            view! { <p class="body">{body.clone()}</p> }.into_any()
        } else {
            view! { <div class="body markdown" inner_html=html.clone()></div> }.into_any()
        }
    };
    let chips = (!message.reactions.is_empty()).then(|| {
        let chips = message
            .reactions
            .iter()
            .map(|r| {
                let pressed = r.by(&viewer);
                let shown = format!("{} {}", r.emoji, r.users.len());
                let button = ReactButton {
                    emoji: r.emoji.clone(),
                    label: r.label(),
                    shown,
                    pressed: Some(pressed),
                };
                view! { <ReactForm room_id seq button react/> }
            })
            .collect_view();
        view! { <div class="reactions" role="group" aria-label="Reactions">{chips}</div> }
    });
    // Reply opens the thread of this message (a reply's is its root's), from the timeline.
    let thread_of = message.thread.unwrap_or(seq);
    let reply = (!in_thread && actions.react).then(|| {
        let room = Place {
            room_id,
            thread: Some(thread_of),
        };
        view! { <a href=room.url() class="menu-item">"Reply"</a> }
    });
    let pinned = message.pinned.is_some();
    let pin_form = actions.pin.then(|| {
        view! {
            <ActionForm action=pin>
                <input type="hidden" name="room_id" value=room_id/>
                <input type="hidden" name="seq" value=seq/>
                {pinned.then(|| view! { <input type="hidden" name="unpin" value="1"/> })}
                <button type="submit" class="secondary menu-button">
                    {if pinned { "Unpin" } else { "Pin to room" }}
                </button>
            </ActionForm>
        }
    });
    let card = message
        .preview
        .clone()
        .filter(|_| !deleted)
        .map(|preview| link_card(preview, message.preview_image_url()));
    let remove_card = (actions.edit && message.preview.is_some()).then(|| {
        view! {
            <ActionForm action=unpreview>
                <input type="hidden" name="room_id" value=room_id/>
                <input type="hidden" name="seq" value=seq/>
                <button type="submit" class="secondary menu-button">"Remove preview"</button>
            </ActionForm>
        }
    });
    let pin_line = message.pinned.as_ref().map(|p| {
        view! {
            <p class="pinned-line">
                <span aria-hidden="true">"📌 "</span>
                {format!("Pinned by {}", p.by)}
            </p>
        }
    });
    let links = (actions.edit || actions.delete || actions.react || actions.pin).then(|| {
        view! {
            <Menu
                label="More actions".to_owned()
                icon=view! { <span aria-hidden="true">"⋯"</span> }.into_any()
                class="message-menu"
            >
                {reply}
                {actions.react.then(|| view! {
                    <a href=place.with("react", seq) class="menu-item">"React"</a>
                })}
                {actions.edit.then(|| view! {
                    <a href=place.with("edit", seq) class="menu-item">"Edit"</a>
                })}
                {actions.delete.then(|| view! {
                    <a href=place.with("delete", seq) class="menu-item">"Delete"</a>
                })}
                {pin_form}
                {remove_card}
            </Menu>
        }
    });
    // In the timeline: a root's replies, or where a reply also sent here belongs.
    let thread_line = (!in_thread).then(|| {
        let thread = Place {
            room_id,
            thread: Some(thread_of),
        };
        match (message.thread, message.replies, message.last_reply_at) {
            (Some(_), ..) => Some(
                view! {
                    <p class="thread-line">
                        <a href=format!("{}#m{seq}", thread.url())>"Replied in a thread"</a>
                    </p>
                }
                .into_any(),
            ),
            (None, n, Some(last)) if n > 0 => {
                let count = if n == 1 {
                    "1 reply".to_owned()
                } else {
                    format!("{n} replies")
                };
                Some(
                    view! {
                        <p class="thread-line">
                            <a href=thread.url()>{count}</a>
                            <span class="muted">" · last reply " <LocalTime ms=last/></span>
                        </p>
                    }
                    .into_any(),
                )
            }
            _ => None,
        }
    });
    let profile_link = format!("?profile={}", message.author);
    let profile_title = format!("Open the profile of @{}", message.author);
    let shown_author = message.shown_author().to_owned();
    let bot_tag = message.author_bot.then(bot_tag);
    let persona = message.persona_name.clone().map(|name| {
        let icon = message
            .persona_icon
            .is_some()
            .then(|| message.persona_icon_url());
        persona_parts(name, icon, &message.author)
    });
    let (shown_author, persona_icon, via) = match persona {
        Some((name, icon, via)) => (name, icon, via),
        None => (shown_author, None, None),
    };
    view! {
        <article
            node_ref=article
            class="message"
            class:compact=compact
            class:mentions-me=mentions_me
            class:found=found
            aria-current=found.then_some("true")
            id=format!("m{seq}")
            data-seq=seq
            data-deleted=deleted.then_some("true")
        >
            {pin_line}
            <header>
                {persona_icon}
                <a class="author" href=profile_link title=profile_title>
                    {shown_author}
                </a>
                {bot_tag}
                {via}
                <LocalTime ms=message.created_at time_only=true/>
                {edited}
                {links}
            </header>
            {text}
            {card}
            {files}
            {chips}
            {thread_line}
            {move || picking().then(|| view! { <ReactionPicker room_id seq react place/> })}
            {move || deleting().then(|| view! { <DeleteForm room_id seq delete place/> })}
        </article>
    }
    .into_any()
}

/// The card of a message's first link: the site, the page's title as a link to it, its
/// description and the thumbnail this server made of its image (never the site's own).
fn link_card(preview: crate::model::LinkPreview, image_url: String) -> AnyView {
    let image = preview.image.map(|i| {
        view! {
            <img
                class="link-card-image"
                src=image_url
                width=i.width
                height=i.height
                alt=""
                loading="lazy"
                decoding="async"
            />
        }
    });
    let site = preview
        .site
        .map(|s| view! { <span class="link-card-site">{s}</span> });
    let description = preview
        .description
        .map(|d| view! { <span class="link-card-description">{d}</span> });
    view! {
        <a
            class="link-card"
            href=preview.url
            target="_blank"
            rel="noopener noreferrer nofollow"
        >
            {image}
            <span class="link-card-text">
                {site}
                <span class="link-card-title">{preview.title}</span>
                {description}
            </span>
        </a>
    }
    .into_any()
}

/// A message in the outbox: shown where it will appear, marked as not sent yet (or refused,
/// with the reason and a way to drop it).
#[component]
pub(super) fn PendingItem(pending: Pending) -> impl IntoView {
    let live = expect_context::<Live>();
    let Pending {
        client_id,
        text,
        error,
        ..
    } = pending;
    let status = move || {
        if live.connected.get() {
            "Sending…"
        } else {
            "Not sent yet: waiting for the connection"
        }
    };
    let refused = error.map(|error| {
        view! {
            <p class="form-error" role="alert">
                "Not sent: " {error} " "
                <button
                    type="button"
                    class="secondary small"
                    on:click=move |_| live.discard(&client_id)
                >
                    "Discard"
                </button>
            </p>
        }
    });
    let sending = refused.is_none();
    view! {
        <article class="message pending" data-pending="true">
            <header>
                <span class="author">"You"</span>
                {sending.then(|| view! { <span class="status">{status}</span> })}
            </header>
            <p class="body">{text}</p>
            {refused}
        </article>
    }
}

/// What marks a bot's name, wherever it shows: a program posted this, not a person.
/// What a webhook's persona shows: its name in the author's place, the thumbnail this server
/// fetched of its icon (never the sender's own address), and, when the name is not the bot's,
/// "via @bot", so no one takes the name for a person's.
fn persona_parts(
    name: String,
    icon_url: Option<String>,
    bot: &str,
) -> (String, Option<AnyView>, Option<AnyView>) {
    let icon = icon_url.map(|icon_url| {
        view! {
            <img class="persona-icon" src=icon_url width="20" height="20" alt="" loading="lazy"/>
        }
        .into_any()
    });
    let via = (!name.eq_ignore_ascii_case(bot)).then(|| {
        let title = format!("Sent through the webhook of @{bot}, under a name it chose");
        view! { <span class="via" title=title>{format!("via @{bot}")}</span> }.into_any()
    });
    (name, icon, via)
}

pub(crate) fn bot_tag() -> impl IntoView {
    view! { <span class="bot-tag" title="An automated account">"bot"</span> }
}
