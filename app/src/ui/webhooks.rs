//! A room's "Webhooks" page (`/r/{id}/hooks`, from the room's ⋯ menu, for its moderators):
//! where a team connects a CI job, a monitor or any tool that posts to Slack's incoming
//! webhooks. Making one names its bot and shows its secret URL once, with a `curl` example;
//! the list shows who made each and when it last posted, and revokes one. Every part is a
//! plain form, so it works without JavaScript (the URL then comes back with the page). The
//! outgoing hooks, programs the room calls, are the page's second half (`outgoing_hooks`).

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::auth_page::page_error;
use super::feedback::form_error;
use super::local_time::LocalTime;
use super::outgoing_hooks::OutgoingHooks;
use super::shown_once::{blank_after_success, BotNameField, HeldList, ShownOnce};
use crate::api::webhooks::{
    room_webhooks, CreateOutgoingWebhook, CreateWebhook, RevokeOutgoingWebhook, RevokeWebhook,
    WebhooksView,
};
use crate::error::AppError;
use crate::model::{NewWebhook, RoomId, WebhookRow};

/// The page: the room's hooks, read again after each change.
#[component]
pub fn WebhooksPage() -> impl IntoView {
    let params = use_params_map();
    let room_id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<RoomId>().ok())
    };
    let create = ServerAction::<CreateWebhook>::new();
    let revoke = ServerAction::<RevokeWebhook>::new();
    let outgoing = Outgoing {
        create: ServerAction::<CreateOutgoingWebhook>::new(),
        revoke: ServerAction::<RevokeOutgoingWebhook>::new(),
    };
    let hooks = Resource::new(
        move || {
            (
                room_id(),
                create.version().get() + revoke.version().get(),
                outgoing.create.version().get() + outgoing.revoke.version().get(),
            )
        },
        |(room_id, _, _)| async move {
            match room_id {
                Some(room_id) => room_webhooks(room_id).await,
                None => Err(AppError::NotFound("There is no such room.".into())),
            }
        },
    );
    view! {
        <leptos_meta::Title text="Webhooks · Confab"/>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match hooks.await {
                    Ok(hooks) => view! { <Webhooks hooks create revoke outgoing/> }.into_any(),
                    Err(error) => page_error(error),
                }
            })}
        </Transition>
    }
}

/// The outgoing hooks' actions.
#[derive(Clone, Copy)]
struct Outgoing {
    create: ServerAction<CreateOutgoingWebhook>,
    revoke: ServerAction<RevokeOutgoingWebhook>,
}

#[component]
fn Webhooks(
    hooks: WebhooksView,
    create: ServerAction<CreateWebhook>,
    revoke: ServerAction<RevokeWebhook>,
    outgoing: Outgoing,
) -> impl IntoView {
    let WebhooksView {
        room_id,
        room_name,
        hooks,
        fresh,
        max,
        outgoing: outgoing_hooks,
        fresh_outgoing,
        max_outgoing,
        site,
    } = hooks;
    // The URL of a hook just made: the action's answer, or the page's (no JavaScript).
    let made = move || {
        create
            .value()
            .with(|v| v.as_ref().and_then(|r| r.as_ref().ok().cloned()))
            .or_else(|| fresh.clone())
            .map(|made| view! { <NewHookUrl made site=site.clone()/> })
    };
    view! {
        <section class="panel tokens-page">
            <p>
                <a href=format!("/r/{room_id}")>{format!("← Back to #{room_name}")}</a>
            </p>
            <h1>{format!("Webhooks of #{room_name}")}</h1>
            <p class="hint">
                "An incoming webhook is a secret address that posts into this room. CI jobs, \
                 monitors and other tools that post to Slack's incoming webhooks can use it as \
                 they are: they send "
                <code>"{\"text\": \"…\"}"</code>
                ". Each webhook posts as a bot of its own, marked as a bot."
            </p>
            {made}
            <NewHookForm create room_id/>
            <HookList hooks room_id revoke max/>
            <OutgoingHooks
                room_id
                hooks=outgoing_hooks
                fresh=fresh_outgoing
                max=max_outgoing
                create=outgoing.create
                revoke=outgoing.revoke
            />
        </section>
    }
}

/// The URL of a hook just made, with how to use it.
#[component]
fn NewHookUrl(made: NewWebhook, site: String) -> impl IntoView {
    let url = format!("{site}{}", made.path);
    let example = format!(
        "curl -H 'Content-Type: application/json' -d '{{\"text\": \"Build *passed*\"}}' {url}"
    );
    view! {
        <ShownOnce
            title=format!("Your new webhook “{}”", made.hook.name)
            warning="Copy its address now: it is not shown again. Anyone who has it can post here."
            label="Webhook URL"
            id="hook-url"
            value=url
            example
        />
    }
}

/// The name of a new hook's bot.
#[component]
fn NewHookForm(create: ServerAction<CreateWebhook>, room_id: RoomId) -> impl IntoView {
    let form = blank_after_success(create.value());
    view! {
        <ActionForm action=create node_ref=form attr:class="card token-form">
            <h2>"New webhook"</h2>
            <input type="hidden" name="room_id" value=room_id/>
            <BotNameField id="hook-name" label="Bot name" placeholder="ci-bot"/>
            <button type="submit">"Create webhook"</button>
            {form_error(create.value())}
        </ActionForm>
    }
}

/// The room's hooks, newest first, each with Revoke.
#[component]
fn HookList(
    hooks: Vec<WebhookRow>,
    room_id: RoomId,
    revoke: ServerAction<RevokeWebhook>,
    max: usize,
) -> impl IntoView {
    view! {
        <HeldList
            heading_id="hooks-heading"
            heading="This room's webhooks"
            empty="This room has no webhooks."
            count=hooks.len()
            max
            error=form_error(revoke.value()).into_any()
        >
            {hooks
                .into_iter()
                .map(|hook| view! { <HookLine hook room_id revoke/> })
                .collect_view()}
        </HeldList>
    }
}

#[component]
fn HookLine(
    hook: WebhookRow,
    room_id: RoomId,
    revoke: ServerAction<RevokeWebhook>,
) -> impl IntoView {
    let used = match hook.last_used_at {
        None => view! { "never used" }.into_any(),
        Some(at) => view! { "last posted " <LocalTime ms=at/> }.into_any(),
    };
    let by = hook
        .created_by
        .clone()
        .map(|name| format!(" by {name}"))
        .unwrap_or_default();
    let label = format!("Revoke webhook {}", hook.name);
    view! {
        <li class="token">
            <span>
                <strong class="token-name">{hook.name.clone()}</strong>
                " "
                {super::room::bot_tag()}
                <br/>
                <span class="muted">"made " <LocalTime ms=hook.created_at/> {by} " · " {used}</span>
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
