//! Group conversations through the real router and socket: opened from a list of names, named
//! by their members, delivered live to each, and invisible to everyone else.

#![expect(clippy::unwrap_used)]

mod common;

use app::protocol::ServerFrame;
use common::{call, connect, form, get, next, post, register, say, start};

#[tokio::test]
async fn a_group_is_opened_from_names_and_reaches_its_members_only() {
    let server = start().await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let carol = register(addr, "carol").await;
    let dave = register(addr, "dave").await;
    // Carol is connected before the group exists: opening it subscribes her sockets.
    let mut carol_ws = connect(addr, &carol).await;

    let group: i64 = call(
        addr,
        "open_dm",
        &format!("username={}", form("@bob, carol")),
        &alice,
    )
    .await
    .trim()
    .parse()
    .unwrap();
    // Names in another order, from another member, with the caller repeated: the same group.
    let again: i64 = call(addr, "open_dm", "username=carol+alice+ALICE", &bob)
        .await
        .trim()
        .parse()
        .unwrap();
    assert_eq!(again, group);
    let pair: i64 = call(addr, "open_dm", "username=bob", &alice)
        .await
        .trim()
        .parse()
        .unwrap();
    assert_ne!(pair, group);

    say(addr, &bob, group, "lunch at noon?").await;
    match next(&mut carol_ws).await {
        ServerFrame::Message { message } => {
            assert_eq!(message.room_id, group);
            assert_eq!(message.body, "lunch at noon?");
        }
        other => panic!("expected the group's message, got {other:?}"),
    }

    let sidebar: serde_json::Value =
        serde_json::from_str(&call(addr, "sidebar", "", &carol).await).unwrap();
    let dms = sidebar["sidebar"]["dms"].as_array().unwrap();
    let listed = dms.iter().find(|d| d["id"] == group).unwrap();
    assert_eq!(listed["name"], "alice, bob");
    assert_eq!(listed["unread"], 1);
    let view: serde_json::Value =
        serde_json::from_str(&call(addr, "room", &format!("room_id={group}"), &alice).await)
            .unwrap();
    assert_eq!(view["room"]["name"], "bob, carol");
    assert_eq!(view["member_count"], 3);
    // Search reaches it by the name its member sees.
    let found: serde_json::Value = serde_json::from_str(
        &call(
            addr,
            "search",
            &format!("q={}", form("in:\"alice, bob\" lunch")),
            &carol,
        )
        .await,
    )
    .unwrap();
    assert_eq!(found["hits"][0]["room_name"], "alice, bob", "{found}");
    assert_eq!(found["hits"][0]["message"]["body"], "lunch at noon?");
    let (status, _, page) = get(addr, &format!("/r/{group}"), Some(&alice)).await;
    assert_eq!(status, 200);
    assert!(page.contains("lunch at noon?"));

    // Dave is told it does not exist, however he asks.
    for (endpoint, args) in [
        ("history", format!("room_id={group}")),
        ("room", format!("room_id={group}")),
        ("members", format!("room_id={group}")),
        ("post_message", format!("room_id={group}&text=let+me+in")),
        ("join_room", format!("room_id={group}")),
    ] {
        let (status, _, body) = post(addr, &format!("/api/{endpoint}"), &args, Some(&dave)).await;
        assert_eq!(status, 404, "{endpoint}: {body}");
        assert!(!body.contains("lunch"), "{endpoint}: {body}");
    }
    let (_, _, page) = get(addr, &format!("/r/{group}"), Some(&dave)).await;
    assert!(page.contains("does not exist"));
    assert!(!page.contains("lunch at noon?"));
    let history: serde_json::Value =
        serde_json::from_str(&call(addr, "history", &format!("room_id={group}"), &carol).await)
            .unwrap();
    assert_eq!(history["messages"].as_array().unwrap().len(), 1);
    let (status, _, body) = post(
        addr,
        "/api/leave_room",
        &format!("room_id={group}"),
        Some(&carol),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn a_bad_list_of_names_is_refused_and_opens_nothing() {
    let server = start().await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    for name in ["bob", "carol"] {
        register(addr, name).await;
    }
    let ten: Vec<String> = (1..=9).map(|i| format!("u{i}")).collect();
    for (names, status, says) in [
        (" , ".to_owned(), 400, "Enter a username"),
        ("bob, c@rol".to_owned(), 400, "may only contain"),
        (ten.join(","), 400, "at most 9 people"),
        ("bob, nobody".to_owned(), 404, "no user named nobody"),
        (
            "ghost, bob, phantom".to_owned(),
            404,
            "no users named ghost, phantom",
        ),
    ] {
        let (got, _, body) = post(
            addr,
            "/api/open_dm",
            &format!("username={}", form(&names)),
            Some(&alice),
        )
        .await;
        assert_eq!(got, status, "{names}: {body}");
        assert!(body.contains(says), "{names}: {body}");
    }
    let sidebar: serde_json::Value =
        serde_json::from_str(&call(addr, "sidebar", "", &alice).await).unwrap();
    assert_eq!(sidebar["sidebar"]["dms"], serde_json::json!([]));
}
