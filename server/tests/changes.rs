//! Edits and deletes against a real server on loopback: live `edited`/`deleted` frames on every
//! member's socket, acks and idempotent retries over the socket, the HTTP calls (JSON, and a
//! form posted without JavaScript), `changes` catching up a socket that was away, and a client
//! written for protocol version 1 that keeps working without ever seeing the new frames.
#![expect(clippy::unwrap_used)]

mod common;

use app::model::Message;
use app::protocol::{ClientFrame, ErrorCode, ServerFrame};
use common::{connect, connect_v1, next, post, post_frame, register, send, start};

fn edit(seq: i64, client_id: &str, text: &str) -> ClientFrame {
    ClientFrame::Edit {
        room_id: 1,
        seq,
        client_id: client_id.into(),
        text: text.into(),
    }
}

fn delete(seq: i64, client_id: &str) -> ClientFrame {
    ClientFrame::Delete {
        room_id: 1,
        seq,
        client_id: client_id.into(),
    }
}

async fn acked(ws: &mut common::Ws, expected: &str) -> Message {
    match next(ws).await {
        ServerFrame::Ack { client_id, message } => {
            assert_eq!(client_id, expected);
            message
        }
        other => panic!("expected ack, got {other:?}"),
    }
}

/// The ack of `expected`, passing over the broadcasts of earlier changes.
async fn acked_later(ws: &mut common::Ws, expected: &str) -> Message {
    loop {
        match next(ws).await {
            ServerFrame::Ack { client_id, message } if client_id == expected => return message,
            ServerFrame::Message { .. }
            | ServerFrame::Edited { .. }
            | ServerFrame::Deleted { .. } => {}
            other => panic!("expected ack, got {other:?}"),
        }
    }
}

async fn live_message(ws: &mut common::Ws) -> Message {
    match next(ws).await {
        ServerFrame::Message { message } => message,
        other => panic!("expected message, got {other:?}"),
    }
}

#[tokio::test]
async fn edits_and_deletes_reach_every_device_live_and_retries_are_answered_once() {
    let server = start().await;
    let alice = register(server.addr, "alice").await;
    let bob = register(server.addr, "bob").await;
    let mut alice_laptop = connect(server.addr, &alice).await;
    let mut alice_phone = connect(server.addr, &alice).await;
    let mut bob_ws = connect(server.addr, &bob).await;

    send(&mut alice_laptop, &post_frame(1, "p1", "helo")).await;
    let posted = acked(&mut alice_laptop, "p1").await;
    for ws in [&mut alice_laptop, &mut alice_phone, &mut bob_ws] {
        assert_eq!(live_message(ws).await.seq, posted.seq);
    }

    send(&mut alice_laptop, &edit(posted.seq, "e1", "  hello  ")).await;
    let edited = acked(&mut alice_laptop, "e1").await;
    assert_eq!(edited.body, "hello");
    assert!(edited.edited_at.is_some());
    assert!(edited.rev > posted.rev);
    for ws in [&mut alice_laptop, &mut alice_phone, &mut bob_ws] {
        match next(ws).await {
            ServerFrame::Edited { message } => assert_eq!(message, edited),
            other => panic!("expected edited, got {other:?}"),
        }
    }

    // A retry after a lost ack: the same answer, and nobody is told twice.
    send(&mut alice_laptop, &edit(posted.seq, "e1", "hello")).await;
    assert_eq!(acked(&mut alice_laptop, "e1").await, edited);

    // Bob may not edit or delete alice's message in general (nobody created it).
    send(&mut bob_ws, &edit(posted.seq, "b1", "mine now")).await;
    match next(&mut bob_ws).await {
        ServerFrame::Error {
            code, client_id, ..
        } => {
            assert_eq!(code, ErrorCode::Forbidden);
            assert_eq!(client_id.as_deref(), Some("b1"));
        }
        other => panic!("expected error, got {other:?}"),
    }
    send(&mut bob_ws, &delete(posted.seq, "b2")).await;
    assert!(matches!(
        next(&mut bob_ws).await,
        ServerFrame::Error {
            code: ErrorCode::Forbidden,
            ..
        }
    ));

    // Empty and oversize edits are refused; nothing changes.
    send(&mut alice_laptop, &edit(posted.seq, "e2", "   ")).await;
    assert!(matches!(
        next(&mut alice_laptop).await,
        ServerFrame::Error {
            code: ErrorCode::BadRequest,
            ..
        }
    ));
    send(
        &mut alice_laptop,
        &edit(posted.seq, "e3", &"x".repeat(4001)),
    )
    .await;
    assert!(matches!(
        next(&mut alice_laptop).await,
        ServerFrame::Error {
            code: ErrorCode::BadRequest,
            ..
        }
    ));
    send(&mut alice_laptop, &edit(99, "e4", "nothing there")).await;
    assert!(matches!(
        next(&mut alice_laptop).await,
        ServerFrame::Error {
            code: ErrorCode::NotFound,
            ..
        }
    ));

    send(&mut alice_laptop, &delete(posted.seq, "d1")).await;
    let tomb = acked(&mut alice_laptop, "d1").await;
    assert!(tomb.is_deleted());
    assert_eq!((tomb.body.as_str(), tomb.seq), ("", posted.seq));
    for ws in [&mut alice_laptop, &mut alice_phone, &mut bob_ws] {
        match next(ws).await {
            ServerFrame::Deleted { message } => assert_eq!(message, tomb),
            other => panic!("expected deleted, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_socket_that_was_away_catches_up_on_every_change_by_rev() {
    let server = start().await;
    let alice = register(server.addr, "alice").await;
    let bob = register(server.addr, "bob").await;
    let mut alice_ws = connect(server.addr, &alice).await;
    for i in 1..=4 {
        send(
            &mut alice_ws,
            &post_frame(1, &format!("p{i}"), &format!("m{i}")),
        )
        .await;
        acked_later(&mut alice_ws, &format!("p{i}")).await;
    }
    // Bob reads the room, notes its rev, and goes away.
    let (status, _, body) = post(server.addr, "/api/history", "room_id=1", Some(&bob)).await;
    assert_eq!(status, 200, "{body}");
    let page: app::model::HistoryPage = serde_json::from_str(&body).unwrap();
    assert_eq!(page.messages.len(), 4);

    // While he is away: two edits of one message, a delete, a post (over HTTP too).
    send(&mut alice_ws, &edit(1, "e1", "m1 again")).await;
    acked_later(&mut alice_ws, "e1").await;
    let (status, _, body) = post(
        server.addr,
        "/api/edit_message",
        "room_id=1&seq=1&text=m1+final&client_id=e2",
        Some(&alice),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    send(&mut alice_ws, &delete(3, "d1")).await;
    acked_later(&mut alice_ws, "d1").await;
    send(&mut alice_ws, &post_frame(1, "p5", "m5")).await;
    acked_later(&mut alice_ws, "p5").await;

    let mut bob_ws = connect(server.addr, &bob).await;
    send(
        &mut bob_ws,
        &ClientFrame::Changes {
            room_id: 1,
            after_rev: page.rev,
        },
    )
    .await;
    match next(&mut bob_ws).await {
        ServerFrame::Changes {
            room_id,
            messages,
            complete,
        } => {
            assert_eq!(room_id, 1);
            assert!(complete);
            let got: Vec<(i64, &str, bool)> = messages
                .iter()
                .map(|m| (m.seq, m.body.as_str(), m.is_deleted()))
                .collect();
            assert_eq!(
                got,
                [(1, "m1 final", false), (3, "", true), (5, "m5", false)]
            );
        }
        other => panic!("expected changes, got {other:?}"),
    }
    // The same over HTTP.
    let (status, _, body) = post(
        server.addr,
        "/api/changes",
        &format!("room_id=1&after_rev={}", page.rev),
        Some(&bob),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let changes: app::model::Changes = serde_json::from_str(&body).unwrap();
    assert_eq!(changes.messages.len(), 3);
}

#[tokio::test]
async fn a_version_1_client_keeps_working_and_is_not_sent_the_new_frames() {
    let server = start().await;
    let alice = register(server.addr, "alice").await;
    let bob = register(server.addr, "bob").await;
    let mut alice_ws = connect(server.addr, &alice).await;
    let mut old_bob = connect_v1(server.addr, &bob).await;

    send(&mut alice_ws, &post_frame(1, "p1", "first")).await;
    let first = acked(&mut alice_ws, "p1").await;
    live_message(&mut alice_ws).await;
    assert_eq!(live_message(&mut old_bob).await.seq, first.seq);
    send(&mut alice_ws, &edit(first.seq, "e1", "first, edited")).await;
    acked(&mut alice_ws, "e1").await;
    assert!(matches!(
        next(&mut alice_ws).await,
        ServerFrame::Edited { .. }
    ));
    send(&mut alice_ws, &post_frame(1, "p2", "second")).await;
    acked(&mut alice_ws, "p2").await;
    // The edit is skipped for the old client: its next frame is the next message.
    let second = live_message(&mut old_bob).await;
    assert_eq!(second.body, "second");

    // The new client frames are refused with a reason, and the socket stays usable.
    send(&mut old_bob, &edit(second.seq, "x", "nope")).await;
    match next(&mut old_bob).await {
        ServerFrame::Error { code, message, .. } => {
            assert_eq!(code, ErrorCode::BadFrame);
            assert!(message.contains("v=2"), "{message}");
        }
        other => panic!("expected error, got {other:?}"),
    }
    send(&mut old_bob, &post_frame(1, "b1", "still here")).await;
    assert_eq!(acked(&mut old_bob, "b1").await.body, "still here");

    // A version that is not a number is refused at the handshake.
    let request = common::request_to(server.addr, "/ws?v=two", Some(&bob), None);
    let err = tokio_tungstenite::connect_async(request).await.unwrap_err();
    assert!(err.to_string().contains("400"), "{err}");
}

#[tokio::test]
async fn forms_without_javascript_edit_and_delete_and_come_back_to_the_room() {
    let server = start().await;
    let alice = register(server.addr, "alice").await;
    let (status, _, body) = post(
        server.addr,
        "/api/post_message",
        "room_id=1&text=typo+hree",
        Some(&alice),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let posted: Message = serde_json::from_str(&body).unwrap();

    // A browser's plain form post wants a page: it is sent back to the message.
    let (status, location) = common::form_post(
        server.addr,
        "/api/edit_message",
        &format!("room_id=1&seq={}&text=typo+here&client_id=f1", posted.seq),
        &alice,
    )
    .await;
    assert_eq!(status, 302);
    assert_eq!(location, format!("/r/1#m{}", posted.seq));
    let (status, _, page) = common::get(server.addr, "/r/1", Some(&alice)).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("typo here") && page.contains("(edited"),
        "{page}"
    );

    // The edit form itself is served to a browser without JavaScript.
    let (_, _, page) = common::get(
        server.addr,
        &format!("/r/1?edit={}", posted.seq),
        Some(&alice),
    )
    .await;
    assert!(page.contains("class=\"edit-message\""), "{page}");

    let (status, _) = common::form_post(
        server.addr,
        "/api/delete_message",
        &format!("room_id=1&seq={}&client_id=f2", posted.seq),
        &alice,
    )
    .await;
    assert_eq!(status, 302);
    let (_, _, page) = common::get(server.addr, "/r/1", Some(&alice)).await;
    assert!(page.contains("Message deleted"), "{page}");
    assert!(!page.contains("typo here"), "the words are gone: {page}");
}

#[tokio::test]
async fn reactions_reach_every_member_live_and_are_refused_when_not_an_emoji() {
    let server = start().await;
    let alice = register(server.addr, "alice").await;
    let bob = register(server.addr, "bob").await;
    let mut alice_ws = connect(server.addr, &alice).await;
    let mut bob_ws = connect(server.addr, &bob).await;
    let mut old_bob = connect_v1(server.addr, &bob).await;
    send(&mut alice_ws, &post_frame(1, "p1", "ship it?")).await;
    let posted = acked(&mut alice_ws, "p1").await;
    live_message(&mut alice_ws).await;
    live_message(&mut bob_ws).await;
    live_message(&mut old_bob).await;

    let react = |client_id: &str, emoji: &str| ClientFrame::React {
        room_id: 1,
        seq: posted.seq,
        client_id: client_id.into(),
        emoji: emoji.into(),
    };
    send(&mut bob_ws, &react("r1", " 🚀 ")).await;
    let reacted = acked(&mut bob_ws, "r1").await;
    assert_eq!(reacted.reactions.len(), 1);
    assert_eq!(reacted.reactions[0].emoji, "🚀");
    assert_eq!(reacted.reactions[0].users, ["bob"]);
    for ws in [&mut alice_ws, &mut bob_ws] {
        match next(ws).await {
            ServerFrame::Reacted { message } => assert_eq!(message, reacted),
            other => panic!("expected reacted, got {other:?}"),
        }
    }
    for bad in ["", "lol", "<img src=x>", "🚀 🚀", &"🚀".repeat(20)] {
        send(&mut bob_ws, &react("r2", bad)).await;
        match next(&mut bob_ws).await {
            ServerFrame::Error {
                code, client_id, ..
            } => {
                assert_eq!(code, ErrorCode::BadRequest, "{bad:?}");
                assert_eq!(client_id.as_deref(), Some("r2"));
            }
            other => panic!("{bad:?}: expected error, got {other:?}"),
        }
    }
    // Over HTTP too, and the version 1 socket heard none of it: its next frame is a message.
    let (status, _, body) = post(
        server.addr,
        "/api/react",
        &format!(
            "room_id=1&seq={}&emoji=%F0%9F%9A%80&client_id=h1",
            posted.seq
        ),
        Some(&alice),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let both: Message = serde_json::from_str(&body).unwrap();
    assert_eq!(both.reactions[0].users, ["bob", "alice"]);
    send(&mut alice_ws, &post_frame(1, "p2", "after the reactions")).await;
    assert_eq!(live_message(&mut old_bob).await.body, "after the reactions");
}
