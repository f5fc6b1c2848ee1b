//! Threads through the real router and socket: replies over the socket and over HTTP, the
//! frames each protocol version gets, read positions shared by devices, and the no-JS form.

#![expect(clippy::unwrap_used)]

mod common;

use app::protocol::{ClientFrame, ErrorCode, ServerFrame};
use common::{call, connect, connect_v1, form, form_post, next, post, register, say, send, start};

fn reply_frame(room_id: i64, to: i64, client_id: &str, text: &str, also: bool) -> ClientFrame {
    ClientFrame::Post {
        room_id,
        client_id: client_id.into(),
        text: text.into(),
        thread: Some(to),
        also_in_room: also,
    }
}

#[tokio::test]
async fn replies_reach_the_thread_live_and_stay_out_of_the_timeline() {
    let server = start().await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let mut alice_ws = connect(addr, &alice).await;
    let mut alice_phone = connect(addr, &alice).await;
    let mut bob_ws = connect(addr, &bob).await;
    let mut old_client = connect_v1(addr, &bob).await;

    let root = say(addr, &alice, 1, "ship it?").await;
    for ws in [
        &mut alice_ws,
        &mut alice_phone,
        &mut bob_ws,
        &mut old_client,
    ] {
        assert!(matches!(next(ws).await, ServerFrame::Message { .. }));
    }

    // Bob replies over the socket: acked, then the thread changes for everyone (v2).
    send(
        &mut bob_ws,
        &reply_frame(1, root.seq, "r1", "after the tests", false),
    )
    .await;
    let reply = match next(&mut bob_ws).await {
        ServerFrame::Ack { client_id, message } => {
            assert_eq!(client_id, "r1");
            assert_eq!(message.thread, Some(root.seq));
            message
        }
        other => panic!("expected ack, got {other:?}"),
    };
    for ws in [&mut alice_ws, &mut bob_ws] {
        match next(ws).await {
            ServerFrame::Replied {
                root: r,
                reply: got,
            } => {
                assert_eq!(*got, reply);
                assert_eq!((r.seq, r.replies), (root.seq, 1));
                assert_eq!(r.followers, ["alice", "bob"]);
            }
            other => panic!("expected replied, got {other:?}"),
        }
    }
    // A reply also sent to the room comes as a message too, and a v1 client sees only that.
    send(
        &mut alice_ws,
        &reply_frame(1, reply.seq, "r2", "tests are green", true),
    )
    .await;
    assert!(matches!(next(&mut alice_ws).await, ServerFrame::Ack { .. }));
    match next(&mut old_client).await {
        ServerFrame::Message { message } => {
            assert_eq!(message.body, "tests are green");
            assert_eq!(message.thread, Some(root.seq));
        }
        other => panic!("the v1 client expected the message, got {other:?}"),
    }
    match next(&mut bob_ws).await {
        ServerFrame::Message { message } => assert!(message.also_in_room),
        other => panic!("expected message, got {other:?}"),
    }
    match next(&mut bob_ws).await {
        ServerFrame::Replied { root: r, .. } => assert_eq!(r.replies, 2),
        other => panic!("expected replied, got {other:?}"),
    }
    // A v1 client cannot reply: the post is refused by name.
    send(
        &mut old_client,
        &reply_frame(1, root.seq, "old-1", "me?", false),
    )
    .await;
    match next(&mut old_client).await {
        ServerFrame::Error {
            code, client_id, ..
        } => {
            assert_eq!(code, ErrorCode::BadFrame);
            assert_eq!(client_id.as_deref(), Some("old-1"));
        }
        other => panic!("expected bad_frame, got {other:?}"),
    }

    // HTTP: the timeline leaves the thread-only reply out; the thread has both replies.
    let history: serde_json::Value =
        serde_json::from_str(&call(addr, "history", "room_id=1", &bob).await).unwrap();
    let bodies: Vec<_> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(bodies, ["ship it?", "tests are green"]);
    assert_eq!(history["messages"][0]["replies"], 2);
    let thread: serde_json::Value = serde_json::from_str(
        &call(
            addr,
            "thread",
            &format!("room_id=1&seq={}", reply.seq),
            &bob,
        )
        .await,
    )
    .unwrap();
    assert_eq!(thread["root"]["body"], "ship it?");
    assert_eq!(thread["replies"]["messages"].as_array().unwrap().len(), 2);

    // Alice follows (she wrote the root, and replied, which read the thread so far): Bob's
    // next reply is unread for her until she reads the thread, and both her devices are told.
    let later: app::model::Message = serde_json::from_str(
        &call(
            addr,
            "post_message",
            &format!("room_id=1&thread={}&text=one+more", root.seq),
            &bob,
        )
        .await,
    )
    .unwrap();
    let unread = |cookie: String| async move {
        let nav: serde_json::Value =
            serde_json::from_str(&call(addr, "sidebar", "", &cookie).await).unwrap();
        nav["sidebar"]["rooms"][0]["unread"].as_u64().unwrap()
    };
    call(addr, "mark_read", "room_id=1&seq=99", &alice).await;
    assert_eq!(unread(alice.clone()).await, 1);
    send(
        &mut alice_ws,
        &ClientFrame::ReadThread {
            room_id: 1,
            root: root.seq,
            seq: later.seq,
        },
    )
    .await;
    for ws in [&mut alice_ws, &mut alice_phone] {
        loop {
            match next(ws).await {
                ServerFrame::ThreadRead { root: r, seq, .. } => {
                    assert_eq!((r, seq), (root.seq, later.seq));
                    break;
                }
                // Alice's phone still has the thread's earlier frames to read.
                ServerFrame::Replied { .. }
                | ServerFrame::Message { .. }
                | ServerFrame::Read { .. } => {}
                other => panic!("expected thread_read, got {other:?}"),
            }
        }
    }
    assert_eq!(unread(alice.clone()).await, 0);

    // Bob deletes his first reply: the root counts one fewer.
    let (status, _, body) = post(
        addr,
        "/api/delete_message",
        &format!("room_id=1&seq={}", reply.seq),
        Some(&bob),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(matches!(
        next(&mut alice_ws).await,
        ServerFrame::Deleted { .. }
    ));
    match next(&mut alice_ws).await {
        ServerFrame::Replied { root: r, reply } => {
            assert_eq!(r.replies, 2);
            assert!(reply.is_deleted());
        }
        other => panic!("expected replied, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_replies_are_refused_and_a_form_goes_back_to_its_thread() {
    let server = start().await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let root = say(addr, &alice, 1, "question").await;
    for (args, says) in [
        (
            format!("room_id=1&text=hi&thread={}&also_in_room=maybe", root.seq),
            "also_in_room must be",
        ),
        (
            "room_id=1&text=hi&also_in_room=on".to_owned(),
            "Only a reply",
        ),
        ("room_id=1&text=hi&thread=999".to_owned(), "does not exist"),
        (
            format!("room_id=1&text=+&thread={}", root.seq),
            "Type a message",
        ),
    ] {
        let (status, _, body) = post(addr, "/api/post_message", &args, Some(&alice)).await;
        assert!((400..500).contains(&status), "{args}: {status} {body}");
        assert!(
            body.to_lowercase().contains(&says.to_lowercase()),
            "{args}: {body}"
        );
    }
    let thread: serde_json::Value = serde_json::from_str(
        &call(
            addr,
            "thread",
            &format!("room_id=1&seq={}", root.seq),
            &alice,
        )
        .await,
    )
    .unwrap();
    assert_eq!(thread["replies"]["messages"], serde_json::json!([]));

    // Without JavaScript: the checked box says "on", and the page comes back to the thread.
    let (status, location) = form_post(
        addr,
        "/api/post_message",
        &format!(
            "room_id=1&thread={}&also_in_room=on&client_id=nojs-1&text={}",
            root.seq,
            form("an answer")
        ),
        &alice,
    )
    .await;
    assert!((300..400).contains(&status), "{status}");
    assert!(
        location.starts_with(&format!("/r/1?thread={}#m", root.seq)),
        "{location}"
    );
    let (_, _, page) = common::get(addr, &format!("/r/1?thread={}", root.seq), Some(&alice)).await;
    assert!(page.contains("an answer"));
    assert!(page.contains("1 reply"));
    assert!(page.contains("Also send to the room"));
}
