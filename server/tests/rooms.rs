//! Private rooms, room roles, settings and bans against a real server on loopback: an outsider
//! probing a private room by every path gets exactly the answers a room that does not exist
//! gets; a member adds people, who are told live; roles decide who moderates, who changes the
//! room's settings and who bans, over HTTP and the socket; each change reaches members live as
//! a timeline event.
#![expect(clippy::unwrap_used)]

mod common;

use app::model::{Member, Role, RoomListing};
use app::protocol::{ClientFrame, ServerFrame};
use common::{call, connect, form, get, next, post, register, say, send, start};

/// `cookie`'s user creates a private room named `name`; its id.
async fn private_room(addr: std::net::SocketAddr, cookie: &str, name: &str) -> i64 {
    let args = format!("name={}&private=on", form(name));
    call(addr, "create_room", &args, cookie)
        .await
        .trim()
        .parse()
        .unwrap()
}

/// The answer (status, body) to each way into a room; of a page, only what it shows in its
/// main part (the rest holds a per-response nonce).
async fn probe(addr: std::net::SocketAddr, cookie: &str, room: i64) -> Vec<(String, u16, String)> {
    let calls = [
        ("room", format!("room_id={room}")),
        ("members", format!("room_id={room}")),
        ("history", format!("room_id={room}")),
        ("changes", format!("room_id={room}&after_rev=0")),
        ("thread", format!("room_id={room}&seq=1")),
        ("join_room", format!("room_id={room}")),
        ("post_message", format!("room_id={room}&text=hello")),
        ("delete_message", format!("room_id={room}&seq=1")),
        ("add_member", format!("room_id={room}&username=carol")),
        (
            "set_role",
            format!("room_id={room}&username=carol&role=owner"),
        ),
        ("remove_member", format!("room_id={room}&username=bob")),
        ("mark_read", format!("room_id={room}&seq=1")),
        (
            "configure_room",
            format!("room_id={room}&field=topic&value=hi"),
        ),
        ("ban", format!("room_id={room}&username=bob")),
        ("bans", format!("room_id={room}")),
    ];
    let mut answers = Vec::new();
    for (endpoint, args) in calls {
        let (status, _, body) = post(addr, &format!("/api/{endpoint}"), &args, Some(cookie)).await;
        answers.push((endpoint.to_owned(), status, body));
    }
    let (status, _, page) = get(addr, &format!("/r/{room}"), Some(cookie)).await;
    let main = page
        .split_once("<main")
        .and_then(|(_, rest)| rest.split_once("</main>"))
        .map(|(main, _)| main.to_owned())
        .unwrap_or(page);
    answers.push(("page".to_owned(), status, main));
    let file = format!("/files/{room}/1/0190f5a4-0000-7000-8000-000000000000");
    let (status, _, body) = get(addr, &file, Some(cookie)).await;
    answers.push(("file".to_owned(), status, body));
    let (status, _, body) = get(addr, &format!("/previews/{room}/1"), Some(cookie)).await;
    answers.push(("preview image".to_owned(), status, body));
    let (status, _, body) = get(addr, &format!("/previews/{room}/1/icon"), Some(cookie)).await;
    answers.push(("webhook icon".to_owned(), status, body));
    answers
}

#[tokio::test]
async fn a_private_room_answers_outsiders_as_a_room_that_does_not_exist() {
    let server = start().await;
    let addr = server.addr;
    let admin = register(addr, "alice").await; // the first account: an admin
    let bob = register(addr, "bob").await;
    let carol = register(addr, "carol").await;
    let room = private_room(addr, &bob, "secret plans").await;
    say(addr, &bob, room, "launch at dawn").await;
    // A room id no room has: ids are handed out in order.
    let missing = room + 1000;
    for outsider in [&carol, &admin] {
        let secret = probe(addr, outsider, room).await;
        let nothing = probe(addr, outsider, missing).await;
        for (a, b) in secret.iter().zip(&nothing) {
            assert_eq!(a, b, "an outsider tells the room from no room");
        }
        assert!(
            secret
                .iter()
                .all(|(what, status, _)| *status == 404 || what == "page"),
            "{secret:?}"
        );
        let rooms: Vec<RoomListing> =
            serde_json::from_str(&call(addr, "rooms", "", outsider).await).unwrap();
        assert!(
            rooms.iter().all(|l| l.room.id != room),
            "not in the directory"
        );
        let found = call(addr, "search", "q=dawn", outsider).await;
        assert!(!found.contains("launch"), "{found}");
        let sidebar = call(addr, "sidebar", "", outsider).await;
        assert!(!sidebar.contains("secret plans"), "{sidebar}");
    }
    // Over the socket too: the same error as for no room at all.
    let mut ws = connect(addr, &carol).await;
    let refusal = |frame: ServerFrame| match frame {
        ServerFrame::Error { code, message, .. } => (code, message),
        other => panic!("expected an error, got {other:?}"),
    };
    send(
        &mut ws,
        &ClientFrame::Sync {
            room_id: room,
            after_seq: 0,
        },
    )
    .await;
    let secret = refusal(next(&mut ws).await);
    send(
        &mut ws,
        &ClientFrame::Sync {
            room_id: missing,
            after_seq: 0,
        },
    )
    .await;
    assert_eq!(secret, refusal(next(&mut ws).await));

    // bob, a member, adds carol: her devices are told, and the room reaches her from then on.
    call(
        addr,
        "add_member",
        &format!("room_id={room}&username=carol"),
        &bob,
    )
    .await;
    match next(&mut ws).await {
        ServerFrame::Added { room_id, by } => assert_eq!((room_id, by.as_str()), (room, "bob")),
        other => panic!("expected added, got {other:?}"),
    }
    say(addr, &bob, room, "welcome, carol").await;
    match next(&mut ws).await {
        ServerFrame::Message { message } => assert_eq!(message.body, "welcome, carol"),
        other => panic!("expected the message, got {other:?}"),
    }
    let history = call(addr, "history", &format!("room_id={room}"), &carol).await;
    assert!(history.contains("launch at dawn"), "{history}");
    let sidebar = call(addr, "sidebar", "", &carol).await;
    assert!(sidebar.contains("\"kind\":\"private\""), "{sidebar}");
    // The page, rendered on the server (no JavaScript), shows it as private.
    let (status, _, page) = get(addr, &format!("/r/{room}"), Some(&carol)).await;
    assert_eq!(status, 200);
    assert!(page.contains("Private"), "the header says so");
}

/// Calls `/api/ENDPOINT` as `cookie`'s user, whatever the answer; (status, body).
async fn answer(
    addr: std::net::SocketAddr,
    endpoint: &str,
    args: &str,
    cookie: &str,
) -> (u16, String) {
    let (status, _, body) = post(addr, &format!("/api/{endpoint}"), args, Some(cookie)).await;
    (status, body)
}

#[tokio::test]
async fn roles_decide_who_moderates_and_the_member_is_told() {
    let server = start().await;
    let addr = server.addr;
    let _admin = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let carol = register(addr, "carol").await;
    let dave = register(addr, "dave").await;
    let room = private_room(addr, &bob, "ops").await;
    let args = |rest: &str| format!("room_id={room}&{rest}");
    for name in ["carol", "dave"] {
        call(addr, "add_member", &args(&format!("username={name}")), &bob).await;
    }
    let daves = say(addr, &dave, room, "oops, wrong room").await;
    let delete = args(&format!("seq={}", daves.seq));
    // A member neither deletes others' messages nor removes people nor sets roles.
    for (endpoint, args) in [
        ("delete_message", delete.clone()),
        ("remove_member", args("username=dave")),
        ("set_role", args("username=carol&role=moderator")),
    ] {
        let (status, body) = answer(addr, endpoint, &args, &carol).await;
        assert_eq!(status, 403, "{endpoint}: {body}");
    }
    let history = call(addr, "history", &args(""), &bob).await;
    assert!(history.contains("oops, wrong room"), "nothing changed");
    // The owner makes carol a moderator; her devices hear of it.
    let mut ws = connect(addr, &carol).await;
    call(
        addr,
        "set_role",
        &args("username=carol&role=moderator"),
        &bob,
    )
    .await;
    match next(&mut ws).await {
        ServerFrame::Role { room_id, role, by } => {
            assert_eq!((room_id, role, by.as_str()), (room, Role::Moderator, "bob"))
        }
        other => panic!("expected role, got {other:?}"),
    }
    let members: Vec<Member> =
        serde_json::from_str(&call(addr, "members", &args(""), &dave).await).unwrap();
    let roles: Vec<(&str, Role)> = members
        .iter()
        .map(|m| (m.username.as_str(), m.role))
        .collect();
    assert_eq!(
        roles,
        [
            ("bob", Role::Owner),
            ("carol", Role::Moderator),
            ("dave", Role::Member)
        ]
    );
    // Now she deletes dave's message and removes him, but cannot touch the owner.
    call(addr, "delete_message", &delete, &carol).await;
    let (status, body) = answer(addr, "remove_member", &args("username=bob"), &carol).await;
    assert_eq!(status, 403, "{body}");
    call(addr, "remove_member", &args("username=dave"), &carol).await;
    let (status, _) = answer(addr, "room", &args(""), &dave).await;
    assert_eq!(status, 404, "a private room is gone for whoever is removed");
    // A bad role is refused with a message.
    let (status, body) = answer(addr, "set_role", &args("username=carol&role=king"), &bob).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("owner, moderator or member"), "{body}");
    // The only owner cannot step down.
    let (status, body) = answer(addr, "set_role", &args("username=bob&role=member"), &bob).await;
    assert_eq!(status, 400, "{body}");
}

/// The next frame, which must be a `message` carrying a timeline event; the event.
async fn event_frame(ws: &mut common::Ws) -> app::model::Message {
    match next(ws).await {
        ServerFrame::Message { message } if message.event.is_some() => message,
        other => panic!("expected a timeline event, got {other:?}"),
    }
}

#[tokio::test]
async fn settings_and_bans_follow_roles_and_reach_members_live() {
    use app::model::RoomEvent;
    let server = start().await;
    let addr = server.addr;
    let _admin = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let carol = register(addr, "carol").await;
    let dave = register(addr, "dave").await;
    let room: i64 = call(addr, "create_room", "name=announcements", &bob)
        .await
        .trim()
        .parse()
        .unwrap();
    let args = |rest: &str| format!("room_id={room}&{rest}");
    for who in [&carol, &dave] {
        call(addr, "join_room", &args(""), who).await;
    }
    let mut carols = connect(addr, &carol).await;
    let mut daves = connect(addr, &dave).await;
    // A member changes no setting; an unknown setting or a bad flag is a 400 that says why.
    for (field, value) in [
        ("topic", "mine now"),
        ("private", "true"),
        ("read_only", "true"),
    ] {
        let (status, body) = answer(
            addr,
            "configure_room",
            &args(&format!("field={field}&value={value}")),
            &dave,
        )
        .await;
        assert_eq!(status, 403, "{field}: {body}");
    }
    let (status, body) = answer(
        addr,
        "configure_room",
        &args("field=colour&value=red"),
        &bob,
    )
    .await;
    assert_eq!(
        (status, body.contains("name, topic")),
        (400, true),
        "{body}"
    );
    let (status, body) = answer(
        addr,
        "configure_room",
        &args("field=archived&value=maybe"),
        &bob,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    // The owner sets the topic: every member's socket gets the event, and the room has it.
    call(
        addr,
        "configure_room",
        &args("field=topic&value=Release+notes"),
        &bob,
    )
    .await;
    for ws in [&mut carols, &mut daves] {
        let event = event_frame(ws).await;
        assert_eq!(event.author, "bob");
        assert_eq!(
            event.event,
            Some(RoomEvent::Topic {
                topic: Some("Release notes".into())
            })
        );
    }
    let view = call(addr, "room", &args(""), &dave).await;
    assert!(view.contains("Release notes"), "{view}");
    // Read-only: dave's post is refused over HTTP and over the socket; bob's goes through.
    call(
        addr,
        "configure_room",
        &args("field=read_only&value=on"),
        &bob,
    )
    .await;
    event_frame(&mut daves).await;
    event_frame(&mut carols).await;
    let (status, body) = answer(addr, "post_message", &args("text=hello"), &dave).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("read-only"), "{body}");
    send(
        &mut daves,
        &ClientFrame::Post {
            room_id: room,
            client_id: "d-1".into(),
            text: "hello?".into(),
            thread: None,
            also_in_room: false,
        },
    )
    .await;
    match next(&mut daves).await {
        ServerFrame::Error {
            message, client_id, ..
        } => {
            assert_eq!(client_id.as_deref(), Some("d-1"));
            assert!(message.contains("read-only"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let said = say(addr, &bob, room, "v2 is out").await;
    // Everyone still replies in a thread.
    call(
        addr,
        "post_message",
        &args(&format!("thread={}&text=congrats", said.seq)),
        &dave,
    )
    .await;
    // A ban: dave is told he was removed, cannot come back, and the room's timeline says so.
    call(
        addr,
        "set_role",
        &args("username=carol&role=moderator"),
        &bob,
    )
    .await;
    call(addr, "ban", &args("username=dave"), &carol).await;
    let mut removed = false;
    for _ in 0..6 {
        match next(&mut daves).await {
            ServerFrame::Removed {
                room_id,
                by,
                deleted,
            } => {
                assert_eq!((room_id, by.as_str(), deleted), (room, "carol", false));
                removed = true;
                break;
            }
            _ => continue,
        }
    }
    assert!(removed, "dave's devices are told");
    let (status, body) = answer(addr, "join_room", &args(""), &dave).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("banned"), "{body}");
    let bans = call(addr, "bans", &args(""), &carol).await;
    assert!(bans.contains("\"dave\""), "{bans}");
    let (status, _) = answer(addr, "bans", &args(""), &dave).await;
    assert_eq!(status, 403);
    // Lifted: he may come back.
    call(addr, "ban", &args("username=dave&lift=1"), &carol).await;
    call(addr, "join_room", &args(""), &dave).await;
    let history = call(addr, "history", &args(""), &dave).await;
    assert!(
        history.contains("\"kind\":\"banned\""),
        "the timeline keeps the ban: {history}"
    );
    // The page, rendered on the server, shows the settings panel's forms to the owner.
    let (status, _, page) = get(addr, &format!("/r/{room}?settings"), Some(&bob)).await;
    assert_eq!(status, 200);
    for part in [
        "Room settings",
        "Make private",
        "Let everyone post",
        "Archive room",
        "Bans",
    ] {
        assert!(page.contains(part), "{part}");
    }
    let (_, _, page) = get(addr, &format!("/r/{room}"), Some(&dave)).await;
    assert!(
        page.contains("only its moderators and owners post"),
        "the composer says why"
    );
}

#[tokio::test]
async fn pins_over_the_socket_follow_roles_and_reach_members() {
    let server = start().await;
    let addr = server.addr;
    let _admin = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let carol = register(addr, "carol").await;
    let room: i64 = call(addr, "create_room", "name=pinboard", &bob)
        .await
        .trim()
        .parse()
        .unwrap();
    call(addr, "join_room", &format!("room_id={room}"), &carol).await;
    let said = say(addr, &carol, room, "the checklist").await;
    let mut bobs = connect(addr, &bob).await;
    let mut carols = connect(addr, &carol).await;
    let pin = |client_id: &str, pinned: bool| ClientFrame::Pin {
        room_id: room,
        seq: said.seq,
        client_id: client_id.into(),
        pinned,
    };
    // A member may not pin, even her own message.
    send(&mut carols, &pin("c-1", true)).await;
    match next(&mut carols).await {
        ServerFrame::Error {
            code, client_id, ..
        } => assert_eq!(
            (code, client_id.as_deref()),
            (app::protocol::ErrorCode::Forbidden, Some("c-1"))
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The owner pins: acked with the pin, and carol's socket hears `pinned`.
    send(&mut bobs, &pin("b-1", true)).await;
    match next(&mut bobs).await {
        ServerFrame::Ack { message, .. } => {
            assert_eq!(message.pinned.map(|p| p.by).as_deref(), Some("bob"))
        }
        other => panic!("expected the ack, got {other:?}"),
    }
    match next(&mut carols).await {
        ServerFrame::Pinned { message } => assert_eq!(message.seq, said.seq),
        other => panic!("expected pinned, got {other:?}"),
    }
    let pins = call(addr, "pins", &format!("room_id={room}"), &carol).await;
    assert!(pins.contains("the checklist"), "{pins}");
    // Unpinned over HTTP: the list is empty.
    call(
        addr,
        "pin",
        &format!("room_id={room}&seq={}&unpin=1", said.seq),
        &bob,
    )
    .await;
    assert_eq!(
        call(addr, "pins", &format!("room_id={room}"), &carol).await,
        "[]"
    );
}
