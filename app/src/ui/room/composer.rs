//! The message box: sending (through the outbox with JavaScript, as a form without), and the
//! `@` suggestions of the room's members.

use leptos::html::Textarea;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::messages::PostMessage;
use crate::model::{Member, RoomId};
use crate::protocol::TYPING_EVERY_MS;
use crate::ui::feedback::form_error;
use crate::ui::live::Live;

/// At most this many members are offered for an `@` being typed.
pub(super) const SUGGESTIONS: usize = 8;

/// The members whose names start with `partial` (ignoring case), the viewer left out.
pub(super) fn suggestions(members: &[Member], partial: &str, viewer: &str) -> Vec<String> {
    let partial = partial.to_ascii_lowercase();
    let mut names: Vec<String> = members
        .iter()
        .map(|m| m.username.clone())
        .filter(|name| {
            !name.eq_ignore_ascii_case(viewer) && name.to_ascii_lowercase().starts_with(&partial)
        })
        .collect();
    names.sort_by_key(|n| n.to_ascii_lowercase());
    names.truncate(SUGGESTIONS);
    names
}

/// The text before the caret of a text box (the caret counts UTF-16 units).
pub(super) fn before_caret(el: &web_sys::HtmlTextAreaElement) -> (String, String) {
    let value = el.value();
    let caret = el.selection_end().ok().flatten().unwrap_or(0) as usize;
    let units: Vec<u16> = value.encode_utf16().collect();
    let caret = caret.min(units.len());
    (
        String::from_utf16_lossy(&units[..caret]),
        String::from_utf16_lossy(&units[caret..]),
    )
}

/// The message box. Enter sends, Shift+Enter starts a new line. With JavaScript a message goes
/// to the outbox (kept in the browser until the server has it) and is sent over the socket;
/// without, the form posts to the server function and the page comes back with it. Typing `@`
/// offers the room's members whose names start with what follows (arrows to move, Enter or Tab
/// to take one, Escape to close).
///
/// With `thread`, it writes replies in the thread of that seq, with a box to also send the
/// reply to the room.
#[component]
pub(super) fn Composer(
    room_id: RoomId,
    members: RwSignal<Vec<Member>>,
    viewer: String,
    thread: Option<i64>,
) -> impl IntoView {
    // Never dispatched: it carries the error of a form posted without JavaScript (`?__err=`),
    // shown by the composer that sent it (the thread's while its panel is open).
    let post = ServerAction::<PostMessage>::new();
    let sent_here =
        use_query_map().with_untracked(|q| q.get("thread").is_some()) == thread.is_some();
    let problem = RwSignal::new(None::<String>);
    let textarea = NodeRef::<Textarea>::new();
    let also = NodeRef::<leptos::html::Input>::new();
    let id = if thread.is_some() {
        "reply"
    } else {
        "composer"
    };
    // Tell the room we are typing, at most once every few seconds.
    let live = expect_context::<Live>();
    let last_typing = StoredValue::new(f64::MIN);

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(el) = textarea.get_untracked() else {
            return;
        };
        match crate::validate::message_text(&el.value()) {
            Ok(text) => {
                let also_in_room = also.get_untracked().is_some_and(|b| b.checked());
                live.queue_post(room_id, text, thread, also_in_room);
                el.set_value("");
                if let Some(b) = also.get_untracked() {
                    b.set_checked(false);
                }
                problem.set(None);
                // The next keystroke starts a new "typing" at once.
                last_typing.set_value(f64::MIN);
            }
            Err(e) => problem.set(Some(e.to_string())),
        }
    };

    let offered = RwSignal::new(Vec::<String>::new());
    let active = RwSignal::new(0usize);
    let viewer = StoredValue::new(viewer);
    let offer = move || {
        let Some(el) = textarea.get_untracked() else {
            return;
        };
        let (before, _) = before_caret(&el);
        let names = crate::mention::typing(&before)
            .map(|partial| {
                members.with_untracked(|all| viewer.with_value(|v| suggestions(all, partial, v)))
            })
            .unwrap_or_default();
        active.set(0);
        offered.set(names);
    };
    let take = move |name: String| {
        let Some(el) = textarea.get_untracked() else {
            return;
        };
        let (before, after) = before_caret(&el);
        let Some(partial) = crate::mention::typing(&before) else {
            return;
        };
        let head = &before[..before.len() - partial.len()];
        let head = format!("{head}{name} ");
        el.set_value(&format!("{head}{after}"));
        let caret = head.encode_utf16().count() as u32;
        let _ = el.set_selection_range(caret, caret);
        let _ = el.focus();
        offered.set(Vec::new());
    };

    let on_input = move |_| {
        offer();
        let now = js_sys::Date::now();
        if now - last_typing.get_value() >= TYPING_EVERY_MS as f64 {
            last_typing.set_value(now);
            live.send_typing(room_id);
        }
    };

    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let open = offered.with(|o| o.len());
        if open > 0 && !ev.is_composing() {
            match ev.key().as_str() {
                "ArrowDown" => {
                    ev.prevent_default();
                    active.update(|i| *i = (*i + 1) % open);
                    return;
                }
                "ArrowUp" => {
                    ev.prevent_default();
                    active.update(|i| *i = (*i + open - 1) % open);
                    return;
                }
                "Enter" | "Tab" if !ev.shift_key() => {
                    ev.prevent_default();
                    if let Some(name) = offered.with(|o| o.get(active.get_untracked()).cloned()) {
                        take(name);
                    }
                    return;
                }
                "Escape" => {
                    ev.prevent_default();
                    offered.set(Vec::new());
                    return;
                }
                _ => {}
            }
        }
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            if let Some(form) = textarea.get_untracked().and_then(|t| t.form()) {
                let _ = form.request_submit();
            }
        }
    };

    let post_url = <PostMessage as leptos::server_fn::ServerFn>::url();
    view! {
        <form
            method="post"
            action=post_url
            class="composer"
            on:submit=on_submit
        >
            <input type="hidden" name="room_id" value=room_id/>
            {thread.map(|root| view! { <input type="hidden" name="thread" value=root/> })}
            // Without JavaScript a resent form is still stored once.
            <input type="hidden" name="client_id" value=uuid::Uuid::new_v4().to_string()/>
            <label for=format!("{id}-text") class="visually-hidden">
                {if thread.is_some() { "Reply" } else { "Message" }}
            </label>
            <textarea
                id=format!("{id}-text")
                name="text"
                rows="2"
                placeholder=if thread.is_some() { "Reply in the thread…" } else { "Write a message…" }
                node_ref=textarea
                on:keydown=on_keydown
                on:input=on_input
                on:click=move |_| offer()
                on:blur=move |_| offered.set(Vec::new())
                aria-autocomplete="list"
                aria-controls=format!("{id}-suggestions")
                aria-activedescendant=move || {
                    (!offered.with(Vec::is_empty)).then(|| format!("{id}-mention-{}", active.get()))
                }
            ></textarea>
            <ul
                id=format!("{id}-suggestions")
                class="mention-suggestions"
                role="listbox"
                aria-label="People to mention"
                hidden=move || offered.with(Vec::is_empty)
            >
                {move || {
                    offered
                        .get()
                        .into_iter()
                        .enumerate()
                        .map(|(i, name)| {
                            let shown = format!("@{name}");
                            view! {
                                <li
                                    id=format!("{id}-mention-{i}")
                                    role="option"
                                    aria-selected=move || (active.get() == i).to_string()
                                    // Before the text box loses focus, which would close the list.
                                    on:mousedown=move |ev| {
                                        ev.prevent_default();
                                        take(name.clone());
                                    }
                                >
                                    {shown}
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
            {thread.map(|_| view! {
                <label class="also-in-room">
                    <input type="checkbox" name="also_in_room" node_ref=also/>
                    " Also send to the room"
                </label>
            })}
            <button type="submit">{if thread.is_some() { "Reply" } else { "Send" }}</button>
            {sent_here.then(|| form_error(post.value()))}
            {move || problem.get().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
        </form>
        <crate::ui::files::UploadForm room_id thread/>
    }
    .into_any()
}
