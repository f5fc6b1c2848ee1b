//! The keyboard, page-wide, for a signed-in member once the app is hydrated:
//! - Ctrl+K (⌘K on a Mac) opens the quick switcher, even from inside the message box;
//! - `?` outside a text field opens the "Keyboard shortcuts" dialog, which lists every shortcut
//!   (the account menu opens it too);
//! - Escape, when nothing nearer took it (a menu, a dialog, the mention list, an edit), closes
//!   the side panel open beside a room (thread, members, settings, pins, a person's card).
//!
//! The message box's own keys (Enter, Shift+Enter, ↑ to edit) live with the composer.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate};

use super::dialog::Modal;
use super::quick_switcher::QuickSwitcher;
use crate::model::RoomSummary;

/// Which page-wide dialog is open; provided by the layout, so that any button can open one.
#[derive(Clone, Copy)]
pub(super) struct Dialogs {
    pub switcher: RwSignal<bool>,
    pub help: RwSignal<bool>,
}

impl Dialogs {
    pub fn new() -> Self {
        Dialogs {
            switcher: RwSignal::new(false),
            help: RwSignal::new(false),
        }
    }

    fn any_open(&self) -> bool {
        self.switcher.get_untracked() || self.help.get_untracked()
    }
}

/// Listens for the shortcuts above and holds their dialogs. `conversations` are the sidebar's
/// rooms, then its DMs.
#[component]
pub(super) fn KeyboardShortcuts(conversations: Vec<RoomSummary>) -> impl IntoView {
    let dialogs = expect_context::<Dialogs>();
    let location = use_location();
    let navigate = StoredValue::new(use_navigate());
    Effect::new(move |_| {
        let listener = window_event_listener(leptos::ev::keydown, move |ev| {
            if ev.is_composing() || ev.default_prevented() {
                return;
            }
            let key = ev.key();
            let command = ev.ctrl_key() || ev.meta_key();
            if command && !ev.alt_key() && key.eq_ignore_ascii_case("k") {
                ev.prevent_default();
                dialogs.help.set(false);
                dialogs.switcher.set(true);
            } else if key == "?" && !command && !ev.alt_key() && !typing_in(&ev) {
                if !dialogs.any_open() {
                    ev.prevent_default();
                    dialogs.help.set(true);
                }
            } else if key == "Escape" && !dialogs.any_open() && !menu_open() {
                let panel = location.query.with_untracked(|q| {
                    ["thread", "members", "settings", "pins", "profile"]
                        .iter()
                        .any(|panel| q.get(panel).is_some())
                });
                if panel {
                    ev.prevent_default();
                    let path = location.pathname.get_untracked();
                    navigate.with_value(|go| go(&path, Default::default()));
                }
            }
        });
        on_cleanup(move || listener.remove());
    });
    view! {
        <QuickSwitcher open=dialogs.switcher conversations/>
        <ShortcutsHelp open=dialogs.help/>
    }
}

/// Whether the key went to a field that takes text (where `?` is a character, not a command).
fn typing_in(ev: &web_sys::KeyboardEvent) -> bool {
    use wasm_bindgen::JsCast;
    ev.target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok())
        .is_some_and(|el| {
            el.is_content_editable()
                || matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
        })
}

/// Whether a "⋯" or account menu is open (its own Escape closes it first).
fn menu_open() -> bool {
    document()
        .query_selector("details.menu[open]")
        .ok()
        .flatten()
        .is_some()
}

/// Every shortcut, in a table people can read with a screen reader as well.
#[component]
fn ShortcutsHelp(open: RwSignal<bool>) -> impl IntoView {
    let rows = [
        (
            "Ctrl + K  (⌘ K on a Mac)",
            "Jump to a room or a direct message",
        ),
        ("Enter", "Send the message"),
        ("Shift + Enter", "Start a new line"),
        ("↑  in an empty message box", "Edit your last message"),
        ("@", "Mention someone (↑ ↓ to choose, Enter or Tab to take)"),
        (
            "Esc",
            "Close a menu, a dialog or a side panel; cancel an edit",
        ),
        ("?", "Show these shortcuts"),
    ]
    .into_iter()
    .map(|(keys, what)| {
        view! {
            <tr>
                <th scope="row"><kbd>{keys}</kbd></th>
                <td>{what}</td>
            </tr>
        }
    })
    .collect_view();
    view! {
        <Modal open class="shortcuts" labelled_by="shortcuts-title">
            <div class="modal-head">
                <h2 id="shortcuts-title">"Keyboard shortcuts"</h2>
                <button
                    type="button"
                    class="secondary small"
                    aria-label="Close keyboard shortcuts"
                    on:click=move |_| open.set(false)
                >
                    "✕"
                </button>
            </div>
            <table>
                <thead>
                    <tr>
                        <th scope="col">"Keys"</th>
                        <th scope="col">"What they do"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </Modal>
    }
}
