//! Light, dark, or as the system says: the choice is this device's (a cookie), so the server
//! renders the page in it from the first paint, and the switch works as plain forms without
//! JavaScript.

use leptos::prelude::*;
use leptos_meta::Html;

use crate::api::prefs::SetTheme;
use crate::model::Theme;

/// The theme in force, for the whole app: the request's cookie on the server, the page's
/// `data-theme` in the browser (which the server wrote), so hydration agrees.
pub(super) fn provide_theme() -> RwSignal<Theme> {
    #[cfg(feature = "ssr")]
    let now = crate::api::prefs::requested_theme();
    #[cfg(not(feature = "ssr"))]
    let now = document()
        .document_element()
        .and_then(|html| html.get_attribute("data-theme"))
        .and_then(|name| Theme::parse(&name))
        .unwrap_or_default();
    let theme = RwSignal::new(now);
    provide_context(theme);
    theme
}

/// Puts the theme on `<html>` (`data-theme`), where the stylesheet reads it.
#[component]
pub(super) fn ThemeAttr(theme: RwSignal<Theme>) -> impl IntoView {
    view! { <Html {..} data-theme=move || theme.get().attr()/> }
}

/// Three buttons, System, Light and Dark, the one in force pressed.
#[component]
pub(super) fn ThemeSwitch() -> impl IntoView {
    let theme = expect_context::<RwSignal<Theme>>();
    let set = ServerAction::<SetTheme>::new();
    Effect::new(move |_| {
        if let Some(Ok(chosen)) = set.value().get() {
            theme.set(chosen);
        }
    });
    let choices = Theme::ALL
        .into_iter()
        .map(|choice| {
            view! {
                <ActionForm action=set>
                    <input type="hidden" name="theme" value=choice.as_str()/>
                    <button
                        type="submit"
                        class="secondary small"
                        aria-pressed=move || (theme.get() == choice).to_string()
                    >
                        {choice.label()}
                    </button>
                </ActionForm>
            }
        })
        .collect_view();
    view! {
        <div class="menu-item theme-switch" role="group" aria-labelledby="theme-label">
            <span id="theme-label">"Theme"</span>
            {choices}
        </div>
    }
}
