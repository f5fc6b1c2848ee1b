//! What the pages that hand a program a secret share (access tokens, a room's webhooks): the
//! card that shows a new secret once, the form that goes blank after making one, and the list
//! of what one holds with its count against the most allowed; and a webhook bot's name field.

use leptos::prelude::*;

use crate::error::AppError;

/// A secret just made, shown this once: what it is, the warning, the value to copy, and an
/// example of its use.
#[component]
pub fn ShownOnce(
    title: String,
    warning: &'static str,
    label: &'static str,
    id: &'static str,
    value: String,
    example: String,
) -> impl IntoView {
    view! {
        <div class="card token-secret" role="status">
            <h2>{title}</h2>
            <p>{warning}</p>
            <label for=id>{label}</label>
            <input id=id class="token-value" readonly value=value/>
            <p class="hint">"For example: " <code>{example}</code></p>
        </div>
    }
}

/// A form node that is reset once `value` holds a success, so the form is blank for the next.
pub fn blank_after_success<T, S>(value: S) -> NodeRef<leptos::html::Form>
where
    T: Send + Sync + 'static,
    S: With<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if value.with(|v| matches!(v, Some(Ok(_)))) {
            if let Some(form) = form.get() {
                form.reset();
            }
        }
    });
    form
}

/// The card listing what is held (`children`, the list items), what to say when it is empty,
/// a refusal of the last revoke (`error`), and "N of at most M."
#[component]
pub fn HeldList(
    heading_id: &'static str,
    heading: &'static str,
    empty: &'static str,
    count: usize,
    max: usize,
    error: AnyView,
    children: Children,
) -> impl IntoView {
    view! {
        <section class="card token-list-card" aria-labelledby=heading_id>
            <h2 id=heading_id>{heading}</h2>
            {error}
            {(count == 0).then(|| view! { <p class="muted">{empty}</p> })}
            <ul class="token-list">{children()}</ul>
            {(count > 0)
                .then(|| view! { <p class="hint">{format!("{count} of at most {max}.")}</p> })}
        </section>
    }
}

/// The name of a new webhook's bot: the author its messages show, a username no one has yet.
#[component]
pub fn BotNameField(
    id: &'static str,
    label: &'static str,
    placeholder: &'static str,
) -> impl IntoView {
    let hint = format!("{id}-hint");
    view! {
        <label for=id>{label}</label>
        <input
            id=id
            name="name"
            required
            maxlength=crate::validate::MAX_USERNAME_CHARS
            placeholder=placeholder
            aria-describedby=hint.clone()
        />
        <p class="hint" id=hint>
            "Its messages show this name. Letters, digits, '.', '_' and '-'; no one may have it yet."
        </p>
    }
}
