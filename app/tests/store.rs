//! The storage conformance suite: every rule the product relies on (ordering, paging,
//! idempotent posts, group commit, membership and privacy, unread state, sessions), written once
//! against `dyn Store` and run against every backend in `mod backends` below, each on a real
//! database. What only one backend has (SQLite's file and reopening it) is tested beside it.
#![cfg(feature = "ssr")]
#![expect(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use app::model::{RoomKind, User};
use app::store::sqlite::{Durability, SqliteStore};
use app::store::{
    ChangeKind, Changed, Found, HistoryQuery, MemberPage, MessageChange, NewMessage, NewReply,
    SearchFilter, Store, StoreError,
};

#[path = "support/postgres.rs"]
mod app_postgres;

/// Runs each named case (an `async fn(Arc<dyn Store>)` below) as its own test against one
/// backend, so a failure names both.
macro_rules! conformance {
    ($open:path => $($case:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let Some(backend) = $open().await else { return };
            super::$case(backend.store.clone()).await;
        }
    )*};
}

/// Every case, for each backend's `conformance!`.
macro_rules! every_case {
    ($open:path) => {
        conformance!($open =>
            fresh_database_has_general_and_first_user_is_admin,
            an_open_store_answers_a_ping_and_a_closed_one_does_not,
            usernames_are_unique_ignoring_case,
            seqs_are_gapless_and_history_pages_back_in_order,
            concurrent_posters_get_distinct_consecutive_seqs,
            a_retried_post_with_the_same_client_id_is_stored_once,
            dms_are_private_to_their_two_members,
            a_group_conversation_is_one_per_set_of_people_and_private_to_them,
            public_rooms_need_joining_before_reading_or_posting,
            sessions_expire_and_can_be_revoked,
            sessions_end_everywhere_and_expired_ones_are_purged,
            a_disabled_account_has_no_sessions_until_enabled,
            access_tokens_grant_their_scopes_until_revoked_expired_or_disabled,
            an_incoming_webhook_posts_as_its_own_bot_until_revoked,
            an_outgoing_webhook_is_found_for_its_room_until_revoked,
            the_console_lists_accounts_by_name_a_page_at_a_time,
            the_audit_log_keeps_every_line_newest_first,
            roles_decide_who_moderates_a_room,
            a_private_room_does_not_exist_for_outsiders,
            room_settings_change_by_role_and_each_is_a_timeline_event,
            a_read_only_room_takes_posts_from_moderators_and_replies_from_all,
            an_archived_room_leaves_the_sidebar_and_takes_no_posts,
            an_admin_deletes_a_room_with_everything_in_it_and_no_one_else_can,
            a_ban_removes_and_keeps_out_until_lifted,
            moderators_pin_and_pins_sync_by_rev,
            a_link_card_is_set_for_its_link_removed_by_its_author_and_cached_by_url,
            a_profile_changes_part_by_part_and_its_picture_is_kept_from_pruning,
            registration_follows_the_mode_and_an_invite_is_used_as_often_as_it_allows,
            an_invite_for_an_account_without_a_password_claims_it_once,
            text_is_stored_verbatim,
            unread_counts_follow_the_shared_read_position,
            unread_counts_stop_at_the_cap,
            members_are_listed_with_when_they_were_last_seen,
            members_are_read_a_page_at_a_time_in_name_order,
            crowded_rooms_are_those_of_more_members_than_asked,
            posts_sharing_a_commit_each_get_their_own_answer,
            edits_and_deletes_follow_who_may_change_what,
            a_tombstone_keeps_its_seq_and_loses_its_words,
            a_retried_change_with_the_same_client_id_is_done_once,
            changes_after_a_rev_are_exactly_what_changed,
            reactions_toggle_per_person_and_travel_with_the_message,
            mentions_are_counted_per_person_and_follow_edits_deletes_and_reads,
            at_room_counts_for_every_member_and_the_room_keeps_who_may_use_it,
            search_finds_only_what_the_searcher_may_read,
            search_follows_edits_deletes_and_membership,
            search_pages_newest_first_without_overlap,
            a_reply_stays_in_its_thread_and_its_root_counts_it,
            thread_replies_are_unread_for_followers_until_the_thread_is_read,
            files_travel_with_their_message_and_leave_with_its_deletion,
            push_subscriptions_belong_to_a_session_and_targets_carry_preferences,
        );
    };
}

/// The backends, each with the conformance cases run against it.
mod backends {
    use super::*;

    /// A store under test and what keeps its database alive.
    pub struct Backend {
        pub store: Arc<dyn Store>,
        _dir: Option<tempfile::TempDir>,
    }

    /// A new SQLite file in a nested folder that does not exist yet (the store creates it).
    pub async fn sqlite() -> Option<Backend> {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&sqlite_url(&dir), Durability::Full)
            .await
            .unwrap();
        Some(Backend {
            store: Arc::new(store),
            _dir: Some(dir),
        })
    }

    pub fn sqlite_url(dir: &tempfile::TempDir) -> String {
        format!("sqlite://{}", dir.path().join("nested/confab.db").display())
    }

    /// A fresh PostgreSQL store in a schema of its own, inside the database
    /// `CONFAB_TEST_POSTGRES_URL` names (`./dev.sh test` creates a throwaway one per run).
    /// Without that variable there is no PostgreSQL to test against, and the cases say so.
    pub async fn postgres() -> Option<Backend> {
        let Some(store) = app_postgres::fresh_store().await else {
            eprintln!("CONFAB_TEST_POSTGRES_URL is not set: PostgreSQL cases not run");
            return None;
        };
        Some(Backend {
            store: Arc::new(store),
            _dir: None,
        })
    }

    mod sqlite {
        every_case!(super::sqlite);
    }

    mod postgres {
        every_case!(super::postgres);
    }
}

/// PostgreSQL finds the people a message mentions through its one index on names,
/// `lower(username)`: filling the `mentions` table (a trigger, run inside the room's write lock)
/// reads no whole table of users.
#[tokio::test]
async fn postgres_finds_the_people_a_message_mentions_through_the_name_index() {
    use sqlx::Connection as _;
    let Some(url) = app_postgres::fresh_url().await else {
        return;
    };
    let store = app::store::postgres::PgStore::open(&url).await.unwrap();
    let alice = user(&store, "alice").await;
    let bob = user(&store, "Bob").await;
    let room = general_id(&store, &alice).await;
    let message = post(&store, &alice, room, "hello").await;

    let mut db = sqlx::postgres::PgConnection::connect(&url).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    // With sequential scans priced out, a scan of `users` means no index could serve the lookup.
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE messages SET mentions = $1 WHERE room_id = $2 AND seq = $3")
        .bind(r#"["Bob"]"#)
        .bind(room)
        .bind(message.seq)
        .execute(&mut *tx)
        .await
        .unwrap();
    let (mentioned,): (i64,) =
        sqlx::query_as("SELECT user_id FROM mentions WHERE room_id = $1 AND seq = $2")
            .bind(room)
            .bind(message.seq)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(mentioned, bob.id);
    let (seq_scans, index_scans): (i64, i64) = sqlx::query_as(
        "SELECT seq_scan, coalesce(idx_scan, 0) FROM pg_stat_xact_user_tables \
         WHERE relname = 'users' AND schemaname = current_schema()",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(seq_scans, 0, "the trigger read the whole users table");
    assert!(index_scans > 0, "the trigger looked no one up");
}

async fn a_link_card_is_set_for_its_link_removed_by_its_author_and_cached_by_url(
    store: Arc<dyn Store>,
) {
    use app::model::{LinkPreview, PreviewImage};
    let (_admin, bob, carol, room) = bobs_room_with_carol(&*store, "cards").await;
    let message = post(&*store, &carol, room, "see https://news.example/a").await;
    let card = LinkPreview {
        url: "https://news.example/a".into(),
        title: "Launch day".into(),
        description: Some("We shipped it.".into()),
        site: Some("News".into()),
        image: Some(PreviewImage {
            sha256: "ab".repeat(32),
            width: 320,
            height: 168,
        }),
    };
    let set = ChangeKind::Preview {
        preview: Some(&card),
    };
    // Shown at the room's next rev, and read back with history and catch-up.
    let shown = change(&*store, &carol, room, message.seq, None, set)
        .await
        .unwrap();
    assert!(shown.changed);
    assert_eq!(shown.message.preview.as_ref(), Some(&card));
    assert!(shown.message.rev > message.rev);
    let caught_up = store.changes(bob.id, room, message.rev, 10).await.unwrap();
    assert_eq!(caught_up.messages[0].preview.as_ref(), Some(&card));
    // Its thumbnail is kept from pruning.
    let sha = "ab".repeat(32);
    assert!(store.file_hashes_in_use().await.unwrap().contains(&sha));
    // Only the author removes it; an edit keeping the link keeps it, one changing it drops it.
    let remove = ChangeKind::Preview { preview: None };
    assert!(matches!(
        change(&*store, &bob, room, message.seq, None, remove).await,
        Err(StoreError::Forbidden(_))
    ));
    let edit = |body: &'static str| ChangeKind::Edit {
        body,
        html: "",
        mentions: &[],
    };
    let kept = change(
        &*store,
        &carol,
        room,
        message.seq,
        None,
        edit("see https://news.example/a !"),
    )
    .await
    .unwrap();
    assert_eq!(kept.message.preview.as_ref(), Some(&card));
    let removed = change(&*store, &carol, room, message.seq, None, remove)
        .await
        .unwrap();
    assert!(removed.changed);
    assert_eq!(removed.message.preview, None);
    assert!(!store.file_hashes_in_use().await.unwrap().contains(&sha));
    // A card fetched for a link the message no longer has is not shown.
    change(
        &*store,
        &carol,
        room,
        message.seq,
        None,
        edit("now https://other.example/"),
    )
    .await
    .unwrap();
    let late = change(&*store, &carol, room, message.seq, None, set)
        .await
        .unwrap();
    assert!(!late.changed);
    assert_eq!(late.message.preview, None);
    // The cache: what a URL gave, fresh or not, and "no card" kept as such.
    assert_eq!(
        store
            .cached_preview("https://news.example/a", 0)
            .await
            .unwrap(),
        None
    );
    store
        .keep_preview("https://news.example/a", Some(&card), 1_000, 0)
        .await
        .unwrap();
    store
        .keep_preview("https://plain.example/", None, 1_000, 0)
        .await
        .unwrap();
    assert_eq!(
        store
            .cached_preview("https://news.example/a", 500)
            .await
            .unwrap(),
        Some(Some(card.clone()))
    );
    assert_eq!(
        store
            .cached_preview("https://plain.example/", 500)
            .await
            .unwrap(),
        Some(None)
    );
    assert_eq!(
        store
            .cached_preview("https://news.example/a", 1_000)
            .await
            .unwrap(),
        None
    );
    // Keeping a newer answer forgets the stale ones.
    store
        .keep_preview("https://plain.example/", None, 5_000, 2_000)
        .await
        .unwrap();
    assert_eq!(
        store
            .cached_preview("https://news.example/a", 0)
            .await
            .unwrap(),
        None
    );
}

async fn user(store: &dyn Store, name: &str) -> User {
    store.create_user(name, "$argon2id$fake").await.unwrap()
}

async fn post(store: &dyn Store, author: &User, room: i64, body: &str) -> app::model::Message {
    try_post(store, author, room, body).await.unwrap()
}

/// Fires one post per (store, author) into `room` all at once; returns their seqs, sorted.
async fn post_at_once(
    posters: impl Iterator<Item = (Arc<dyn Store>, User)>,
    room: i64,
) -> Vec<i64> {
    let tasks: Vec<_> = posters
        .enumerate()
        .map(|(i, (store, author))| {
            tokio::spawn(async move { post(&*store, &author, room, &format!("m{i}")).await.seq })
        })
        .collect();
    let mut seqs = Vec::with_capacity(tasks.len());
    for task in tasks {
        seqs.push(task.await.unwrap());
    }
    seqs.sort_unstable();
    seqs
}

fn page(before: Option<i64>, after: Option<i64>, limit: u32) -> HistoryQuery {
    HistoryQuery {
        before,
        after,
        limit,
        ..HistoryQuery::default()
    }
}

async fn general_id(store: &dyn Store, user: &User) -> i64 {
    let sidebar = store.sidebar(user.id).await.unwrap();
    let general = sidebar.rooms.iter().find(|r| r.name == "general").unwrap();
    general.id
}

/// SQLite only: the file and its folder are created, and what was stored is there after the
/// store is closed and opened again.
#[tokio::test]
async fn a_sqlite_file_is_created_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let url = backends::sqlite_url(&dir);
    let store = SqliteStore::open(&url, Durability::Full).await.unwrap();
    assert!(
        dir.path().join("nested/confab.db").exists(),
        "database file created with its folder"
    );
    let alice = user(&store, "alice").await;
    let room = general_id(&store, &alice).await;
    post(&store, &alice, room, "kept").await;
    store.close().await;
    let reopened = SqliteStore::open(&url, Durability::Full)
        .await
        .expect("reopen");
    let page = reopened
        .history(alice.id, room, page(None, None, 10))
        .await
        .unwrap();
    assert_eq!(page.messages[0].body, "kept");
    assert_eq!(page.messages[0].author, "alice");
}

/// SQLite only: a search past its time limit is stopped inside SQLite (its progress handler),
/// answered with a request to narrow it, and leaves no deadline behind on the pooled
/// connections that later searches use. (PostgreSQL's `statement_timeout` counts whole
/// milliseconds, within which any search over a test's rows finishes.)
/// The SQL of `store/sql/` is written once with `$N` placeholders, which sqlx binds by number
/// on SQLite as on PostgreSQL: a `$2` before `$1`, and a `$1` used twice, take the right values.
#[tokio::test]
async fn sqlite_binds_dollar_placeholders_by_number() {
    let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
    let (a, b): (i64, i64) = sqlx::query_as("SELECT $2 - $1, $1 * $1")
        .bind(3_i64)
        .bind(10_i64)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((a, b), (7, 9));
}

#[tokio::test]
async fn a_sqlite_search_past_its_time_limit_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&backends::sqlite_url(&dir), Durability::Normal)
        .await
        .unwrap();
    let alice = user(&store, "alice").await;
    let room = general_id(&store, &alice).await;
    for i in 0..2_000 {
        post(&store, &alice, room, &format!("note {i}")).await;
    }
    // Filters alone, none of which match: the walk meets every message.
    let nothing_before_1970 = SearchFilter {
        before: Some(1),
        ..unfiltered(&[])
    };
    let stopped = SearchFilter {
        time_limit: std::time::Duration::ZERO,
        ..nothing_before_1970
    };
    match store.search(alice.id, &stopped).await {
        Err(StoreError::Invalid(why)) => assert!(why.contains("took too long"), "{why}"),
        other => panic!("{other:?}"),
    }
    // Every pooled reader afterwards searches without the old deadline.
    for _ in 0..12 {
        let found = store.search(alice.id, &nothing_before_1970).await.unwrap();
        assert!(found.messages.is_empty());
        let words = app::query::parse("note").unwrap();
        let found = store
            .search(alice.id, &unfiltered(&words.terms))
            .await
            .unwrap();
        assert_eq!(found.messages.len(), 20);
    }
}

async fn fresh_database_has_general_and_first_user_is_admin(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    assert!(alice.is_admin);
    assert!(!bob.is_admin);
    // Both were put in general.
    let rooms = store.public_rooms(bob.id).await.unwrap();
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0].room.name, "general");
    assert_eq!(rooms[0].member_count, 2);
    assert!(rooms[0].joined);
}

/// `/readyz` asks the store whether its database answers.
async fn an_open_store_answers_a_ping_and_a_closed_one_does_not(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    store.close().await;
    assert!(store.ping().await.is_err());
}

async fn usernames_are_unique_ignoring_case(store: Arc<dyn Store>) {
    user(&*store, "Alice").await;
    let err = store.create_user("aLICE", "x").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let found = store.user_by_name("ALICE").await.unwrap().unwrap();
    assert_eq!(found.username, "Alice");
    assert_eq!(store.user_by_id(found.id).await.unwrap(), Some(found));
    assert_eq!(store.user_by_id(9999).await.unwrap(), None);
}

async fn seqs_are_gapless_and_history_pages_back_in_order(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let room = general_id(&*store, &alice).await;
    for i in 1..=120 {
        let m = post(&*store, &alice, room, &format!("message {i}")).await;
        assert_eq!(m.seq, i);
    }
    let newest = store
        .history(alice.id, room, page(None, None, 50))
        .await
        .unwrap();
    let seqs: Vec<i64> = newest.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (71..=120).collect::<Vec<_>>());
    assert!(newest.has_older);
    assert_eq!(newest.messages[0].body, "message 71");

    let older = store
        .history(alice.id, room, page(Some(71), None, 50))
        .await
        .unwrap();
    assert_eq!(older.messages.first().unwrap().seq, 21);
    assert_eq!(older.messages.last().unwrap().seq, 70);
    assert!(older.has_older);

    let oldest = store
        .history(alice.id, room, page(Some(21), None, 50))
        .await
        .unwrap();
    assert_eq!(oldest.messages.len(), 20);
    assert!(!oldest.has_older);

    let catch_up = store
        .history(alice.id, room, page(None, Some(115), 50))
        .await
        .unwrap();
    let seqs: Vec<i64> = catch_up.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, vec![116, 117, 118, 119, 120]);
}

async fn concurrent_posters_get_distinct_consecutive_seqs(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let room = general_id(&*store, &alice).await;
    let posters = (0..40).map(|i| {
        let author = if i % 2 == 0 { &alice } else { &bob };
        (store.clone(), author.clone())
    });
    let seqs = post_at_once(posters, room).await;
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
}

async fn a_retried_post_with_the_same_client_id_is_stored_once(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let room = general_id(&*store, &alice).await;
    let send = |author: &User, body: &'static str, cid: &'static str| NewMessage {
        room_id: room,
        author_id: author.id,
        body,
        client_id: Some(cid),
        html: "",
        mentions: &[],
        files: &[],
        persona: None,
    };
    let first = store
        .post_message(send(&alice, "hello", "c-1"))
        .await
        .unwrap();
    let again = store
        .post_message(send(&alice, "hello", "c-1"))
        .await
        .unwrap();
    assert_eq!(first, again);
    // Another author may use the same client id: the key is (author, client id).
    let bobs = store.post_message(send(&bob, "hi", "c-1")).await.unwrap();
    assert_ne!(bobs.uid, first.uid);
    let all = store
        .history(alice.id, room, page(None, None, 100))
        .await
        .unwrap();
    assert_eq!(all.messages.len(), 2);
    assert_eq!(bobs.seq, 2, "the retry consumed no seq");

    // Reusing a client id in another room is refused, not silently answered.
    let other = store
        .create_room(alice.id, "other", None, false)
        .await
        .unwrap();
    let err = store
        .post_message(NewMessage {
            room_id: other.id,
            ..send(&alice, "hello", "c-1")
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

async fn dms_are_private_to_their_two_members(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let eve = user(&*store, "eve").await;
    let dm = store.open_dm(alice.id, &[alice.id, bob.id]).await.unwrap();
    assert_eq!(
        store.open_dm(bob.id, &[bob.id, alice.id]).await.unwrap(),
        dm,
        "one DM per pair"
    );
    post(&*store, &alice, dm, "secret").await;

    let bob_view = store.room_view(bob.id, dm).await.unwrap();
    assert_eq!(bob_view.room.kind, RoomKind::Dm);
    assert_eq!(bob_view.room.name, "alice");
    assert_eq!(store.sidebar(alice.id).await.unwrap().dms[0].name, "bob");

    for err in [
        store.room_view(eve.id, dm).await.unwrap_err(),
        store
            .history(eve.id, dm, page(None, None, 50))
            .await
            .unwrap_err(),
        store
            .post_message(NewMessage {
                room_id: dm,
                author_id: eve.id,
                body: "let me in",
                client_id: None,
                html: "",
                mentions: &[],
                files: &[],
                persona: None,
            })
            .await
            .unwrap_err(),
        store.join_room(eve.id, dm).await.unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    }
    assert!(store.sidebar(eve.id).await.unwrap().dms.is_empty());
    assert!(matches!(
        store.leave_room(alice.id, dm).await.unwrap_err(),
        StoreError::Invalid(_)
    ));
}

async fn a_group_conversation_is_one_per_set_of_people_and_private_to_them(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "Bob").await;
    let carol = user(&*store, "carol").await;
    let dave = user(&*store, "dave").await;
    let group = store
        .open_dm(alice.id, &[alice.id, carol.id, bob.id])
        .await
        .unwrap();
    assert_eq!(
        store
            .open_dm(carol.id, &[bob.id, carol.id, alice.id])
            .await
            .unwrap(),
        group,
        "the same three people have one conversation, whoever opens it"
    );
    let pair = store.open_dm(alice.id, &[alice.id, bob.id]).await.unwrap();
    let four = store
        .open_dm(dave.id, &[dave.id, alice.id, bob.id, carol.id])
        .await
        .unwrap();
    assert_ne!(pair, group, "a pair is not the group it is part of");
    assert_ne!(four, group, "adding someone makes another conversation");

    post(&*store, &bob, group, "plans for friday").await;
    // Each member sees it named by the others, in name order, ignoring case.
    for (viewer, name) in [
        (&alice, "Bob, carol"),
        (&bob, "alice, carol"),
        (&carol, "alice, Bob"),
    ] {
        let view = store.room_view(viewer.id, group).await.unwrap();
        assert_eq!(view.room.kind, RoomKind::Dm);
        assert_eq!(view.room.name, name, "as {}", viewer.username);
        assert_eq!(view.member_count, 3);
        let sidebar = store.sidebar(viewer.id).await.unwrap();
        let listed = sidebar.dms.iter().find(|d| d.id == group).unwrap();
        assert_eq!(listed.name, name);
        assert_eq!(listed.unread, u32::from(viewer.id != bob.id));
    }
    let names: Vec<_> = store
        .room_members(alice.id, group, MemberPage::ALL)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.username)
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");

    // Dave is in another conversation with all three, but not in this one.
    for err in [
        store.room_view(dave.id, group).await.unwrap_err(),
        store
            .history(dave.id, group, page(None, None, 50))
            .await
            .unwrap_err(),
        store.join_room(dave.id, group).await.unwrap_err(),
        store
            .room_members(dave.id, group, MemberPage::ALL)
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    }
    assert!(store
        .sidebar(dave.id)
        .await
        .unwrap()
        .dms
        .iter()
        .all(|d| d.id != group));
    assert!(matches!(
        store.leave_room(carol.id, group).await.unwrap_err(),
        StoreError::Invalid(_)
    ));
}

async fn public_rooms_need_joining_before_reading_or_posting(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let room = store
        .create_room(alice.id, "Rust", Some("crabs"), false)
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_room(bob.id, "rust", None, false)
            .await
            .unwrap_err(),
        StoreError::Conflict(_)
    ));
    let view = store.room_view(bob.id, room.id).await.unwrap();
    assert!(!view.is_member);
    assert!(matches!(
        store
            .history(bob.id, room.id, page(None, None, 50))
            .await
            .unwrap_err(),
        StoreError::Forbidden(_)
    ));
    store.join_room(bob.id, room.id).await.unwrap();
    store.join_room(bob.id, room.id).await.unwrap();
    post(&*store, &bob, room.id, "hi crabs").await;
    assert_eq!(
        store.room_view(bob.id, room.id).await.unwrap().member_count,
        2
    );
    store.leave_room(bob.id, room.id).await.unwrap();
    let err = store
        .post_message(NewMessage {
            room_id: room.id,
            author_id: bob.id,
            body: "still here?",
            client_id: None,
            html: "",
            mentions: &[],
            files: &[],
            persona: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Forbidden(_)), "{err:?}");
    assert!(matches!(
        store.room_view(bob.id, 9999).await.unwrap_err(),
        StoreError::NotFound(_)
    ));
}

async fn sessions_expire_and_can_be_revoked(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    store
        .create_session(b"live", alice.id, 2_000)
        .await
        .unwrap();
    assert_eq!(
        store
            .session_user(b"live", 1_000)
            .await
            .unwrap()
            .unwrap()
            .id,
        alice.id
    );
    assert!(store.session_user(b"live", 2_000).await.unwrap().is_none());
    store.delete_session(b"live").await.unwrap();
    assert!(store.session_user(b"live", 1_000).await.unwrap().is_none());
}

async fn sessions_end_everywhere_and_expired_ones_are_purged(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let far = i64::MAX / 2;
    for token in [&b"laptop"[..], b"phone"] {
        store.create_session(token, alice.id, far).await.unwrap();
    }
    store.create_session(b"bob", bob.id, far).await.unwrap();
    store.create_session(b"old", bob.id, 1_000).await.unwrap();

    assert_eq!(store.end_sessions(alice.id).await.unwrap(), 2);
    for token in [&b"laptop"[..], b"phone"] {
        assert!(store.session_user(token, 0).await.unwrap().is_none());
    }
    // Bob's live session is untouched; only his expired one is purged.
    assert_eq!(store.purge_expired_sessions(1_000).await.unwrap(), 1);
    assert_eq!(store.purge_expired_sessions(1_000).await.unwrap(), 0);
    let still = store.session_user(b"bob", 1_000).await.unwrap().unwrap();
    assert_eq!(still.id, bob.id);
    assert_eq!(store.end_sessions(alice.id).await.unwrap(), 0);
}

async fn a_disabled_account_has_no_sessions_until_enabled(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let far = i64::MAX / 2;
    store
        .create_session(b"before", alice.id, far)
        .await
        .unwrap();
    assert!(!store.is_disabled(alice.id).await.unwrap());

    let disabled = store.set_disabled("ALICE", Some(5)).await.unwrap();
    assert_eq!(disabled.id, alice.id);
    assert!(store.is_disabled(alice.id).await.unwrap());
    // Ended with the disabling, and a session made afterwards does not let anyone in either.
    store.create_session(b"after", alice.id, far).await.unwrap();
    for token in [&b"before"[..], b"after"] {
        assert!(store.session_user(token, 0).await.unwrap().is_none());
    }

    store.set_disabled("alice", None).await.unwrap();
    assert!(!store.is_disabled(alice.id).await.unwrap());
    assert!(store.session_user(b"before", 0).await.unwrap().is_none());
    assert_eq!(
        store.session_user(b"after", 0).await.unwrap().unwrap().id,
        alice.id
    );
    assert!(matches!(
        store.set_disabled("nobody", Some(1)).await.unwrap_err(),
        StoreError::NotFound(_)
    ));
}

async fn an_incoming_webhook_posts_as_its_own_bot_until_revoked(store: Arc<dyn Store>) {
    use app::store::NewIncomingWebhook;
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let room = store
        .create_room(alice.id, "builds", None, false)
        .await
        .unwrap()
        .id;
    store.join_room(bob.id, room).await.unwrap();
    let new = |actor, hash: &'static [u8], name: &'static str| NewIncomingWebhook {
        actor,
        room_id: room,
        hash,
        name,
        max_per_room: 2,
    };
    // A member who does not moderate the room may not make one, nor see the list.
    assert!(matches!(
        store.create_webhook(new(bob.id, b"h0", "sneaky")).await,
        Err(StoreError::Forbidden(_))
    ));
    assert!(matches!(
        store.webhooks(bob.id, room).await,
        Err(StoreError::Forbidden(_))
    ));
    assert_eq!(
        store.user_by_name("sneaky").await.unwrap(),
        None,
        "no bot was left behind"
    );
    let ci = store
        .create_webhook(new(alice.id, b"h1", "ci-bot"))
        .await
        .unwrap();
    assert_eq!(ci.id, app::model::hash_id(b"h1"));
    assert_eq!(ci.created_by.as_deref(), Some("alice"));
    // Its bot is an account with no password that is in the room, marked as a bot.
    let (bot, password) = store.credentials("ci-bot").await.unwrap().unwrap();
    assert_eq!(password, None, "a bot cannot log in");
    assert!(!bot.is_admin);
    let members = store
        .room_members(alice.id, room, MemberPage::ALL)
        .await
        .unwrap();
    let listed = members.iter().find(|m| m.username == "ci-bot").unwrap();
    assert!(listed.bot);
    assert!(members
        .iter()
        .filter(|m| m.username != "ci-bot")
        .all(|m| !m.bot));
    // A name anyone has (ignoring case) is refused, and so is a third hook.
    assert!(matches!(
        store.create_webhook(new(alice.id, b"h2", "BOB")).await,
        Err(StoreError::Conflict(_))
    ));
    store
        .create_webhook(new(alice.id, b"h3", "monitor"))
        .await
        .unwrap();
    assert!(matches!(
        store.create_webhook(new(alice.id, b"h4", "third")).await,
        Err(StoreError::Conflict(_))
    ));
    let names: Vec<String> = store
        .webhooks(alice.id, room)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.name)
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"ci-bot".to_owned()) && names.contains(&"monitor".to_owned()));
    // The secret's hash grants posting into the room as the bot, and notes the use.
    let grant = store.webhook(b"h1", 10_000).await.unwrap().unwrap();
    assert_eq!((grant.room_id, grant.bot.id), (room, bot.id));
    assert_eq!(store.webhook(b"nope", 10_000).await.unwrap(), None);
    let said = post(&*store, &grant.bot, room, "build passed").await;
    assert!(said.author_bot, "the message marks its author a bot");
    let page = store
        .history(alice.id, room, page(None, None, 10))
        .await
        .unwrap();
    let read = page.messages.iter().find(|m| m.seq == said.seq).unwrap();
    assert!(read.author_bot && read.author == "ci-bot");
    let human = post(&*store, &bob, room, "thanks").await;
    assert!(!human.author_bot);
    let listed = store.webhooks(alice.id, room).await.unwrap();
    let used = listed.iter().find(|h| h.name == "ci-bot").unwrap();
    assert_eq!(used.last_used_at, Some(10_000));
    // Revoked, the URL grants nothing; the bot stays as the author of what it said.
    assert!(!store
        .revoke_webhook(bob.id, room, &ci.id)
        .await
        .is_ok_and(|r| r));
    assert!(store.revoke_webhook(alice.id, room, &ci.id).await.unwrap());
    assert!(!store.revoke_webhook(alice.id, room, &ci.id).await.unwrap());
    assert_eq!(store.webhook(b"h1", 20_000).await.unwrap(), None);
    assert!(store.user_by_name("ci-bot").await.unwrap().is_some());
    // An admin's bot, for tokens: no password, its name taken like anyone's.
    let deploy = store.create_bot("deployer").await.unwrap();
    assert_eq!(
        store.credentials("deployer").await.unwrap(),
        Some((deploy, None))
    );
    assert!(matches!(
        store.create_bot("CI-BOT").await,
        Err(StoreError::Conflict(_))
    ));
}

async fn an_outgoing_webhook_is_found_for_its_room_until_revoked(store: Arc<dyn Store>) {
    use app::store::NewOutgoingHook;
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let room = store
        .create_room(alice.id, "ops", None, false)
        .await
        .unwrap()
        .id;
    let other = store
        .create_room(alice.id, "elsewhere", None, false)
        .await
        .unwrap()
        .id;
    store.join_room(bob.id, room).await.unwrap();
    let triggers = vec!["deploy".to_owned(), "/ship".to_owned()];
    let new = |actor, id: &'static str, name: &'static str| NewOutgoingHook {
        actor,
        room_id: room,
        id,
        name,
        url: "https://bots.example/confab",
        triggers: &triggers,
        secret: "whs_secret",
        max_per_room: 2,
    };
    // Only the room's moderators make, list or revoke them; a refused one leaves no bot.
    assert!(matches!(
        store
            .create_outgoing_webhook(new(bob.id, "00000000000000aa", "sneaky"))
            .await,
        Err(StoreError::Forbidden(_))
    ));
    assert!(matches!(
        store.outgoing_webhooks(bob.id, room).await,
        Err(StoreError::Forbidden(_))
    ));
    assert_eq!(store.user_by_name("sneaky").await.unwrap(), None);
    let made = store
        .create_outgoing_webhook(new(alice.id, "00000000000000a1", "deploy-bot"))
        .await
        .unwrap();
    assert_eq!(made.triggers, triggers);
    assert_eq!(made.created_by.as_deref(), Some("alice"));
    let members = store
        .room_members(alice.id, room, MemberPage::ALL)
        .await
        .unwrap();
    assert!(members.iter().any(|m| m.username == "deploy-bot" && m.bot));
    // What a delivery needs: the URL, the secret, the bot and the room's name; other rooms
    // have none.
    let hooks = store.room_outgoing_hooks(room).await.unwrap();
    assert_eq!(hooks.len(), 1);
    let hook = &hooks[0];
    assert_eq!(
        (
            hook.id.as_str(),
            hook.room_name.as_str(),
            hook.url.as_str(),
            hook.secret.as_str()
        ),
        (
            "00000000000000a1",
            "ops",
            "https://bots.example/confab",
            "whs_secret"
        )
    );
    assert_eq!(hook.bot.username, "deploy-bot");
    assert_eq!(hook.triggers, triggers);
    assert!(store.room_outgoing_hooks(other).await.unwrap().is_empty());
    // A taken name and a hook past the room's cap are refused.
    assert!(matches!(
        store
            .create_outgoing_webhook(new(alice.id, "00000000000000a2", "Bob"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    store
        .create_outgoing_webhook(new(alice.id, "00000000000000a3", "status-bot"))
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_outgoing_webhook(new(alice.id, "00000000000000a4", "third"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    // Trigger words with a `/` are the room's own commands, listed for its members.
    let command = |bot: &str| app::model::RoomCommand {
        name: "ship".into(),
        bot: bot.into(),
    };
    let view = store.room_view(bob.id, room).await.unwrap();
    assert_eq!(
        view.commands,
        vec![command("deploy-bot"), command("status-bot")]
    );
    assert!(store
        .room_view(bob.id, other)
        .await
        .unwrap()
        .commands
        .is_empty());
    // A delivery's outcome shows in the list.
    store
        .note_outgoing_delivery("00000000000000a1", "answered 500", 42_000)
        .await
        .unwrap();
    let listed = store.outgoing_webhooks(alice.id, room).await.unwrap();
    let noted = listed.iter().find(|h| h.id == "00000000000000a1").unwrap();
    assert_eq!(
        (noted.last_used_at, noted.last_status.as_deref()),
        (Some(42_000), Some("answered 500"))
    );
    // A disabled bot's hook is not called.
    store.set_disabled("status-bot", Some(1)).await.unwrap();
    assert_eq!(store.room_outgoing_hooks(room).await.unwrap().len(), 1);
    assert_eq!(
        store.room_view(alice.id, room).await.unwrap().commands,
        vec![command("deploy-bot")]
    );
    // Revoked, it is gone; only a moderator revokes, and only once.
    assert!(!store
        .revoke_outgoing_webhook(bob.id, room, "00000000000000a1")
        .await
        .is_ok_and(|r| r));
    assert!(store
        .revoke_outgoing_webhook(alice.id, room, "00000000000000a1")
        .await
        .unwrap());
    assert!(!store
        .revoke_outgoing_webhook(alice.id, room, "00000000000000a1")
        .await
        .unwrap());
    assert!(store.room_outgoing_hooks(room).await.unwrap().is_empty());
}

async fn access_tokens_grant_their_scopes_until_revoked_expired_or_disabled(store: Arc<dyn Store>) {
    use app::model::TokenScope::{Admin, Read, Write};
    use app::store::NewAccessToken;
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let new = |user_id, hash: &'static [u8], name: &'static str, expires_at| NewAccessToken {
        user_id,
        hash,
        name,
        scopes: &[Read, Write],
        expires_at,
        max_per_user: 3,
    };
    let ci = store
        .create_token(new(alice.id, b"ci-secret", "ci", None))
        .await
        .unwrap();
    assert_eq!(ci.id, app::model::hash_id(b"ci-secret"));
    assert_eq!(ci.scopes, vec![Read, Write]);
    assert_eq!(ci.last_used_at, None);
    let admin_scoped = NewAccessToken {
        scopes: &[Read, Admin],
        ..new(alice.id, b"short-secret", "short", Some(5_000))
    };
    store.create_token(admin_scoped).await.unwrap();
    // One name once per owner; another owner may use it.
    assert!(matches!(
        store
            .create_token(new(alice.id, b"other", "ci", None))
            .await
            .unwrap_err(),
        StoreError::Conflict(_)
    ));
    store
        .create_token(new(bob.id, b"bob-secret", "ci", None))
        .await
        .unwrap();
    // At most `max_per_user`.
    store
        .create_token(new(alice.id, b"third", "third", None))
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_token(new(alice.id, b"fourth", "fourth", None))
            .await
            .unwrap_err(),
        StoreError::Conflict(_)
    ));

    let listed = store.tokens(alice.id).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names.len(), 3);
    assert!(names.contains(&"ci") && names.contains(&"short") && names.contains(&"third"));
    assert_eq!(store.tokens(bob.id).await.unwrap().len(), 1);

    // A use lets the owner in with the token's scopes, and is noted.
    let grant = store
        .token_user(b"ci-secret", 1_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(grant.user.id, alice.id);
    assert_eq!(grant.scopes, vec![Read, Write]);
    assert_eq!(grant.token_id, ci.id);
    let noted = |tokens: Vec<app::model::TokenRow>| {
        tokens
            .into_iter()
            .find(|t| t.name == "ci")
            .unwrap()
            .last_used_at
    };
    assert_eq!(noted(store.tokens(alice.id).await.unwrap()), Some(1_000));
    // Within a minute, not written again; after it, written.
    store
        .token_user(b"ci-secret", 30_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(noted(store.tokens(alice.id).await.unwrap()), Some(1_000));
    store
        .token_user(b"ci-secret", 61_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(noted(store.tokens(alice.id).await.unwrap()), Some(61_000));

    // Expiry.
    let short = store
        .token_user(b"short-secret", 4_999)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(short.scopes, vec![Read, Admin]);
    assert!(store
        .token_user(b"short-secret", 5_000)
        .await
        .unwrap()
        .is_none());
    assert!(store.token_user(b"never-made", 0).await.unwrap().is_none());

    // Revoking: only by its owner, at once.
    assert!(!store.revoke_token(bob.id, &ci.id).await.unwrap());
    assert!(store.revoke_token(alice.id, &ci.id).await.unwrap());
    assert!(!store.revoke_token(alice.id, &ci.id).await.unwrap());
    assert!(store
        .token_user(b"ci-secret", 1_000)
        .await
        .unwrap()
        .is_none());

    // A disabled owner's tokens let no one in until enabled again.
    store.set_disabled("bob", Some(5)).await.unwrap();
    assert!(store.token_user(b"bob-secret", 0).await.unwrap().is_none());
    store.set_disabled("bob", None).await.unwrap();
    assert!(store.token_user(b"bob-secret", 0).await.unwrap().is_some());
}

async fn the_console_lists_accounts_by_name_a_page_at_a_time(store: Arc<dyn Store>) {
    let names = ["alice", "Bob", "carol", "dave_x", "Eve%"];
    for name in names {
        user(&*store, name).await;
    }
    let bob = store.user_by_name("bob").await.unwrap().unwrap();
    // Sessions count while unexpired at the time asked about: two of bob's three.
    let now = app::timestamp::now_ms() + 60_000;
    store
        .create_session(b"live", bob.id, now + 10)
        .await
        .unwrap();
    store
        .create_session(b"live2", bob.id, now + 10)
        .await
        .unwrap();
    store
        .create_session(b"gone", bob.id, now - 10)
        .await
        .unwrap();
    store.set_disabled("carol", Some(now)).await.unwrap();
    let listed = |rows: Vec<app::model::AccountRow>| -> Vec<String> {
        rows.into_iter().map(|a| a.username).collect()
    };

    // In name order ignoring case, a page at a time.
    let first = store.accounts("", None, 2, now).await.unwrap();
    assert_eq!(listed(first.clone()), ["alice", "Bob"]);
    assert!(first[0].is_admin, "the first account is the admin");
    assert_eq!((first[1].sessions, first[1].disabled), (2, false));
    let next = store.accounts("", Some("Bob"), 2, now).await.unwrap();
    assert_eq!(listed(next.clone()), ["carol", "dave_x"]);
    assert!(next[0].disabled);
    assert_eq!(next[0].sessions, 0);
    let last = store.accounts("", Some("dave_x"), 2, now).await.unwrap();
    assert_eq!(listed(last), ["Eve%"]);

    // A search matches anywhere in the name, ignoring case; `%` and `_` are themselves.
    assert_eq!(
        listed(store.accounts("O", None, 10, now).await.unwrap()),
        ["Bob", "carol"]
    );
    assert_eq!(
        listed(store.accounts("%", None, 10, now).await.unwrap()),
        ["Eve%"]
    );
    assert_eq!(
        listed(store.accounts("_", None, 10, now).await.unwrap()),
        ["dave_x"]
    );
    assert!(store
        .accounts("zed", None, 10, now)
        .await
        .unwrap()
        .is_empty());

    let figures = store.figures().await.unwrap();
    assert_eq!((figures.users, figures.rooms, figures.dms), (5, 1, 0));
    let alice = store.user_by_name("alice").await.unwrap().unwrap();
    let general = general_id(&*store, &alice).await;
    post(&*store, &alice, general, "one").await;
    store.open_dm(alice.id, &[alice.id, bob.id]).await.unwrap();
    let figures = store.figures().await.unwrap();
    assert_eq!((figures.dms, figures.messages), (1, 1));
    assert!(figures.database_bytes > 0);
}

async fn the_audit_log_keeps_every_line_newest_first(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    assert!(store.audit_log(None, 10).await.unwrap().is_empty());
    for n in 1..=5 {
        let target = format!("user{n}");
        let actor_id = (n % 2 == 1).then_some(alice.id);
        let actor = if actor_id.is_some() {
            "alice"
        } else {
            "(command line)"
        };
        store
            .record_audit(&app::store::NewAudit {
                at: n,
                actor_id,
                actor,
                action: "disable",
                target: &target,
                detail: "",
                origin: "192.0.2.7",
            })
            .await
            .unwrap();
    }
    let newest = store.audit_log(None, 2).await.unwrap();
    let targets = |lines: &[app::model::AuditEntry]| -> Vec<String> {
        lines.iter().map(|l| l.target.clone()).collect()
    };
    assert_eq!(targets(&newest), ["user5", "user4"]);
    assert_eq!(
        (
            newest[0].at,
            newest[0].actor.as_str(),
            newest[0].origin.as_str()
        ),
        (5, "alice", "192.0.2.7")
    );
    assert_eq!(newest[1].actor, "(command line)");
    let older = store.audit_log(Some(newest[1].id), 10).await.unwrap();
    assert_eq!(targets(&older), ["user3", "user2", "user1"]);
}

async fn roles_decide_who_moderates_a_room(store: Arc<dyn Store>) {
    use app::model::Role;
    use app::rights::{Action, Standing};
    let admin = user(&*store, "alice").await; // the first account
    let bob = user(&*store, "bob").await;
    let carol = user(&*store, "carol").await;
    let dave = user(&*store, "dave").await;
    let room = store
        .create_room(bob.id, "bobs", None, false)
        .await
        .unwrap()
        .id;
    for who in [carol.id, dave.id] {
        store.join_room(who, room).await.unwrap();
    }
    let view = |who: i64| {
        let store = store.clone();
        async move { store.room_view(who, room).await.unwrap() }
    };
    assert_eq!(
        view(bob.id).await.role,
        Some(Role::Owner),
        "the creator owns it"
    );
    assert_eq!(view(carol.id).await.role, Some(Role::Member));
    assert!(Standing::of(&view(admin.id).await).may(Action::Remove(Role::Owner)));
    // A member can neither remove nor promote; nothing changes.
    assert!(matches!(
        store.remove_member(carol.id, room, dave.id).await,
        Err(StoreError::Forbidden(_))
    ));
    assert!(matches!(
        store.set_role(carol.id, room, carol.id, Role::Owner).await,
        Err(StoreError::Forbidden(_))
    ));
    assert_eq!(view(carol.id).await.role, Some(Role::Member));
    // The owner makes carol a moderator: she removes a member, but not the owner.
    store
        .set_role(bob.id, room, carol.id, Role::Moderator)
        .await
        .unwrap();
    let members = store
        .room_members(bob.id, room, MemberPage::ALL)
        .await
        .unwrap();
    let role_of = |name: &str| members.iter().find(|m| m.username == name).map(|m| m.role);
    assert_eq!(role_of("carol"), Some(Role::Moderator));
    assert_eq!(role_of("bob"), Some(Role::Owner));
    assert!(matches!(
        store.remove_member(carol.id, room, bob.id).await,
        Err(StoreError::Forbidden(_))
    ));
    store.remove_member(carol.id, room, dave.id).await.unwrap();
    assert!(!view(dave.id).await.is_member);
    // A room keeps an owner: the only one can be neither demoted nor leave others behind.
    assert!(matches!(
        store.set_role(bob.id, room, bob.id, Role::Member).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.leave_room(bob.id, room).await,
        Err(StoreError::Invalid(_))
    ));
    store
        .set_role(bob.id, room, carol.id, Role::Owner)
        .await
        .unwrap();
    store.leave_room(bob.id, room).await.unwrap();
    // An admin, not even a member, acts as an owner in a public room.
    store
        .set_role(admin.id, room, carol.id, Role::Member)
        .await
        .unwrap_err();
    store.join_room(bob.id, room).await.unwrap();
    store
        .set_role(admin.id, room, bob.id, Role::Owner)
        .await
        .unwrap();
    store
        .set_role(admin.id, room, carol.id, Role::Member)
        .await
        .unwrap();
    assert_eq!(view(carol.id).await.role, Some(Role::Member));
    // A DM has no moderators.
    let dm = store.open_dm(bob.id, &[bob.id, carol.id]).await.unwrap();
    assert!(store.remove_member(bob.id, dm, carol.id).await.is_err());
    assert!(store
        .set_role(bob.id, dm, carol.id, Role::Owner)
        .await
        .is_err());
    assert!(store.room_view(carol.id, dm).await.unwrap().is_member);
}

async fn a_private_room_does_not_exist_for_outsiders(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await; // the first account: an admin
    let bob = user(&*store, "bob").await;
    let carol = user(&*store, "carol").await;
    let secret = store
        .create_room(bob.id, "secret", Some("plans"), true)
        .await
        .unwrap();
    assert_eq!(secret.kind, RoomKind::Private);
    let room = secret.id;
    let said = post(&*store, &bob, room, "the plan").await;
    // Not listed, and every way in answers as for a room that does not exist, admins included.
    let missing = room + 1000;
    for outsider in [carol.id, alice.id] {
        let listed = store.public_rooms(outsider).await.unwrap();
        assert!(listed.iter().all(|l| l.room.id != room), "{listed:?}");
        for id in [room, missing] {
            let same = |r: Result<(), StoreError>| match r {
                Err(StoreError::NotFound(m)) => m,
                other => panic!("{id}: {other:?}"),
            };
            let a = same(store.room_view(outsider, id).await.map(drop));
            assert_eq!(a, same(store.join_room(outsider, id).await));
            assert_eq!(
                a,
                same(
                    store
                        .room_members(outsider, id, MemberPage::ALL)
                        .await
                        .map(drop)
                )
            );
            assert_eq!(
                a,
                same(store.message(outsider, id, said.seq).await.map(drop))
            );
            assert_eq!(a, same(store.changes(outsider, id, 0, 10).await.map(drop)));
            assert_eq!(
                a,
                same(store.add_member(outsider, id, outsider).await.map(drop))
            );
        }
        let posted = store
            .post_message(NewMessage {
                room_id: room,
                author_id: outsider,
                body: "let me in",
                client_id: None,
                html: "",
                mentions: &[],
                files: &[],
                persona: None,
            })
            .await;
        assert!(matches!(posted, Err(StoreError::NotFound(_))), "{posted:?}");
        let sidebar = store.sidebar(outsider).await.unwrap();
        assert!(sidebar.rooms.iter().all(|r| r.id != room));
    }
    // A member adds carol: now it is hers to see, in her sidebar, with what was said.
    assert!(store.add_member(bob.id, room, carol.id).await.unwrap());
    assert!(
        !store.add_member(bob.id, room, carol.id).await.unwrap(),
        "once"
    );
    let sidebar = store.sidebar(carol.id).await.unwrap();
    let listed = sidebar.rooms.iter().find(|r| r.id == room).unwrap();
    assert_eq!(listed.kind, RoomKind::Private);
    assert_eq!(listed.unread, 0, "what came before is history, not unread");
    assert_eq!(
        store.message(carol.id, room, said.seq).await.unwrap().body,
        "the plan"
    );
    // Once she leaves, it is gone for her again.
    store.leave_room(carol.id, room).await.unwrap();
    assert!(matches!(
        store.room_view(carol.id, room).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn an_admin_deletes_a_room_with_everything_in_it_and_no_one_else_can(store: Arc<dyn Store>) {
    let (alice, bob, carol, room) = bobs_room_with_carol(&*store, "doomed").await;
    let root = post(&*store, &bob, room, "plans for @carol, doomedword").await;
    let no_mentions: [String; 0] = [];
    reply(
        &*store,
        &carol,
        (room, root.seq),
        "a doomedword reply",
        None,
        false,
        &no_mentions,
    )
    .await
    .unwrap();
    let dm = store.open_dm(bob.id, &[bob.id, carol.id]).await.unwrap();
    assert_eq!(found(&*store, &carol, "doomedword").await.len(), 2);

    // Its owner and its members cannot: they archive it.
    for who in [&bob, &carol] {
        match store.delete_room(who.id, room).await {
            Err(StoreError::Forbidden(why)) => assert!(why.contains("archive"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
    // A conversation is no one's to delete, not even an admin in it.
    let admins_dm = store.open_dm(alice.id, &[alice.id, bob.id]).await.unwrap();
    assert!(store.delete_room(alice.id, admins_dm).await.is_err());
    // A private room the admin is not in does not exist for them.
    let private = store
        .create_room(bob.id, "hidden", None, true)
        .await
        .unwrap()
        .id;
    assert!(matches!(
        store.delete_room(alice.id, private).await,
        Err(StoreError::NotFound(_))
    ));

    let (name, members) = store.delete_room(alice.id, room).await.unwrap();
    assert_eq!(name, "doomed");
    let mut expected = vec![bob.id, carol.id];
    expected.sort_unstable();
    assert_eq!(members, expected);
    assert!(matches!(
        store.room_view(bob.id, room).await,
        Err(StoreError::NotFound(_))
    ));
    let sidebar = store.sidebar(carol.id).await.unwrap();
    assert!(sidebar.rooms.iter().all(|r| r.id != room), "{sidebar:?}");
    assert!(found(&*store, &carol, "doomedword").await.is_empty());
    assert!(store.changes(carol.id, room, 0, 100).await.is_err());
    // Nothing else went with it, and its name is free again.
    assert_eq!(store.room_view(carol.id, dm).await.unwrap().room.id, dm);
    let again = store
        .create_room(carol.id, "Doomed", None, false)
        .await
        .unwrap();
    assert_ne!(again.id, room);
    assert_eq!(
        store
            .room_view(carol.id, again.id)
            .await
            .unwrap()
            .room
            .last_seq,
        0
    );
    assert!(matches!(
        store.delete_room(alice.id, room).await,
        Err(StoreError::NotFound(_))
    ));
}

/// alice (the first account, an admin), bob, carol, and bob's new public room `name`, which
/// carol has joined.
async fn bobs_room_with_carol(store: &dyn Store, name: &str) -> (User, User, User, i64) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let room = store
        .create_room(bob.id, name, None, false)
        .await
        .unwrap()
        .id;
    store.join_room(carol.id, room).await.unwrap();
    (alice, bob, carol, room)
}

/// `actor` changes a setting of `room`, which the store records as a timeline event.
async fn configure(
    store: &dyn Store,
    actor: i64,
    room: i64,
    change: &app::model::RoomEvent,
) -> app::model::Message {
    store
        .configure_room(actor, room, change)
        .await
        .unwrap()
        .expect("a change is recorded")
}

/// A message of `room` by `author` with no client id, and what the store answered.
async fn try_post(
    store: &dyn Store,
    author: &User,
    room: i64,
    body: &str,
) -> Result<app::model::Message, StoreError> {
    store
        .post_message(NewMessage {
            room_id: room,
            author_id: author.id,
            body,
            client_id: None,
            html: "",
            mentions: &[],
            files: &[],
            persona: None,
        })
        .await
}

async fn room_settings_change_by_role_and_each_is_a_timeline_event(store: Arc<dyn Store>) {
    use app::model::{Role, RoomEvent};
    let (alice, bob, carol, room) = bobs_room_with_carol(&*store, "team").await;
    let said = post(&*store, &bob, room, "hello").await;
    let topic = RoomEvent::Topic {
        topic: Some("Launch day".into()),
    };
    // A member changes nothing, and nothing is recorded.
    assert!(matches!(
        store.configure_room(carol.id, room, &topic).await,
        Err(StoreError::Forbidden(_))
    ));
    assert_eq!(
        store.room_view(bob.id, room).await.unwrap().room.last_seq,
        said.seq
    );
    // A moderator sets the topic: the room has it, and its timeline says so at the next seq
    // and rev, which is how every device catches up.
    store
        .set_role(bob.id, room, carol.id, Role::Moderator)
        .await
        .unwrap();
    let event = configure(&*store, carol.id, room, &topic).await;
    assert_eq!((event.seq, event.author.as_str()), (said.seq + 1, "carol"));
    assert_eq!(event.event, Some(topic.clone()));
    assert!(event.body.is_empty() && event.rev > said.rev);
    let view = store.room_view(bob.id, room).await.unwrap();
    assert_eq!(view.room.topic.as_deref(), Some("Launch day"));
    let caught_up = store.changes(bob.id, room, said.rev, 10).await.unwrap();
    assert_eq!(caught_up.messages, vec![event.clone()]);
    // The same again changes nothing and records nothing.
    assert_eq!(
        store.configure_room(carol.id, room, &topic).await.unwrap(),
        None
    );
    // A rename and a description; a name another room has is refused.
    store
        .create_room(bob.id, "other", None, false)
        .await
        .unwrap();
    let taken = RoomEvent::Renamed {
        name: "OTHER".into(),
    };
    assert!(matches!(
        store.configure_room(carol.id, room, &taken).await,
        Err(StoreError::Conflict(_))
    ));
    let renamed = RoomEvent::Renamed {
        name: "launch".into(),
    };
    configure(&*store, carol.id, room, &renamed).await;
    let about = RoomEvent::Description {
        description: Some("Where we ship.\nBe kind.".into()),
    };
    configure(&*store, carol.id, room, &about).await;
    let view = store.room_view(bob.id, room).await.unwrap();
    assert_eq!(view.room.name, "launch");
    assert_eq!(
        view.settings.description.as_deref(),
        Some("Where we ship.\nBe kind.")
    );
    // Privacy is the owner's: the moderator is refused, the owner (and an admin) may.
    let private = RoomEvent::Privacy { private: true };
    assert!(matches!(
        store.configure_room(carol.id, room, &private).await,
        Err(StoreError::Forbidden(_))
    ));
    configure(&*store, bob.id, room, &private).await;
    assert!(store
        .public_rooms(alice.id)
        .await
        .unwrap()
        .iter()
        .all(|l| l.room.id != room));
    assert!(
        matches!(
            store.room_view(alice.id, room).await,
            Err(StoreError::NotFound(_)),
        ),
        "a private room is hidden from an admin outside it"
    );
    let public = RoomEvent::Privacy { private: false };
    configure(&*store, bob.id, room, &public).await;
    let unrelated = RoomEvent::ReadOnly { read_only: true };
    configure(&*store, alice.id, room, &unrelated).await;
    // Events are not unread, and no one edits, reacts to or replies to one.
    let sidebar = store.sidebar(bob.id).await.unwrap();
    let listed = sidebar.rooms.iter().find(|r| r.id == room).unwrap();
    assert_eq!(listed.unread, 0, "{listed:?}");
    assert!(change(
        &*store,
        &carol,
        room,
        event.seq,
        None,
        ChangeKind::Edit {
            body: "x",
            html: "",
            mentions: &[]
        }
    )
    .await
    .is_err());
    assert!(change(
        &*store,
        &bob,
        room,
        event.seq,
        None,
        ChangeKind::React { emoji: "👍" }
    )
    .await
    .is_err());
    assert!(
        change(&*store, &bob, room, event.seq, None, ChangeKind::Delete)
            .await
            .is_err()
    );
    assert!(matches!(
        reply(&*store, &bob, (room, event.seq), "re", None, false, &[]).await,
        Err(StoreError::Invalid(_))
    ));
    // A conversation has no settings.
    let dm = store.open_dm(bob.id, &[bob.id, carol.id]).await.unwrap();
    assert!(store.configure_room(bob.id, dm, &topic).await.is_err());
}

async fn a_read_only_room_takes_posts_from_moderators_and_replies_from_all(store: Arc<dyn Store>) {
    use app::model::{Role, RoomEvent};
    let _admin = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let carol = user(&*store, "carol").await;
    let dave = user(&*store, "dave").await;
    let room = store
        .create_room(bob.id, "news", None, false)
        .await
        .unwrap()
        .id;
    for who in [carol.id, dave.id] {
        store.join_room(who, room).await.unwrap();
    }
    store
        .set_role(bob.id, room, carol.id, Role::Moderator)
        .await
        .unwrap();
    let news = RoomEvent::ReadOnly { read_only: true };
    configure(&*store, bob.id, room, &news).await;
    assert!(
        store
            .room_view(dave.id, room)
            .await
            .unwrap()
            .settings
            .read_only
    );
    let refused = try_post(&*store, &dave, room, "me too").await;
    assert!(
        matches!(refused, Err(StoreError::Forbidden(_))),
        "{refused:?}"
    );
    let said = post(&*store, &carol, room, "We ship Friday").await;
    post(&*store, &bob, room, "Indeed").await;
    // Everyone replies in a thread and reacts; a reply also sent to the room is a post.
    reply(&*store, &dave, (room, said.seq), "Great", None, false, &[])
        .await
        .unwrap();
    assert!(matches!(
        reply(&*store, &dave, (room, said.seq), "Great!", None, true, &[]).await,
        Err(StoreError::Forbidden(_))
    ));
    change(
        &*store,
        &dave,
        room,
        said.seq,
        None,
        ChangeKind::React { emoji: "🎉" },
    )
    .await
    .unwrap();
    // Open again: everyone posts.
    let open = RoomEvent::ReadOnly { read_only: false };
    configure(&*store, bob.id, room, &open).await;
    post(&*store, &dave, room, "me too").await;
}

async fn an_archived_room_leaves_the_sidebar_and_takes_no_posts(store: Arc<dyn Store>) {
    use app::model::RoomEvent;
    let (_admin, bob, carol, room) = bobs_room_with_carol(&*store, "old").await;
    let said = post(&*store, &carol, room, "findable words").await;
    let archive = RoomEvent::Archived { archived: true };
    configure(&*store, bob.id, room, &archive).await;
    for who in [&bob, &carol] {
        let sidebar = store.sidebar(who.id).await.unwrap();
        assert!(sidebar.rooms.iter().all(|r| r.id != room), "{sidebar:?}");
        // Nor does a socket of theirs listen to it.
        let listened = store.rooms_of(who.id).await.unwrap();
        assert!(!listened.contains(&room), "{listened:?}");
        let mut listed: Vec<_> = sidebar
            .rooms
            .iter()
            .chain(&sidebar.dms)
            .map(|r| r.id)
            .collect();
        let mut listened = listened;
        listed.sort_unstable();
        listened.sort_unstable();
        assert_eq!(listened, listed);
        assert!(matches!(
            try_post(&*store, who, room, "hello?").await,
            Err(StoreError::Forbidden(_))
        ));
    }
    // Its messages stay as they are, readable, and searchable by its members.
    assert!(change(
        &*store,
        &carol,
        room,
        said.seq,
        None,
        ChangeKind::Edit {
            body: "new",
            html: "",
            mentions: &[]
        }
    )
    .await
    .is_err());
    assert!(
        reply(&*store, &carol, (room, said.seq), "re", None, false, &[])
            .await
            .is_err()
    );
    assert_eq!(
        store.message(carol.id, room, said.seq).await.unwrap().body,
        "findable words"
    );
    assert_eq!(found(&*store, &carol, "findable").await, ["findable words"]);
    let listed = store.public_rooms(carol.id).await.unwrap();
    assert!(listed.iter().find(|l| l.room.id == room).unwrap().archived);
    // Back from the archive: in the sidebar, and open to posts.
    let back = RoomEvent::Archived { archived: false };
    configure(&*store, bob.id, room, &back).await;
    assert!(store
        .sidebar(carol.id)
        .await
        .unwrap()
        .rooms
        .iter()
        .any(|r| r.id == room));
    post(&*store, &carol, room, "we are back").await;
}

async fn a_ban_removes_and_keeps_out_until_lifted(store: Arc<dyn Store>) {
    use app::model::{Role, RoomEvent};
    let _admin = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let carol = user(&*store, "carol").await;
    let dave = user(&*store, "dave").await;
    let room = store
        .create_room(bob.id, "club", None, false)
        .await
        .unwrap()
        .id;
    for who in [carol.id, dave.id] {
        store.join_room(who, room).await.unwrap();
    }
    // A member bans no one; a moderator bans a member, not the owner.
    assert!(matches!(
        store.ban(carol.id, room, dave.id, true).await,
        Err(StoreError::Forbidden(_))
    ));
    store
        .set_role(bob.id, room, carol.id, Role::Moderator)
        .await
        .unwrap();
    assert!(matches!(
        store.ban(carol.id, room, bob.id, true).await,
        Err(StoreError::Forbidden(_))
    ));
    let event = store
        .ban(carol.id, room, dave.id, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        event.event,
        Some(RoomEvent::Banned {
            username: "dave".into()
        })
    );
    assert_eq!(
        store.ban(carol.id, room, dave.id, true).await.unwrap(),
        None,
        "once"
    );
    assert!(!store.room_view(dave.id, room).await.unwrap().is_member);
    // Banned: no way back in, by joining or by being added.
    assert!(matches!(
        store.join_room(dave.id, room).await,
        Err(StoreError::Forbidden(_))
    ));
    assert!(matches!(
        store.add_member(bob.id, room, dave.id).await,
        Err(StoreError::Forbidden(_))
    ));
    let bans = store.bans(carol.id, room).await.unwrap();
    assert_eq!(bans.len(), 1);
    assert_eq!(
        (bans[0].username.as_str(), bans[0].by.as_deref()),
        ("dave", Some("carol"))
    );
    assert!(matches!(
        store.bans(dave.id, room).await,
        Err(StoreError::Forbidden(_))
    ));
    // Someone not in the room can be banned ahead of time.
    let eve = user(&*store, "eve").await;
    store
        .ban(bob.id, room, eve.id, true)
        .await
        .unwrap()
        .unwrap();
    assert!(store.join_room(eve.id, room).await.is_err());
    // Lifted: they may join again.
    let lifted = store
        .ban(bob.id, room, dave.id, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        lifted.event,
        Some(RoomEvent::Unbanned {
            username: "dave".into()
        })
    );
    store.join_room(dave.id, room).await.unwrap();
    assert!(store.room_view(dave.id, room).await.unwrap().is_member);
    assert_eq!(store.bans(bob.id, room).await.unwrap().len(), 1);
}

async fn moderators_pin_and_pins_sync_by_rev(store: Arc<dyn Store>) {
    use app::model::Role;
    let (_admin, bob, carol, room) = bobs_room_with_carol(&*store, "pins").await;
    let first = post(&*store, &carol, room, "the plan").await;
    let second = post(&*store, &carol, room, "the date").await;
    let pin = ChangeKind::Pin { pinned: true };
    // A member, even its author, does not pin; nothing changes.
    assert!(matches!(
        change(&*store, &carol, room, first.seq, None, pin).await,
        Err(StoreError::Forbidden(_))
    ));
    assert!(store.pins(carol.id, room).await.unwrap().is_empty());
    // The owner pins both: newest pin first, each with who and when, at the room's next revs.
    let pinned = change(&*store, &bob, room, first.seq, None, pin)
        .await
        .unwrap();
    assert!(pinned.changed);
    let mark = pinned.message.pinned.clone().unwrap();
    assert_eq!(mark.by, "bob");
    assert!(pinned.message.rev > second.rev);
    change(&*store, &bob, room, second.seq, None, pin)
        .await
        .unwrap();
    let pins = store.pins(carol.id, room).await.unwrap();
    let bodies: Vec<&str> = pins.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["the date", "the plan"]);
    // Pinning again changes nothing; a moderator unpins; catch-up by rev sees both changes.
    let again = change(&*store, &bob, room, first.seq, None, pin)
        .await
        .unwrap();
    assert!(!again.changed);
    store
        .set_role(bob.id, room, carol.id, Role::Moderator)
        .await
        .unwrap();
    let unpin = ChangeKind::Pin { pinned: false };
    let unpinned = change(&*store, &carol, room, first.seq, None, unpin)
        .await
        .unwrap();
    assert_eq!(unpinned.message.pinned, None);
    let caught_up = store.changes(bob.id, room, second.rev, 10).await.unwrap();
    let seen: Vec<(i64, bool)> = caught_up
        .messages
        .iter()
        .map(|m| (m.seq, m.pinned.is_some()))
        .collect();
    assert_eq!(seen, [(second.seq, true), (first.seq, false)]);
    // Deleting a pinned message unpins it; a tombstone cannot be pinned.
    change(&*store, &carol, room, second.seq, None, ChangeKind::Delete)
        .await
        .unwrap();
    assert!(store.pins(bob.id, room).await.unwrap().is_empty());
    assert!(matches!(
        change(&*store, &bob, room, second.seq, None, pin).await,
        Err(StoreError::Invalid(_))
    ));
    // Outsiders see no pins; a room holds a bounded number of them.
    let dave = user(&*store, "dave").await;
    assert!(matches!(
        store.pins(dave.id, room).await,
        Err(StoreError::Forbidden(_))
    ));
    for i in 0..app::validate::MAX_PINS_PER_ROOM {
        let m = post(&*store, &bob, room, &format!("note {i}")).await;
        change(&*store, &bob, room, m.seq, None, pin).await.unwrap();
    }
    let one_more = post(&*store, &bob, room, "one more").await;
    assert!(matches!(
        change(&*store, &bob, room, one_more.seq, None, pin).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn an_invite_for_an_account_without_a_password_claims_it_once(store: Arc<dyn Store>) {
    use app::backup::record::UserRecord;
    use app::store::Admission;
    let public = |invite: Option<&'static [u8]>| Admission::Register { invite };
    let admin = store.create_user("admin", "h").await.unwrap();
    // Imported people: accounts without a password, as a restore or an importer makes them.
    let mut restore = store.begin_restore().await.unwrap();
    for name in ["Zoe", "yann"] {
        let user = UserRecord {
            name: name.into(),
            admin: false,
            bot: false,
            created_at: 1,
            password_hash: None,
            profile: Default::default(),
        };
        restore.user(&user).await.unwrap();
    }
    restore.finish(true).await.unwrap();
    let zoe = store.user_by_name("zoe").await.unwrap().unwrap();
    let bot = store.create_bot("ci").await.unwrap();
    let far = i64::MAX / 2;

    // Only an account no one can log in to can be claimed.
    for taken in [admin.id, bot.id] {
        let refused = store
            .create_invite(b"no", Some(admin.id), far, 1, Some(taken))
            .await
            .unwrap_err();
        assert!(matches!(refused, StoreError::Conflict(_)), "{refused:?}");
    }
    store
        .create_invite(b"zoe", Some(admin.id), far, 1, Some(zoe.id))
        .await
        .unwrap();
    // Under another name the claim is refused, and nothing is created or used up.
    let other = store
        .register_user("yann", "h", public(Some(b"zoe")))
        .await
        .unwrap_err();
    assert!(matches!(other, StoreError::Forbidden(_)), "{other:?}");
    assert!(store
        .credentials("yann")
        .await
        .unwrap()
        .unwrap()
        .1
        .is_none());
    // Under hers (in any case) it sets her password: the same account, not a new one.
    let claimed = store
        .register_user("ZOE", "new-hash", public(Some(b"zoe")))
        .await
        .unwrap();
    assert_eq!(claimed.id, zoe.id);
    let (_, hash) = store.credentials("zoe").await.unwrap().unwrap();
    assert_eq!(hash.as_deref(), Some("new-hash"));
    // Once.
    let again = store
        .register_user("zoe", "other", public(Some(b"zoe")))
        .await
        .unwrap_err();
    assert!(matches!(again, StoreError::Forbidden(_)), "{again:?}");
    let (_, hash) = store.credentials("zoe").await.unwrap().unwrap();
    assert_eq!(hash.as_deref(), Some("new-hash"));
}

async fn registration_follows_the_mode_and_an_invite_is_used_as_often_as_it_allows(
    store: Arc<dyn Store>,
) {
    use app::model::RegistrationMode;
    use app::store::Admission;
    let public = |invite: Option<&'static [u8]>| Admission::Register { invite };
    // An empty instance is open, whatever was set: its first account becomes the admin.
    store
        .set_registration_mode(RegistrationMode::Closed)
        .await
        .unwrap();
    assert_eq!(
        store.registration_mode().await.unwrap(),
        RegistrationMode::Open
    );
    let admin = store
        .register_user("alice", "h", public(None))
        .await
        .unwrap();
    assert!(admin.is_admin);
    assert_eq!(
        store.registration_mode().await.unwrap(),
        RegistrationMode::Closed
    );
    let refused = store
        .register_user("bob", "h", public(None))
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::Forbidden(_)), "{refused:?}");
    // The operator's own accounts are not self-registrations.
    store.create_user("ops", "h").await.unwrap();

    store
        .set_registration_mode(RegistrationMode::Invite)
        .await
        .unwrap();
    let far = i64::MAX / 2;
    store
        .create_invite(b"good", Some(admin.id), far, 1, None)
        .await
        .unwrap();
    store.create_invite(b"old", None, 1, 1, None).await.unwrap();
    for invite in [None, Some(&b"nope"[..]), Some(&b"old"[..])] {
        let refused = store
            .register_user("bob", "h", public(invite))
            .await
            .unwrap_err();
        assert!(matches!(refused, StoreError::Forbidden(_)), "{refused:?}");
    }
    // A registration that fails (the name is taken) leaves the invite unused.
    let taken = store
        .register_user("ALICE", "h", public(Some(b"good")))
        .await
        .unwrap_err();
    assert!(matches!(taken, StoreError::Conflict(_)), "{taken:?}");
    let bob = store
        .register_user("bob", "h", public(Some(b"good")))
        .await
        .unwrap();
    assert!(!bob.is_admin);
    let again = store
        .register_user("carol", "h", public(Some(b"good")))
        .await
        .unwrap_err();
    assert!(matches!(again, StoreError::Forbidden(_)), "{again:?}");
    assert!(store.user_by_name("carol").await.unwrap().is_none());

    // An invite for two admits two, then no one; a revoked one admits no one at all.
    store
        .create_invite(b"team", Some(admin.id), far, 2, None)
        .await
        .unwrap();
    store
        .create_invite(b"taken-back", None, far, 5, None)
        .await
        .unwrap();
    let listed = store.invites(10).await.unwrap();
    let find = |rows: &[app::model::InviteRow], hash: &[u8]| {
        let id: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
        rows.iter().find(|r| r.id == id).cloned().unwrap()
    };
    let team = find(&listed, b"team");
    assert_eq!(
        (team.uses, team.max_uses, team.created_by.as_deref()),
        (0, 2, Some("alice"))
    );
    assert_eq!(find(&listed, b"good").uses, 1);
    assert_eq!(
        find(&listed, b"old").state(app::timestamp::now_ms()),
        "Expired"
    );
    for name in ["dave", "erin"] {
        store
            .register_user(name, "h", public(Some(b"team")))
            .await
            .unwrap();
    }
    let third = store
        .register_user("frank", "h", public(Some(b"team")))
        .await
        .unwrap_err();
    assert!(matches!(third, StoreError::Forbidden(_)), "{third:?}");
    let team = find(&store.invites(10).await.unwrap(), b"team");
    assert_eq!(
        (team.uses, team.state(app::timestamp::now_ms())),
        (2, "Used up")
    );
    let back = find(&listed, b"taken-back");
    assert!(store.revoke_invite(&back.id, 5).await.unwrap());
    assert!(!store.revoke_invite(&back.id, 6).await.unwrap(), "once");
    assert!(!store.revoke_invite("0000000000000000", 6).await.unwrap());
    let refused = store
        .register_user("frank", "h", public(Some(b"taken-back")))
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::Forbidden(_)), "{refused:?}");
    assert_eq!(
        find(&store.invites(10).await.unwrap(), b"taken-back").revoked_at,
        Some(5)
    );

    store
        .set_registration_mode(RegistrationMode::Open)
        .await
        .unwrap();
    store
        .register_user("carol", "h", public(None))
        .await
        .unwrap();
}

async fn text_is_stored_verbatim(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let room = general_id(&*store, &alice).await;
    let nasty = "<img src=x onerror=alert(1)> '; DROP TABLE messages; -- 😀\n\"quoted\"\u{0009}tab";
    post(&*store, &alice, room, nasty).await;
    let page = store
        .history(alice.id, room, page(None, None, 10))
        .await
        .unwrap();
    assert_eq!(page.messages[0].body, nasty);
    assert_eq!(page.messages[0].author, "alice");
}

fn room_of(sidebar: &app::model::Sidebar, room: i64) -> &app::model::RoomSummary {
    sidebar
        .rooms
        .iter()
        .chain(&sidebar.dms)
        .find(|r| r.id == room)
        .unwrap()
}

fn unread_of(sidebar: &app::model::Sidebar, room: i64) -> u32 {
    room_of(sidebar, room).unread
}

async fn unread_counts_follow_the_shared_read_position(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let general = general_id(&*store, &alice).await;
    post(&*store, &alice, general, "before bob existed").await;
    // A new account starts with general read: old history is not unread.
    let bob = user(&*store, "bob").await;
    assert_eq!(unread_of(&store.sidebar(bob.id).await.unwrap(), general), 0);
    for i in 0..3 {
        post(&*store, &alice, general, &format!("hi {i}")).await;
    }
    post(&*store, &bob, general, "my own").await;
    let sidebar = store.sidebar(bob.id).await.unwrap();
    assert_eq!(unread_of(&sidebar, general), 3, "own messages never count");
    let newest = sidebar
        .rooms
        .iter()
        .find(|r| r.id == general)
        .unwrap()
        .last_seq;
    assert_eq!(newest, 5);
    // Reading up to seq 3 leaves 4 (alice's last); reading never goes back or past the end.
    assert_eq!(store.mark_read(bob.id, general, 3).await.unwrap(), 3);
    assert_eq!(unread_of(&store.sidebar(bob.id).await.unwrap(), general), 1);
    assert_eq!(store.mark_read(bob.id, general, 1).await.unwrap(), 3);
    assert_eq!(store.mark_read(bob.id, general, 99).await.unwrap(), 5);
    assert_eq!(unread_of(&store.sidebar(bob.id).await.unwrap(), general), 0);
    // Alice's read position is her own.
    assert_eq!(
        unread_of(&store.sidebar(alice.id).await.unwrap(), general),
        1
    );
    // Not a member: not found, nothing stored.
    let room = store
        .create_room(alice.id, "quiet", None, false)
        .await
        .unwrap();
    assert!(matches!(
        store.mark_read(bob.id, room.id, 1).await,
        Err(StoreError::NotFound(_))
    ));
    // Joining a room with history: that history is not unread.
    post(&*store, &alice, room.id, "old news").await;
    store.join_room(bob.id, room.id).await.unwrap();
    assert_eq!(unread_of(&store.sidebar(bob.id).await.unwrap(), room.id), 0);
    post(&*store, &alice, room.id, "fresh").await;
    assert_eq!(unread_of(&store.sidebar(bob.id).await.unwrap(), room.id), 1);
    // A DM counts the same way.
    let dm = store.open_dm(alice.id, &[alice.id, bob.id]).await.unwrap();
    post(&*store, &alice, dm, "psst").await;
    let sidebar = store.sidebar(bob.id).await.unwrap();
    assert_eq!(unread_of(&sidebar, dm), 1);
}

async fn unread_counts_stop_at_the_cap(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let dm = store.open_dm(alice.id, &[alice.id, bob.id]).await.unwrap();
    for i in 0..app::model::UNREAD_CAP + 5 {
        post(&*store, &alice, dm, &format!("{i}")).await;
    }
    let sidebar = store.sidebar(bob.id).await.unwrap();
    assert_eq!(unread_of(&sidebar, dm), app::model::UNREAD_CAP);
}

async fn members_are_listed_with_when_they_were_last_seen(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "Bob").await;
    let carol = user(&*store, "carol").await;
    let general = general_id(&*store, &alice).await;
    store.set_last_seen(bob.id, 1_000).await.unwrap();
    // Never goes back.
    store.set_last_seen(bob.id, 500).await.unwrap();
    let members = store
        .room_members(carol.id, general, MemberPage::ALL)
        .await
        .unwrap();
    let listed: Vec<_> = members
        .iter()
        .map(|m| (m.username.as_str(), m.last_seen_at))
        .collect();
    assert_eq!(
        listed,
        [("alice", None), ("Bob", Some(1_000)), ("carol", None)]
    );
    // A DM's members are private to it.
    let dm = store.open_dm(alice.id, &[alice.id, bob.id]).await.unwrap();
    assert_eq!(
        store
            .room_members(alice.id, dm, MemberPage::ALL)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(matches!(
        store.room_members(carol.id, dm, MemberPage::ALL).await,
        Err(StoreError::NotFound(_))
    ));
}

/// A member list is paged by name (ignoring case): each page starts after the last name of
/// the one before, the pages together list every member once, and a short page is the last.
async fn members_are_read_a_page_at_a_time_in_name_order(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let general = general_id(&*store, &alice).await;
    for name in ["Dora", "bob", "Carol", "erin", "frank"] {
        user(&*store, name).await;
    }
    let page = |after, limit| MemberPage { after, limit };
    let names = |members: Vec<app::store::StoredMember>| -> Vec<String> {
        members.into_iter().map(|m| m.username).collect()
    };
    let first = store
        .room_members(alice.id, general, page(None, 2))
        .await
        .unwrap();
    assert_eq!(names(first), ["alice", "bob"]);
    // The cursor ignores case as the order does.
    let second = store
        .room_members(alice.id, general, page(Some("BOB"), 2))
        .await
        .unwrap();
    assert_eq!(names(second), ["Carol", "Dora"]);
    let last = store
        .room_members(alice.id, general, page(Some("dora"), 3))
        .await
        .unwrap();
    assert_eq!(names(last), ["erin", "frank"]);
    let past = store
        .room_members(alice.id, general, page(Some("frank"), 3))
        .await
        .unwrap();
    assert!(past.is_empty());
    // Paging does not open a private room to an outsider.
    let dm = store.open_dm(alice.id, &[alice.id]).await.unwrap();
    let outsider = user(&*store, "gina").await;
    assert!(matches!(
        store.room_members(outsider.id, dm, page(None, 1)).await,
        Err(StoreError::NotFound(_))
    ));
}

/// A room is crowded past `over` members (where presence goes only to open member lists);
/// rooms that do not exist are never crowded.
async fn crowded_rooms_are_those_of_more_members_than_asked(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    user(&*store, "carol").await;
    let general = general_id(&*store, &alice).await;
    let dm = store.open_dm(alice.id, &[alice.id, bob.id]).await.unwrap();
    let rooms = [general, dm, 999_999];
    assert_eq!(store.crowded_rooms(&rooms, 2).await.unwrap(), [general]);
    assert!(store.crowded_rooms(&rooms, 3).await.unwrap().is_empty());
    let mut both = store.crowded_rooms(&rooms, 1).await.unwrap();
    both.sort_unstable();
    let mut expected = vec![general, dm];
    expected.sort_unstable();
    assert_eq!(both, expected);
    assert!(store.crowded_rooms(&[], 0).await.unwrap().is_empty());
}

/// Posts that share a commit (group commit) still get their own answers: a refusal for one
/// does not fail the others, a client id repeated within the batch is stored once, and every
/// room's seqs stay gapless in the order the posts were answered.
async fn posts_sharing_a_commit_each_get_their_own_answer(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let carol = user(&*store, "carol").await;
    let general = general_id(&*store, &alice).await;
    let closed = store
        .create_room(bob.id, "closed", None, false)
        .await
        .unwrap()
        .id;
    let bob_carol = store.open_dm(bob.id, &[bob.id, carol.id]).await.unwrap();
    let alice_bob = store.open_dm(alice.id, &[alice.id, bob.id]).await.unwrap();

    // Fired together, so they queue for the same commits.
    let mut tasks = Vec::new();
    for i in 0..300 {
        let store = store.clone();
        let (room, client_id) = match i % 6 {
            0 | 1 => (general, None),
            2 => (alice_bob, None),
            3 => (closed, None),    // not a member: forbidden
            4 => (bob_carol, None), // someone else's DM: not found
            _ => (general, Some(format!("dup{}", i % 12))), // two ids, many repeats
        };
        let author = alice.id;
        tasks.push(tokio::spawn(async move {
            let result = store
                .post_message(NewMessage {
                    room_id: room,
                    author_id: author,
                    body: &format!("m{i}"),
                    client_id: client_id.as_deref(),
                    html: "",
                    mentions: &[],
                    files: &[],
                    persona: None,
                })
                .await;
            (i, room, client_id, result)
        }));
    }
    let mut seqs: std::collections::HashMap<i64, Vec<i64>> = Default::default();
    let mut by_client_id: std::collections::HashMap<String, i64> = Default::default();
    for t in tasks {
        let (i, room, client_id, result) = t.await.unwrap();
        match i % 6 {
            3 => assert!(
                matches!(result, Err(StoreError::Forbidden(_))),
                "{i}: {result:?}"
            ),
            4 => assert!(
                matches!(result, Err(StoreError::NotFound(_))),
                "{i}: {result:?}"
            ),
            _ => {
                let message = result.unwrap();
                assert_eq!((message.room_id, message.author.as_str()), (room, "alice"));
                match client_id {
                    // Every repeat answers with the message stored the first time.
                    Some(id) => {
                        let seq = *by_client_id.entry(id).or_insert(message.seq);
                        assert_eq!(message.seq, seq);
                    }
                    None => seqs.entry(room).or_default().push(message.seq),
                }
            }
        }
    }
    assert_eq!(by_client_id.len(), 2);
    let mut general_seqs = seqs.remove(&general).unwrap();
    general_seqs.extend(by_client_id.values());
    general_seqs.sort_unstable();
    assert_eq!(
        general_seqs,
        (1..=102).collect::<Vec<_>>(),
        "100 plain + 2 distinct ids"
    );
    let mut dm_seqs = seqs.remove(&alice_bob).unwrap();
    dm_seqs.sort_unstable();
    assert_eq!(dm_seqs, (1..=50).collect::<Vec<_>>());
    // A reused id in another room is refused, even in a later commit.
    let reused = store
        .post_message(NewMessage {
            room_id: alice_bob,
            author_id: alice.id,
            body: "elsewhere",
            client_id: Some("dup5"),
            html: "",
            mentions: &[],
            files: &[],
            persona: None,
        })
        .await;
    assert!(matches!(reused, Err(StoreError::Invalid(_))), "{reused:?}");
    // Nothing was stored for the refused posts.
    let page = store
        .history(bob.id, closed, page(None, None, 100))
        .await
        .unwrap();
    assert!(page.messages.is_empty());
}

/// SQLite only: two stores on one file (as two cluster nodes on one machine, or a restore
/// beside the server) posting into one room at once: every post is stored, seqs stay gapless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_sqlite_file_share_the_seqs() {
    let dir = tempfile::tempdir().unwrap();
    let url = backends::sqlite_url(&dir);
    let first: Arc<dyn Store> = Arc::new(SqliteStore::open(&url, Durability::Full).await.unwrap());
    let second: Arc<dyn Store> = Arc::new(SqliteStore::open(&url, Durability::Full).await.unwrap());
    let alice = user(&*first, "alice").await;
    let room = general_id(&*first, &alice).await;
    let posters = (0..200).map(|i| {
        let store = if i % 2 == 0 { &first } else { &second };
        (store.clone(), alice.clone())
    });
    let seqs = post_at_once(posters, room).await;
    assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
}

/// `user` changes the message at `seq` of `room`.
async fn change(
    store: &dyn Store,
    user: &User,
    room: i64,
    seq: i64,
    client_id: Option<&str>,
    kind: ChangeKind<'_>,
) -> Result<Changed, StoreError> {
    store
        .change_message(MessageChange {
            user_id: user.id,
            room_id: room,
            seq,
            client_id,
            kind,
        })
        .await
}

async fn edits_and_deletes_follow_who_may_change_what(store: Arc<dyn Store>) {
    let admin = user(&*store, "root").await;
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let eve = user(&*store, "eve").await;
    let room = store
        .create_room(alice.id, "alices", None, false)
        .await
        .unwrap();
    store.join_room(bob.id, room.id).await.unwrap();
    store.join_room(admin.id, room.id).await.unwrap();
    let first = post(&*store, &bob, room.id, "by bob").await;
    let second = post(&*store, &bob, room.id, "also by bob").await;
    let third = post(&*store, &bob, room.id, "bob again").await;
    let edit = ChangeKind::Edit {
        body: "changed",
        html: "",
        mentions: &[],
    };

    // Only the author edits: not the room's creator, not an admin.
    for who in [&alice, &admin] {
        let err = change(&*store, who, room.id, first.seq, None, edit)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Forbidden(_)), "{err:?}");
    }
    let edited = change(&*store, &bob, room.id, first.seq, None, edit)
        .await
        .unwrap();
    assert!(edited.changed);
    assert_eq!(edited.message.body, "changed");
    assert_eq!(edited.message.seq, first.seq);
    assert_eq!(edited.message.uid, first.uid);
    assert!(edited.message.edited_at.is_some());
    assert!(
        edited.message.rev > third.rev,
        "an edit takes the room's next rev"
    );

    // The creator and an admin delete anyone's message in a public room; another member not.
    let err = change(&*store, &eve, room.id, second.seq, None, ChangeKind::Delete)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Forbidden(_)),
        "a non-member: {err:?}"
    );
    store.join_room(eve.id, room.id).await.unwrap();
    let err = change(&*store, &eve, room.id, second.seq, None, ChangeKind::Delete)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Forbidden(_)), "a member: {err:?}");
    let by_creator = change(
        &*store,
        &alice,
        room.id,
        second.seq,
        None,
        ChangeKind::Delete,
    )
    .await
    .unwrap();
    assert!(by_creator.changed && by_creator.message.is_deleted());
    let by_admin = change(
        &*store,
        &admin,
        room.id,
        third.seq,
        None,
        ChangeKind::Delete,
    )
    .await
    .unwrap();
    assert!(by_admin.changed && by_admin.message.is_deleted());

    // A DM: only the author; outsiders do not even see it.
    let dm = store.open_dm(alice.id, &[alice.id, bob.id]).await.unwrap();
    let said = post(&*store, &alice, dm, "private").await;
    let err = change(&*store, &bob, dm, said.seq, None, ChangeKind::Delete)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Forbidden(_)), "{err:?}");
    let err = change(&*store, &admin, dm, said.seq, None, ChangeKind::Delete)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let err = change(&*store, &alice, dm, said.seq + 1, None, edit)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound(_)),
        "no such message: {err:?}"
    );
    let history = store
        .history(bob.id, dm, page(None, None, 50))
        .await
        .unwrap();
    assert_eq!(
        history.messages[0].body, "private",
        "refusals changed nothing"
    );
}

async fn a_tombstone_keeps_its_seq_and_loses_its_words(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let general = general_id(&*store, &alice).await;
    for text in ["one", "two", "three"] {
        post(&*store, &alice, general, text).await;
    }
    let gone = change(&*store, &alice, general, 2, None, ChangeKind::Delete)
        .await
        .unwrap();
    assert!(gone.changed);
    let page = store
        .history(bob.id, general, page(None, None, 50))
        .await
        .unwrap();
    let seqs: Vec<i64> = page.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [1, 2, 3], "seqs stay gap-free");
    let tomb = &page.messages[1];
    assert_eq!((tomb.body.as_str(), tomb.author.as_str()), ("", "alice"));
    assert!(tomb.deleted_at.is_some());
    // Nothing brings it back: no edit, and a second delete changes nothing.
    let err = change(
        &*store,
        &alice,
        general,
        2,
        None,
        ChangeKind::Edit {
            body: "back",
            html: "",
            mentions: &[],
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let again = change(&*store, &alice, general, 2, None, ChangeKind::Delete)
        .await
        .unwrap();
    assert!(!again.changed);
    assert_eq!(again.message.rev, tomb.rev);
    // A deleted message is not unread; the next post keeps counting seqs after it.
    let sidebar = store.sidebar(bob.id).await.unwrap();
    assert_eq!(
        unread_of(&sidebar, general),
        2,
        "one and three, not the tombstone"
    );
    store.mark_read(bob.id, general, 1).await.unwrap();
    assert_eq!(unread_of(&store.sidebar(bob.id).await.unwrap(), general), 1);
    assert_eq!(post(&*store, &alice, general, "four").await.seq, 4);
}

async fn a_retried_change_with_the_same_client_id_is_done_once(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let general = general_id(&*store, &alice).await;
    let first = post(&*store, &alice, general, "draft").await;
    let second = post(&*store, &alice, general, "another").await;
    let edit = ChangeKind::Edit {
        body: "final",
        html: "",
        mentions: &[],
    };
    let done = change(&*store, &alice, general, first.seq, Some("e1"), edit)
        .await
        .unwrap();
    assert!(done.changed);
    // The same change again, as after a lost answer: the stored state, no new rev.
    let retried = change(&*store, &alice, general, first.seq, Some("e1"), edit)
        .await
        .unwrap();
    assert!(!retried.changed);
    assert_eq!(retried.message, done.message);
    // The id after another edit still names the first one: it answers the current state.
    change(
        &*store,
        &alice,
        general,
        first.seq,
        Some("e2"),
        ChangeKind::Edit {
            body: "later",
            html: "",
            mentions: &[],
        },
    )
    .await
    .unwrap();
    let late = change(&*store, &alice, general, first.seq, Some("e1"), edit)
        .await
        .unwrap();
    assert!(!late.changed);
    assert_eq!(
        late.message.body, "later",
        "a retry does not undo a later edit"
    );
    // The same id for another message is a mistake, refused.
    let err = change(
        &*store,
        &alice,
        general,
        second.seq,
        Some("e1"),
        ChangeKind::Delete,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let page = store
        .history(alice.id, general, page(None, None, 50))
        .await
        .unwrap();
    assert!(!page.messages[1].is_deleted());
}

async fn changes_after_a_rev_are_exactly_what_changed(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let general = general_id(&*store, &alice).await;
    for text in ["m1", "m2", "m3"] {
        post(&*store, &alice, general, text).await;
    }
    // Bob's screen was read here, then his socket went away.
    let seen = store
        .history(bob.id, general, page(None, None, 50))
        .await
        .unwrap();
    assert_eq!(seen.rev, 3);
    // Meanwhile: an edit, a delete, a post, a second edit of the same message.
    change(
        &*store,
        &alice,
        general,
        1,
        None,
        ChangeKind::Edit {
            body: "m1 fixed",
            html: "",
            mentions: &[],
        },
    )
    .await
    .unwrap();
    change(&*store, &alice, general, 2, None, ChangeKind::Delete)
        .await
        .unwrap();
    post(&*store, &bob, general, "m4").await;
    change(
        &*store,
        &alice,
        general,
        1,
        None,
        ChangeKind::Edit {
            body: "m1 final",
            html: "",
            mentions: &[],
        },
    )
    .await
    .unwrap();

    let caught = store.changes(bob.id, general, seen.rev, 100).await.unwrap();
    assert!(caught.complete);
    let got: Vec<(i64, &str, bool)> = caught
        .messages
        .iter()
        .map(|m| (m.seq, m.body.as_str(), m.is_deleted()))
        .collect();
    // Each changed message once, in its newest state, in the order of its last change.
    assert_eq!(
        got,
        [(2, "", true), (4, "m4", false), (1, "m1 final", false)]
    );
    let revs: Vec<i64> = caught.messages.iter().map(|m| m.rev).collect();
    assert!(revs.windows(2).all(|w| w[0] < w[1]), "{revs:?}");
    // Message 3 did not change and is not sent again.
    assert!(caught.messages.iter().all(|m| m.seq != 3));

    // Paged: two, then the rest after the last rev received.
    let first = store.changes(bob.id, general, seen.rev, 2).await.unwrap();
    assert!(!first.complete);
    assert_eq!(first.messages.len(), 2);
    let rest = store
        .changes(bob.id, general, first.messages[1].rev, 2)
        .await
        .unwrap();
    assert!(rest.complete);
    assert_eq!(rest.messages.len(), 1);
    assert_eq!(rest.messages[0].body, "m1 final");
    // Caught up: nothing after the newest rev; and only members may ask.
    let newest = rest.messages[0].rev;
    assert!(store
        .changes(bob.id, general, newest, 100)
        .await
        .unwrap()
        .messages
        .is_empty());
    let room = store
        .create_room(alice.id, "closed", None, false)
        .await
        .unwrap();
    let err = store.changes(bob.id, room.id, 0, 100).await.unwrap_err();
    assert!(matches!(err, StoreError::Forbidden(_)), "{err:?}");

    // What a cluster node compares with what reached it: each room's newest rev, a room that
    // does not exist left out.
    let mut revs = store.room_revs(&[room.id, general, 999_999]).await.unwrap();
    revs.sort_unstable();
    let mut want = vec![(general, newest), (room.id, 0)];
    want.sort_unstable();
    assert_eq!(revs, want);
    assert!(store.room_revs(&[]).await.unwrap().is_empty());
}

async fn reactions_toggle_per_person_and_travel_with_the_message(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let eve = user(&*store, "eve").await;
    let general = general_id(&*store, &alice).await;
    let said = post(&*store, &alice, general, "lunch?").await;
    let react = |who: &User, emoji: &'static str, client_id: Option<&'static str>| {
        let store = store.clone();
        let who = who.clone();
        async move {
            change(
                &*store,
                &who,
                general,
                said.seq,
                client_id,
                ChangeKind::React { emoji },
            )
            .await
        }
    };
    let first = react(&bob, "👍", Some("r1")).await.unwrap();
    assert!(first.changed);
    assert!(
        first.message.rev > said.rev,
        "a reaction takes the room's next rev"
    );
    react(&alice, "👍", None).await.unwrap();
    let now = react(&alice, "🎉", None).await.unwrap().message;
    let shape: Vec<(&str, Vec<&str>)> = now
        .reactions
        .iter()
        .map(|r| {
            (
                r.emoji.as_str(),
                r.users.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(shape, [("👍", vec!["bob", "alice"]), ("🎉", vec!["alice"])]);
    assert_eq!(now.body, "lunch?", "a reaction leaves the text alone");
    assert!(now.edited_at.is_none());

    // Every read carries them: history, and changes after the rev before them.
    let page = store
        .history(eve.id, general, page(None, None, 50))
        .await
        .unwrap();
    assert_eq!(page.messages[0].reactions, now.reactions);
    let caught = store.changes(eve.id, general, said.rev, 10).await.unwrap();
    assert_eq!(caught.messages.len(), 1);
    assert_eq!(caught.messages[0].reactions, now.reactions);

    // A retry of bob's reaction does not toggle it back; a new press does.
    let retried = react(&bob, "👍", Some("r1")).await.unwrap();
    assert!(!retried.changed);
    assert_eq!(retried.message.reactions, now.reactions);
    let off = react(&bob, "👍", Some("r2")).await.unwrap().message;
    assert_eq!(off.reactions[0].users, ["alice"]);

    // Nobody outside a DM reacts in it, and a tombstone takes none and keeps none.
    let dm = store.open_dm(alice.id, &[alice.id, bob.id]).await.unwrap();
    let private = post(&*store, &alice, dm, "psst").await;
    let err = change(
        &*store,
        &eve,
        dm,
        private.seq,
        None,
        ChangeKind::React { emoji: "👀" },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let gone = change(&*store, &alice, general, said.seq, None, ChangeKind::Delete)
        .await
        .unwrap();
    assert!(
        gone.message.reactions.is_empty(),
        "a tombstone keeps no reactions"
    );
    let err = react(&bob, "👍", None).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

fn mentions_of(sidebar: &app::model::Sidebar, room: i64) -> u32 {
    room_of(sidebar, room).mentions
}

async fn mentions_are_counted_per_person_and_follow_edits_deletes_and_reads(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "Bob").await;
    let carol = user(&*store, "carol").await;
    let ops = store
        .create_room(alice.id, "ops", None, false)
        .await
        .unwrap()
        .id;
    store.join_room(bob.id, ops).await.unwrap();

    // Only members are found, spelt as their accounts are, whatever case was written.
    let mut found = store
        .members_named(
            ops,
            &[
                "BOB".into(),
                "carol".into(),
                "alice".into(),
                "nobody".into(),
            ],
        )
        .await
        .unwrap();
    found.sort();
    assert_eq!(found, vec!["Bob".to_owned(), "alice".to_owned()]);
    assert!(store.members_named(ops, &[]).await.unwrap().is_empty());

    let mention = |text: &'static str, names: &'static [String]| NewMessage {
        room_id: ops,
        author_id: alice.id,
        body: text,
        client_id: None,
        html: "",
        mentions: names,
        files: &[],
        persona: None,
    };
    static BOB: std::sync::LazyLock<Vec<String>> =
        std::sync::LazyLock::new(|| vec!["Bob".to_owned()]);
    static BOTH: std::sync::LazyLock<Vec<String>> =
        std::sync::LazyLock::new(|| vec!["Bob".to_owned(), "alice".to_owned()]);
    let first = store.post_message(mention("hi @bob", &BOB)).await.unwrap();
    assert_eq!(first.mentions, *BOB);
    assert_eq!(
        first.html, "<p>hi <span class=\"mention\">@bob</span></p>",
        "the store renders what the caller did not"
    );
    store.post_message(mention("plain", &[])).await.unwrap();
    // Naming oneself counts for nobody.
    let both = store
        .post_message(mention("@bob and @alice", &BOTH))
        .await
        .unwrap();
    let sidebar = store.sidebar(bob.id).await.unwrap();
    assert_eq!(
        (unread_of(&sidebar, ops), mentions_of(&sidebar, ops)),
        (3, 2)
    );
    assert_eq!(mentions_of(&store.sidebar(alice.id).await.unwrap(), ops), 0);
    assert_eq!(mentions_of(&store.sidebar(carol.id).await.unwrap(), 1), 0);

    // An edit decides again; a reaction keeps what the text says; a tombstone mentions nobody.
    let edited = change(
        &*store,
        &alice,
        ops,
        first.seq,
        None,
        ChangeKind::Edit {
            body: "hi all",
            html: "",
            mentions: &[],
        },
    )
    .await
    .unwrap()
    .message;
    assert!(edited.mentions.is_empty());
    assert_eq!(edited.html, "<p>hi all</p>");
    assert_eq!(mentions_of(&store.sidebar(bob.id).await.unwrap(), ops), 1);
    let reacted = change(
        &*store,
        &alice,
        ops,
        both.seq,
        None,
        ChangeKind::React { emoji: "👍" },
    )
    .await
    .unwrap()
    .message;
    assert_eq!(
        (reacted.mentions.clone(), reacted.html.clone()),
        (both.mentions.clone(), both.html.clone())
    );
    assert_eq!(mentions_of(&store.sidebar(bob.id).await.unwrap(), ops), 1);
    let gone = change(&*store, &alice, ops, both.seq, None, ChangeKind::Delete)
        .await
        .unwrap()
        .message;
    assert!(gone.mentions.is_empty() && gone.html.is_empty());
    assert_eq!(mentions_of(&store.sidebar(bob.id).await.unwrap(), ops), 0);

    // Reading past a mention clears it.
    let last = store
        .post_message(mention("@bob again", &BOB))
        .await
        .unwrap();
    assert_eq!(mentions_of(&store.sidebar(bob.id).await.unwrap(), ops), 1);
    store.mark_read(bob.id, ops, last.seq).await.unwrap();
    assert_eq!(mentions_of(&store.sidebar(bob.id).await.unwrap(), ops), 0);
    // History carries both, as stored.
    let page = store
        .history(
            bob.id,
            ops,
            HistoryQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.messages.last().unwrap().mentions, *BOB);
}

async fn at_room_counts_for_every_member_and_the_room_keeps_who_may_use_it(store: Arc<dyn Store>) {
    use app::model::{GroupMentions, RoomEvent, MENTION_HERE, MENTION_ROOM};
    let (alice, bob, carol, room) = bobs_room_with_carol(&*store, "all-hands").await;
    store.join_room(alice.id, room).await.unwrap();
    let everyone = [MENTION_ROOM.to_owned()];
    let posted = store
        .post_message(NewMessage {
            room_id: room,
            author_id: bob.id,
            body: "@room standup",
            client_id: None,
            html: "",
            mentions: &everyone,
            files: &[],
            persona: None,
        })
        .await
        .unwrap();
    assert_eq!(posted.mentions, everyone);
    assert!(
        posted.html.contains("<span class=\"mention\">@room</span>"),
        "{}",
        posted.html
    );
    for who in [&alice, &carol] {
        assert_eq!(
            mentions_of(&store.sidebar(who.id).await.unwrap(), room),
            1,
            "{}",
            who.username
        );
    }
    assert_eq!(
        mentions_of(&store.sidebar(bob.id).await.unwrap(), room),
        0,
        "not its author"
    );
    // `@here` counts only for those it names; an edit to it drops the others.
    let here = [MENTION_HERE.to_owned(), "carol".to_owned()];
    change(
        &*store,
        &bob,
        room,
        posted.seq,
        None,
        ChangeKind::Edit {
            body: "@here standup",
            html: "",
            mentions: &here,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        mentions_of(&store.sidebar(alice.id).await.unwrap(), room),
        0
    );
    assert_eq!(
        mentions_of(&store.sidebar(carol.id).await.unwrap(), room),
        1
    );

    // The setting: every member until an owner changes it; a moderator cannot.
    let setting = |view: app::model::RoomView| view.settings.group_mentions;
    assert_eq!(
        setting(store.room_view(carol.id, room).await.unwrap()),
        GroupMentions::Everyone
    );
    let only_mods = RoomEvent::GroupMentions {
        allowed: GroupMentions::Moderators,
    };
    store
        .set_role(bob.id, room, carol.id, app::model::Role::Moderator)
        .await
        .unwrap();
    assert!(matches!(
        store.configure_room(carol.id, room, &only_mods).await,
        Err(StoreError::Forbidden(_))
    ));
    let event = configure(&*store, bob.id, room, &only_mods).await;
    assert_eq!(event.event, Some(only_mods.clone()));
    assert_eq!(
        setting(store.room_view(alice.id, room).await.unwrap()),
        GroupMentions::Moderators
    );
    assert!(
        store
            .configure_room(bob.id, room, &only_mods)
            .await
            .unwrap()
            .is_none(),
        "the same again changes nothing"
    );
}

/// A search for `terms` with no filters.
fn unfiltered(terms: &[app::query::Term]) -> SearchFilter<'_> {
    SearchFilter {
        terms,
        author: None,
        room: None,
        before: None,
        after: None,
        page: None,
        limit: 20,
        time_limit: app::store::SEARCH_TIME_LIMIT,
    }
}

/// What `user` finds for `text` (read by the product's own parser), with the store's filters.
async fn find(
    store: &dyn Store,
    user: &User,
    text: &str,
    narrow: impl FnOnce(&mut SearchFilter<'_>),
) -> Found {
    let query = app::query::parse(text).unwrap();
    let mut filter = unfiltered(&query.terms);
    narrow(&mut filter);
    store.search(user.id, &filter).await.unwrap()
}

/// The bodies found, in the order found.
async fn found(store: &dyn Store, user: &User, text: &str) -> Vec<String> {
    let hits = find(store, user, text, |_| {}).await.messages;
    // Newest first, whichever backend.
    assert!(hits.windows(2).all(|w| w[0].created_at >= w[1].created_at));
    hits.into_iter().map(|m| m.body).collect()
}

fn sorted(mut bodies: Vec<String>) -> Vec<String> {
    bodies.sort();
    bodies
}

async fn search_finds_only_what_the_searcher_may_read(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let carol = user(&*store, "carol").await;
    let general = general_id(&*store, &alice).await;
    let ops = store
        .create_room(alice.id, "ops", None, false)
        .await
        .unwrap()
        .id;
    let secret = store
        .create_room(carol.id, "secret", None, false)
        .await
        .unwrap()
        .id;
    store.join_room(bob.id, ops).await.unwrap();
    let alice_bob = store.open_dm(alice.id, &[alice.id, bob.id]).await.unwrap();
    let alice_carol = store
        .open_dm(alice.id, &[alice.id, carol.id])
        .await
        .unwrap();

    post(
        &*store,
        &alice,
        ops,
        "Deploy finished; we rolled back the canary.",
    )
    .await;
    post(&*store, &carol, general, "deploy tomorrow?").await;
    post(&*store, &carol, secret, "deploy the secret plan").await;
    post(&*store, &alice, alice_carol, "our private deploy").await;
    post(&*store, &bob, alice_bob, "DEPLOYED, deploying, deploy-ish").await;
    post(&*store, &bob, general, "nothing to see").await;

    // Bob reads general, ops and his DM: never carol's room or someone else's DM.
    assert_eq!(
        sorted(found(&*store, &bob, "deploy").await),
        sorted(vec![
            "Deploy finished; we rolled back the canary.".into(),
            "deploy tomorrow?".into(),
            "DEPLOYED, deploying, deploy-ish".into(),
        ])
    );
    assert_eq!(found(&*store, &alice, "deploy").await.len(), 4);
    assert_eq!(
        found(&*store, &carol, "private").await,
        vec!["our private deploy"]
    );
    assert!(found(&*store, &bob, "private").await.is_empty());
    assert!(found(&*store, &bob, "secret").await.is_empty());

    // Phrases keep their order; prefixes find longer words; case does not matter.
    assert_eq!(
        found(&*store, &bob, "\"ROLLED back\"").await,
        vec!["Deploy finished; we rolled back the canary."]
    );
    assert!(found(&*store, &bob, "\"back rolled\"").await.is_empty());
    assert_eq!(found(&*store, &bob, "deploy*").await.len(), 3);
    assert_eq!(
        found(&*store, &bob, "deployed").await,
        vec!["DEPLOYED, deploying, deploy-ish"]
    );
    // Two words: both must be there, anywhere.
    assert_eq!(
        found(&*store, &bob, "canary deploy").await,
        vec!["Deploy finished; we rolled back the canary."]
    );
    // Typed search syntax is only text.
    assert!(found(&*store, &bob, "deploy NOT tomorrow").await.is_empty());
    assert_eq!(
        found(&*store, &bob, "tomorrow AND").await,
        Vec::<String>::new()
    );

    // Filters: author, room, time; and filters alone.
    let by = |author: &User| {
        let id = author.id;
        move |f: &mut SearchFilter<'_>| f.author = Some(id)
    };
    let of_carol = find(&*store, &bob, "deploy", by(&carol)).await.messages;
    assert_eq!(of_carol.len(), 1);
    assert_eq!(of_carol[0].room_id, general);
    let in_ops = find(&*store, &bob, "deploy", |f| f.room = Some(ops)).await;
    assert_eq!(in_ops.messages.len(), 1);
    let everything_by_bob = find(&*store, &bob, "from:bob", by(&bob)).await.messages;
    assert_eq!(everything_by_bob.len(), 2);
    // Carol's room named by a searcher outside it finds nothing.
    assert!(find(&*store, &bob, "deploy", |f| f.room = Some(secret))
        .await
        .messages
        .is_empty());
    let newest = find(&*store, &bob, "deploy", |_| {}).await.messages[0].created_at;
    assert!(
        find(&*store, &bob, "deploy", |f| f.after = Some(newest + 1))
            .await
            .messages
            .is_empty()
    );
    assert_eq!(
        find(&*store, &bob, "deploy", |f| f.before = Some(newest + 1))
            .await
            .messages
            .len(),
        3
    );
}

async fn search_follows_edits_deletes_and_membership(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let ops = store
        .create_room(alice.id, "ops", None, false)
        .await
        .unwrap()
        .id;
    store.join_room(bob.id, ops).await.unwrap();
    let first = post(&*store, &alice, ops, "the release is blocked").await;
    let second = post(&*store, &alice, ops, "lunch at noon").await;
    assert_eq!(found(&*store, &bob, "blocked").await.len(), 1);

    // Edited-away words are gone, the new ones found.
    let edit = ChangeKind::Edit {
        body: "the release shipped",
        html: "",
        mentions: &[],
    };
    change(&*store, &alice, ops, first.seq, None, edit)
        .await
        .unwrap();
    assert!(found(&*store, &bob, "blocked").await.is_empty());
    assert_eq!(
        found(&*store, &bob, "shipped").await,
        vec!["the release shipped"]
    );
    // A reaction leaves the text (and the index) as it was.
    let react = ChangeKind::React { emoji: "🎉" };
    change(&*store, &bob, ops, first.seq, None, react)
        .await
        .unwrap();
    assert_eq!(found(&*store, &bob, "shipped").await.len(), 1);

    // A deleted message is found by nothing, not even by its author or by filters alone.
    change(&*store, &alice, ops, second.seq, None, ChangeKind::Delete)
        .await
        .unwrap();
    assert!(found(&*store, &alice, "lunch").await.is_empty());
    let alice_id = alice.id;
    let all_of_alice = find(&*store, &alice, "from:alice", |f| f.author = Some(alice_id)).await;
    assert_eq!(all_of_alice.messages.len(), 1);

    // Leaving the room leaves its messages behind.
    store.leave_room(bob.id, ops).await.unwrap();
    assert!(found(&*store, &bob, "shipped").await.is_empty());
    assert_eq!(found(&*store, &alice, "shipped").await.len(), 1);
}

async fn search_pages_newest_first_without_overlap(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let general = general_id(&*store, &alice).await;
    for i in 0..45 {
        post(&*store, &alice, general, &format!("status report {i}")).await;
    }
    let query = app::query::parse("report").unwrap();
    let mut seen = Vec::new();
    let mut page = None::<String>;
    let mut pages = 0;
    loop {
        let filter = SearchFilter {
            page: page.as_deref(),
            ..unfiltered(&query.terms)
        };
        let found = store.search(alice.id, &filter).await.unwrap();
        assert!(found.messages.len() <= 20);
        seen.extend(found.messages.into_iter().map(|m| m.seq));
        pages += 1;
        match found.next {
            Some(next) => page = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    // Every message once; within one millisecond the newer seq comes first.
    assert_eq!(seen, (1..=45).rev().collect::<Vec<i64>>());
    let filter = SearchFilter {
        page: Some("not-a-cursor"),
        ..unfiltered(&query.terms)
    };
    let bad = store.search(alice.id, &filter).await.unwrap_err();
    assert!(matches!(bad, StoreError::Invalid(_)), "{bad:?}");
}

/// A reply by `author` in room `at.0` to the message with seq `at.1`.
async fn reply(
    store: &dyn Store,
    author: &User,
    at: (i64, i64),
    body: &str,
    client_id: Option<&str>,
    also_in_room: bool,
    mentions: &[String],
) -> Result<app::store::Replied, StoreError> {
    store
        .post_reply(NewReply {
            message: NewMessage {
                room_id: at.0,
                author_id: author.id,
                body,
                client_id,
                html: "",
                mentions,
                files: &[],
                persona: None,
            },
            to: at.1,
            also_in_room,
        })
        .await
}

fn seqs_of(page: &app::model::HistoryPage) -> Vec<i64> {
    page.messages.iter().map(|m| m.seq).collect()
}

fn thread_page(root: i64) -> HistoryQuery {
    HistoryQuery {
        limit: 50,
        thread: Some(root),
        ..HistoryQuery::default()
    }
}

async fn a_reply_stays_in_its_thread_and_its_root_counts_it(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let carol = user(&*store, "carol").await;
    let eve = user(&*store, "eve").await;
    let ops = store
        .create_room(alice.id, "ops", None, false)
        .await
        .unwrap()
        .id;
    for who in [&bob, &carol] {
        store.join_room(who.id, ops).await.unwrap();
    }
    let root = post(&*store, &alice, ops, "release at five?").await;
    post(&*store, &bob, ops, "unrelated").await;

    let first = reply(
        &*store,
        &bob,
        (ops, root.seq),
        "yes",
        Some("r-1"),
        false,
        &[],
    )
    .await
    .unwrap();
    assert!(first.new);
    assert_eq!(first.reply.seq, 3, "a reply takes the room's next seq");
    assert_eq!(first.reply.thread, Some(root.seq));
    assert!(!first.reply.also_in_room);
    assert_eq!(first.root.replies, 1);
    assert_eq!(first.root.last_reply_at, Some(first.reply.created_at));
    assert_eq!(first.root.followers, ["alice", "bob"]);
    assert!(
        first.root.rev > first.reply.rev,
        "the root changed after the reply"
    );
    // A retry is the same reply, counted once.
    let again = reply(
        &*store,
        &bob,
        (ops, root.seq),
        "yes",
        Some("r-1"),
        false,
        &[],
    )
    .await
    .unwrap();
    assert!(!again.new);
    assert_eq!(again.reply, first.reply);
    assert_eq!(again.root.replies, 1);
    // A client id of a message that is not a reply is not a retry of one.
    let taken = store
        .post_message(NewMessage {
            room_id: ops,
            author_id: carol.id,
            body: "top level",
            client_id: Some("c-9"),
            html: "",
            mentions: &[],
            files: &[],
            persona: None,
        })
        .await
        .unwrap();
    assert!(matches!(
        reply(
            &*store,
            &carol,
            (ops, root.seq),
            "x",
            Some("c-9"),
            false,
            &[]
        )
        .await,
        Err(StoreError::Invalid(_))
    ));

    // Answering a reply joins the root's thread; this one is also sent to the room.
    let second = reply(
        &*store,
        &carol,
        (ops, first.reply.seq),
        "me too",
        None,
        true,
        &[],
    )
    .await
    .unwrap();
    assert_eq!(second.reply.thread, Some(root.seq));
    assert!(second.reply.also_in_room);
    assert_eq!(second.root.replies, 2);
    assert_eq!(second.root.followers, ["alice", "bob", "carol"]);

    let timeline = store
        .history(alice.id, ops, page(None, None, 50))
        .await
        .unwrap();
    assert_eq!(
        seqs_of(&timeline),
        [root.seq, 2, taken.seq, second.reply.seq],
        "the timeline has everything but the reply kept in its thread"
    );
    assert_eq!(timeline.messages[0].replies, 2);
    for from in [root.seq, first.reply.seq] {
        let thread = store
            .history(carol.id, ops, thread_page(from))
            .await
            .unwrap();
        assert_eq!(seqs_of(&thread), [first.reply.seq, second.reply.seq]);
    }
    let older = store
        .history(
            carol.id,
            ops,
            HistoryQuery {
                limit: 1,
                ..thread_page(root.seq)
            },
        )
        .await
        .unwrap();
    assert_eq!(seqs_of(&older), [second.reply.seq]);
    assert!(older.has_older);
    // Catching up by rev sees the reply and the root's new state.
    let changed = store.changes(bob.id, ops, 0, 100).await.unwrap();
    let got_root = changed.messages.iter().find(|m| m.seq == root.seq).unwrap();
    assert_eq!(got_root.replies, 2);
    assert!(changed.messages.iter().any(|m| m.seq == first.reply.seq));

    // Deleting a reply counts it out of its root, which takes a new rev.
    let deleted = store
        .change_message(MessageChange {
            user_id: bob.id,
            room_id: ops,
            seq: first.reply.seq,
            client_id: None,
            kind: ChangeKind::Delete,
        })
        .await
        .unwrap();
    let recounted = deleted.root.unwrap();
    assert_eq!(recounted.replies, 1);
    assert_eq!(recounted.last_reply_at, Some(second.reply.created_at));
    assert!(recounted.rev > deleted.message.rev);
    // An edit of a reply is not a change of its thread.
    let edited = store
        .change_message(MessageChange {
            user_id: carol.id,
            room_id: ops,
            seq: second.reply.seq,
            client_id: None,
            kind: ChangeKind::Edit {
                body: "me too!",
                html: "",
                mentions: &[],
            },
        })
        .await
        .unwrap();
    assert_eq!(edited.root, None);
    assert_eq!(edited.message.thread, Some(root.seq));

    // Refused: a tombstone's thread, a message that does not exist, an outsider.
    store
        .change_message(MessageChange {
            user_id: alice.id,
            room_id: ops,
            seq: root.seq,
            client_id: None,
            kind: ChangeKind::Delete,
        })
        .await
        .unwrap();
    assert!(matches!(
        reply(&*store, &bob, (ops, root.seq), "late", None, false, &[]).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        reply(&*store, &bob, (ops, 999), "nowhere", None, false, &[]).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        reply(&*store, &eve, (ops, 2), "let me in", None, false, &[]).await,
        Err(StoreError::Forbidden(_))
    ));
    let dm = store.open_dm(alice.id, &[alice.id, bob.id]).await.unwrap();
    let secret = post(&*store, &alice, dm, "secret").await;
    assert!(matches!(
        reply(&*store, &eve, (dm, secret.seq), "hi", None, false, &[]).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.message(eve.id, dm, secret.seq).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.history(eve.id, dm, thread_page(secret.seq)).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store.message(bob.id, dm, secret.seq).await.unwrap().body,
        "secret"
    );
    // Nothing refused was stored: the room's seqs are still gap-free.
    let all = store
        .history(alice.id, ops, page(None, Some(0), 50))
        .await
        .unwrap();
    assert_eq!(seqs_of(&all), [1, 2, 4, 5]);
}

async fn thread_replies_are_unread_for_followers_until_the_thread_is_read(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let carol = user(&*store, "carol").await;
    let dave = user(&*store, "dave").await;
    let ops = store
        .create_room(alice.id, "ops", None, false)
        .await
        .unwrap()
        .id;
    for who in [&bob, &carol, &dave] {
        store.join_room(who.id, ops).await.unwrap();
    }
    let root = post(&*store, &alice, ops, "who is on call?").await;
    for who in [&alice, &bob, &carol, &dave] {
        store.mark_read(who.id, ops, root.seq).await.unwrap();
    }
    let unread = |who: &User| {
        let store = store.clone();
        let id = who.id;
        async move {
            let sidebar = store.sidebar(id).await.unwrap();
            (unread_of(&sidebar, ops), mentions_of(&sidebar, ops))
        }
    };
    // Bob replies in the thread, then Carol, naming Dave.
    let first = reply(&*store, &bob, (ops, root.seq), "not me", None, false, &[])
        .await
        .unwrap();
    let second = reply(
        &*store,
        &carol,
        (ops, root.seq),
        "@dave is",
        None,
        false,
        &["dave".to_owned()],
    )
    .await
    .unwrap();
    assert_eq!(second.root.followers, ["alice", "bob", "carol", "dave"]);
    // Alice (the root's author) has both replies unread, Bob only Carol's, Carol none; Dave,
    // who was mentioned, has the reply that mentions him, as a mention too. Nobody outside the
    // thread is told: the timeline has nothing new.
    assert_eq!(unread(&alice).await, (2, 0));
    assert_eq!(unread(&bob).await, (1, 0));
    assert_eq!(unread(&carol).await, (0, 0));
    assert_eq!(unread(&dave).await, (1, 1));

    // Reading the room does not read the thread.
    store
        .mark_read(alice.id, ops, second.reply.seq)
        .await
        .unwrap();
    assert_eq!(unread(&alice).await, (2, 0));
    // Reading the thread does, forward only.
    assert_eq!(
        store
            .mark_thread_read(alice.id, ops, root.seq, first.reply.seq)
            .await
            .unwrap(),
        first.reply.seq
    );
    assert_eq!(unread(&alice).await, (1, 0));
    assert_eq!(
        store
            .mark_thread_read(alice.id, ops, root.seq, root.seq)
            .await
            .unwrap(),
        first.reply.seq
    );
    // Any message of the thread names it; not past the room's newest message.
    assert_eq!(
        store
            .mark_thread_read(dave.id, ops, first.reply.seq, 1_000)
            .await
            .unwrap(),
        second.reply.seq
    );
    assert_eq!(unread(&dave).await, (0, 0));
    // Someone who does not follow it keeps no position.
    let eve = user(&*store, "eve").await;
    store.join_room(eve.id, ops).await.unwrap();
    assert_eq!(
        store
            .mark_thread_read(eve.id, ops, root.seq, second.reply.seq)
            .await
            .unwrap(),
        0
    );
    // A reply also sent to the room is unread for everyone in it, as a room message, once
    // (Alice still has Carol's reply unread in the thread).
    reply(&*store, &bob, (ops, root.seq), "also here", None, true, &[])
        .await
        .unwrap();
    assert_eq!(unread(&alice).await, (2, 0));
    assert_eq!(unread(&eve).await, (1, 0));
    assert_eq!(
        unread(&bob).await,
        (0, 0),
        "replying reads the thread up to one's own reply"
    );
}

fn attachment(name: &str, sha: char, thumb: Option<char>) -> app::model::Attachment {
    app::model::Attachment {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.into(),
        size: 1234,
        content_type: if thumb.is_some() {
            "image/png"
        } else {
            "text/plain"
        }
        .into(),
        sha256: sha.to_string().repeat(64),
        image: thumb.map(|t| app::model::ImageInfo {
            width: 640,
            height: 480,
            thumb_sha256: t.to_string().repeat(64),
            thumb_width: 320,
            thumb_height: 240,
        }),
    }
}

async fn files_travel_with_their_message_and_leave_with_its_deletion(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let files = vec![
        attachment("a.png", 'a', Some('b')),
        attachment("c.txt", 'c', None),
    ];
    let new = NewMessage {
        room_id: 1,
        author_id: alice.id,
        body: "",
        client_id: Some("f-1"),
        html: "",
        mentions: &[],
        files: &files,
        persona: None,
    };
    let sent = store.post_message(new.clone()).await.unwrap();
    assert_eq!(sent.files, files);
    assert_eq!(sent.body, "");
    // Read back, retried, and in a thread: the files are always there.
    assert_eq!(
        store.message(alice.id, 1, sent.seq).await.unwrap().files,
        files
    );
    let retried = store.post_message(new).await.unwrap();
    assert_eq!((retried.seq, &retried.files), (sent.seq, &files));
    let reply_files = vec![attachment("d.txt", 'd', None)];
    let replied = store
        .post_reply(NewReply {
            message: NewMessage {
                room_id: 1,
                author_id: alice.id,
                body: "and this",
                client_id: None,
                html: "",
                mentions: &[],
                files: &reply_files,
                persona: None,
            },
            to: sent.seq,
            also_in_room: false,
        })
        .await
        .unwrap();
    assert_eq!(replied.reply.files, reply_files);
    let hashes = |list: &[&str]| {
        list.iter()
            .map(|c| c.repeat(64))
            .collect::<std::collections::HashSet<_>>()
    };
    assert_eq!(
        store.file_hashes_in_use().await.unwrap(),
        hashes(&["a", "b", "c", "d"])
    );

    // Deleted, the message names no files any more.
    change(&*store, &alice, 1, sent.seq, None, ChangeKind::Delete)
        .await
        .unwrap();
    assert!(store
        .message(alice.id, 1, sent.seq)
        .await
        .unwrap()
        .files
        .is_empty());
    assert_eq!(store.file_hashes_in_use().await.unwrap(), hashes(&["d"]));
}

async fn push_subscriptions_belong_to_a_session_and_targets_carry_preferences(
    store: Arc<dyn Store>,
) {
    use app::model::NotifyLevel;
    use app::store::NewSubscription;
    let (alice, bob, carol) = (
        user(&*store, "alice").await,
        user(&*store, "bob").await,
        user(&*store, "carol").await,
    );
    for u in [&alice, &bob, &carol] {
        store.join_room(u.id, 1).await.unwrap();
    }
    let far = i64::MAX / 2;
    store.create_session(b"bob-1", bob.id, far).await.unwrap();
    store.create_session(b"bob-2", bob.id, far).await.unwrap();
    store.create_session(b"carol", carol.id, far).await.unwrap();
    store.create_session(b"old", carol.id, 1_000).await.unwrap();

    // The key: the first one offered is kept.
    let key = store.push().push_key(b"first key").await.unwrap();
    assert_eq!(key, b"first key");
    assert_eq!(
        store.push().push_key(b"second key").await.unwrap(),
        b"first key"
    );

    let sub =
        |user: &User, session: &'static [u8], endpoint: &'static str, key: u8| NewSubscription {
            user_id: user.id,
            session_hash: session,
            endpoint,
            p256dh: match key {
                1 => &[1; 65],
                _ => &[2; 65],
            },
            auth: &[7; 16],
            label: "Chrome on Linux",
            max_per_user: 3,
        };
    let laptop = store
        .push()
        .add_push_subscription(sub(&bob, b"bob-1", "https://push.example.com/laptop", 1))
        .await
        .unwrap();
    assert_eq!(
        (laptop.label.as_str(), laptop.service.as_str()),
        ("Chrome on Linux", "push.example.com")
    );
    store
        .push()
        .add_push_subscription(sub(&bob, b"bob-2", "https://push.example.com/phone", 1))
        .await
        .unwrap();
    store
        .push()
        .add_push_subscription(sub(&carol, b"carol", "https://push.example.com/carol", 1))
        .await
        .unwrap();
    // An expired session's subscription is never a target.
    store
        .push()
        .add_push_subscription(sub(&carol, b"old", "https://push.example.com/stale", 1))
        .await
        .unwrap();
    // Another user cannot take an endpoint with other keys; with the same keys (the same
    // browser, now logged in as someone else) it moves.
    let taken = store
        .push()
        .add_push_subscription(sub(&carol, b"carol", "https://push.example.com/laptop", 2))
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    assert_eq!(store.push().push_devices(bob.id).await.unwrap().len(), 2);
    // A user has at most `max_per_user` subscriptions; renewing one of them still works.
    let capped = |endpoint| NewSubscription {
        max_per_user: 2,
        ..sub(&bob, b"bob-2", endpoint, 1)
    };
    let over = store
        .push()
        .add_push_subscription(capped("https://push.example.com/third"))
        .await;
    match over {
        Err(StoreError::Conflict(why)) => assert!(why.contains("at most 2"), "{why}"),
        other => panic!("{other:?}"),
    }
    store
        .push()
        .add_push_subscription(capped("https://push.example.com/phone"))
        .await
        .unwrap();
    assert_eq!(store.push().push_devices(bob.id).await.unwrap().len(), 2);

    store
        .push()
        .set_notify_level(carol.id, NotifyLevel::All)
        .await
        .unwrap();
    store.push().set_muted(bob.id, 1, true).await.unwrap();
    assert_eq!(
        store.push().notify_prefs(bob.id).await.unwrap(),
        (NotifyLevel::Mentions, vec![1])
    );
    assert_eq!(
        store.push().notify_prefs(carol.id).await.unwrap(),
        (NotifyLevel::All, vec![])
    );
    let outsider = store
        .create_room(alice.id, "private-ish", None, false)
        .await
        .unwrap();
    assert!(matches!(
        store.push().set_muted(bob.id, outsider.id, true).await,
        Err(StoreError::NotFound(_))
    ));

    let targets = store.push().push_targets(1, alice.id, None).await.unwrap();
    let seen: Vec<_> = targets
        .iter()
        .map(|t| {
            (
                t.username.as_str(),
                t.endpoint.as_str(),
                t.muted,
                t.level,
                t.follows_thread,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "bob",
                "https://push.example.com/laptop",
                true,
                NotifyLevel::Mentions,
                false
            ),
            (
                "bob",
                "https://push.example.com/phone",
                true,
                NotifyLevel::Mentions,
                false
            ),
            (
                "carol",
                "https://push.example.com/carol",
                false,
                NotifyLevel::All,
                false
            ),
        ]
    );
    assert_eq!(targets[0].room_name, "general");
    assert_eq!((targets[0].p256dh.len(), targets[0].auth.len()), (65, 16));
    // The author's own subscriptions are not targets.
    let from_bob = store.push().push_targets(1, bob.id, None).await.unwrap();
    assert_eq!(
        from_bob
            .iter()
            .map(|t| t.username.as_str())
            .collect::<Vec<_>>(),
        ["carol"]
    );

    // Thread followers: Bob started the thread Alice replies in (the reply is stored, with
    // its followers, before its pushes are worked out).
    let root = post(&*store, &bob, 1, "root").await;
    store
        .post_reply(NewReply {
            message: NewMessage {
                room_id: 1,
                author_id: alice.id,
                body: "a reply",
                client_id: None,
                html: "",
                mentions: &[],
                files: &[],
                persona: None,
            },
            to: root.seq,
            also_in_room: false,
        })
        .await
        .unwrap();
    let in_thread = store
        .push()
        .push_targets(1, alice.id, Some(root.seq))
        .await
        .unwrap();
    let follows: Vec<_> = in_thread
        .iter()
        .map(|t| (t.username.as_str(), t.follows_thread))
        .collect();
    assert_eq!(follows, [("bob", true), ("bob", true), ("carol", false)]);

    // A DM is named, for each owner, by the other members.
    let dm = store.open_dm(alice.id, &[alice.id, bob.id]).await.unwrap();
    let dm_targets = store.push().push_targets(dm, alice.id, None).await.unwrap();
    assert_eq!(dm_targets.len(), 2);
    assert!(dm_targets
        .iter()
        .all(|t| t.room_name == "alice" && t.room_kind == RoomKind::Dm));

    // Removing: only one's own device; a gone endpoint; logging out takes the session's.
    assert!(matches!(
        store.push().remove_push_device(carol.id, laptop.id).await,
        Err(StoreError::NotFound(_))
    ));
    store
        .push()
        .remove_push_device(bob.id, laptop.id)
        .await
        .unwrap();
    store
        .push()
        .remove_push_endpoint("https://push.example.com/carol")
        .await
        .unwrap();
    assert!(store
        .push()
        .push_devices(carol.id)
        .await
        .unwrap()
        .iter()
        .all(|d| d.endpoint.ends_with("stale")));
    store.delete_session(b"bob-2").await.unwrap();
    assert!(store.push().push_devices(bob.id).await.unwrap().is_empty());

    // Rotating the key drops every subscription.
    store
        .push()
        .add_push_subscription(sub(&bob, b"bob-1", "https://push.example.com/again", 1))
        .await
        .unwrap();
    assert_eq!(store.push().replace_push_key(b"new key").await.unwrap(), 2);
    assert_eq!(store.push().push_key(b"ignored").await.unwrap(), b"new key");
    assert!(store.push().push_devices(bob.id).await.unwrap().is_empty());
}

async fn a_profile_changes_part_by_part_and_its_picture_is_kept_from_pruning(
    store: Arc<dyn Store>,
) {
    use app::model::{Avatar, Status};
    use app::store::ProfileChange;
    let alice = user(&*store, "alice").await;
    let fresh = store.profile("ALICE").await.unwrap();
    assert_eq!(fresh.username, "alice");
    assert_eq!(fresh.shown_name(), "alice");
    assert_eq!(
        (fresh.status, fresh.time_zone, fresh.avatar),
        (None, None, None)
    );
    assert!(matches!(
        store.profile("nobody").await,
        Err(StoreError::NotFound(_))
    ));

    let details = ProfileChange::Details {
        display_name: Some("Alice Liddell"),
        time_zone: Some("Europe/London"),
    };
    store.update_profile(alice.id, &details).await.unwrap();
    // Her messages carry the name she chose, as posted and as read back.
    let general = general_id(&*store, &alice).await;
    let said = post(&*store, &alice, general, "hello").await;
    assert_eq!(said.author_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(said.shown_author(), "Alice Liddell");
    let read = store.changes(alice.id, general, 0, 10).await.unwrap();
    assert_eq!(
        read.messages[0].author_name.as_deref(),
        Some("Alice Liddell")
    );
    let status = Status {
        emoji: Some("🌴".into()),
        text: Some("Away".into()),
        until: None,
    };
    store
        .update_profile(alice.id, &ProfileChange::Status(Some(&status)))
        .await
        .unwrap();
    let avatar = Avatar {
        large: "a".repeat(64),
        small: "b".repeat(64),
    };
    store
        .update_profile(alice.id, &ProfileChange::Avatar(Some(&avatar)))
        .await
        .unwrap();
    let seen = store.profile("alice").await.unwrap();
    assert_eq!(seen.shown_name(), "Alice Liddell");
    assert_eq!(seen.time_zone.as_deref(), Some("Europe/London"));
    assert_eq!(seen.status, Some(status));
    assert_eq!(seen.avatar, Some(avatar.clone()));
    let in_use = store.file_hashes_in_use().await.unwrap();
    assert!(in_use.contains(&avatar.large) && in_use.contains(&avatar.small));

    // A status past its time reads as none.
    let gone = Status {
        emoji: None,
        text: Some("Lunch".into()),
        until: Some(app::timestamp::now_ms() - 1),
    };
    store
        .update_profile(alice.id, &ProfileChange::Status(Some(&gone)))
        .await
        .unwrap();
    let seen = store.profile("alice").await.unwrap();
    assert_eq!(seen.status, None);
    assert_eq!(seen.display_name.as_deref(), Some("Alice Liddell"));

    store
        .update_profile(alice.id, &ProfileChange::Avatar(None))
        .await
        .unwrap();
    assert_eq!(store.profile("alice").await.unwrap().avatar, None);
    assert!(!store
        .file_hashes_in_use()
        .await
        .unwrap()
        .contains(&avatar.large));
    assert!(matches!(
        store.update_profile(9_999_999, &details).await,
        Err(StoreError::NotFound(_))
    ));
}
