//! An SQL injection sweep: every field of every HTTP API call and of every socket frame, tried
//! with strings built to break out of an SQL literal (and to confuse the form and JSON decoders
//! on the way). Each answer must be an ordinary one: a 4xx with a message, or success with the
//! text stored exactly as sent. Never a 500, never a changed schema, never a row that was not
//! asked for. (All SQL is bound parameters; this proves it for the fields we have.)
#![expect(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use app::protocol::{ClientFrame, ErrorCode, ServerFrame};
use common::{connect, next, post, register, send, start};
use sqlx::Row;

/// Strings that end an SQL string or number early, comment out the rest, stack a statement,
/// or smuggle placeholders, for SQLite and PostgreSQL alike.
const PAYLOADS: &[&str] = &[
    "' OR '1'='1",
    "' OR 1=1--",
    "\" OR \"\"=\"",
    "admin'--",
    "') OR ('a'='a",
    "'; DROP TABLE messages; --",
    "1; DROP TABLE users",
    "1 OR 1=1",
    "1) OR (1=1",
    "0 UNION SELECT password_hash FROM users",
    "' UNION SELECT NULL, NULL, NULL--",
    "'||(SELECT sqlite_version())||'",
    "' AND (SELECT COUNT(*) FROM sessions) > 0 --",
    "'; ATTACH DATABASE '/tmp/confab-pwned.db' AS pwned; --",
    "'; UPDATE users SET is_admin = 1; --",
    "1'; SELECT pg_sleep(5); --",
    "$1",
    "?1",
    ":name",
    "%' --",
    "\\'; --",
    "' /*",
    "*/ OR 1=1 /*",
    "\u{2019} OR 1=1 --",
    "%27%20OR%201%3D1",
    "1e309",
    "-1",
    "9223372036854775808",
    "NaN",
    "0x7fffffffffffffff",
    "{\"$gt\": \"\"}",
    "<script>alert(1)</script>",
    "\0",
    "' OR '' = '",
    "robert'); DROP TABLE students;--",
];

/// `application/x-www-form-urlencoded`, every byte but letters and digits escaped.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The schema and the size of every table, read straight from the database file.
async fn fingerprint(db: &std::path::Path) -> (Vec<String>, Vec<(String, i64)>) {
    let url = format!("sqlite://{}?mode=ro", db.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let schema: Vec<String> = sqlx::query(
        "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect();
    let mut sizes = Vec::new();
    for table in ["users", "rooms", "memberships", "messages", "sessions"] {
        let n: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .unwrap()
            .get(0);
        sizes.push((table.to_owned(), n));
    }
    pool.close().await;
    (schema, sizes)
}

/// The next answer to this socket's own frames (broadcasts of its own posts are skipped).
async fn answer(ws: &mut common::Ws) -> ServerFrame {
    loop {
        match next(ws).await {
            ServerFrame::Message { .. }
            | ServerFrame::Read { .. }
            | ServerFrame::Edited { .. }
            | ServerFrame::Deleted { .. }
            | ServerFrame::Reacted { .. } => continue,
            frame => return frame,
        }
    }
}

#[tokio::test]
async fn no_field_of_the_http_api_or_the_socket_reaches_sql_as_code() {
    let server = start().await;
    let addr = server.addr;
    let db = server._dir.path().join("confab.db");
    let admin = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let (_, _, room) = post(addr, "/api/create_room", "name=target", Some(&bob)).await;
    let room: i64 = room.trim().parse().unwrap();
    // A message of bob's to edit (seq 1 of his room).
    let (status, _, _) = post(
        addr,
        "/api/post_message",
        &format!("room_id={room}&text=original"),
        Some(&bob),
    )
    .await;
    assert_eq!(status, 200);
    let (schema, sizes) = fingerprint(&db).await;

    // (endpoint, the form with {} where the payload goes, whose session)
    let calls: &[(&str, &str, Option<&str>)] = &[
        ("register", "username={}&password=password123", None),
        ("register", "username=newcomer&password={}", None),
        ("login", "username={}&password=password123", None),
        ("login", "username=alice&password={}", None),
        ("create_room", "name={}", Some(&bob)),
        ("create_room", "name=fine&topic={}", Some(&bob)),
        ("room", "room_id={}", Some(&bob)),
        ("members", "room_id={}", Some(&bob)),
        ("join_room", "room_id={}", Some(&bob)),
        ("leave_room", "room_id={}", Some(&admin)),
        ("open_dm", "username={}", Some(&bob)),
        ("post_message", "room_id={}&text=hello", Some(&bob)),
        ("post_message", "room_id=ROOM&text={}", Some(&bob)),
        (
            "post_message",
            "room_id=ROOM&text=hello&client_id={}",
            Some(&bob),
        ),
        ("history", "room_id={}", Some(&bob)),
        ("history", "room_id=ROOM&before={}", Some(&bob)),
        ("history", "room_id=ROOM&after={}", Some(&bob)),
        ("history", "room_id=ROOM&since={}", Some(&bob)),
        ("history", "room_id=ROOM&limit={}", Some(&bob)),
        ("edit_message", "room_id={}&seq=1&text=edited", Some(&bob)),
        (
            "edit_message",
            "room_id=ROOM&seq={}&text=edited",
            Some(&bob),
        ),
        ("edit_message", "room_id=ROOM&seq=1&text={}", Some(&bob)),
        (
            "edit_message",
            "room_id=ROOM&seq=1&text=edited&client_id={}",
            Some(&bob),
        ),
        ("react", "room_id=ROOM&seq=1&emoji={}", Some(&bob)),
        (
            "react",
            "room_id=ROOM&seq={}&emoji=%F0%9F%91%8D",
            Some(&bob),
        ),
        ("delete_message", "room_id={}&seq=1", Some(&bob)),
        ("delete_message", "room_id=ROOM&seq={}", Some(&bob)),
        ("changes", "room_id={}&after_rev=0", Some(&bob)),
        ("changes", "room_id=ROOM&after_rev={}", Some(&bob)),
        ("changes", "room_id=ROOM&after_rev=0&limit={}", Some(&bob)),
        ("mark_read", "room_id={}&seq=1", Some(&bob)),
        ("mark_read", "room_id=ROOM&seq={}", Some(&bob)),
        ("remove_member", "room_id=ROOM&username={}", Some(&bob)),
        ("remove_member", "room_id={}&username=alice", Some(&bob)),
        ("moderate", "username={}&action=end_sessions", Some(&admin)),
        ("moderate", "username=carol&action={}", Some(&admin)),
    ];
    let mut stored_texts = BTreeSet::new();
    let mut tried = 0;
    for (endpoint, form, cookie) in calls {
        for (k, payload) in PAYLOADS.iter().enumerate() {
            let mut value = encode(payload);
            if form.contains("client_id={}") {
                // Client ids are unique per post: keep each retry distinct.
                value = encode(&format!("{payload}{k}"));
            }
            let body = form
                .replace("ROOM", &room.to_string())
                .replace("{}", &value);
            let (status, _, answer) = post(addr, &format!("/api/{endpoint}"), &body, *cookie).await;
            tried += 1;
            assert!(
                (200..500).contains(&status),
                "{endpoint} with {payload:?}: {status} {answer}"
            );
            if status >= 400 {
                let error: serde_json::Value = serde_json::from_str(&answer).unwrap_or_else(|_| {
                    panic!("{endpoint} {payload:?}: not an error body: {answer}")
                });
                assert!(error["kind"].is_string(), "{answer}");
                continue;
            }
            let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
            match *endpoint {
                "post_message" if form.contains("text={}") => {
                    // Stored literally: what comes back is what was sent (trimmed).
                    assert_eq!(answer["body"], payload.trim(), "{answer}");
                    stored_texts.insert(payload.trim().to_owned());
                }
                "edit_message" if form.contains("text={}") => {
                    // The message now says exactly what was sent (later edits replace it).
                    assert_eq!(answer["body"], payload.trim(), "{answer}");
                }
                "create_room" if form.starts_with("name={}") => {
                    let (_, _, view) =
                        post(addr, "/api/room", &format!("room_id={answer}"), Some(&bob)).await;
                    let view: serde_json::Value = serde_json::from_str(&view).unwrap();
                    assert_eq!(view["room"]["name"], payload.trim(), "{view}");
                }
                _ => {}
            }
        }
    }
    assert!(
        !stored_texts.is_empty(),
        "some payloads are ordinary text and must be stored"
    );

    // The same over the socket: strings where strings go, and where numbers go.
    let mut ws = connect(addr, &bob).await;
    let mut bad_frames = 0;
    for (k, payload) in PAYLOADS.iter().enumerate() {
        let post = ClientFrame::Post {
            room_id: room,
            client_id: format!("ws-{k}-{payload}").chars().take(60).collect(),
            text: (*payload).to_owned(),
            thread: None,
            also_in_room: false,
        };
        send(&mut ws, &post).await;
        match answer(&mut ws).await {
            ServerFrame::Ack { message, .. } => {
                assert_eq!(message.body, payload.trim());
                stored_texts.insert(payload.trim().to_owned());
            }
            ServerFrame::Error { code, message, .. } => {
                assert_ne!(code, ErrorCode::Internal, "{payload:?}: {message}");
            }
            other => panic!("{payload:?}: {other:?}"),
        }
        let edit = ClientFrame::Edit {
            room_id: room,
            seq: 1,
            client_id: format!("ws-e-{k}"),
            text: (*payload).to_owned(),
        };
        send(&mut ws, &edit).await;
        match answer(&mut ws).await {
            ServerFrame::Ack { message, .. } => assert_eq!(message.body, payload.trim()),
            ServerFrame::Error { code, message, .. } => {
                assert_ne!(code, ErrorCode::Internal, "{payload:?}: {message}");
            }
            other => panic!("{payload:?}: {other:?}"),
        }
        let react = ClientFrame::React {
            room_id: room,
            seq: 1,
            client_id: format!("ws-r-{k}"),
            emoji: (*payload).to_owned(),
        };
        send(&mut ws, &react).await;
        match answer(&mut ws).await {
            ServerFrame::Error { code, .. } => {
                assert_eq!(code, ErrorCode::BadRequest, "{payload:?}")
            }
            other => panic!("{payload:?} is no emoji: {other:?}"),
        }
        for frame in [
            serde_json::json!({"type": "sync", "room_id": payload, "after_seq": 0}),
            serde_json::json!({"type": "changes", "room_id": room, "after_rev": payload}),
            serde_json::json!({"type": "delete", "room_id": room, "seq": payload, "client_id": "d"}),
            serde_json::json!({"type": "read", "room_id": room, "seq": payload}),
            serde_json::json!({"type": "typing", "room_id": payload}),
        ] {
            let text = frame.to_string();
            futures_util::SinkExt::send(&mut ws, text.into())
                .await
                .unwrap();
            match answer(&mut ws).await {
                ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::BadFrame),
                other => panic!("{frame}: {other:?}"),
            }
            bad_frames += 1;
            if bad_frames == 9 {
                // Ten malformed frames close a socket by design; start a fresh one.
                ws = connect(addr, &bob).await;
                bad_frames = 0;
            }
        }
    }

    // Nothing but ordinary rows was added, and the schema is as it was.
    let (schema_after, sizes_after) = fingerprint(&db).await;
    assert_eq!(schema_after, schema, "the schema changed");
    let (_, _, history) = post(
        addr,
        "/api/history",
        &format!("room_id={room}&limit=100"),
        Some(&bob),
    )
    .await;
    let history: serde_json::Value = serde_json::from_str(&history).unwrap();
    let bodies: BTreeSet<String> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        stored_texts.iter().all(|t| bodies.contains(t)),
        "{bodies:?}"
    );
    let admins: i64 = {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", db.display()))
            .await
            .unwrap();
        let n = sqlx::query("SELECT COUNT(*) FROM users WHERE is_admin")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get(0);
        pool.close().await;
        n
    };
    assert_eq!(admins, 1, "no payload made anyone an admin");
    for ((table, before), (_, after)) in sizes.iter().zip(&sizes_after) {
        assert!(after >= before, "{table} lost rows: {before} -> {after}");
    }
    eprintln!(
        "{tried} HTTP calls and {} socket frames tried",
        PAYLOADS.len() * 8
    );
}
