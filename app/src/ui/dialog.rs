//! A modal dialog opened and closed by a signal: the browser's own `<dialog>` shown with
//! `showModal`, so focus moves into it and stays there, the page behind is inert, and Escape
//! closes it. A click on the backdrop closes it too. Nothing is shown without JavaScript: what
//! opens a dialog is a shortcut or a button that only works once hydrated.

use leptos::prelude::*;

/// The dialog, shown while `open` is true. `labelled_by` is the id of its heading.
#[component]
pub(super) fn Modal(
    open: RwSignal<bool>,
    class: &'static str,
    labelled_by: &'static str,
    children: Children,
) -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    Effect::new(move |_| {
        let Some(el) = dialog.get() else {
            return;
        };
        if open.get() {
            if !el.open() {
                let _ = el.show_modal();
            }
        } else if el.open() {
            el.close();
        }
    });
    view! {
        <dialog
            node_ref=dialog
            class=format!("modal {class}")
            aria-labelledby=labelled_by
            // Escape (the browser's own) and `close()` both end here.
            on:close=move |_| open.set(false)
            // The dialog itself is hit only outside its box: on the backdrop.
            on:click=move |ev| {
                if ev.target() == ev.current_target() {
                    open.set(false);
                }
            }
        >
            <div class="modal-box">{children()}</div>
        </dialog>
    }
}
