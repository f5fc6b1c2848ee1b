//! Backup and restore against real SQLite files: lossless round trips in every format,
//! idempotent merges, bad input that changes nothing, snapshots taken under write load, and
//! history from a date.
#![cfg(feature = "ssr")]
#![expect(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;
use std::sync::Arc;

use app::backup::encode::{write_backup, Quiet};
use app::backup::record::Scope;
use app::backup::restore::{self, RestoreOptions};
use app::backup::{BackupError, Format};
use app::model::{Persona, PreviewImage, RoomId, User};
use app::store::sqlite::{Durability, SqliteStore};
use app::store::{
    ChangeKind, ExportRequest, HistoryQuery, MessageChange, NewMessage, RestoreCounts, Store,
};
use proptest::prelude::*;

struct Db {
    store: Arc<dyn Store>,
    dir: tempfile::TempDir,
}

/// Which database a case runs on.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Sqlite,
    Postgres,
}

/// Runs each named case (an `async fn(Kind)` below) as a test on SQLite and as one on
/// PostgreSQL (when `CONFAB_TEST_POSTGRES_URL` gives one; `./dev.sh test` always does).
macro_rules! on_every_backend {
    ($($case:ident),* $(,)?) => {
        mod sqlite {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::$case(super::Kind::Sqlite).await;
            }
        )*}
        mod postgres {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if super::pg::url().is_none() {
                    eprintln!("CONFAB_TEST_POSTGRES_URL is not set: PostgreSQL case not run");
                    return;
                }
                super::$case(super::Kind::Postgres).await;
            }
        )*}
    };
}

on_every_backend!(
    jsonl_round_trip_into_an_empty_instance_is_byte_identical,
    credentials_are_included_only_when_asked,
    xml_and_csv_round_trip_every_message,
    restoring_twice_or_overlapping_backups_stores_each_message_once,
    classic_xml_without_ids_is_imported_once_in_file_order,
    merged_messages_go_after_the_rooms_own_and_keep_time_order,
    bad_input_is_refused_and_changes_nothing,
    a_dry_run_reports_but_changes_nothing,
    my_data_holds_my_rooms_and_dms_but_not_other_peoples_dms,
    history_since_a_date_pages_forward,
    edits_and_tombstones_round_trip_and_restore_takes_new_revs,
    threads_round_trip_and_a_reply_needs_its_root,
    privacy_and_roles_survive_a_round_trip_and_a_merge_never_reveals,
    settings_events_and_pins_survive_jsonl_and_events_stay_out_of_xml_and_csv,
    profiles_survive_jsonl_and_a_bad_one_is_refused_by_line,
);

#[path = "support/postgres.rs"]
mod pg;

/// An empty instance on `kind`.
async fn db_on(kind: Kind) -> Db {
    match kind {
        Kind::Sqlite => db().await,
        Kind::Postgres => Db {
            store: Arc::new(pg::fresh_store().await.expect("CONFAB_TEST_POSTGRES_URL")),
            dir: tempfile::tempdir().unwrap(),
        },
    }
}

async fn db() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("confab.db").display());
    let store = SqliteStore::open(&url, Durability::Full).await.unwrap();
    Db {
        store: Arc::new(store),
        dir,
    }
}

async fn user(store: &dyn Store, name: &str) -> User {
    store
        .create_user(name, "$argon2id$v=19$fake")
        .await
        .unwrap()
}

async fn post(store: &dyn Store, author: &User, room: RoomId, body: &str, client_id: Option<&str>) {
    store
        .post_message(NewMessage {
            room_id: room,
            author_id: author.id,
            body,
            client_id,
            html: "",
            mentions: &[],
            files: &[],
            persona: None,
        })
        .await
        .unwrap();
}

async fn backup_with(store: &dyn Store, format: Format, request: &ExportRequest) -> Vec<u8> {
    let mut out = Vec::new();
    write_backup(store, request, format, &mut out, 0, &mut Quiet)
        .await
        .unwrap();
    out
}

async fn backup(store: &dyn Store, format: Format) -> Vec<u8> {
    backup_with(store, format, &ExportRequest::default()).await
}

/// A JSONL backup without its header line (which holds the time of the backup).
async fn body(store: &dyn Store) -> String {
    let text = String::from_utf8(backup(store, Format::Jsonl).await).unwrap();
    text.split_once('\n').unwrap().1.to_owned()
}

async fn restore_bytes(
    store: &dyn Store,
    bytes: Vec<u8>,
    dry_run: bool,
) -> Result<RestoreCounts, BackupError> {
    let input = restore::from_reader(Box::new(Cursor::new(bytes)), None, 1 << 30, "imported")?;
    let options = RestoreOptions {
        dry_run,
        default_room: "imported".into(),
    };
    restore::restore(store, input, &options, &mut Quiet).await
}

/// An instance with public rooms, a DM, a group conversation, a note-to-self, memberships, client ids and text that
/// stresses every format.
async fn populated(kind: Kind) -> Db {
    let db = db_on(kind).await;
    let s = &*db.store;
    let alice = user(s, "alice").await;
    let bob = user(s, "Bob").await;
    let carol = user(s, "carol").await;
    let general = s.sidebar(alice.id).await.unwrap().rooms[0].id;
    let ops = s
        .create_room(
            bob.id,
            "ops, \"night\" <shift>",
            Some("pager & coffee"),
            false,
        )
        .await
        .unwrap()
        .id;
    s.join_room(carol.id, ops).await.unwrap();
    let dm = s.open_dm(alice.id, &[alice.id, bob.id]).await.unwrap();
    let own = s.open_dm(carol.id, &[carol.id, carol.id]).await.unwrap();
    let group = s
        .open_dm(carol.id, &[carol.id, bob.id, alice.id])
        .await
        .unwrap();
    post(s, &alice, general, "hello, world", Some("c-1")).await;
    // As a webhook's bot would: under a name and icon of its payload's choosing.
    s.post_message(NewMessage {
        room_id: general,
        author_id: bob.id,
        body: "quotes \" ' and <tags> & ampersands",
        client_id: None,
        html: "",
        mentions: &[],
        files: &[],
        persona: Some(&Persona {
            name: "Build <bot> \"7\"".into(),
            icon: Some(PreviewImage {
                sha256: "ab".repeat(32),
                width: 320,
                height: 200,
            }),
        }),
    })
    .await
    .unwrap();
    post(
        s,
        &carol,
        general,
        "line one\nline two\r\nline three\ttabbed",
        Some("c-2"),
    )
    .await;
    post(
        s,
        &bob,
        ops,
        "emoji 😀🎉 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢, CJK 漢字, RTL שלום",
        None,
    )
    .await;
    post(s, &carol, ops, "a,b,c\n\"quoted\",,", None).await;
    post(s, &alice, dm, "just between us", Some("c-3")).await;
    post(s, &bob, dm, "]]> --> <!-- &amp;", None).await;
    post(s, &carol, own, "note to self", None).await;
    post(s, &bob, group, "three of us", Some("c-4")).await;
    db
}

async fn jsonl_round_trip_into_an_empty_instance_is_byte_identical(kind: Kind) {
    let source = populated(kind).await;
    let first = backup(&*source.store, Format::Jsonl).await;
    let target = db_on(kind).await;
    let counts = restore_bytes(&*target.store, first.clone(), false)
        .await
        .unwrap();
    assert_eq!(counts.messages_added, 9);
    assert_eq!(counts.users_created, 3);
    let second = backup(&*target.store, Format::Jsonl).await;
    let strip = |b: &[u8]| {
        String::from_utf8(b.to_vec())
            .unwrap()
            .split_once('\n')
            .unwrap()
            .1
            .to_owned()
    };
    assert_eq!(strip(&first), strip(&second));
    let persona = format!(
        concat!(
            r#""persona":{{"name":"Build <bot> \"7\"","icon":"#,
            r#"{{"sha256":"{}","width":320,"height":200}}}}"#
        ),
        "ab".repeat(32)
    );
    assert!(strip(&second).contains(&persona), "{}", strip(&second));
    // The header is there and says what it is.
    assert!(String::from_utf8(second)
        .unwrap()
        .starts_with("{\"format\":\"confab-backup\",\"version\":1,"));
}

async fn credentials_are_included_only_when_asked(kind: Kind) {
    let source = populated(kind).await;
    let without = String::from_utf8(backup(&*source.store, Format::Jsonl).await).unwrap();
    assert!(!without.contains("password_hash"));
    let request = ExportRequest {
        credentials: true,
        ..ExportRequest::default()
    };
    let with =
        String::from_utf8(backup_with(&*source.store, Format::Jsonl, &request).await).unwrap();
    assert_eq!(
        with.matches("\"password_hash\":\"$argon2id$v=19$fake\"")
            .count(),
        3
    );
    // Restored with hashes, the accounts can log in again.
    let target = db_on(kind).await;
    restore_bytes(&*target.store, with.into_bytes(), false)
        .await
        .unwrap();
    let (_, hash) = target.store.credentials("carol").await.unwrap().unwrap();
    assert_eq!(hash.as_deref(), Some("$argon2id$v=19$fake"));
}

async fn xml_and_csv_round_trip_every_message(kind: Kind) {
    let source = populated(kind).await;
    let expected = messages_of(&body(&*source.store).await);
    for format in [Format::Xml, Format::Csv] {
        let file = backup(&*source.store, format).await;
        let target = db_on(kind).await;
        restore_bytes(&*target.store, file, false).await.unwrap();
        let got = messages_of(&body(&*target.store).await);
        assert_eq!(
            as_xml_and_csv_carry(&got),
            as_xml_and_csv_carry(&expected),
            "{format}"
        );
    }
}

/// The message lines of a JSONL body, parsed.
fn messages_of(body: &str) -> Vec<serde_json::Value> {
    body.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "message")
        .collect()
}

/// XML and CSV do not carry client ids.
/// What XML and CSV carry of each message: not its client id, nor the persona a webhook chose
/// (JSONL only).
fn as_xml_and_csv_carry(messages: &[serde_json::Value]) -> Vec<serde_json::Value> {
    messages
        .iter()
        .map(|m| {
            let mut m = m.clone();
            m.as_object_mut().unwrap().remove("client_id");
            m.as_object_mut().unwrap().remove("persona");
            m
        })
        .collect()
}

async fn restoring_twice_or_overlapping_backups_stores_each_message_once(kind: Kind) {
    let source = populated(kind).await;
    let full = backup(&*source.store, Format::Jsonl).await;
    let target = db_on(kind).await;
    restore_bytes(&*target.store, full.clone(), false)
        .await
        .unwrap();
    let once = body(&*target.store).await;
    let again = restore_bytes(&*target.store, full, false).await.unwrap();
    assert_eq!(again.messages_added, 0);
    assert_eq!(again.messages_skipped, 9);
    assert_eq!(
        again.users_created + again.rooms_created + again.members_added,
        0
    );
    assert_eq!(body(&*target.store).await, once);

    // Overlapping backups in different formats: one room as CSV and as XML, then everything.
    let one_room = ExportRequest {
        scope: Scope {
            rooms: Some(vec!["general".into()]),
            ..Scope::default()
        },
        ..ExportRequest::default()
    };
    // A conversation is named by its people in any order.
    let group_only = ExportRequest {
        scope: Scope {
            rooms: Some(vec!["@carol,alice,BOB".into()]),
            ..Scope::default()
        },
        ..ExportRequest::default()
    };
    let group =
        String::from_utf8(backup_with(&*source.store, Format::Csv, &group_only).await).unwrap();
    // A spreadsheet would run a cell starting with @: it is written with a quote before it.
    assert!(group.contains("\"'@alice,Bob,carol\",1,Bob"), "{group}");
    assert_eq!(group.lines().count(), 2, "{group}");
    let partial_csv = backup_with(&*source.store, Format::Csv, &one_room).await;
    let partial_xml = backup_with(&*source.store, Format::Xml, &one_room).await;
    let fresh = db_on(kind).await;
    for file in [
        partial_csv,
        partial_xml,
        backup(&*source.store, Format::Jsonl).await,
    ] {
        restore_bytes(&*fresh.store, file, false).await.unwrap();
    }
    let messages = messages_of(&body(&*fresh.store).await);
    assert_eq!(messages.len(), 9);
    let general: Vec<_> = messages.iter().filter(|m| m["room"] == "general").collect();
    assert_eq!(general.len(), 3);
    assert_eq!(
        general
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
}

async fn classic_xml_without_ids_is_imported_once_in_file_order(kind: Kind) {
    let classic = r#"<?xml version="1.0"?>
<history>
  <message from="alice" date="2024-01-01T12:00:00Z" msg="hello"/>
  <message from="dave" date="2024-01-01T12:00:05Z" msg="same time, first in the file"/>
  <message from="alice" date="2024-01-01T12:00:05Z" msg="ok"/>
  <message from="alice" date="2024-01-01T12:00:05Z" msg="ok"/>
</history>"#;
    let target = db_on(kind).await;
    let counts = restore_bytes(&*target.store, classic.into(), false)
        .await
        .unwrap();
    assert_eq!(counts.messages_added, 4, "identical messages are both kept");
    let again = restore_bytes(&*target.store, classic.into(), false)
        .await
        .unwrap();
    assert_eq!(again.messages_added, 0);
    let messages = messages_of(&body(&*target.store).await);
    let texts: Vec<_> = messages
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["hello", "same time, first in the file", "ok", "ok"]);
    assert!(messages.iter().all(|m| m["room"] == "imported"));
    // Imported authors exist but cannot log in until a password is set.
    let (_, hash) = target.store.credentials("dave").await.unwrap().unwrap();
    assert_eq!(hash, None);
}

async fn merged_messages_go_after_the_rooms_own_and_keep_time_order(kind: Kind) {
    let target = db_on(kind).await;
    let erin = user(&*target.store, "erin").await;
    let general = target.store.sidebar(erin.id).await.unwrap().rooms[0].id;
    post(&*target.store, &erin, general, "already here", None).await;
    let csv = "id,room,seq,from,date,text\r\n\
               ,general,,frank,2024-05-01T10:00:02Z,second\r\n\
               ,general,,frank,2024-05-01T10:00:01Z,first\r\n";
    restore_bytes(&*target.store, csv.into(), false)
        .await
        .unwrap();
    let page = target
        .store
        .history(
            erin.id,
            general,
            HistoryQuery {
                limit: 10,
                ..HistoryQuery::default()
            },
        )
        .await
        .unwrap();
    let got: Vec<_> = page
        .messages
        .iter()
        .map(|m| (m.seq, m.body.as_str()))
        .collect();
    assert_eq!(got, [(1, "already here"), (2, "first"), (3, "second")]);
    // Restored messages are news to erin, who was already in the room, but history to frank,
    // whose membership the restore brought.
    let unread = |sidebar: app::model::Sidebar| sidebar.rooms[0].unread;
    assert_eq!(unread(target.store.sidebar(erin.id).await.unwrap()), 2);
    let frank = target.store.user_by_name("frank").await.unwrap().unwrap();
    assert_eq!(unread(target.store.sidebar(frank.id).await.unwrap()), 0);
    // New posts continue the sequence.
    post(&*target.store, &erin, general, "after", None).await;
    let page = target
        .store
        .history(
            erin.id,
            general,
            HistoryQuery {
                after: Some(3),
                limit: 10,
                ..HistoryQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.messages[0].seq, 4);
}

/// Each bad file is refused with an error naming the place, and the database is unchanged.
async fn bad_input_is_refused_and_changes_nothing(kind: Kind) {
    let source = populated(kind).await;
    let good = String::from_utf8(backup(&*source.store, Format::Jsonl).await).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    let target = populated(kind).await;
    let before = body(&*target.store).await;

    let mut invalid_utf8 = good.clone().into_bytes();
    let at = good.find("hello, world").unwrap();
    invalid_utf8[at] = 0xFF;
    let long = "x".repeat(4001);
    let csv_head = "id,room,seq,from,date,text\r\n";
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("JSONL cut mid-line", good[..good.len() - 30].into(), "line "),
        ("JSONL cut at a line end", format!("{}\n", lines[..lines.len() - 1].join("\n")).into(), "cut short"),
        ("invalid UTF-8", invalid_utf8, "not valid UTF-8"),
        ("a line that is not JSON", good.replacen("{\"type\":\"message\"", "{\"type\":\"message\",,", 2).into(), "not valid JSON"),
        ("wrong version", good.replacen("\"version\":1", "\"version\":2", 1).into(), "version 2 is not supported"),
        ("XML with an unclosed tag", "<history><message from=\"a\" date=\"2024-01-01T00:00:00Z\" msg=\"x\"/><message from=\"b\"".into(), "<message> #2"),
        ("XML with another root", "<log><message from=\"a\" date=\"2024-01-01T00:00:00Z\" msg=\"x\"/></log>".into(), "unexpected <log> (the root element must be <history>)"),
        ("XML with a foreign element", "<history><message from=\"a\" date=\"2024-01-01T00:00:00Z\" msg=\"x\"/><note/></history>".into(), "<message> #2 (byte 64): unexpected <note>"),
        ("XML cut before </history>", "<history><message from=\"a\" date=\"2024-01-01T00:00:00Z\" msg=\"x\"/>".into(), "cut short"),
        ("CSV row with the wrong column count", format!("{csv_head},general,,alice,2024-01-01T00:00:00Z,ok\r\n,general,,alice,2024-01-01T00:00:00Z\r\n").into(), "line 3: expected 6 columns, found 5"),
        ("a message over 4000 characters", format!("{csv_head},general,,alice,2024-01-01T00:00:00Z,ok\r\n,general,,alice,2024-01-01T00:00:00Z,{long}\r\n").into(), "at most 4000 characters"),
        ("a date that does not parse", format!("{csv_head},general,,alice,2024-01-01T00:00:00Z,ok\r\n,general,,alice,yesterday,hi\r\n").into(), "line 3: date \"yesterday\""),
        ("an unknown record type", good.replacen("{\"type\":\"room\"", "{\"type\":\"party\"", 1).into(), "not a valid record"),
        ("a bad username", good.replacen("\"from\":\"alice\"", "\"from\":\"al ice\"", 1).into(), "username"),
        // The target's own alice already sent a message with client id "c-1"; another message
        // (a different id) claiming it is refused, naming its line.
        ("a client id another message already uses", good.clone().into(), "client id \"c-1\" is already used"),
        ("an empty file", Vec::new(), "empty"),
        ("a persona without a name", good.replacen(r#""persona":{"name":"Build"#, r#""persona":{"name":" ","x":"Build"#, 1).into(), "persona's name is empty"),
        ("a persona named as a handle", good.replacen(r#""persona":{"name":"Build"#, r#""persona":{"name":"@Build"#, 1).into(), "cannot start with '@'"),
        ("a conversation of ten", format!("{csv_head},\"@a,b,c,d,e,f,g,h,i,j\",,a,2024-01-01T00:00:00Z,hi\r\n").into(), "line 2: \"@a,b,c,d,e,f,g,h,i,j\" names 10 people; a conversation holds at most 9"),
    ];
    for (what, file, expected) in cases {
        let err = restore_bytes(&*target.store, file, false)
            .await
            .expect_err(what)
            .to_string();
        assert!(err.contains(expected), "{what}: {err}");
        assert_eq!(
            body(&*target.store).await,
            before,
            "{what} changed the database"
        );
    }
}

async fn a_dry_run_reports_but_changes_nothing(kind: Kind) {
    let source = populated(kind).await;
    let target = db_on(kind).await;
    let before = body(&*target.store).await;
    let counts = restore_bytes(
        &*target.store,
        backup(&*source.store, Format::Jsonl).await,
        true,
    )
    .await
    .unwrap();
    assert_eq!(counts.messages_added, 9);
    assert_eq!(body(&*target.store).await, before);
}

#[tokio::test]
async fn files_over_the_size_limit_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.jsonl");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(2 << 30).unwrap(); // 2 GiB, sparse: nothing is written.
    let err = restore::open(&path, None, 1 << 30, "imported")
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("larger than the restore limit of 1024 MiB"),
        "{err}"
    );
    // A single 2 GiB line read from a stream stops at the record limit, not at the end.
    let endless = std::io::repeat(b'x').take(2 << 30);
    let input = restore::from_reader(
        Box::new(std::io::BufReader::new(std::io::Read::chain(
            Cursor::new(b"{".to_vec()),
            endless,
        ))),
        None,
        u64::MAX,
        "imported",
    )
    .unwrap();
    let target = db().await;
    let options = RestoreOptions {
        dry_run: false,
        default_room: "imported".into(),
    };
    let err = restore::restore(&*target.store, input, &options, &mut Quiet)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("line 1: record longer than 1 MiB"),
        "{err}"
    );
}

use std::io::Read as _;

async fn my_data_holds_my_rooms_and_dms_but_not_other_peoples_dms(kind: Kind) {
    let source = populated(kind).await;
    let request = ExportRequest {
        scope: Scope {
            member: Some("carol".into()),
            ..Scope::default()
        },
        ..ExportRequest::default()
    };
    let mine =
        String::from_utf8(backup_with(&*source.store, Format::Jsonl, &request).await).unwrap();
    assert!(mine.contains("note to self"));
    assert!(mine.contains("line one"));
    assert!(mine.contains("\"room\":\"@alice,Bob,carol\""), "{mine}");
    assert!(mine.contains("three of us"));
    assert!(
        !mine.contains("just between us"),
        "alice and bob's DM leaked"
    );
    assert!(!mine.contains("password_hash"));
}

async fn history_since_a_date_pages_forward(kind: Kind) {
    let db = db_on(kind).await;
    let s = &*db.store;
    let alice = user(s, "alice").await;
    let general = s.sidebar(alice.id).await.unwrap().rooms[0].id;
    let csv: String = std::iter::once("id,room,seq,from,date,text\r\n".to_owned())
        .chain((0..10).map(|i| {
            format!(
                ",general,,alice,2024-03-0{}T00:00:00Z,day {i}\r\n",
                i / 2 + 1
            )
        }))
        .collect();
    restore_bytes(s, csv.into_bytes(), false).await.unwrap();
    let since = app::timestamp::parse_rfc3339("2024-03-03T00:00:00Z");
    let first = s
        .history(
            alice.id,
            general,
            HistoryQuery {
                since,
                limit: 3,
                ..HistoryQuery::default()
            },
        )
        .await
        .unwrap();
    let texts: Vec<_> = first.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(texts, ["day 4", "day 5", "day 6"]);
    let next = s
        .history(
            alice.id,
            general,
            HistoryQuery {
                since,
                after: Some(first.messages[2].seq),
                limit: 10,
                ..HistoryQuery::default()
            },
        )
        .await
        .unwrap();
    let texts: Vec<_> = next.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(texts, ["day 7", "day 8", "day 9"]);
}

/// A snapshot taken while a writer is posting opens, and holds every message acknowledged
/// before the snapshot began.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_under_write_load_holds_everything_acked_before_it() {
    let db = db().await;
    let alice = user(&*db.store, "alice").await;
    let general = db.store.sidebar(alice.id).await.unwrap().rooms[0].id;
    let acked = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (store, acked, stop, alice) =
            (db.store.clone(), acked.clone(), stop.clone(), alice.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                let m = store
                    .post_message(NewMessage {
                        room_id: general,
                        author_id: alice.id,
                        body: &format!("m{n}"),
                        client_id: None,
                        html: "",
                        mentions: &[],
                        files: &[],
                        persona: None,
                    })
                    .await
                    .unwrap();
                acked.store(m.seq, std::sync::atomic::Ordering::SeqCst);
            }
            n
        })
    };
    while acked.load(std::sync::atomic::Ordering::SeqCst) < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let acked_before = acked.load(std::sync::atomic::Ordering::SeqCst);
    let path = db.dir.path().join("snap.db");
    db.store.snapshot(&path).await.unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let written = writer.await.unwrap();
    assert!(
        written > acked_before,
        "the writer kept going during the snapshot"
    );
    // Refuses to overwrite.
    assert!(db.store.snapshot(&path).await.is_err());

    let copy = SqliteStore::open(&format!("sqlite://{}", path.display()), Durability::Full)
        .await
        .unwrap();
    let page = copy
        .history(
            alice.id,
            general,
            HistoryQuery {
                after: Some(0),
                limit: 100,
                ..HistoryQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.messages[0].body, "m1");
    let mut seen = 0;
    let mut after = 0;
    loop {
        let page = copy
            .history(
                alice.id,
                general,
                HistoryQuery {
                    after: Some(after),
                    limit: 100,
                    ..HistoryQuery::default()
                },
            )
            .await
            .unwrap();
        let Some(last) = page.messages.last() else {
            break;
        };
        seen += page.messages.len() as i64;
        after = last.seq;
    }
    assert!(
        seen >= acked_before,
        "snapshot has {seen} of {acked_before} acked messages"
    );
    assert_eq!(seen, after, "seqs in the snapshot are gapless");
}

fn arbitrary_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        any::<char>().prop_filter("storable", |c| app::validate::is_message_char(*c)),
        1..60,
    )
    .prop_map(|chars| chars.into_iter().collect::<String>())
    .prop_filter("not blank", |t| !t.trim().is_empty())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any storable text survives every format.
    #[test]
    fn any_text_round_trips_in_every_format(texts in proptest::collection::vec(arbitrary_text(), 1..8)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let source = db().await;
            let alice = user(&*source.store, "alice").await;
            let general = source.store.sidebar(alice.id).await.unwrap().rooms[0].id;
            for text in &texts {
                post(&*source.store, &alice, general, text, None).await;
            }
            let expected = messages_of(&body(&*source.store).await);
            for format in Format::ALL {
                let target = db().await;
                restore_bytes(&*target.store, backup(&*source.store, format).await, false).await.unwrap();
                let got = messages_of(&body(&*target.store).await);
                assert_eq!(got, expected, "{format}");
            }
        });
    }
}

/// Moving an instance from SQLite to PostgreSQL and back through a backup loses nothing: every
/// user (with their password hash), room, membership and message arrives with its seq, and
/// posting carries on where the history ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_and_back_loses_nothing() {
    if pg::url().is_none() {
        eprintln!("CONFAB_TEST_POSTGRES_URL is not set: PostgreSQL case not run");
        return;
    }
    let everything = ExportRequest {
        credentials: true,
        ..ExportRequest::default()
    };
    let source = populated(Kind::Sqlite).await;
    let from_sqlite = backup_with(&*source.store, Format::Jsonl, &everything).await;
    let postgres = db_on(Kind::Postgres).await;
    let counts = restore_bytes(&*postgres.store, from_sqlite.clone(), false)
        .await
        .unwrap();
    assert_eq!((counts.users_created, counts.messages_added), (3, 9));
    let from_postgres = backup_with(&*postgres.store, Format::Jsonl, &everything).await;
    let back = db_on(Kind::Sqlite).await;
    restore_bytes(&*back.store, from_postgres.clone(), false)
        .await
        .unwrap();
    let again = backup_with(&*back.store, Format::Jsonl, &everything).await;
    let body_of = |b: &[u8]| {
        String::from_utf8(b.to_vec())
            .unwrap()
            .split_once('\n')
            .unwrap()
            .1
            .to_owned()
    };
    assert_eq!(body_of(&from_sqlite), body_of(&from_postgres));
    assert_eq!(body_of(&from_sqlite), body_of(&again));

    let carol = postgres.store.user_by_name("carol").await.unwrap().unwrap();
    let ops = postgres.store.sidebar(carol.id).await.unwrap().rooms;
    let ops = ops.iter().find(|r| r.name.starts_with("ops")).unwrap();
    assert_eq!(ops.last_seq, 2);
    post(
        &*postgres.store,
        &carol,
        ops.id,
        "on postgres now",
        Some("c-9"),
    )
    .await;
    let page = postgres
        .store
        .history(
            carol.id,
            ops.id,
            HistoryQuery {
                after: Some(2),
                limit: 5,
                ..HistoryQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].seq, 3);
    // A retry of a client id the restore brought is recognised as one.
    let bob = postgres.store.user_by_name("bob").await.unwrap().unwrap();
    let dm = postgres.store.open_dm(bob.id, &[bob.id, bob.id]).await;
    assert!(dm.is_ok());
    let alice = postgres.store.user_by_name("alice").await.unwrap().unwrap();
    let general = postgres.store.sidebar(alice.id).await.unwrap().rooms;
    let general = general.iter().find(|r| r.name == "general").unwrap();
    let retried = postgres
        .store
        .post_message(NewMessage {
            room_id: general.id,
            author_id: alice.id,
            body: "hello, world",
            client_id: Some("c-1"),
            html: "",
            mentions: &[],
            files: &[],
            persona: None,
        })
        .await
        .unwrap();
    assert_eq!(
        retried.seq, 1,
        "the restored message is returned, not stored again"
    );
}

async fn edits_and_tombstones_round_trip_and_restore_takes_new_revs(kind: Kind) {
    let source = populated(kind).await;
    let s = &*source.store;
    let alice = s.user_by_name("alice").await.unwrap().unwrap();
    let bob = s.user_by_name("Bob").await.unwrap().unwrap();
    let general = s.sidebar(alice.id).await.unwrap().rooms[0].id;
    let dm = s.sidebar(alice.id).await.unwrap().dms[0].id;
    let mentions_bob = vec!["Bob".to_owned()];
    let change = |user: &User, room, seq, kind| MessageChange {
        user_id: user.id,
        room_id: room,
        seq,
        client_id: None,
        kind,
    };
    s.change_message(change(
        &alice,
        general,
        1,
        ChangeKind::Edit {
            body: "hello, edited for @bob",
            html: "",
            mentions: &mentions_bob,
        },
    ))
    .await
    .unwrap();
    s.change_message(change(&bob, dm, 2, ChangeKind::Delete))
        .await
        .unwrap();
    for (who, emoji) in [(&bob, "👍"), (&alice, "👍"), (&bob, "🎉")] {
        s.change_message(change(who, general, 2, ChangeKind::React { emoji }))
            .await
            .unwrap();
    }

    // JSONL keeps both, and a round trip is byte-identical apart from the header.
    let first = backup(s, Format::Jsonl).await;
    let text = String::from_utf8(first.clone()).unwrap();
    assert!(
        text.contains("\"text\":\"hello, edited for @bob\""),
        "{text}"
    );
    assert_eq!(text.matches("\"mentions\":[\"Bob\"]").count(), 1, "{text}");
    assert_eq!(text.matches("\"edited_at\":").count(), 1);
    assert_eq!(text.matches("\"deleted_at\":").count(), 1);
    assert!(
        text.contains(
            r#""reactions":[{"emoji":"👍","users":["Bob","alice"]},{"emoji":"🎉","users":["Bob"]}]"#
        ),
        "{text}"
    );
    assert!(
        !text.contains("]]> --> <!--"),
        "the deleted words are not in the backup"
    );
    let target = db_on(kind).await;
    let counts = restore_bytes(&*target.store, first.clone(), false)
        .await
        .unwrap();
    assert_eq!(counts.messages_added, 9);
    assert_eq!(body(&*target.store).await, body(s).await);
    // Twice changes nothing.
    let again = restore_bytes(&*target.store, first, false).await.unwrap();
    assert_eq!((again.messages_added, again.messages_skipped), (0, 9));
    assert_eq!(body(&*target.store).await, body(s).await);

    // Restored messages took the rooms' revs in seq order, so clients can catch up on them.
    let t = &*target.store;
    let alice_t = t.user_by_name("alice").await.unwrap().unwrap();
    // Mentions came back, and the restore rendered the text with them.
    let general_t = t.sidebar(alice_t.id).await.unwrap().rooms[0].id;
    let first_t = t
        .history(
            alice_t.id,
            general_t,
            HistoryQuery {
                limit: 50,
                ..HistoryQuery::default()
            },
        )
        .await
        .unwrap()
        .messages
        .remove(0);
    assert_eq!(first_t.mentions, vec!["Bob".to_owned()]);
    assert!(
        first_t.html.contains("<span class=\"mention\">@bob</span>"),
        "{}",
        first_t.html
    );
    let dm_t = t.sidebar(alice_t.id).await.unwrap().dms[0].id;
    let page = t
        .history(
            alice_t.id,
            dm_t,
            HistoryQuery {
                limit: 50,
                ..HistoryQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.rev, 2);
    let revs: Vec<(i64, i64, bool)> = page
        .messages
        .iter()
        .map(|m| (m.seq, m.rev, m.is_deleted()))
        .collect();
    assert_eq!(revs, [(1, 1, false), (2, 2, true)]);
    let caught = t.changes(alice_t.id, dm_t, 0, 10).await.unwrap();
    assert_eq!(caught.messages.len(), 2);

    // XML carries both too; CSV has no place for a tombstone and leaves it out.
    let xml = backup(s, Format::Xml).await;
    let xml_text = String::from_utf8(xml.clone()).unwrap();
    assert!(
        xml_text.contains(" edited=\"") && xml_text.contains(" deleted=\""),
        "{xml_text}"
    );
    let from_xml = db_on(kind).await;
    restore_bytes(&*from_xml.store, xml, false).await.unwrap();
    // XML has no place for reactions or mentions; everything else comes back.
    let without_reactions = |messages: Vec<serde_json::Value>| {
        let mut messages = as_xml_and_csv_carry(&messages);
        for m in &mut messages {
            m.as_object_mut().unwrap().remove("reactions");
            m.as_object_mut().unwrap().remove("mentions");
        }
        messages
    };
    assert_eq!(
        without_reactions(messages_of(&body(&*from_xml.store).await)),
        without_reactions(messages_of(&body(s).await)),
    );
    let csv = backup(s, Format::Csv).await;
    assert!(String::from_utf8(csv.clone())
        .unwrap()
        .contains("hello, edited"));
    let from_csv = db_on(kind).await;
    let counts = restore_bytes(&*from_csv.store, csv, false).await.unwrap();
    assert_eq!(counts.messages_added, 8, "every message but the tombstone");

    // A tombstone with words, or a change before the message was sent, is refused whole.
    for (line, why) in [
        (
            r#"{"type":"message","id":"019a5c3e-1b2f-7c4d-9e8f-0a1b2c3d4e5f","room":"general","seq":1,"from":"alice","date":"2024-01-01T12:00:00.000Z","text":"still here","deleted_at":"2024-01-01T12:01:00.000Z"}"#,
            "must have empty text",
        ),
        (
            r#"{"type":"message","id":"019a5c3e-1b2f-7c4d-9e8f-0a1b2c3d4e5f","room":"general","seq":1,"from":"alice","date":"2024-01-01T12:00:00.000Z","text":"hi","edited_at":"2023-01-01T12:01:00.000Z"}"#,
            "cannot be edited before it was sent",
        ),
        (
            r#"{"type":"message","id":"019a5c3e-1b2f-7c4d-9e8f-0a1b2c3d4e5f","room":"general","seq":1,"from":"alice","date":"2024-01-01T12:00:00.000Z","text":"hi","reactions":[{"emoji":"lol","users":["bob"]}]}"#,
            "invalid or repeated reaction",
        ),
        (
            r#"{"type":"message","id":"019a5c3e-1b2f-7c4d-9e8f-0a1b2c3d4e5f","room":"general","seq":1,"from":"alice","date":"2024-01-01T12:00:00.000Z","text":"hi","reactions":[{"emoji":"👍","users":["bob","Bob"]}]}"#,
            "must name each person once",
        ),
        (
            r#"{"type":"message","id":"019a5c3e-1b2f-7c4d-9e8f-0a1b2c3d4e5f","room":"general","seq":1,"from":"alice","date":"2024-01-01T12:00:00.000Z","text":"hi @x","mentions":["x y"]}"#,
            "mention \"x y\" is not a username",
        ),
        (
            r#"{"type":"message","id":"019a5c3e-1b2f-7c4d-9e8f-0a1b2c3d4e5f","room":"general","seq":1,"from":"alice","date":"2024-01-01T12:00:00.000Z","text":"","deleted_at":"2024-01-01T12:01:00.000Z","mentions":["bob"]}"#,
            "a deleted message mentions nobody",
        ),
    ] {
        let file = format!(
            "{{\"format\":\"confab-backup\",\"version\":1,\"created_at\":\"2024-01-02T00:00:00.000Z\",\"credentials\":false,\"scope\":{{}}}}\n{line}\n{{\"type\":\"end\",\"users\":0,\"rooms\":0,\"members\":0,\"messages\":1}}\n"
        );
        let fresh = db_on(kind).await;
        let err = restore_bytes(&*fresh.store, file.into_bytes(), false)
            .await
            .unwrap_err();
        assert!(err.to_string().contains(why), "{err}");
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}

async fn reply(store: &dyn Store, author: &User, room: RoomId, to: i64, body: &str, also: bool) {
    store
        .post_reply(app::store::NewReply {
            message: NewMessage {
                room_id: room,
                author_id: author.id,
                body,
                client_id: None,
                html: "",
                mentions: &[],
                files: &[],
                persona: None,
            },
            to,
            also_in_room: also,
        })
        .await
        .unwrap();
}

async fn threads_round_trip_and_a_reply_needs_its_root(kind: Kind) {
    let source = db_on(kind).await;
    let s = &*source.store;
    let alice = user(s, "alice").await;
    let bob = user(s, "bob").await;
    let ops = s
        .create_room(alice.id, "ops", None, false)
        .await
        .unwrap()
        .id;
    s.join_room(bob.id, ops).await.unwrap();
    post(s, &alice, ops, "deploy today?", None).await;
    post(s, &bob, ops, "lunch?", None).await;
    reply(s, &bob, ops, 1, "after lunch", false).await;
    reply(s, &alice, ops, 3, "agreed, telling everyone", true).await;

    let first = backup(s, Format::Jsonl).await;
    let text = String::from_utf8(first.clone()).unwrap();
    let root_id = messages_of(&text)[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        text.matches(&format!("\"thread\":\"{root_id}\"")).count(),
        2,
        "{text}"
    );
    assert_eq!(text.matches("\"also_in_room\":true").count(), 1, "{text}");

    let target = db_on(kind).await;
    let counts = restore_bytes(&*target.store, first.clone(), false)
        .await
        .unwrap();
    assert_eq!(counts.messages_added, 4);
    assert_eq!(body(&*target.store).await, body(s).await);
    let t = &*target.store;
    let alice_there = t.user_by_name("alice").await.unwrap().unwrap();
    let ops_there = t.sidebar(alice_there.id).await.unwrap().rooms;
    let ops_there = ops_there.iter().find(|r| r.name == "ops").unwrap();
    let timeline = t
        .history(
            alice_there.id,
            ops_there.id,
            HistoryQuery {
                limit: 50,
                ..HistoryQuery::default()
            },
        )
        .await
        .unwrap();
    let bodies: Vec<_> = timeline.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        ["deploy today?", "lunch?", "agreed, telling everyone"]
    );
    assert_eq!(timeline.messages[0].replies, 2);
    assert_eq!(timeline.messages[0].followers, ["alice", "bob"]);
    // Restored history is read, threads too.
    assert_eq!(ops_there.unread, 0);
    // Twice changes nothing.
    let again = restore_bytes(&*target.store, first.clone(), false)
        .await
        .unwrap();
    assert_eq!((again.messages_added, again.messages_skipped), (0, 4));
    assert_eq!(body(&*target.store).await, body(s).await);

    // A backup that starts after a root keeps its replies as plain messages, and restores.
    let root_date = messages_of(&text)[1]["date"].as_str().unwrap().to_owned();
    let since = app::timestamp::parse_rfc3339(&root_date).unwrap();
    let later = ExportRequest {
        scope: Scope {
            since: Some(since),
            ..Scope::default()
        },
        ..ExportRequest::default()
    };
    let partial = String::from_utf8(backup_with(s, Format::Jsonl, &later).await).unwrap();
    let kept = messages_of(&partial);
    assert!(kept.iter().all(|m| m.get("thread").is_none()), "{partial}");
    let fresh = db_on(kind).await;
    restore_bytes(&*fresh.store, partial.into_bytes(), false)
        .await
        .unwrap();

    // A reply to a message the file and the database do not have, or a stray also_in_room,
    // is refused whole, naming its line.
    let fresh = db_on(kind).await;
    let before = body(&*fresh.store).await;
    let stray = text.replacen(
        &format!("\"thread\":\"{root_id}\""),
        "\"thread\":\"019a5c3e-0000-7000-8000-000000000000\"",
        1,
    );
    let err = restore_bytes(&*fresh.store, stray.into_bytes(), false)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line ") && err.contains("not an earlier message"),
        "{err}"
    );
    let loose = text.replacen(
        &format!(",\"thread\":\"{root_id}\",\"also_in_room\":true"),
        ",\"also_in_room\":true",
        1,
    );
    let err = restore_bytes(&*fresh.store, loose.into_bytes(), false)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("only a reply"), "{err}");
    assert_eq!(body(&*fresh.store).await, before);
}

async fn privacy_and_roles_survive_a_round_trip_and_a_merge_never_reveals(kind: Kind) {
    use app::model::{Role, RoomKind};
    let source = db_on(kind).await;
    let s = &*source.store;
    user(s, "alice").await; // the first account: an admin, who still does not see it
    let bob = user(s, "bob").await;
    let carol = user(s, "carol").await;
    let hideout = s
        .create_room(bob.id, "hideout", None, true)
        .await
        .unwrap()
        .id;
    s.add_member(bob.id, hideout, carol.id).await.unwrap();
    s.set_role(bob.id, hideout, carol.id, Role::Moderator)
        .await
        .unwrap();
    post(s, &bob, hideout, "quiet in here", None).await;
    let bytes = backup(s, Format::Jsonl).await;
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("\"private\":true"), "{text}");
    assert!(text.contains("\"role\":\"moderator\""), "{text}");

    let target = db_on(kind).await;
    restore_bytes(&*target.store, bytes.clone(), false)
        .await
        .unwrap();
    let t = &*target.store;
    let id_of = |name: &'static str| async move { t.user_by_name(name).await.unwrap().unwrap().id };
    let (alice2, bob2, carol2) = (
        id_of("alice").await,
        id_of("bob").await,
        id_of("carol").await,
    );
    let room = t
        .sidebar(bob2)
        .await
        .unwrap()
        .rooms
        .into_iter()
        .find(|r| r.name == "hideout")
        .unwrap();
    assert_eq!(room.kind, RoomKind::Private);
    assert!(matches!(
        t.room_view(alice2, room.id).await,
        Err(app::store::StoreError::NotFound(_))
    ));
    assert_eq!(
        t.room_view(bob2, room.id).await.unwrap().role,
        Some(Role::Owner)
    );
    assert_eq!(
        t.room_view(carol2, room.id).await.unwrap().role,
        Some(Role::Moderator)
    );
    assert!(t
        .public_rooms(alice2)
        .await
        .unwrap()
        .iter()
        .all(|l| l.room.id != room.id));

    // A backup in which the room is public, merged into an instance where it is private,
    // leaves it private.
    let public = text
        .replace("\"private\":true,", "")
        .replace(",\"private\":true", "");
    assert!(!public.contains("private"), "{public}");
    restore_bytes(&*target.store, public.into_bytes(), false)
        .await
        .unwrap();
    assert!(matches!(
        t.room_view(alice2, room.id).await,
        Err(app::store::StoreError::NotFound(_))
    ));
}

async fn settings_events_and_pins_survive_jsonl_and_events_stay_out_of_xml_and_csv(kind: Kind) {
    use app::model::RoomEvent;
    let source = db_on(kind).await;
    let s = &*source.store;
    user(s, "alice").await;
    let bob = user(s, "bob").await;
    let room = s.create_room(bob.id, "news", None, false).await.unwrap().id;
    post(s, &bob, room, "first", None).await;
    for change in [
        RoomEvent::Topic {
            topic: Some("Launch day".into()),
        },
        RoomEvent::Description {
            description: Some("What we ship.\nBe kind.".into()),
        },
        RoomEvent::ReadOnly { read_only: true },
        RoomEvent::GroupMentions {
            allowed: app::model::GroupMentions::Moderators,
        },
    ] {
        s.configure_room(bob.id, room, &change)
            .await
            .unwrap()
            .unwrap();
    }
    post(s, &bob, room, "second", None).await;
    let second = s.room_view(bob.id, room).await.unwrap().room.last_seq;
    s.change_message(app::store::MessageChange {
        user_id: bob.id,
        room_id: room,
        seq: second,
        client_id: None,
        kind: app::store::ChangeKind::Pin { pinned: true },
    })
    .await
    .unwrap();
    let everyone = [app::model::MENTION_ROOM.to_owned()];
    s.post_message(NewMessage {
        room_id: room,
        author_id: bob.id,
        body: "@room ship it",
        client_id: None,
        html: "",
        mentions: &everyone,
        files: &[],
        persona: None,
    })
    .await
    .unwrap();
    let bytes = backup(s, Format::Jsonl).await;
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("\"read_only\":true"), "{text}");
    assert!(text.contains("\"group_mentions\":\"moderators\""), "{text}");
    assert!(text.contains("\"event\":{\"kind\":\"topic\""), "{text}");

    let target = db_on(kind).await;
    restore_bytes(&*target.store, bytes.clone(), false)
        .await
        .unwrap();
    let t = &*target.store;
    let bob2 = t.user_by_name("bob").await.unwrap().unwrap();
    let id = t
        .sidebar(bob2.id)
        .await
        .unwrap()
        .rooms
        .into_iter()
        .find(|r| r.name == "news")
        .unwrap()
        .id;
    let view = t.room_view(bob2.id, id).await.unwrap();
    assert_eq!(view.room.topic.as_deref(), Some("Launch day"));
    assert_eq!(
        view.settings.description.as_deref(),
        Some("What we ship.\nBe kind.")
    );
    assert!(view.settings.read_only && !view.settings.archived);
    assert_eq!(
        view.settings.group_mentions,
        app::model::GroupMentions::Moderators
    );
    let page = t
        .history(
            bob2.id,
            id,
            app::store::HistoryQuery {
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let shape: Vec<(String, bool)> = page
        .messages
        .iter()
        .map(|m| (m.body.clone(), m.event.is_some()))
        .collect();
    assert_eq!(
        shape,
        [
            ("first".to_owned(), false),
            (String::new(), true),
            (String::new(), true),
            (String::new(), true),
            (String::new(), true),
            ("second".to_owned(), false),
            ("@room ship it".to_owned(), false)
        ]
    );
    assert_eq!(page.messages[6].mentions, everyone);
    assert_eq!(
        page.messages[3].event,
        Some(RoomEvent::ReadOnly { read_only: true })
    );
    let pin = page.messages[5].pinned.clone().unwrap();
    assert_eq!(pin.by, "bob", "the pin survives the round trip");
    assert_eq!(t.pins(bob2.id, id).await.unwrap().len(), 1);

    // XML and CSV leave events out and carry the messages.
    for format in [Format::Xml, Format::Csv] {
        let out = String::from_utf8(backup(s, format).await).unwrap();
        assert!(out.contains("first") && out.contains("second"), "{out}");
        assert!(!out.contains("Launch day"), "{format:?}: {out}");
    }

    // An event with text, or naming an invalid value, is refused, naming the line; nothing is
    // written.
    let fresh = db_on(kind).await;
    let with_text = text.replacen("\"text\":\"\",\"event\"", "\"text\":\"hi\",\"event\"", 1);
    assert_ne!(with_text, text);
    let err = restore_bytes(&*fresh.store, with_text.into_bytes(), false)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line ") && err.contains("an event has no text"),
        "{err}"
    );
    let long = "x".repeat(300);
    let bad_topic = text.replacen(
        "\"topic\":\"Launch day\"}",
        &format!("\"topic\":\"{long}\"}}"),
        1,
    );
    assert_ne!(bad_topic, text);
    let err = restore_bytes(&*fresh.store, bad_topic.into_bytes(), false)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("event: Topics are at most"), "{err}");
    assert!(
        fresh.store.user_by_name("bob").await.unwrap().is_none(),
        "nothing written"
    );
}

async fn profiles_survive_jsonl_and_a_bad_one_is_refused_by_line(kind: Kind) {
    use app::model::{Avatar, Status};
    use app::store::ProfileChange;
    let source = db_on(kind).await;
    let s = &*source.store;
    let alice = user(s, "alice").await;
    user(s, "bob").await;
    let details = ProfileChange::Details {
        display_name: Some("Alice Liddell"),
        time_zone: Some("Europe/London"),
    };
    s.update_profile(alice.id, &details).await.unwrap();
    let status = Status {
        emoji: Some("🫖".into()),
        text: Some("Tea time".into()),
        until: Some(4_102_444_800_000),
    };
    s.update_profile(alice.id, &ProfileChange::Status(Some(&status)))
        .await
        .unwrap();
    let avatar = Avatar {
        large: "a".repeat(64),
        small: "b".repeat(64),
    };
    s.update_profile(alice.id, &ProfileChange::Avatar(Some(&avatar)))
        .await
        .unwrap();
    let text = String::from_utf8(backup(s, Format::Jsonl).await).unwrap();
    assert!(
        text.contains("\"display_name\":\"Alice Liddell\""),
        "{text}"
    );
    assert!(
        text.contains("\"status_until\":\"2100-01-01T00:00:00"),
        "{text}"
    );
    let bobs = text
        .lines()
        .find(|l| l.contains("\"type\":\"user\"") && l.contains("\"name\":\"bob\""))
        .unwrap();
    assert!(
        !bobs.contains("profile"),
        "an empty profile is left out: {bobs}"
    );

    let target = db_on(kind).await;
    restore_bytes(&*target.store, text.clone().into_bytes(), false)
        .await
        .unwrap();
    let restored = target.store.profile("alice").await.unwrap();
    assert_eq!(restored.display_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(restored.time_zone.as_deref(), Some("Europe/London"));
    assert_eq!(restored.status, Some(status));
    assert_eq!(restored.avatar, Some(avatar));
    assert_eq!(
        target.store.profile("bob").await.unwrap().display_name,
        None
    );

    // Merged into an instance where alice set her own name: hers stands, the rest fills in.
    let merged = db_on(kind).await;
    let alice3 = user(&*merged.store, "alice").await;
    let own = ProfileChange::Details {
        display_name: Some("Al"),
        time_zone: None,
    };
    merged.store.update_profile(alice3.id, &own).await.unwrap();
    restore_bytes(&*merged.store, text.clone().into_bytes(), false)
        .await
        .unwrap();
    let kept = merged.store.profile("alice").await.unwrap();
    assert_eq!(kept.display_name.as_deref(), Some("Al"));
    assert_eq!(kept.time_zone.as_deref(), Some("Europe/London"));

    // A profile the app would refuse is refused, naming the line; nothing is written.
    for (from, to, says) in [
        ("\"Europe/London\"", "\"Mars/Olympus\"", "not a time zone"),
        ("\"Alice Liddell\"", "\"@bob\"", "cannot start with '@'"),
        (
            &format!("\"{}\"", "a".repeat(64)),
            "\"not-a-hash\"",
            "two SHA-256 hashes",
        ),
    ] {
        let bad = text.replacen(from, to, 1);
        assert_ne!(bad, text);
        let fresh = db_on(kind).await;
        let err = restore_bytes(&*fresh.store, bad.into_bytes(), false)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("line ") && err.contains(says), "{err}");
        assert!(fresh.store.user_by_name("alice").await.unwrap().is_none());
    }
}
