//! Search against a real server on loopback: the `search` server function finds only what the
//! caller may read, answers every malformed query with a 400 that says what to change, and the
//! server-rendered results page (what a browser without JavaScript gets) links each hit to its
//! room opened at that message.
#![expect(clippy::unwrap_used)]

mod common;

use app::model::{RoomId, SearchResults};
use common::{call, form, get, post, register, say, start};

async fn search(addr: std::net::SocketAddr, cookie: &str, q: &str) -> SearchResults {
    serde_json::from_str(&call(addr, "search", &format!("q={}", form(q)), cookie).await).unwrap()
}

#[tokio::test]
async fn search_finds_what_the_caller_may_read_and_refuses_bad_queries() {
    let server = start().await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let carol = register(addr, "carol").await;
    let ops: RoomId =
        serde_json::from_str(&call(addr, "create_room", "name=ops", &alice).await).unwrap();
    let (_, _, dm) = post(addr, "/api/open_dm", "username=carol", Some(&alice)).await;
    let dm: RoomId = serde_json::from_str(&dm).unwrap();
    say(addr, &alice, ops, "the **release** is out").await;
    say(addr, &alice, dm, "release notes for carol only").await;
    say(addr, &carol, 1, "release party in general").await;

    // Bob is in general only: not in ops (not joined), not in alice and carol's DM.
    let found = search(addr, &bob, "release").await;
    assert_eq!(found.hits.len(), 1);
    assert_eq!(found.hits[0].room_name, "general");
    assert_eq!(found.hits[0].message.author, "carol");
    let found = search(addr, &alice, "release").await;
    assert_eq!(found.hits.len(), 3);
    // Each hit says where it is as the searcher sees it (a DM by the other person's name),
    // and carries its rendered text.
    let in_dm = found.hits.iter().find(|h| h.message.room_id == dm).unwrap();
    assert_eq!(in_dm.room_name, "carol");
    let in_ops = found
        .hits
        .iter()
        .find(|h| h.message.room_id == ops)
        .unwrap();
    assert!(in_ops.message.html.contains("<strong>release</strong>"));
    let found = search(addr, &alice, "release in:carol from:alice").await;
    assert_eq!(found.hits.len(), 1);
    assert_eq!(found.hits[0].message.room_id, dm);

    // Bad queries: a 400 naming the problem, and nothing else happens.
    for (q, says) in [
        ("\"release notes", "quote is not closed"),
        ("release in:secret", "not in a room or DM called"),
        ("release from:nobody", "no user called"),
        ("release before:31/01/2026", "YYYY-MM-DD"),
        ("(*) ^ \"\"", "Nothing to search for"),
        ("", "Type something"),
    ] {
        let (status, _, body) =
            post(addr, "/api/search", &format!("q={}", form(q)), Some(&bob)).await;
        assert_eq!(status, 400, "{q:?}: {body}");
        assert!(body.contains(says), "{q:?}: {body}");
    }
    let (status, _, body) = post(addr, "/api/search", "q=release&page=12%3Ax", Some(&alice)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("search again"), "{body}");
    let (status, _, _) = post(addr, "/api/search", "q=release", None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_results_page_works_without_javascript_and_opens_the_room_at_the_message() {
    let server = start().await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    for i in 0..40 {
        say(addr, &alice, 1, &format!("filler {i}")).await;
    }
    let target = say(addr, &alice, 1, "the <needle> & the haystack").await;
    for i in 0..40 {
        say(addr, &alice, 1, &format!("later {i}")).await;
    }

    let (status, _, page) = get(addr, "/search?q=needle", Some(&alice)).await;
    assert_eq!(status, 200);
    let link = format!("/r/1?at={seq}#m{seq}", seq = target.seq);
    assert!(page.contains(&format!("href=\"{link}\"")), "{page}");
    // The text is escaped as the room shows it, never markup.
    assert!(
        page.contains("the &lt;needle&gt; &amp; the haystack"),
        "{page}"
    );
    // The query is kept in the box; an error is said on the page.
    assert!(page.contains("value=\"needle\""), "{page}");
    let (status, _, page) = get(addr, "/search?q=%22needle", Some(&alice)).await;
    assert_eq!(status, 200);
    assert!(page.contains("role=\"alert\""), "{page}");
    assert!(page.contains("quote is not closed"), "{page}");

    // The room opens at the message, marked, with newer messages after it; the newest page
    // (80 messages on) is not what is shown.
    let (status, _, room) = get(addr, &link, Some(&alice)).await;
    assert_eq!(status, 200);
    let marked = format!("id=\"m{}\"", target.seq);
    let at = room
        .find(&marked)
        .unwrap_or_else(|| panic!("{marked} not in {room}"));
    let open = room[..at].rfind("<article").unwrap();
    let article = &room[open..at + room[at..].find('>').unwrap()];
    assert!(article.contains("found"), "{article}");
    assert!(article.contains("aria-current=\"true\""), "{article}");
    assert!(room.contains("later 9"));
    assert!(!room.contains("later 39"));
    assert!(room.contains("Jump to newest messages"));
}
