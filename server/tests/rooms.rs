//! Private rooms and room roles against a real server on loopback: an outsider probing a
//! private room by every path gets exactly the answers a room that does not exist gets; a
//! member adds people, who are told live; roles decide who moderates, over HTTP and socket.
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
