//! What can be done to one message, each a plain form that also works without JavaScript: edit,
//! react (a common emoji or any other), and delete after asking; and where each form's page is
//! (the room's timeline or a thread panel).

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::api::messages::{DeleteMessage, EditMessage, React};
use crate::model::RoomId;
use crate::ui::feedback::form_error;

/// Where a message is shown: in the room's timeline, or in the panel of the thread of `thread`.
/// Its links and forms stay there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Place {
    pub room_id: RoomId,
    pub thread: Option<i64>,
}

impl Place {
    /// The page without an open form.
    pub fn url(&self) -> String {
        match self.thread {
            Some(root) => format!("/r/{}?thread={root}", self.room_id),
            None => format!("/r/{}", self.room_id),
        }
    }

    /// The page with `key=seq` added (a form opened on that message), at the message.
    pub fn with(&self, key: &str, seq: i64) -> String {
        match self.thread {
            Some(root) => format!("/r/{}?thread={root}&{key}={seq}#m{seq}", self.room_id),
            None => format!("/r/{}?{key}={seq}#m{seq}", self.room_id),
        }
    }
}

/// Editing a message in place: a plain form to `edit_message` (without JavaScript the server
/// sends the page back), with JavaScript the same form through `fetch`; the room takes the
/// answer and closes the form.
#[component]
pub(super) fn EditForm(
    room_id: RoomId,
    seq: i64,
    body: String,
    edit: ServerAction<EditMessage>,
    place: Place,
) -> impl IntoView {
    // Opened from the message's menu or by ↑ in the message box: typing goes on here, after the
    // text. Escape puts it back as it was.
    let text = NodeRef::<leptos::html::Textarea>::new();
    Effect::new(move |_| {
        if let Some(el) = text.get() {
            let end = el.value().encode_utf16().count() as u32;
            let _ = el.focus();
            let _ = el.set_selection_range(end, end);
        }
    });
    let navigate = StoredValue::new(use_navigate());
    let cancel = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" && !ev.is_composing() {
            ev.prevent_default();
            navigate.with_value(|go| go(&place.url(), Default::default()));
        }
    };
    view! {
        <ActionForm action=edit attr:class="edit-message">
            <input type="hidden" name="room_id" value=room_id/>
            <input type="hidden" name="seq" value=seq/>
            // A form sent twice is still one edit.
            <input type="hidden" name="client_id" value=uuid::Uuid::new_v4().to_string()/>
            <label for=format!("edit-{seq}") class="visually-hidden">"Edit message"</label>
            <textarea
                id=format!("edit-{seq}")
                name="text"
                rows="2"
                required
                node_ref=text
                on:keydown=cancel
            >
                {body}
            </textarea>
            <div class="inline-field">
                <button type="submit">"Save"</button>
                <a href=place.url() class="secondary small-link">"Cancel"</a>
            </div>
            {form_error(edit.value())}
        </ActionForm>
    }
}

/// What one reaction button shows and says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ReactButton {
    pub emoji: String,
    /// The accessible name: "👍 2, reacted by alice and bob", or "React with 👍".
    pub label: String,
    /// What the button shows: "👍 2", or the emoji alone.
    pub shown: String,
    /// `Some(true)` when the viewer's own reaction is among them (pressing takes it back).
    pub pressed: Option<bool>,
}

/// One reaction as a one-button form to `react`: pressing it adds the viewer's reaction, or
/// takes it back. A plain form, so it works without JavaScript.
#[component]
pub(super) fn ReactForm(
    room_id: RoomId,
    seq: i64,
    button: ReactButton,
    react: ServerAction<React>,
) -> impl IntoView {
    let pressed = button.pressed.map(|p| if p { "true" } else { "false" });
    view! {
        <ActionForm action=react attr:class="react-form">
            <input type="hidden" name="room_id" value=room_id/>
            <input type="hidden" name="seq" value=seq/>
            <input type="hidden" name="emoji" value=button.emoji/>
            <input type="hidden" name="client_id" value=uuid::Uuid::new_v4().to_string()/>
            <button
                type="submit"
                class="reaction"
                aria-label=button.label
                aria-pressed=pressed
            >
                {button.shown}
            </button>
        </ActionForm>
    }
}

/// The reactions offered in one click, and a field for any other emoji (`?react=SEQ`).
#[component]
pub(super) fn ReactionPicker(
    room_id: RoomId,
    seq: i64,
    react: ServerAction<React>,
    place: Place,
) -> impl IntoView {
    let common = crate::validate::COMMON_REACTIONS
        .iter()
        .map(|emoji| {
            let button = ReactButton {
                emoji: (*emoji).to_owned(),
                label: format!("React with {emoji}"),
                shown: (*emoji).to_owned(),
                pressed: None,
            };
            view! { <ReactForm room_id seq button react/> }
        })
        .collect_view();
    view! {
        <div class="reaction-picker" role="group" aria-label="Add a reaction">
            <div class="common-reactions">{common}</div>
            <ActionForm action=react attr:class="inline-field">
                <input type="hidden" name="room_id" value=room_id/>
                <input type="hidden" name="seq" value=seq/>
                <input type="hidden" name="client_id" value=uuid::Uuid::new_v4().to_string()/>
                <label for=format!("emoji-{seq}") class="visually-hidden">"Other emoji"</label>
                <input
                    id=format!("emoji-{seq}")
                    name="emoji"
                    placeholder="other emoji"
                    maxlength=crate::validate::MAX_REACTION_CHARS
                    autocomplete="off"
                    required
                />
                <button type="submit" class="secondary">"Add"</button>
                <a href=place.url() class="secondary small-link">"Cancel"</a>
            </ActionForm>
        </div>
    }
}

/// Asking before a delete: a plain form to `delete_message`, like [`EditForm`].
#[component]
pub(super) fn DeleteForm(
    room_id: RoomId,
    seq: i64,
    delete: ServerAction<DeleteMessage>,
    place: Place,
) -> impl IntoView {
    view! {
        <ActionForm action=delete attr:class="delete-message">
            <input type="hidden" name="room_id" value=room_id/>
            <input type="hidden" name="seq" value=seq/>
            <input type="hidden" name="client_id" value=uuid::Uuid::new_v4().to_string()/>
            <p>"Delete this message for everyone? It will show as deleted."</p>
            <div class="inline-field">
                <button type="submit" class="danger">"Delete message"</button>
                <a href=place.url() class="secondary small-link">"Cancel"</a>
            </div>
            {form_error(delete.value())}
        </ActionForm>
    }
}
