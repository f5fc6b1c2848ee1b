//! Markdown and mentions against a real server on loopback: the server renders and sanitises
//! every message (over the socket, over HTTP, and in the server-rendered page), decides who is
//! mentioned (members only, never in code, never oneself), and counts unread mentions per
//! person in the sidebar, following edits, deletes and reads.
#![expect(clippy::unwrap_used)]

mod common;

use app::model::{Message, Navigation, RoomId, RoomSummary};
use app::protocol::ServerFrame;
use common::{call, connect, form, next, post, post_frame, register, say, send, start};

async fn room_in_sidebar(addr: std::net::SocketAddr, cookie: &str, room: RoomId) -> RoomSummary {
    let nav: Navigation = serde_json::from_str(&call(addr, "sidebar", "", cookie).await).unwrap();
    nav.sidebar
        .rooms
        .into_iter()
        .chain(nav.sidebar.dms)
        .find(|r| r.id == room)
        .unwrap()
}

#[tokio::test]
async fn the_server_decides_mentions_and_counts_them_apart_in_the_sidebar() {
    let server = start().await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let _carol = register(addr, "carol").await;
    let ops: RoomId =
        serde_json::from_str(&call(addr, "create_room", "name=ops", &alice).await).unwrap();
    call(addr, "join_room", &format!("room_id={ops}"), &bob).await;

    // Carol is not in ops: naming her mentions nobody. Code mentions nobody either.
    let first = say(addr, &alice, ops, "hi @Bob and @carol, not `@bob`").await;
    assert_eq!(first.mentions, vec!["bob".to_owned()]);
    assert!(
        first
            .html
            .contains("<span class=\"mention\">@Bob</span> and @carol"),
        "{}",
        first.html
    );
    assert!(first.html.contains("<code>@bob</code>"), "{}", first.html);
    let code = say(addr, &alice, ops, "```\n@bob\n```").await;
    assert!(code.mentions.is_empty());
    let by_mail = say(addr, &alice, ops, "write to bob@example.com").await;
    assert!(by_mail.mentions.is_empty());

    let room = room_in_sidebar(addr, &bob, ops).await;
    assert_eq!((room.unread, room.mentions), (3, 1));

    // Edits decide again; a deleted message mentions nobody.
    let edit = |seq: i64, text: &str| {
        format!(
            "room_id={ops}&seq={seq}&text={}&client_id=e-{seq}-{}",
            form(text),
            text.len()
        )
    };
    let edited: Message =
        serde_json::from_str(&call(addr, "edit_message", &edit(first.seq, "no one"), &alice).await)
            .unwrap();
    assert!(edited.mentions.is_empty() && !edited.html.contains("mention"));
    assert_eq!(room_in_sidebar(addr, &bob, ops).await.mentions, 0);
    call(addr, "edit_message", &edit(code.seq, "now @bob"), &alice).await;
    assert_eq!(room_in_sidebar(addr, &bob, ops).await.mentions, 1);
    let args = format!("room_id={ops}&seq={}", code.seq);
    call(addr, "delete_message", &args, &alice).await;
    let room = room_in_sidebar(addr, &bob, ops).await;
    assert_eq!((room.unread, room.mentions), (2, 0));

    // Reading clears the count; one's own mention of oneself never counts.
    let again = say(addr, &alice, ops, "@bob, @alice here").await;
    assert_eq!(again.mentions, vec!["bob".to_owned(), "alice".to_owned()]);
    assert_eq!(room_in_sidebar(addr, &bob, ops).await.mentions, 1);
    assert_eq!(room_in_sidebar(addr, &alice, ops).await.mentions, 0);
    let args = format!("room_id={ops}&seq={}", again.seq);
    call(addr, "mark_read", &args, &bob).await;
    let room = room_in_sidebar(addr, &bob, ops).await;
    assert_eq!((room.unread, room.mentions), (0, 0));
}

#[tokio::test]
async fn markdown_is_rendered_and_sanitised_once_on_the_server_for_every_reader() {
    let server = start().await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let mut alice_ws = connect(addr, &alice).await;
    let mut bob_ws = connect(addr, &bob).await;

    let text = "**bold** <script>window.x=1</script> [a](javascript:alert(1)) @bob";
    send(&mut alice_ws, &post_frame(1, "m1", text)).await;
    let acked = match next(&mut alice_ws).await {
        ServerFrame::Ack { message, .. } => message,
        other => panic!("expected ack, got {other:?}"),
    };
    let expected = "<p><strong>bold</strong> &lt;script&gt;window.x=1&lt;/script&gt; \
                    <a rel=\"noopener noreferrer nofollow\">a</a> \
                    <span class=\"mention\">@bob</span></p>";
    assert_eq!(acked.html, expected);
    assert_eq!(acked.body, text, "the words are kept as typed");
    match next(&mut bob_ws).await {
        ServerFrame::Message { message } => assert_eq!(message, acked),
        other => panic!("expected message, got {other:?}"),
    }

    // History and the server-rendered page carry the same HTML.
    let page: app::model::HistoryPage =
        serde_json::from_str(&call(addr, "history", "room_id=1", &bob).await).unwrap();
    assert_eq!(page.messages.last().unwrap().html, expected);
    let (status, head, html) = common::get(addr, "/r/1", Some(&bob)).await;
    assert_eq!(status, 200);
    // The page's policy lets exactly its own inline scripts run: the nonce they carry.
    let policy = head
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("content-security-policy:")
        })
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap();
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "{policy}");
    let (_, api_head, _) = common::get(addr, "/api/sidebar", Some(&bob)).await;
    assert!(
        api_head
            .to_ascii_lowercase()
            .contains("content-security-policy: default-src 'none'"),
        "{api_head}"
    );
    assert!(html.contains("<strong>bold</strong>"), "{html}");
    assert!(!html.contains("<script>window.x"), "raw script in the page");
    assert!(
        !html.contains("href=\"javascript:"),
        "javascript: link in the page"
    );
}

#[tokio::test]
async fn at_room_reaches_every_member_and_at_here_those_online_as_the_room_allows() {
    let server = start().await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let carol = register(addr, "carol").await;
    let ops: RoomId =
        serde_json::from_str(&call(addr, "create_room", "name=ops", &alice).await).unwrap();
    for who in [&bob, &carol] {
        call(addr, "join_room", &format!("room_id={ops}"), who).await;
    }
    // Bob has Confab open; Carol does not.
    let _bob_ws = connect(addr, &bob).await;

    let here = say(addr, &alice, ops, "@here the build is red").await;
    assert_eq!(here.mentions, vec!["@here".to_owned(), "bob".to_owned()]);
    assert!(
        here.html.contains("<span class=\"mention\">@here</span>"),
        "{}",
        here.html
    );
    assert_eq!(room_in_sidebar(addr, &bob, ops).await.mentions, 1);
    assert_eq!(room_in_sidebar(addr, &carol, ops).await.mentions, 0);

    let everyone = say(addr, &alice, ops, "@room lunch at noon").await;
    assert_eq!(everyone.mentions, vec!["@room".to_owned()]);
    assert_eq!(room_in_sidebar(addr, &bob, ops).await.mentions, 2);
    assert_eq!(room_in_sidebar(addr, &carol, ops).await.mentions, 1);
    assert_eq!(
        room_in_sidebar(addr, &alice, ops).await.mentions,
        0,
        "never one's own"
    );
    // In code it is a word.
    let quoted = say(addr, &alice, ops, "type `@room` to tell everyone").await;
    assert!(quoted.mentions.is_empty());

    // The owner lets only moderators and owners use them: Bob's @room is refused, and kept
    // nowhere; the change is in the timeline.
    let set = |value: &str| format!("room_id={ops}&field=group_mentions&value={value}");
    call(addr, "configure_room", &set("moderators"), &alice).await;
    let bob_says = format!("room_id={ops}&text={}", form("@room hello"));
    let (status, _, body) = post(addr, "/api/post_message", &bob_says, Some(&bob)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("only moderators and owners"), "{body}");
    let page: app::model::HistoryPage =
        serde_json::from_str(&call(addr, "history", &format!("room_id={ops}"), &bob).await)
            .unwrap();
    let last = page.messages.last().unwrap();
    assert_eq!(
        last.event,
        Some(app::model::RoomEvent::GroupMentions {
            allowed: app::model::GroupMentions::Moderators
        })
    );
    assert!(page.messages.iter().all(|m| m.body != "@room hello"));
    // Bob's edit cannot add one either; Alice, an owner, still can.
    let edit = format!(
        "room_id={ops}&seq={}&text={}&client_id=e1",
        say(addr, &bob, ops, "hello").await.seq,
        form("@here hello")
    );
    let (status, _, _) = post(addr, "/api/edit_message", &edit, Some(&bob)).await;
    assert_eq!(status, 403);
    say(addr, &alice, ops, "@room still here").await;

    // Turned off: no one, not even an owner; a bad value is refused by name.
    call(addr, "configure_room", &set("nobody"), &alice).await;
    let alice_says = format!("room_id={ops}&text={}", form("@here anyone?"));
    let (status, _, body) = post(addr, "/api/post_message", &alice_says, Some(&alice)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("turned off"), "{body}");
    let (status, _, body) = post(addr, "/api/configure_room", &set("all"), Some(&alice)).await;
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = post(addr, "/api/configure_room", &set("everyone"), Some(&bob)).await;
    assert_eq!(status, 403, "a member cannot change it: {body}");
    let view: app::model::RoomView =
        serde_json::from_str(&call(addr, "room", &format!("room_id={ops}"), &bob).await).unwrap();
    assert_eq!(
        view.settings.group_mentions,
        app::model::GroupMentions::Nobody
    );

    // No account can take the name of a group.
    let (status, _, body) = post(
        addr,
        "/api/register",
        "username=Here&password=password123",
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn slash_commands_post_their_messages_or_act_and_are_never_stored_as_text() {
    let server = start().await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let ops: RoomId =
        serde_json::from_str(&call(addr, "create_room", "name=ops", &alice).await).unwrap();
    let mut bobs = connect(addr, &bob).await;

    // `/shrug` posts its message, whichever way it is sent; `/me` is drawn as an action.
    let shrug = say(addr, &alice, ops, "/shrug it works").await;
    assert_eq!(shrug.body, "it works ¯\\\\\\_(ツ)\\_/¯");
    assert_eq!(shrug.html, "<p>it works ¯\\_(ツ)_/¯</p>");
    let action = say(addr, &alice, ops, "/me waves at **everyone**").await;
    assert_eq!(action.body, "/me waves at **everyone**");
    assert_eq!(
        action.html,
        "<p class=\"emote\">waves at <strong>everyone</strong></p>"
    );
    // Any other slash is a message as written.
    assert_eq!(
        say(addr, &alice, ops, "/etc/hosts").await.body,
        "/etc/hosts"
    );

    // A command that is not a message is refused as one, and stores nothing.
    for text in ["/topic Ship it", "/leave", "/invite"] {
        let args = format!("room_id={ops}&text={}", form(text));
        let (status, _, body) = post(addr, "/api/post_message", &args, Some(&alice)).await;
        assert_eq!(status, 400, "{text}: {body}");
    }
    let history: app::model::HistoryPage =
        serde_json::from_str(&call(addr, "history", &format!("room_id={ops}"), &alice).await)
            .unwrap();
    assert_eq!(history.messages.len(), 3, "{:?}", history.messages);

    // From the message box they act, through the room's own calls.
    let run = |text: &str| format!("room_id={ops}&text={}", form(text));
    let done = call(addr, "run_command", &run("/invite @bob"), &alice).await;
    assert_eq!(done, "\"bob is in the room.\"");
    assert!(matches!(next(&mut bobs).await, ServerFrame::Added { room_id, .. } if room_id == ops));
    call(addr, "run_command", &run("/topic Ship it"), &alice).await;
    let room: serde_json::Value =
        serde_json::from_str(&call(addr, "room", &format!("room_id={ops}"), &alice).await).unwrap();
    assert_eq!(room["room"]["topic"], "Ship it", "{room}");
    let muted = call(addr, "run_command", &run("/mute"), &bob).await;
    assert!(muted.contains("Muted"), "{muted}");
    let room: serde_json::Value =
        serde_json::from_str(&call(addr, "room", &format!("room_id={ops}"), &bob).await).unwrap();
    assert_eq!(room["muted"], true, "{room}");
    let unmuted = call(addr, "run_command", &run("/mute"), &bob).await;
    assert!(unmuted.contains("Unmuted"), "{unmuted}");
    call(addr, "run_command", &run("/leave"), &bob).await;
    let (status, _, _) = post(addr, "/api/history", &format!("room_id={ops}"), Some(&bob)).await;
    // No longer a member: a public room's history needs joining again.
    assert_eq!(status, 403);
    let (status, _, body) = post(addr, "/api/run_command", &run("hello"), Some(&alice)).await;
    assert_eq!(status, 400, "{body}");
}
