//! The live channel against a real server on loopback, with a real WebSocket client:
//! delivery to every member's socket, acks, catch-up, idempotent resends, and every way a
//! handshake or frame can be refused.
#![expect(clippy::unwrap_used)]

mod common;

use app::protocol::{ClientFrame, ErrorCode, ServerFrame};
use common::{connect, next, next_close, post, post_frame, register, request, send, start};
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_post_is_acked_then_reaches_every_members_socket() {
    let server = start().await;
    let alice = register(server.addr, "alice").await;
    let bob = register(server.addr, "bob").await;
    let mut alice_ws = connect(server.addr, &alice).await;
    let mut bob_phone = connect(server.addr, &bob).await;
    let mut bob_laptop = connect(server.addr, &bob).await;

    send(&mut alice_ws, &post_frame(1, "c1", "  hello live  ")).await;
    match next(&mut alice_ws).await {
        ServerFrame::Ack { client_id, message } => {
            assert_eq!(client_id, "c1");
            assert_eq!(message.seq, 1);
            assert_eq!(message.body, "hello live");
        }
        other => panic!("expected ack, got {other:?}"),
    }
    for ws in [&mut alice_ws, &mut bob_phone, &mut bob_laptop] {
        match next(ws).await {
            ServerFrame::Message { message } => {
                assert_eq!((message.seq, message.author.as_str()), (1, "alice"));
            }
            other => panic!("expected message, got {other:?}"),
        }
    }

    // A post through the HTTP server function is delivered live too.
    let (status, _, _) = post(
        server.addr,
        "/api/post_message",
        "room_id=1&text=via+http",
        Some(&bob),
    )
    .await;
    assert_eq!(status, 200);
    match next(&mut alice_ws).await {
        ServerFrame::Message { message } => {
            assert_eq!((message.seq, message.body.as_str()), (2, "via http"))
        }
        other => panic!("expected message, got {other:?}"),
    }

    // The same client id again: the same message, not a new one.
    send(&mut alice_ws, &post_frame(1, "c1", "hello live")).await;
    match next(&mut alice_ws).await {
        ServerFrame::Ack { message, .. } => assert_eq!(message.seq, 1),
        other => panic!("expected ack, got {other:?}"),
    }
}

#[tokio::test]
async fn only_members_receive_and_joining_starts_delivery() {
    let server = start().await;
    let alice = register(server.addr, "alice").await;
    let bob = register(server.addr, "bob").await;
    let _carol = register(server.addr, "carol").await;
    let (status, _, body) = post(server.addr, "/api/open_dm", "username=carol", Some(&alice)).await;
    assert_eq!(status, 200, "{body}");
    let dm: i64 = body.trim().parse().unwrap();
    let (_, _, body) = post(server.addr, "/api/create_room", "name=side", Some(&alice)).await;
    let side: i64 = body.trim().parse().unwrap();

    let mut bob_ws = connect(server.addr, &bob).await;
    let (status, _, _) = post(
        server.addr,
        "/api/post_message",
        &format!("room_id={dm}&text=secret"),
        Some(&alice),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = post(
        server.addr,
        "/api/join_room",
        &format!("room_id={side}"),
        Some(&bob),
    )
    .await;
    assert_eq!(status, 200);
    post(
        server.addr,
        "/api/post_message",
        &format!("room_id={side}&text=welcome+bob"),
        Some(&alice),
    )
    .await;
    // Bob's first frame is the message of the room he joined; the DM never reached him.
    match next(&mut bob_ws).await {
        ServerFrame::Message { message } => assert_eq!(message.body, "welcome bob"),
        other => panic!("expected message, got {other:?}"),
    }
    // Bob cannot post into the DM over the socket either.
    send(&mut bob_ws, &post_frame(dm, "x", "let me in")).await;
    match next(&mut bob_ws).await {
        ServerFrame::Error {
            code, client_id, ..
        } => {
            assert_eq!(code, ErrorCode::NotFound);
            assert_eq!(client_id.as_deref(), Some("x"));
        }
        other => panic!("expected error, got {other:?}"),
    }
}

#[tokio::test]
async fn sync_returns_what_was_missed_in_order() {
    let server = start().await;
    let alice = register(server.addr, "alice").await;
    for i in 1..=5 {
        post(
            server.addr,
            "/api/post_message",
            &format!("room_id=1&text=m{i}"),
            Some(&alice),
        )
        .await;
    }
    let mut ws = connect(server.addr, &alice).await;
    send(
        &mut ws,
        &ClientFrame::Sync {
            room_id: 1,
            after_seq: 2,
        },
    )
    .await;
    match next(&mut ws).await {
        ServerFrame::History {
            room_id,
            messages,
            complete,
        } => {
            assert_eq!(room_id, 1);
            assert!(complete);
            let seqs: Vec<i64> = messages.iter().map(|m| m.seq).collect();
            assert_eq!(seqs, vec![3, 4, 5]);
        }
        other => panic!("expected history, got {other:?}"),
    }
}

#[tokio::test]
async fn handshakes_without_a_session_or_from_another_site_are_refused() {
    let server = start().await;
    let alice = register(server.addr, "alice").await;
    let status_of = |result: Result<_, tokio_tungstenite::tungstenite::Error>| match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => 101,
    };
    let evil = tokio_tungstenite::connect_async(request(
        server.addr,
        Some(&alice),
        Some("http://evil.example"),
    ))
    .await;
    assert_eq!(status_of(evil.map(|_| ())), 403);
    let anonymous = tokio_tungstenite::connect_async(request(server.addr, None, None)).await;
    assert_eq!(status_of(anonymous.map(|_| ())), 401);
    let forged =
        tokio_tungstenite::connect_async(request(server.addr, Some("confab_session=forged"), None))
            .await;
    assert_eq!(status_of(forged.map(|_| ())), 401);
}

#[tokio::test]
async fn malformed_frames_get_errors_and_oversize_frames_close_1009() {
    let server = start().await;
    let alice = register(server.addr, "alice").await;
    let mut ws = connect(server.addr, &alice).await;
    ws.send(Message::Text("this is not json".into()))
        .await
        .unwrap();
    match next(&mut ws).await {
        ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::BadFrame),
        other => panic!("expected error, got {other:?}"),
    }
    ws.send(Message::Text(r#"{"type":"teleport"}"#.into()))
        .await
        .unwrap();
    assert!(matches!(
        next(&mut ws).await,
        ServerFrame::Error {
            code: ErrorCode::BadFrame,
            ..
        }
    ));
    send(&mut ws, &post_frame(1, "e1", "")).await;
    assert!(matches!(
        next(&mut ws).await,
        ServerFrame::Error {
            code: ErrorCode::BadRequest,
            ..
        }
    ));
    // Still open after all that.
    send(&mut ws, &ClientFrame::Ping).await;
    assert_eq!(next(&mut ws).await, ServerFrame::Pong);

    let huge = "x".repeat(70 * 1024);
    ws.send(Message::Text(huge.into())).await.unwrap();
    let close = next_close(&mut ws).await;
    assert_eq!(u16::from(close.code), 1009);
}

#[tokio::test]
async fn repeated_garbage_closes_the_socket_with_a_reason() {
    let server = start().await;
    let alice = register(server.addr, "alice").await;
    let mut ws = connect(server.addr, &alice).await;
    // The eleventh malformed frame is one too many. (No more than that: frames still in flight
    // when the server closes would make its kernel reset the connection.)
    for _ in 0..11 {
        ws.send(Message::Text("garbage".into())).await.unwrap();
    }
    let close = next_close(&mut ws).await;
    assert_eq!(u16::from(close.code), 1008);
    assert!(close.reason.contains("malformed"));
}

#[tokio::test]
async fn typing_reaches_the_room_once_per_three_seconds() {
    let server = start().await;
    let alice = register(server.addr, "alice").await;
    let bob = register(server.addr, "bob").await;
    let mut alice_ws = connect(server.addr, &alice).await;
    let mut bob_ws = connect(server.addr, &bob).await;
    send(&mut alice_ws, &ClientFrame::Typing { room_id: 1 }).await;
    send(&mut alice_ws, &ClientFrame::Typing { room_id: 1 }).await;
    assert_eq!(
        next(&mut bob_ws).await,
        ServerFrame::Typing {
            room_id: 1,
            user: "alice".into()
        }
    );
    // The second was throttled: the next frame Bob gets is the pong to his ping.
    send(&mut bob_ws, &ClientFrame::Ping).await;
    assert_eq!(next(&mut bob_ws).await, ServerFrame::Pong);
    // Typing in a room one is not in is refused.
    send(&mut alice_ws, &ClientFrame::Typing { room_id: 999 }).await;
    loop {
        match next(&mut alice_ws).await {
            ServerFrame::Typing { .. } => continue,
            ServerFrame::Error { code, .. } => {
                assert_eq!(code, ErrorCode::NotFound);
                break;
            }
            other => panic!("expected error, got {other:?}"),
        }
    }
}

/// The next presence frame, as (user, status, whether last seen is set).
async fn next_presence(ws: &mut common::Ws) -> (String, app::model::Presence, bool) {
    loop {
        if let ServerFrame::Presence {
            user,
            status,
            last_seen,
        } = common::next_any(ws).await
        {
            return (user, status, last_seen.is_some());
        }
    }
}

#[tokio::test]
async fn presence_is_per_user_over_devices_and_reaches_only_people_who_share_a_room() {
    use app::model::Presence::{Away, Offline, Online};
    let server = start().await;
    let alice = register(server.addr, "alice").await;
    let bob = register(server.addr, "bob").await;
    let carol = register(server.addr, "carol").await;
    // Carol leaves general, so she shares no room with bob.
    let (status, _, _) = post(server.addr, "/api/leave_room", "room_id=1", Some(&carol)).await;
    assert_eq!(status, 200);
    let mut alice_ws = connect(server.addr, &alice).await;
    assert_eq!(
        next_presence(&mut alice_ws).await,
        ("alice".into(), Online, false)
    );
    let mut carol_ws = connect(server.addr, &carol).await;

    let mut bob_phone = connect(server.addr, &bob).await;
    assert_eq!(
        next_presence(&mut alice_ws).await,
        ("bob".into(), Online, false)
    );
    // A second device of an online user changes nothing.
    let mut bob_laptop = connect(server.addr, &bob).await;
    // Both of bob's tabs idle: away. One idle only: still online (no frame).
    send(&mut bob_phone, &ClientFrame::Presence { away: true }).await;
    send(&mut bob_laptop, &ClientFrame::Presence { away: true }).await;
    assert_eq!(
        next_presence(&mut alice_ws).await,
        ("bob".into(), Away, false)
    );
    send(&mut bob_laptop, &ClientFrame::Presence { away: false }).await;
    assert_eq!(
        next_presence(&mut alice_ws).await,
        ("bob".into(), Online, false)
    );

    // The member list agrees, and says when an offline member was last seen.
    let (_, _, body) = post(server.addr, "/api/members", "room_id=1", Some(&alice)).await;
    let members: Vec<app::model::Member> = serde_json::from_str(&body).unwrap();
    let of = |members: &[app::model::Member], name: &str| {
        members
            .iter()
            .find(|m| m.username == name)
            .map(|m| (m.presence, m.last_seen.is_some()))
    };
    assert_eq!(of(&members, "bob"), Some((Online, false)));
    assert_eq!(of(&members, "carol"), None);

    // Closing one device leaves bob online; closing the last makes him offline with a time.
    bob_laptop.close(None).await.unwrap();
    bob_phone.close(None).await.unwrap();
    assert_eq!(
        next_presence(&mut alice_ws).await,
        ("bob".into(), Away, false)
    );
    assert_eq!(
        next_presence(&mut alice_ws).await,
        ("bob".into(), Offline, true)
    );
    let (_, _, body) = post(server.addr, "/api/members", "room_id=1", Some(&alice)).await;
    let members: Vec<app::model::Member> = serde_json::from_str(&body).unwrap();
    assert_eq!(of(&members, "bob"), Some((Offline, true)));

    // Carol, who is in no room at all, heard about nobody, bob included.
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(300), async {
        next_presence(&mut carol_ws).await
    })
    .await;
    assert!(quiet.is_err(), "carol heard {quiet:?}");
}

/// Waits `ms` for a presence frame on `ws`, which must not come.
async fn no_presence_within(ws: &mut common::Ws, ms: u64) {
    let heard = tokio::time::timeout(std::time::Duration::from_millis(ms), next_presence(ws)).await;
    assert!(heard.is_err(), "heard {heard:?}");
}

/// Sends `frame`, then waits for the answer to a ping sent after it: frames of one socket are
/// carried out in order, so `frame` has been by then.
async fn send_and_settle(ws: &mut common::Ws, frame: &ClientFrame) {
    send(ws, frame).await;
    send(ws, &ClientFrame::Ping).await;
    while !matches!(common::next_any(ws).await, ServerFrame::Pong) {}
}

#[tokio::test]
async fn in_a_crowded_room_presence_reaches_only_those_looking_at_its_members() {
    use app::model::Presence::{Offline, Online};
    let dir = tempfile::tempdir().unwrap();
    // Rooms of more than two members are crowded: general, with three, is.
    let limits = app::limits::LimitsConfig {
        presence_room_members: 2,
        ..app::limits::LimitsConfig::relaxed()
    };
    let node = common::node_with_files(dir.path(), 1 << 20).await;
    let addr = common::serve(node.with_limits(limits)).await;
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let carol = register(addr, "carol").await;
    let mut bob_ws = connect(addr, &bob).await;
    let mut carol_ws = connect(addr, &carol).await;
    let general = Some(1);
    send_and_settle(&mut carol_ws, &ClientFrame::Members { room_id: general }).await;

    // Carol, looking at general's members, hears alice come and go; bob does not.
    let mut alice_ws = connect(addr, &alice).await;
    assert_eq!(
        next_presence(&mut carol_ws).await,
        ("alice".into(), Online, false)
    );
    no_presence_within(&mut bob_ws, 300).await;

    // A conversation of two is never crowded: bob hears alice there.
    let (status, _, body) = post(addr, "/api/open_dm", "username=bob", Some(&alice)).await;
    assert_eq!(status, 200, "{body}");
    let dm: i64 = body.trim().parse().unwrap();
    alice_ws.close(None).await.unwrap();
    for ws in [&mut carol_ws, &mut bob_ws] {
        assert_eq!(next_presence(ws).await, ("alice".into(), Offline, true));
    }
    let mut alice_ws = connect(addr, &alice).await;
    assert_eq!(
        next_presence(&mut bob_ws).await,
        ("alice".into(), Online, false)
    );
    assert_eq!(
        next_presence(&mut carol_ws).await,
        ("alice".into(), Online, false)
    );

    // Once carol closes the list she hears no more; nor may she look at a room she is not in.
    send_and_settle(&mut carol_ws, &ClientFrame::Members { room_id: None }).await;
    send(&mut carol_ws, &ClientFrame::Members { room_id: Some(dm) }).await;
    loop {
        if let ServerFrame::Error { code, .. } = common::next_any(&mut carol_ws).await {
            assert_eq!(code, ErrorCode::NotFound);
            break;
        }
    }
    alice_ws.close(None).await.unwrap();
    assert_eq!(
        next_presence(&mut bob_ws).await,
        ("alice".into(), Offline, true)
    );
    no_presence_within(&mut carol_ws, 300).await;
}

#[tokio::test]
async fn reading_on_one_device_is_shared_with_the_others() {
    let server = start().await;
    let alice = register(server.addr, "alice").await;
    let bob = register(server.addr, "bob").await;
    for text in ["one", "two", "three"] {
        post(
            server.addr,
            "/api/post_message",
            &format!("room_id=1&text={text}"),
            Some(&alice),
        )
        .await;
    }
    let sidebar = |body: String| -> serde_json::Value { serde_json::from_str(&body).unwrap() };
    let (_, _, body) = post(server.addr, "/api/sidebar", "", Some(&bob)).await;
    assert_eq!(sidebar(body)["sidebar"]["rooms"][0]["unread"], 3);

    let mut phone = connect(server.addr, &bob).await;
    let mut laptop = connect(server.addr, &bob).await;
    send(&mut phone, &ClientFrame::Read { room_id: 1, seq: 3 }).await;
    for ws in [&mut phone, &mut laptop] {
        assert_eq!(next(ws).await, ServerFrame::Read { room_id: 1, seq: 3 });
    }
    let (_, _, body) = post(server.addr, "/api/sidebar", "", Some(&bob)).await;
    assert_eq!(sidebar(body)["sidebar"]["rooms"][0]["unread"], 0);
    // Going back is ignored (the stored position is repeated); a room bob is not in is refused.
    send(&mut laptop, &ClientFrame::Read { room_id: 1, seq: 1 }).await;
    assert_eq!(
        next(&mut laptop).await,
        ServerFrame::Read { room_id: 1, seq: 3 }
    );
    send(
        &mut laptop,
        &ClientFrame::Read {
            room_id: 99,
            seq: 1,
        },
    )
    .await;
    match next(&mut laptop).await {
        ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::NotFound),
        other => panic!("expected error, got {other:?}"),
    }
    // The HTTP API does the same for clients without a socket.
    let (status, _, body) =
        post(server.addr, "/api/mark_read", "room_id=1&seq=2", Some(&bob)).await;
    assert_eq!((status, body.trim()), (200, "3"));
}

/// The welcome is the very first thing on the wire, before any ping. (The writer's first ping
/// used to be due at once; a load generator once saw it before the welcome.)
#[tokio::test]
async fn the_welcome_comes_before_any_control_frame() {
    use futures_util::StreamExt;
    let server = start().await;
    let alice = register(server.addr, "alice").await;
    let origin = format!("http://{}", server.addr);
    for _ in 0..50 {
        let req = request(server.addr, Some(&alice), Some(&origin));
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        match ws.next().await.unwrap().unwrap() {
            Message::Text(text) => {
                assert!(text.as_str().starts_with("{\"type\":\"welcome\""), "{text}")
            }
            other => panic!("expected the welcome first, got {other:?}"),
        }
    }
}

/// `cookie`'s user removes `name` from `room`; (status, body).
async fn remove(addr: std::net::SocketAddr, cookie: &str, room: i64, name: &str) -> (u16, String) {
    let form = format!("room_id={room}&username={name}");
    let (status, _, body) = post(addr, "/api/remove_member", &form, Some(cookie)).await;
    (status, body)
}

#[tokio::test]
async fn a_rooms_creator_or_an_admin_removes_a_member_who_is_told_and_hears_no_more() {
    let server = start().await;
    let addr = server.addr;
    let admin = register(addr, "alice").await; // the first account is an admin
    let bob = register(addr, "bob").await;
    let carol = register(addr, "carol").await;
    let dave = register(addr, "dave").await;
    let (_, _, body) = post(addr, "/api/create_room", "name=bobs", Some(&bob)).await;
    let room: i64 = body.trim().parse().unwrap();
    for who in [&carol, &dave] {
        let (status, _, body) = post(
            addr,
            "/api/join_room",
            &format!("room_id={room}"),
            Some(who),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let mut dave_ws = connect(addr, &dave).await;
    // Only the creator (bob) or an admin may; not another member.
    let (status, body) = remove(addr, &carol, room, "dave").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("moderators and owners"), "{body}");
    let (status, body) = remove(addr, &bob, room, "nobody").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = remove(addr, &bob, room, "alice").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("not in this room"), "{body}");
    let (status, body) = remove(addr, &bob, room, "bob").await;
    assert_eq!(status, 400, "{body}");
    let (status, _, dm) = post(addr, "/api/open_dm", "username=dave", Some(&bob)).await;
    assert_eq!(status, 200);
    let dm: i64 = dm.trim().parse().unwrap();
    let (status, body) = remove(addr, &bob, dm, "dave").await;
    assert_eq!(status, 400, "{body}");

    let (status, body) = remove(addr, &bob, room, "dave").await;
    assert_eq!(status, 200, "{body}");
    match next(&mut dave_ws).await {
        ServerFrame::Removed {
            room_id,
            by,
            deleted,
        } => assert_eq!((room_id, by.as_str(), deleted), (room, "bob", false)),
        other => panic!("expected removed, got {other:?}"),
    }
    // What is said next in the room does not reach dave; his DM still does.
    post(
        addr,
        "/api/post_message",
        &format!("room_id={room}&text=after"),
        Some(&bob),
    )
    .await;
    post(
        addr,
        "/api/post_message",
        &format!("room_id={dm}&text=dm"),
        Some(&bob),
    )
    .await;
    match next(&mut dave_ws).await {
        ServerFrame::Message { message } => assert_eq!(message.body, "dm"),
        other => panic!("expected the DM, got {other:?}"),
    }
    let (status, _, body) = post(
        addr,
        "/api/history",
        &format!("room_id={room}"),
        Some(&dave),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // The room is public: being removed is not a ban. And an admin may remove from any room.
    let (status, _, body) = post(
        addr,
        "/api/join_room",
        &format!("room_id={room}"),
        Some(&dave),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = remove(addr, &admin, room, "carol").await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = post(addr, "/api/room", &format!("room_id={room}"), Some(&bob)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"member_count\":2"), "{body}");
    assert!(body.contains("\"role\":\"owner\""), "{body}");
    let (_, _, body) = post(addr, "/api/room", &format!("room_id={room}"), Some(&dave)).await;
    assert!(body.contains("\"role\":\"member\""), "{body}");
}
