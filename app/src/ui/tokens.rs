//! "Access tokens" (`/tokens`): where a person makes the tokens their scripts, CI jobs and bots
//! use the HTTP API with, sees what each may do and when it was last used, and revokes one.
//! A new token's secret is shown once, right after it is made. Every part is a plain form, so
//! it works without JavaScript (the secret then comes back with the page).

use leptos::prelude::*;

use super::auth_page::page_error;
use super::feedback::form_error;
use super::local_time::LocalTime;
use super::shown_once::{blank_after_success, HeldList, ShownOnce};
use crate::api::tokens::{my_tokens, CreateToken, RevokeToken, TokensView};
use crate::model::{NewToken, TokenRow, TokenScope};

/// How long a new token lasts, as the form offers it: days (0: until revoked), and the words.
const LASTS: [(u32, &str); 5] = [
    (7, "7 days"),
    (30, "30 days"),
    (90, "90 days"),
    (365, "1 year"),
    (0, "Never expires"),
];

/// The page: the caller's tokens, read again after each change.
#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| my_tokens(),
    );
    view! {
        <leptos_meta::Title text="Access tokens · Confab"/>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match tokens.await {
                    Ok(tokens) => view! { <Tokens tokens create revoke/> }.into_any(),
                    Err(error) => page_error(error),
                }
            })}
        </Transition>
    }
}

#[component]
fn Tokens(
    tokens: TokensView,
    create: ServerAction<CreateToken>,
    revoke: ServerAction<RevokeToken>,
) -> impl IntoView {
    let TokensView {
        tokens,
        now,
        is_admin,
        fresh,
        max,
        site,
    } = tokens;
    // The secret of a token just made: the action's answer, or the page's (no JavaScript).
    let made = move || {
        create
            .value()
            .with(|v| v.as_ref().and_then(|r| r.as_ref().ok().cloned()))
            .or_else(|| fresh.clone())
            .map(|made| view! { <NewSecret made site=site.clone()/> })
    };
    view! {
        <section class="panel tokens-page">
            <h1>"Access tokens"</h1>
            <p class="hint">
                "A token lets a script, a CI job or a bot use Confab's HTTP API as you. Send it as "
                <code>"Authorization: Bearer …"</code>
                ". Keep it as secret as a password, and revoke it when it is no longer needed. "
                "The calls it can make are in the "
                // A page of the server's own, outside the app's routes: the browser loads it.
                <a href="/api/v1/docs" rel="external">"API reference"</a>
                "."
            </p>
            {made}
            <NewTokenForm create is_admin/>
            <TokenList tokens now revoke max/>
        </section>
    }
}

/// The secret of a token just made, with how to use it.
#[component]
fn NewSecret(made: NewToken, site: String) -> impl IntoView {
    let example = format!(
        "curl -H 'Authorization: Bearer {}' {site}/api/v1/me",
        made.secret
    );
    view! {
        <ShownOnce
            title=format!("Your new token “{}”", made.token.name)
            warning="Copy it now: it is not shown again."
            label="Token"
            id="token-secret"
            value=made.secret
            example
        />
    }
}

/// Name, scopes and expiry of a new token.
#[component]
fn NewTokenForm(create: ServerAction<CreateToken>, is_admin: bool) -> impl IntoView {
    let form = blank_after_success(create.value());
    view! {
        <ActionForm action=create node_ref=form attr:class="card token-form">
            <h2>"New token"</h2>
            <label for="token-name">"Name"</label>
            <input
                id="token-name"
                name="name"
                required
                maxlength=crate::validate::MAX_TOKEN_NAME_CHARS
                placeholder="Build notifications"
            />
            <fieldset class="token-scopes">
                <legend>"What it may do"</legend>
                <label>
                    <input type="checkbox" name="read" value="on" checked/>
                    " Read: rooms, history and search"
                </label>
                <label>
                    <input type="checkbox" name="write" value="on"/>
                    " Write: post, edit, delete and react as you"
                </label>
                {is_admin
                    .then(|| {
                        view! {
                            <label>
                                <input type="checkbox" name="admin" value="on"/>
                                " Admin: your powers as an instance admin"
                            </label>
                        }
                    })}
            </fieldset>
            <label for="token-days">"Expires"</label>
            <select id="token-days" name="days">
                {LASTS
                    .into_iter()
                    .map(|(days, label)| {
                        view! { <option value=days selected=days == 90>{label}</option> }
                    })
                    .collect_view()}
            </select>
            <button type="submit">"Create token"</button>
            {form_error(create.value())}
        </ActionForm>
    }
}

/// The caller's tokens, newest first, each with Revoke.
#[component]
fn TokenList(
    tokens: Vec<TokenRow>,
    now: i64,
    revoke: ServerAction<RevokeToken>,
    max: usize,
) -> impl IntoView {
    view! {
        <HeldList
            heading_id="tokens-heading"
            heading="Your tokens"
            empty="You have no tokens."
            count=tokens.len()
            max
            error=form_error(revoke.value()).into_any()
        >
            {tokens
                .into_iter()
                .map(|token| view! { <TokenLine token now revoke/> })
                .collect_view()}
        </HeldList>
    }
}

#[component]
fn TokenLine(token: TokenRow, now: i64, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    let scopes = token
        .scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let expired = token.expired(now);
    let expiry = match token.expires_at {
        None => view! { "never expires" }.into_any(),
        Some(at) if expired => {
            view! { <strong>"expired"</strong> " " <LocalTime ms=at/> }.into_any()
        }
        Some(at) => view! { "expires " <LocalTime ms=at/> }.into_any(),
    };
    let used = match token.last_used_at {
        None => view! { "never used" }.into_any(),
        Some(at) => view! { "last used " <LocalTime ms=at/> }.into_any(),
    };
    let admin = token.scopes.contains(&TokenScope::Admin);
    let label = format!("Revoke token {}", token.name);
    view! {
        <li class="token" class:expired=expired>
            <span>
                <strong class="token-name">{token.name.clone()}</strong>
                <span class="token-scopes-shown" class:admin=admin>{scopes}</span>
                <br/>
                <span class="muted">
                    "made " <LocalTime ms=token.created_at/> " · " {used} " · " {expiry}
                </span>
            </span>
            <ActionForm action=revoke>
                <input type="hidden" name="id" value=token.id.clone()/>
                <button type="submit" class="secondary small" aria-label=label>
                    "Revoke"
                </button>
            </ActionForm>
        </li>
    }
}
