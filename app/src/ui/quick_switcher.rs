//! Ctrl+K (⌘K on a Mac), from anywhere: a dialog to jump to a room or a direct message by typing
//! part of its name, the way Slack, Discord and Element do. It is a native modal `<dialog>`, so
//! focus stays inside while it is open and Escape closes it; the list is an ARIA combobox (the
//! arrows move, Enter goes). Without JavaScript there is no shortcut and the sidebar's links
//! remain the way to a conversation.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use super::dialog::Modal;
use super::live::badge_text;
use crate::model::{RoomKind, RoomSummary};

/// At most this many conversations are listed; typing more of a name narrows them.
const SHOWN_MAX: usize = 30;

/// The member's conversations that match `query`, best first: names that start with it (or with
/// a word that does), then names that hold it anywhere, each group in the sidebar's order. An
/// empty query lists them all.
pub(super) fn matching<'a>(all: &'a [RoomSummary], query: &str) -> Vec<&'a RoomSummary> {
    let query = query.trim().to_lowercase();
    if query.is_empty() {
        return all.iter().take(SHOWN_MAX).collect();
    }
    let mut starts = Vec::new();
    let mut holds = Vec::new();
    for room in all {
        let name = room.name.to_lowercase();
        let word_start = name
            .split(|c: char| !c.is_alphanumeric())
            .any(|word| word.starts_with(&query));
        if name.starts_with(&query) || word_start {
            starts.push(room);
        } else if name.contains(&query) {
            holds.push(room);
        }
    }
    starts.extend(holds);
    starts.truncate(SHOWN_MAX);
    starts
}

/// The dialog, open while `open` is true. `conversations` are the sidebar's rooms, then DMs.
#[component]
pub(super) fn QuickSwitcher(
    open: RwSignal<bool>,
    conversations: Vec<RoomSummary>,
) -> impl IntoView {
    let input = NodeRef::<leptos::html::Input>::new();
    let query = RwSignal::new(String::new());
    let active = RwSignal::new(0usize);
    let conversations = StoredValue::new(conversations);
    let shown = Memo::new(move |_| {
        query.with(|q| {
            conversations
                .with_value(|all| matching(all, q).into_iter().cloned().collect::<Vec<_>>())
        })
    });
    let navigate = StoredValue::new(use_navigate());
    let go = move |index: usize| {
        if let Some(room) = shown.with_untracked(|s| s.get(index).map(|r| r.id)) {
            open.set(false);
            navigate.with_value(|go| go(&format!("/r/{room}"), Default::default()));
            #[cfg(feature = "hydrate")]
            leptos::task::spawn_local(focus_composer_of(room));
        }
    };
    // Each opening starts from an empty box and the first conversation.
    Effect::new(move |_| {
        if open.get() {
            query.set(String::new());
            active.set(0);
            if let Some(input) = input.get_untracked() {
                input.set_value("");
            }
        }
    });
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.is_composing() {
            return;
        }
        let count = shown.with_untracked(Vec::len);
        match ev.key().as_str() {
            "ArrowDown" if count > 0 => {
                ev.prevent_default();
                active.update(|i| *i = (*i + 1) % count);
            }
            "ArrowUp" if count > 0 => {
                ev.prevent_default();
                active.update(|i| *i = (*i + count - 1) % count);
            }
            "Enter" => {
                ev.prevent_default();
                go(active.get_untracked());
            }
            _ => {}
        }
    };
    let options = move || {
        shown
            .get()
            .into_iter()
            .enumerate()
            .map(|(index, room)| {
                let kind = match room.kind {
                    RoomKind::Public => "Room",
                    RoomKind::Private => "Private room",
                    RoomKind::Dm => "Direct message",
                };
                let unread = (room.unread > 0).then(|| {
                    view! {
                        <span class="badge" aria-hidden="true">{badge_text(room.unread)}</span>
                    }
                });
                view! {
                    <li
                        id=format!("switcher-option-{index}")
                        role="option"
                        aria-selected=move || (active.get() == index).to_string()
                        on:click=move |_| go(index)
                        on:mousemove=move |_| active.set(index)
                    >
                        <span class="room-name">{room.name}</span>
                        <span class="kind">{kind}</span>
                        {unread}
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <Modal open class="switcher" labelled_by="switcher-title">
            <h2 id="switcher-title">"Jump to a conversation"</h2>
            <label for="switcher-input" class="visually-hidden">"Room or person"</label>
            <input
                id="switcher-input"
                node_ref=input
                type="text"
                role="combobox"
                placeholder="Room or person"
                autocomplete="off"
                autocapitalize="none"
                spellcheck="false"
                aria-expanded="true"
                aria-controls="switcher-options"
                aria-autocomplete="list"
                aria-activedescendant=move || {
                    (!shown.with(Vec::is_empty)).then(|| format!("switcher-option-{}", active.get()))
                }
                on:input=move |ev| {
                    query.set(event_target_value(&ev));
                    active.set(0);
                }
                on:keydown=on_key
            />
            <ul id="switcher-options" role="listbox" aria-label="Conversations">
                {options}
            </ul>
            {move || {
                shown
                    .with(Vec::is_empty)
                    .then(|| {
                        view! {
                            <p class="muted" role="status">
                                "No room or conversation matches “" {query.get()} "”."
                            </p>
                        }
                    })
            }}
            <p class="hint">
                <kbd>"↑"</kbd> " " <kbd>"↓"</kbd> " to choose, " <kbd>"Enter"</kbd>
                " to open, " <kbd>"Esc"</kbd> " to close"
            </p>
        </Modal>
    }
}

/// Typing goes on in the conversation just opened: its message box takes the focus once it is
/// shown (the page before stays up while the next one loads), or the attempt ends after 5 s.
#[cfg(feature = "hydrate")]
async fn focus_composer_of(room: crate::model::RoomId) {
    use wasm_bindgen::JsCast;
    let selector =
        format!(r#"form.composer:has(> input[name="room_id"][value="{room}"]) #composer-text"#);
    for _ in 0..100 {
        let shown = document()
            .query_selector(&selector)
            .ok()
            .flatten()
            .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(el) = shown {
            let _ = el.focus();
            return;
        }
        gloo_timers::future::TimeoutFuture::new(50).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(id: i64, name: &str) -> RoomSummary {
        RoomSummary {
            id,
            kind: RoomKind::Public,
            name: name.to_owned(),
            topic: None,
            last_seq: 0,
            unread: 0,
            mentions: 0,
        }
    }

    fn names(found: Vec<&RoomSummary>) -> Vec<&str> {
        found.into_iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn starts_of_names_and_words_come_before_names_that_merely_hold_the_query() {
        let all = [
            room(1, "backend"),
            room(2, "design-review"),
            room(3, "Random"),
            room(4, "alice, bob"),
            room(5, "devops"),
        ];
        assert_eq!(names(matching(&all, "re")), ["design-review"]);
        assert_eq!(
            names(matching(&all, "D")),
            ["design-review", "devops", "backend", "Random"]
        );
        assert_eq!(names(matching(&all, " bob ")), ["alice, bob"]);
        assert!(matching(&all, "zulu").is_empty());
    }

    #[test]
    fn an_empty_query_lists_the_sidebar_in_order_up_to_the_cap() {
        let all: Vec<_> = (0..SHOWN_MAX as i64 + 5)
            .map(|i| room(i, &format!("room {i}")))
            .collect();
        let found = matching(&all, "");
        assert_eq!(found.len(), SHOWN_MAX);
        assert_eq!(found[0].name, "room 0");
    }

    #[test]
    fn names_in_chinese_and_korean_match_by_any_part() {
        let all = [room(1, "产品讨论"), room(2, "팀 공지")];
        assert_eq!(names(matching(&all, "讨论")), ["产品讨论"]);
        assert_eq!(names(matching(&all, "공지")), ["팀 공지"]);
    }
}
