//! How the UI reports trouble: an alert next to the form that failed, and the not-found page.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::error::AppError;

/// A `role="status"` line with what the last submission of a form did, if it succeeded.
pub fn form_ok<S>(value: S) -> impl IntoView
where
    S: With<Value = Option<Result<String, AppError>>> + Send + Sync + 'static,
{
    move || {
        value
            .with(|v| v.as_ref().and_then(|r| r.as_ref().ok().cloned()))
            .map(|text| view! { <p class="form-ok" role="status">{text}</p> })
    }
}

/// A required field for someone's username: no autocorrection, capitals or suggestions.
#[component]
pub fn UsernameInput(
    id: &'static str,
    /// Kept in step with what is typed, when the form is drawn again.
    #[prop(optional)]
    value: Option<RwSignal<String>>,
) -> impl IntoView {
    let typed = value.unwrap_or_default();
    view! {
        <input
            id=id
            name="username"
            prop:value=move || typed.get()
            on:input=move |event| typed.set(event_target_value(&event))
            placeholder="username"
            autocomplete="off"
            autocapitalize="none"
            spellcheck="false"
            required
        />
    }
}

/// A `role="alert"` line with the error of the last submission of a form, if it failed.
pub fn form_error<T, S>(value: S) -> impl IntoView
where
    T: Send + Sync + 'static,
    S: With<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    move || {
        value.with(|v| match v {
            Some(Err(e)) => Some(view! { <p class="form-error" role="alert">{e.to_string()}</p> }),
            _ => None,
        })
    }
}

/// A full-panel error, for a page whose data could not be loaded.
#[component]
pub fn ErrorPanel(error: AppError) -> impl IntoView {
    // A page whose room (or other subject) is missing or forbidden answers with that status,
    // as its API call does: a link checker or a crawler is not told 200.
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(error.status());
    }
    view! {
        <section class="panel error-panel" role="alert">
            <h1>"Something is not right"</h1>
            <p>{error.to_string()}</p>
            <p><A href="/">"Back to Confab"</A></p>
        </section>
    }
}

/// Shown for URLs that match no page.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <main class="panel">
            <h1>"Page not found"</h1>
            <p><A href="/">"Back to Confab"</A></p>
        </main>
    }
}
