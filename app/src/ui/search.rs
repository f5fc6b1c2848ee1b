//! `/search?q=…`: message search. The form is a plain GET form, so the results page is an
//! ordinary server-rendered page with or without JavaScript, and every result links to its
//! message in its room (`/r/ROOM?at=SEQ`), which opens the room at that message.

use leptos::prelude::*;
use leptos_router::components::{Form, A};
use leptos_router::hooks::use_query_map;

use super::auth_page::page_error;
use super::local_time::LocalTime;
use super::session::Session;
use crate::api::messages::search_messages;
use crate::error::AppError;
use crate::model::{SearchHit, SearchResults};

/// What the search box says about the query language.
const HINT: &str = "Words, \"exact phrases\", prefix*, from:alice, in:general, \
                    before:2026-01-31, after:2026-01-01 (days in UTC)";

/// The search box, as the sidebar and the results page show it.
#[component]
pub fn SearchBox(#[prop(into)] value: String, id: &'static str) -> impl IntoView {
    view! {
        <Form method="GET" action="/search" attr:class="search-form" attr:role="search">
            <label for=id>"Search messages"</label>
            <div class="inline-field">
                <input
                    id=id
                    name="q"
                    type="search"
                    value=value
                    maxlength=crate::validate::MAX_SEARCH_CHARS
                    autocomplete="off"
                    title=HINT
                />
                <button type="submit">"Search"</button>
            </div>
        </Form>
    }
}

/// The results page.
#[component]
pub fn SearchPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let query = use_query_map();
    let text = move || query.read().get("q").unwrap_or_default();
    let page = move || query.read().get("page");
    let results = Resource::new(
        move || (text(), page(), session.changes()),
        |(text, page, _)| async move {
            if text.trim().is_empty() {
                return Ok(None);
            }
            search_messages(text, page).await.map(Some)
        },
    );
    view! {
        <leptos_meta::Title text="Search · Confab"/>
        <section class="panel search">
            <h1>"Search"</h1>
            {move || view! { <SearchBox value=text() id="search-page-q"/> }}
            <p class="muted hint">{HINT}</p>
            <Transition fallback=|| view! { <p class="loading">"Searching…"</p> }>
                {move || Suspend::new(async move {
                    match results.await {
                        Ok(None) => ().into_any(),
                        Ok(Some(found)) => view! { <Results found text=text()/> }.into_any(),
                        Err(AppError::BadRequest(why)) => {
                            view! { <p class="form-error" role="alert">{why}</p> }.into_any()
                        }
                        Err(error) => page_error(error),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Results(found: SearchResults, text: String) -> impl IntoView {
    if found.hits.is_empty() {
        return view! { <p class="muted empty" role="status">"No messages match."</p> }.into_any();
    }
    let older = found.next.map(|next| {
        let href = format!(
            "/search?q={}&page={}",
            super::query_component(&text),
            super::query_component(&next)
        );
        view! { <p class="more"><A href=href>"Older results"</A></p> }
    });
    view! {
        <ol class="search-results" aria-label="Results">
            {found.hits.into_iter().map(|hit| view! { <Hit hit/> }).collect_view()}
        </ol>
        {older}
    }
    .into_any()
}

/// One found message, as the room shows it, under the name of its room.
#[component]
fn Hit(hit: SearchHit) -> impl IntoView {
    let SearchHit {
        room_name,
        room_kind,
        message,
    } = hit;
    let prefix = room_kind.sigil();
    // A reply is found in its thread's panel; anything else in the room's timeline.
    let href = match message.thread {
        Some(root) => format!(
            "/r/{room}?thread={root}&at={seq}#m{seq}",
            room = message.room_id,
            seq = message.seq
        ),
        None => format!(
            "/r/{room}?at={seq}#m{seq}",
            room = message.room_id,
            seq = message.seq
        ),
    };
    let author = message.shown_author().to_owned();
    let text = if message.html.is_empty() {
        view! { <p class="body">{message.body}</p> }.into_any()
    } else {
        view! { <div class="body markdown" inner_html=message.html></div> }.into_any()
    };
    view! {
        <li class="card search-hit">
            <header>
                <A href=href attr:class="hit-room">{prefix}{room_name}</A>
                <span class="author">{author}</span>
                <LocalTime ms=message.created_at/>
            </header>
            {text}
        </li>
    }
}
