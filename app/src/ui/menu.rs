//! A menu behind one button (the "+", the account, a room's and a message's "⋯"): a native
//! `<details>`, so it opens and closes with the keyboard and without JavaScript. Once hydrated,
//! Escape closes it (focus back on its button), and so does following a link in it or any
//! other navigation.

use leptos::prelude::*;

/// A button named `label` showing `icon`, opening `children` below it.
#[component]
pub fn Menu(
    /// The accessible name of the button (also its tooltip).
    label: String,
    /// What the button shows: a symbol, or the user's initials and name.
    icon: AnyView,
    /// Extra classes for placing this menu.
    #[prop(optional)]
    class: &'static str,
    /// Closes the menu when it turns true (a form in it that has done its work).
    #[prop(optional, into)]
    close: Option<Signal<bool>>,
    /// Keeps the menu open while true: a form in it has an error to show (also on the page a
    /// form sent without JavaScript comes back to).
    #[prop(optional, into)]
    open: Option<Signal<bool>>,
    children: Children,
) -> impl IntoView {
    let details = NodeRef::<leptos::html::Details>::new();
    let shut = move || {
        if let Some(details) = details.get_untracked() {
            details.set_open(false);
        }
    };
    // Any navigation closes it: a followed link or a sent form has done what it was opened for.
    let location = leptos_router::hooks::use_location();
    // Not on its first run: that comes after the menu is drawn, and would close a menu opened
    // by a click that came first.
    Effect::new(move |first: Option<()>| {
        location.pathname.track();
        location.search.track();
        if first.is_some() {
            shut();
        }
    });
    if let Some(done) = close {
        Effect::new(move |_| {
            if done.get() {
                shut();
            }
        });
    }
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            // Taken here: the page's own Escape (closing the thread panel) waits for the next.
            if details.get_untracked().is_some_and(|d| d.open()) {
                ev.prevent_default();
            }
            shut();
            if let Some(summary) = details
                .get_untracked()
                .and_then(|d| d.query_selector("summary").ok().flatten())
            {
                use wasm_bindgen::JsCast;
                if let Ok(summary) = summary.dyn_into::<web_sys::HtmlElement>() {
                    let _ = summary.focus();
                }
            }
        }
    };
    // A followed link leaves the page the menu was opened on.
    let on_click = move |ev: leptos::ev::MouseEvent| {
        use wasm_bindgen::JsCast;
        let link = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.closest("a").ok().flatten());
        if link.is_some() {
            shut();
        }
    };
    let open = move || open.is_some_and(|open| open.get());
    view! {
        <details
            node_ref=details
            class=format!("menu {class}")
            open=open
            on:keydown=on_key
            on:toggle=move |_| keep_in_view(details)
        >
            <summary aria-label=label.clone() title=label>
                {icon}
            </summary>
            <div class="menu-items" on:click=on_click>
                {children()}
            </div>
        </details>
    }
}

/// Opens the menu on whichever side of its button it fits: a menu near the bottom of a
/// scrolling list (the newest messages) opens upwards, one near the top downwards.
fn keep_in_view(details: NodeRef<leptos::html::Details>) {
    let Some(details) = details.get_untracked() else {
        return;
    };
    let list = details.class_list();
    let _ = list.remove_2("flip-up", "flip-down");
    if !details.open() {
        return;
    }
    let Some(items) = details.query_selector(".menu-items").ok().flatten() else {
        return;
    };
    let (top, bottom) = match details.closest(".history, .replies, .main").ok().flatten() {
        Some(area) => {
            let r = area.get_bounding_client_rect();
            (r.top(), r.bottom())
        }
        None => (
            0.0,
            window()
                .inner_height()
                .ok()
                .and_then(|h| h.as_f64())
                .unwrap_or(0.0),
        ),
    };
    let menu = items.get_bounding_client_rect();
    let button = details.get_bounding_client_rect();
    if menu.bottom() > bottom && button.top() - menu.height() >= top {
        let _ = list.add_1("flip-up");
    } else if menu.top() < top && button.bottom() + menu.height() <= bottom {
        let _ = list.add_1("flip-down");
    }
}
