//! The message box: sending (through the outbox with JavaScript, as a form without), the `@`
//! suggestions of the room's members, the slash commands (listed as `/` is typed), and files
//! attached to a message (the paperclip, a paste
//! or a drop onto the room; the plain upload form without JavaScript).

use leptos::html::Textarea;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use send_wrapper::SendWrapper;

use super::header::RoomMuted;
use super::message_actions::Place;
use crate::api::messages::{run_command, PostMessage};
use crate::api::rooms::LeaveRoom;
use crate::model::{Member, RoomCommand, RoomId};
use crate::protocol::TYPING_EVERY_MS;
use crate::ui::feedback::form_error;
use crate::ui::files::{upload_input_id, UploadForm, UploadStatus, Uploads};
use crate::ui::live::Live;
use crate::ui::local_time::local_after_hydration;
use crate::ui::session::Membership;

/// At most this many members are offered for an `@` being typed.
pub(super) const SUGGESTIONS: usize = 8;

/// The mentions of a group, offered after the people when the viewer may use them: each with
/// what it does.
const GROUPS: [(&str, &str); 2] = [
    ("room", "notify every member"),
    ("here", "notify those online"),
];

/// The members whose names start with `partial` (ignoring case), the viewer left out; then
/// `room` and `here` when `groups` (the viewer may notify the whole room).
pub(super) fn suggestions(
    members: &[Member],
    partial: &str,
    viewer: &str,
    groups: bool,
) -> Vec<String> {
    let partial = partial.to_ascii_lowercase();
    let mut names: Vec<String> = members
        .iter()
        .map(|m| m.username.clone())
        .filter(|name| {
            !name.eq_ignore_ascii_case(viewer) && name.to_ascii_lowercase().starts_with(&partial)
        })
        .collect();
    names.sort_by_key(|n| n.to_ascii_lowercase());
    let offered_groups: Vec<String> = GROUPS
        .iter()
        .filter(|(name, _)| groups && name.starts_with(&partial))
        .map(|(name, _)| (*name).to_owned())
        .collect();
    names.truncate(SUGGESTIONS - offered_groups.len());
    names.extend(offered_groups);
    names
}

/// The room's own slash commands (see [`crate::slash`]), for its message boxes to list.
#[derive(Debug, Clone, Copy)]
pub(super) struct RoomCommands(pub StoredValue<Vec<RoomCommand>>);

/// What a suggestion says beside its name: a group's and a command's say what it does (the
/// room's own commands, `own`, which bot they call).
fn suggestion_note(name: &str, commands: bool, own: &[RoomCommand]) -> Option<String> {
    if commands {
        return crate::slash::COMMANDS
            .iter()
            .find(|c| c.name == name)
            .map(|c| match c.args {
                "" => c.does.to_owned(),
                args => format!("{args} · {}", c.does),
            })
            .or_else(|| {
                own.iter()
                    .find(|c| c.name == name)
                    .map(|c| format!("calls {}", c.bot))
            });
    }
    GROUPS
        .iter()
        .find(|(group, _)| *group == name)
        .map(|(_, note)| (*note).to_owned())
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
/// offers the room's members whose names start with what follows, and `@room` and `@here` where
/// `groups` (the viewer may notify everyone); arrows move, Enter or Tab take one, Escape closes.
///
/// Files chosen with the paperclip, pasted into the box or dropped onto the room (or onto the
/// thread panel, for its composer) wait above the box, each with a way to take it back, and go
/// with the next Send, the text as their caption. Without JavaScript the paperclip opens the
/// plain upload form's picker.
///
/// With `thread`, it writes replies in the thread of that seq, with a box to also send the
/// reply to the room.
///
/// ↑ in the empty box opens the edit of `last_own`, the viewer's newest message shown here.
#[component]
pub(super) fn Composer(
    room_id: RoomId,
    members: RwSignal<Vec<Member>>,
    viewer: String,
    thread: Option<i64>,
    #[prop(into)] last_own: Signal<Option<i64>>,
    /// The viewer may use `@room` and `@here` here.
    #[prop(optional)]
    groups: bool,
) -> impl IntoView {
    // Never dispatched: it carries the error of a form posted without JavaScript (`?__err=`),
    // shown by the composer that sent it (the thread's while its panel is open).
    let post = ServerAction::<PostMessage>::new();
    let sent_here =
        use_query_map().with_untracked(|q| q.get("thread").is_some()) == thread.is_some();
    let problem = RwSignal::new(None::<String>);
    // What the last command did ("The topic is set.").
    let said = RwSignal::new(None::<String>);
    let membership = expect_context::<Membership>();
    // `/leave` was typed here: its refusal (the room's only owner) shows here.
    let left_here = RwSignal::new(false);
    let textarea = NodeRef::<Textarea>::new();
    let also = NodeRef::<leptos::html::Input>::new();
    let id = if thread.is_some() {
        "reply"
    } else {
        "composer"
    };
    // Tell the room we are typing, at most once every few seconds.
    let live = expect_context::<Live>();
    let room_muted = use_context::<RoomMuted>();
    let own_commands =
        use_context::<RoomCommands>().map_or_else(|| StoredValue::new(Vec::new()), |c| c.0);
    let last_typing = StoredValue::new(f64::MIN);
    // Files to go with the next message; the browser's own objects, never on the server.
    let staged = RwSignal::new(Vec::<SendWrapper<web_sys::File>>::new());
    let uploads = Uploads::new(room_id, None);
    let js = local_after_hydration();
    let stage = move |files: Option<web_sys::FileList>| {
        let Some(files) = files else {
            return;
        };
        let added: Vec<_> = (0..files.length())
            .filter_map(|i| files.get(i))
            .map(SendWrapper::new)
            .collect();
        if !added.is_empty() {
            staged.update(|all| all.extend(added));
            if let Some(el) = textarea.get_untracked() {
                let _ = el.focus();
            }
        }
    };
    attach_dropped_files(thread.is_some(), stage);
    // The staged files and the text as their caption, as the upload form would send them.
    let send_files = move |el: &web_sys::HtmlTextAreaElement| {
        let caption = el.value();
        if caption.chars().count() > crate::validate::MAX_MESSAGE_CHARS {
            uploads.refuse(format!(
                "A caption can be at most {} characters.",
                crate::validate::MAX_MESSAGE_CHARS
            ));
            return;
        }
        let Ok(data) = web_sys::FormData::new() else {
            return;
        };
        for file in staged.get_untracked() {
            let _ = data.append_with_blob_and_filename("file", &file, &file.name());
        }
        let _ = data.set_with_str("text", caption.trim());
        if let Some(root) = thread {
            let _ = data.set_with_str("thread", &root.to_string());
        }
        if also.get_untracked().is_some_and(|b| b.checked()) {
            let _ = data.set_with_str("also_in_room", "on");
        }
        // Each upload its own client id; its retries keep it.
        let _ = data.set_with_str("client_id", &uuid::Uuid::new_v4().to_string());
        uploads.send(data);
        staged.set(Vec::new());
        el.set_value("");
        live.keep_draft(room_id, thread, "");
    };

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(el) = textarea.get_untracked() else {
            return;
        };
        if !staged.with_untracked(Vec::is_empty) {
            send_files(&el);
            return;
        }
        let text = el.value();
        // A command: whether it is a message, and whether it leaves the room.
        let parsed = crate::slash::parse(&text);
        let mutes = matches!(parsed, Some(Ok(crate::slash::Slash::Mute)));
        let command =
            parsed.map(|parsed| parsed.map(|c| (c.is_message(), c == crate::slash::Slash::Leave)));
        match command {
            Some(Err(e)) => {
                problem.set(Some(e.to_string()));
                return;
            }
            // `/leave` is the room menu's Leave: the page and the sidebar follow it alike.
            Some(Ok((false, true))) => {
                left_here.set(true);
                membership.leave.dispatch(LeaveRoom { room_id });
                el.set_value("");
                live.keep_draft(room_id, thread, "");
                return;
            }
            Some(Ok((false, false))) => {
                problem.set(None);
                leptos::task::spawn_local(async move {
                    match run_command(room_id, text).await {
                        Ok(done) => {
                            if let Some(el) = textarea.get_untracked() {
                                el.set_value("");
                            }
                            // `/mute` toggles: the room menu's Mute/Unmute follows.
                            if let (true, Some(RoomMuted(muted))) = (mutes, room_muted) {
                                muted.try_update(|m| *m = !*m);
                            }
                            live.keep_draft(room_id, thread, "");
                            said.try_set(Some(done));
                        }
                        Err(e) => {
                            problem.try_set(Some(e.to_string()));
                        }
                    }
                });
                return;
            }
            _ => {}
        }
        said.set(None);
        match crate::validate::message_text(&text) {
            Ok(text) => {
                let also_in_room = also.get_untracked().is_some_and(|b| b.checked());
                live.queue_post(room_id, text, thread, also_in_room);
                el.set_value("");
                live.keep_draft(room_id, thread, "");
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
    // The list offers commands (a `/` begins the box) rather than people.
    let commands = RwSignal::new(false);
    let active = RwSignal::new(0usize);
    let viewer = StoredValue::new(viewer);
    let offer = move || {
        let Some(el) = textarea.get_untracked() else {
            return;
        };
        let (before, _) = before_caret(&el);
        let typed_command = crate::slash::typing(&before);
        let names = match typed_command {
            Some(partial) => own_commands.with_value(|own| {
                crate::slash::offered(partial)
                    .map(|c| c.name.to_owned())
                    .chain(
                        own.iter()
                            .filter(|c| c.name.starts_with(partial))
                            .map(|c| c.name.clone()),
                    )
                    .collect()
            }),
            None => crate::mention::typing(&before)
                .map(|partial| {
                    members.with_untracked(|all| {
                        viewer.with_value(|v| suggestions(all, partial, v, groups))
                    })
                })
                .unwrap_or_default(),
        };
        commands.set(typed_command.is_some());
        active.set(0);
        offered.set(names);
    };
    let take = move |name: String| {
        let Some(el) = textarea.get_untracked() else {
            return;
        };
        let (before, after) = before_caret(&el);
        let typed = if commands.get_untracked() {
            crate::slash::typing(&before)
        } else {
            crate::mention::typing(&before)
        };
        let Some(partial) = typed else {
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

    // The box shows this room's draft, or nothing: a room opened from another may be drawn
    // into the same element, which keeps the other room's text otherwise. (In the browser
    // only, after hydration; the server's page has an empty box.)
    Effect::new(move |_| {
        if let Some(el) = textarea.get() {
            let draft = live.draft(room_id, thread).unwrap_or_default();
            if el.value() != draft {
                el.set_value(&draft);
            }
        }
    });
    let on_input = move |_| {
        if let Some(el) = textarea.get_untracked() {
            live.keep_draft(room_id, thread, &el.value());
        }
        offer();
        let now = js_sys::Date::now();
        if now - last_typing.get_value() >= TYPING_EVERY_MS as f64 {
            last_typing.set_value(now);
            live.send_typing(room_id);
        }
    };

    let navigate = StoredValue::new(use_navigate());
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
        let plain = !(ev.shift_key() || ev.ctrl_key() || ev.alt_key() || ev.meta_key());
        if ev.key() == "ArrowUp" && plain && !ev.is_composing() {
            let empty = textarea
                .get_untracked()
                .is_some_and(|t| t.value().is_empty())
                && staged.with_untracked(Vec::is_empty);
            if let Some(seq) = last_own.get_untracked().filter(|_| empty) {
                ev.prevent_default();
                let edit = Place { room_id, thread }.with("edit", seq);
                navigate.with_value(|go| go(&edit, Default::default()));
            }
            return;
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
            <StagedFiles staged/>
            {move || js.get().then(|| view! {
                <input
                    type="file"
                    id=format!("{id}-attach")
                    class="visually-hidden attach-input"
                    multiple
                    on:change=move |ev| {
                        let input = event_target::<web_sys::HtmlInputElement>(&ev);
                        stage(input.files());
                        input.set_value("");
                    }
                />
            })}
            // Without JavaScript, the plain upload form's picker.
            <label
                for=move || if js.get() { format!("{id}-attach") } else { upload_input_id(thread).to_owned() }
                class="attach"
                title="Attach files"
            >
                <svg
                    viewBox="0 0 24 24"
                    width="20"
                    height="20"
                    aria-hidden="true"
                    fill="none"
                    stroke="currentColor"
                    stroke-width="2"
                    stroke-linecap="round"
                    stroke-linejoin="round"
                >
                    <path d="M20.5 11.5l-8.3 8.3a5.2 5.2 0 0 1-7.4-7.4l8.6-8.6a3.4 3.4 0 0 1 4.9 4.9l-8.6 8.5a1.7 1.7 0 0 1-2.4-2.4l7.9-7.9"/>
                </svg>
                <span class="visually-hidden">"Attach files"</span>
            </label>
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
                // Also fired when the box leaves the page with the focus in it (the room is
                // drawn again after a setting changed), when the list is gone already.
                on:blur=move |_| {
                    offered.try_set(Vec::new());
                }
                on:paste=move |ev: leptos::ev::ClipboardEvent| {
                    let files = ev.clipboard_data().and_then(|d| d.files());
                    if files.as_ref().is_some_and(|f| f.length() > 0) {
                        ev.prevent_default();
                        stage(files);
                    }
                }
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
                aria-label=move || if commands.get() { "Commands" } else { "People to mention" }
                hidden=move || offered.with(Vec::is_empty)
            >
                {move || {
                    offered
                        .get()
                        .into_iter()
                        .enumerate()
                        .map(|(i, name)| {
                            let commands = commands.get_untracked();
                            let shown = format!("{}{name}", if commands { '/' } else { '@' });
                            let note = own_commands
                                .with_value(|own| suggestion_note(&name, commands, own))
                                .map(|note| view! { <span class="muted">" · " {note}</span> });
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
                                    {note}
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
            <button type="submit" disabled=move || uploads.busy()>
                {if thread.is_some() { "Reply" } else { "Send" }}
            </button>
            {sent_here.then(|| form_error(post.value()))}
            {move || problem.get().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
            {move || said.get().map(|s| view! { <p class="form-ok" role="status">{s}</p> })}
            {move || left_here.get().then(|| form_error(membership.leave.value()))}
            <UploadStatus uploads/>
        </form>
        {move || (!js.get()).then(|| view! { <UploadForm room_id thread/> })}
    }
    .into_any()
}

/// The files waiting to go with the next message, each with a button to take it back.
#[component]
fn StagedFiles(staged: RwSignal<Vec<SendWrapper<web_sys::File>>>) -> impl IntoView {
    move || {
        let files = staged.get();
        (!files.is_empty()).then(|| {
            let items = files
                .iter()
                .enumerate()
                .map(|(i, file)| {
                    let name = file.name();
                    let size = crate::model::size_label(file.size() as u64);
                    let remove = format!("Remove {name}");
                    view! {
                        <li>
                            <span class="staged-name">{name}</span>
                            " "
                            <span class="muted size">{size}</span>
                            <button
                                type="button"
                                class="secondary small"
                                aria-label=remove
                                on:click=move |_| staged.update(|all| {
                                    if i < all.len() {
                                        all.remove(i);
                                    }
                                })
                            >
                                "×"
                            </button>
                        </li>
                    }
                })
                .collect_view();
            view! { <ul class="staged" aria-label="Files to send">{items}</ul> }
        })
    }
}

/// Files dragged onto the room attach to its composer, and onto the thread panel to the
/// panel's (`in_thread`): the page listens while the composer is shown.
fn attach_dropped_files(
    in_thread: bool,
    stage: impl Fn(Option<web_sys::FileList>) + Copy + 'static,
) {
    use wasm_bindgen::JsCast;
    let carries_files = |ev: &web_sys::DragEvent| {
        ev.data_transfer()
            .is_some_and(|d| d.types().includes(&"Files".into(), 0))
    };
    let for_me = move |ev: &web_sys::DragEvent| {
        let target = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok());
        let over_thread = target
            .and_then(|t| t.closest(".thread").ok().flatten())
            .is_some();
        over_thread == in_thread
    };
    let stage = SendWrapper::new(stage);
    Effect::new(move |_| {
        // Saying "copy" while over the page is what lets the drop happen.
        let over = window_event_listener(leptos::ev::dragover, move |ev| {
            if carries_files(&ev) {
                ev.prevent_default();
            }
        });
        let stage = stage.clone();
        let dropped = window_event_listener(leptos::ev::drop, move |ev| {
            if carries_files(&ev) {
                ev.prevent_default();
                if for_me(&ev) {
                    stage(ev.data_transfer().and_then(|d| d.files()));
                }
            }
        });
        on_cleanup(move || {
            over.remove();
            dropped.remove();
        });
    });
}
