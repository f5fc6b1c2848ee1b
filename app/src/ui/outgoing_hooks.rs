//! The outgoing half of a room's "Webhooks" page: the programs this room calls. Making one names
//! its bot, the URL called and its trigger words, and shows its signing secret once, with how a
//! receiver checks a call; the list shows each hook's URL, triggers and how its last call went,
//! and revokes one. Plain forms, so it works without JavaScript.

use leptos::prelude::*;

use super::feedback::form_error;
use super::local_time::LocalTime;
use super::shown_once::{blank_after_success, BotNameField, HeldList, ShownOnce};
use crate::api::webhooks::{CreateOutgoingWebhook, RevokeOutgoingWebhook};
use crate::model::{NewOutgoingWebhook, OutgoingWebhookRow, RoomId};

/// The section: what an outgoing hook is, a secret just made, the form, and the list.
#[component]
pub fn OutgoingHooks(
    room_id: RoomId,
    hooks: Vec<OutgoingWebhookRow>,
    fresh: Option<NewOutgoingWebhook>,
    max: usize,
    create: ServerAction<CreateOutgoingWebhook>,
    revoke: ServerAction<RevokeOutgoingWebhook>,
) -> impl IntoView {
    let made = move || {
        create
            .value()
            .with(|v| v.as_ref().and_then(|r| r.as_ref().ok().cloned()))
            .or_else(|| fresh.clone())
            .map(|made| view! { <NewSecret made/> })
    };
    view! {
        <h2>"Outgoing webhooks"</h2>
        <p class="hint">
            "An outgoing webhook calls a program of yours when a message here starts with one \
             of its trigger words, or mentions its bot. The program is sent the message as JSON, \
             signed with the hook's secret; if it answers "
            <code>"{\"text\": \"…\"}"</code>
            ", its bot posts that here."
        </p>
        {made}
        <NewOutgoingForm create room_id/>
        <HeldList
            heading_id="outgoing-heading"
            heading="Programs this room calls"
            empty="This room calls no programs."
            count=hooks.len()
            max
            error=form_error(revoke.value()).into_any()
        >
            {hooks
                .into_iter()
                .map(|hook| view! { <OutgoingLine hook room_id revoke/> })
                .collect_view()}
        </HeldList>
    }
}

/// The signing secret of a hook just made, with how a receiver checks a call.
#[component]
fn NewSecret(made: NewOutgoingWebhook) -> impl IntoView {
    let example = format!(
        "printf '%s.%s' \"$X_CONFAB_TIMESTAMP\" \"$BODY\" | openssl dgst -sha256 -hmac '{}' \
         → compare with X-Confab-Signature (sha256=…)",
        made.secret
    );
    view! {
        <ShownOnce
            title=format!("Your new outgoing webhook “{}”", made.hook.name)
            warning="Copy its secret now: it is not shown again. Your program uses it to check that a call came from here."
            label="Signing secret"
            id="outgoing-secret"
            value=made.secret
            example
        />
    }
}

/// A new hook's bot name, URL and trigger words.
#[component]
fn NewOutgoingForm(create: ServerAction<CreateOutgoingWebhook>, room_id: RoomId) -> impl IntoView {
    let form = blank_after_success(create.value());
    view! {
        <ActionForm action=create node_ref=form attr:class="card token-form">
            <h2>"New outgoing webhook"</h2>
            <input type="hidden" name="room_id" value=room_id/>
            <BotNameField id="outgoing-name" label="Name of its bot" placeholder="deploy-bot"/>
            <label for="outgoing-url">"URL to call"</label>
            <input
                id="outgoing-url"
                name="url"
                type="url"
                required
                placeholder="https://bots.example.com/confab"
            />
            <label for="outgoing-triggers">"Trigger words"</label>
            <input
                id="outgoing-triggers"
                name="triggers"
                placeholder="deploy, status"
                aria-describedby="outgoing-triggers-hint"
            />
            <p class="hint" id="outgoing-triggers-hint">
                "A message that starts with one of these calls it; so does mentioning its bot. \
                 Leave empty to call it by mention only."
            </p>
            <button type="submit">"Create outgoing webhook"</button>
            {form_error(create.value())}
        </ActionForm>
    }
}

#[component]
fn OutgoingLine(
    hook: OutgoingWebhookRow,
    room_id: RoomId,
    revoke: ServerAction<RevokeOutgoingWebhook>,
) -> impl IntoView {
    let called = match (hook.last_used_at, hook.last_status.clone()) {
        (Some(at), Some(status)) => {
            view! { "last call " <LocalTime ms=at/> ": " {status} }.into_any()
        }
        _ => view! { "never called" }.into_any(),
    };
    let triggers = if hook.triggers.is_empty() {
        format!("called by @{} only", hook.name)
    } else {
        format!("called by {} or @{}", hook.triggers.join(", "), hook.name)
    };
    let by = hook
        .created_by
        .clone()
        .map(|name| format!(" by {name}"))
        .unwrap_or_default();
    let label = format!("Revoke outgoing webhook {}", hook.name);
    view! {
        <li class="token">
            <span>
                <strong class="token-name">{hook.name.clone()}</strong>
                " "
                {super::room::bot_tag()}
                " → "
                <code class="hook-url">{hook.url.clone()}</code>
                <br/>
                <span class="muted">{triggers}</span>
                <br/>
                <span class="muted">"made " <LocalTime ms=hook.created_at/> {by} " · " {called}</span>
            </span>
            <ActionForm action=revoke>
                <input type="hidden" name="room_id" value=room_id/>
                <input type="hidden" name="id" value=hook.id.clone()/>
                <button type="submit" class="secondary small" aria-label=label>
                    "Revoke"
                </button>
            </ActionForm>
        </li>
    }
}
