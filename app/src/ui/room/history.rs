//! A timeline's history: paging back with "Load older", catching up on what changed while the
//! socket was away or was lost on its way (a hole in the revs), and marking what is on screen
//! as read. The room and the thread panel share it.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::messages::get_changes;
use crate::error::AppError;
use crate::model::{HistoryPage, Message, RoomId};
use crate::ui::live::{Live, RevCursor};

/// Paging back: where the next older page starts (the oldest seq shown, while older messages
/// exist), whether one is being fetched, and why the last try failed.
#[derive(Clone, Copy)]
pub(super) struct Older {
    cursor: RwSignal<Option<i64>>,
    loading: RwSignal<bool>,
    error: RwSignal<Option<AppError>>,
}

impl Older {
    /// After the first page.
    pub fn new(page: &HistoryPage) -> Self {
        Older {
            cursor: RwSignal::new(Self::start_of(page)),
            loading: RwSignal::new(false),
            error: RwSignal::new(None),
        }
    }

    fn start_of(page: &HistoryPage) -> Option<i64> {
        page.has_older
            .then(|| page.messages.first().map(|m| m.seq))
            .flatten()
    }

    /// Takes the older page `fetch` brings: its messages merged in, the cursor moved on.
    pub async fn load(
        self,
        merge: Callback<Message>,
        fetch: impl std::future::Future<Output = Result<HistoryPage, AppError>>,
    ) {
        // The room may be closed while the page is on its way: nothing is left to fill then.
        match fetch.await {
            Ok(page) => {
                if self.cursor.try_set(Self::start_of(&page)).is_some() {
                    return;
                }
                for message in page.messages {
                    merge.try_run(message);
                }
                self.error.try_set(None);
            }
            Err(e) => {
                self.error.try_set(Some(e));
            }
        }
        self.loading.try_set(false);
    }
}

/// "Load older" while older messages exist: a GET form with the cursor as `field` (and the
/// open `thread`), so it pages without JavaScript; with it, `fetch` gets the cursor instead.
#[component]
pub(super) fn OlderForm(
    older: Older,
    label: &'static str,
    field: &'static str,
    thread: Option<i64>,
    fetch: Callback<i64>,
) -> impl IntoView {
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(before) = older.cursor.get_untracked() else {
            return;
        };
        if !older.loading.get_untracked() {
            older.loading.set(true);
            fetch.run(before);
        }
    };
    view! {
        {move || {
            older
                .cursor
                .get()
                .map(|before| {
                    view! {
                        <form method="get" class="load-older" on:submit=on_submit>
                            {thread.map(|root| view! { <input type="hidden" name="thread" value=root/> })}
                            <input type="hidden" name=field value=before/>
                            <button type="submit" class="secondary" disabled=move || older.loading.get()>
                                {label}
                            </button>
                        </form>
                    }
                })
        }}
        {move || {
            older
                .error
                .get()
                .map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })
        }}
    }
    .into_any()
}

/// What is on screen while the tab is visible counts as read, here and on the user's other
/// devices: `mark` gets the newest seq shown whenever `messages` or the tab's visibility
/// change. Only the newest page is "on screen": reading old pages (`paged`) reads nothing new.
/// Returns the same check, for after a reconnect.
pub(super) fn read_while_visible(
    live: Live,
    paged: bool,
    messages: RwSignal<BTreeMap<i64, Message>>,
    mark: impl Fn(i64) + Copy + Send + Sync + 'static,
) -> impl Fn() + Copy + Send + Sync + 'static {
    let check = move || {
        if !paged && live.visible.get_untracked() {
            if let Some(seq) = messages.with_untracked(|all| all.keys().next_back().copied()) {
                mark(seq);
            }
        }
    };
    Effect::new(move |_| {
        messages.track();
        live.visible.track();
        check();
    });
    check
}

/// How long a hole in a room's revs may stay open before what is missing is fetched. Frames
/// for one room arrive in order on one socket, so a hole means a change was lost on its way
/// (a node that stopped between its commit and its publish, a publish that failed); waiting a
/// little lets a change still in flight between nodes arrive first.
const HOLE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// After a live change: if `revs` now has a hole, looks again in [`HOLE_WAIT`] and, if the
/// cursor is still below it, catches up, without waiting for a reconnect. One look at a time
/// per view (`waiting`), so a burst of changes past a hole costs one fetch.
pub(super) fn mend_hole(
    room_id: RoomId,
    revs: StoredValue<RevCursor>,
    merge: Callback<Message>,
    waiting: StoredValue<bool>,
) {
    let Some(Some(base)) = revs.try_with_value(RevCursor::hole) else {
        return;
    };
    if waiting.try_get_value() != Some(false) {
        return;
    }
    waiting.set_value(true);
    set_timeout(
        move || {
            if waiting.try_update_value(|w| *w = false).is_none() {
                return; // the view is gone
            }
            let open = revs.try_with_value(|c| c.hole().is_some_and(|at| at <= base));
            if open == Some(true) {
                spawn_local(catch_up(room_id, revs, merge));
            }
        },
        HOLE_WAIT,
    );
}

/// Fetches everything that changed in `room_id` after the cursor, page by page, and merges
/// it in. A failure leaves the cursor where it was: the next reconnect tries again.
pub(super) async fn catch_up(
    room_id: RoomId,
    revs: StoredValue<RevCursor>,
    merge: Callback<Message>,
) {
    const PAGE: u32 = crate::validate::HISTORY_PAGE_MAX;
    // The room (or thread) may be closed, or drawn again, while a page is on its way: what
    // it held is gone then, and so is the need to catch up.
    loop {
        let Some(after) = revs.try_get_value().map(|c| c.base()) else {
            return;
        };
        let Ok(found) = get_changes(room_id, after, Some(PAGE)).await else {
            return;
        };
        let last = found.messages.last().map(|m| m.rev);
        for message in found.messages {
            if merge.try_run(message).is_none() {
                return;
            }
        }
        if let Some(last) = last {
            if revs.try_update_value(|c| c.caught_up(last)).is_none() {
                return;
            }
        }
        if found.complete {
            return;
        }
    }
}

/// Puts `message` in `all` unless a newer state of it (a higher rev) is already there.
pub(super) fn keep_newest(all: &mut BTreeMap<i64, Message>, message: Message) {
    match all.get(&message.seq) {
        Some(held) if held.rev > message.rev => {}
        _ => {
            all.insert(message.seq, message);
        }
    }
}
