//! Markdown and mentions against a real server on loopback: the server renders and sanitises
//! every message (over the socket, over HTTP, and in the server-rendered page), decides who is
//! mentioned (members only, never in code, never oneself), and counts unread mentions per
//! person in the sidebar, following edits, deletes and reads.
#![expect(clippy::unwrap_used)]

mod common;

use app::model::{Message, Navigation, RoomId, RoomSummary};
use app::protocol::ServerFrame;
use common::{call, connect, form, next, post_frame, register, say, send, start};

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
