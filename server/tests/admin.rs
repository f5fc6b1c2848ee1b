//! The admin console against the real router: to anyone but an instance admin every admin page,
//! call and download is "not found"; an admin sees the instance's figures and a searchable,
//! paged list of accounts (server-rendered, so without JavaScript too); and every admin action,
//! from the web or from the command line, lands in the audit log, which downloads as CSV. An
//! admin lists the public rooms, archives one and deletes one, whose members are told at once.
#![expect(clippy::unwrap_used)]

mod common;

use app::protocol::ServerFrame;
use common::{call, connect, form, get, next, post, register, say, start};

/// The console as JSON, asked as `cookie` with the form `args`.
async fn console(addr: std::net::SocketAddr, cookie: &str, args: &str) -> serde_json::Value {
    let (status, _, body) = post(addr, "/api/admin_console", args, Some(cookie)).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn only_an_admin_finds_the_console_and_every_action_is_audited() {
    let server = start().await;
    let addr = server.addr;
    let alice = register(addr, "alice").await; // the first account is the admin
    let bob = register(addr, "bob").await;
    register(addr, "carol").await;

    // To a member, the console, its calls and its downloads do not exist.
    assert_eq!(get(addr, "/admin", Some(&bob)).await.0, 404);
    for (endpoint, args) in [
        ("/api/admin_console", ""),
        ("/api/moderate", "username=carol&action=disable"),
        ("/api/set_registration", "mode=closed"),
        ("/api/create_invite", ""),
    ] {
        let (status, _, body) = post(addr, endpoint, args, Some(&bob)).await;
        assert_eq!(status, 404, "{endpoint}: {body}");
    }
    for download in ["/export/audit", "/export/instance"] {
        assert_eq!(get(addr, download, Some(&bob)).await.0, 404, "{download}");
    }
    // A visitor is asked to log in.
    assert_eq!(post(addr, "/api/admin_console", "", None).await.0, 401);
    // Nothing bob tried was done.
    let now = console(addr, &alice, "").await;
    assert_eq!(now["registration"], "open");
    assert!(now["audit"].as_array().unwrap().is_empty(), "{now}");

    // The admin acts from the web.
    let (status, _, body) = post(
        addr,
        "/api/moderate",
        "username=bob&action=disable",
        Some(&alice),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = post(addr, "/api/set_registration", "mode=invite", Some(&alice)).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = post(addr, "/api/create_invite", "", Some(&alice)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        get(addr, "/export/instance?format=csv", Some(&alice))
            .await
            .0,
        200
    );
    // ...and from the server's shell.
    let db = server._dir.path().join("confab.db");
    let shell = std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["admin", "disable", "carol"])
        .env("DATABASE_URL", &db)
        .env("USER", "operator")
        .output()
        .unwrap();
    assert!(
        shell.status.success(),
        "{}",
        String::from_utf8_lossy(&shell.stderr)
    );

    let now = console(addr, &alice, "").await;
    let lines: Vec<(String, String, String, String, String)> = now["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let field = |k: &str| l[k].as_str().unwrap().to_owned();
            (
                field("actor"),
                field("action"),
                field("target"),
                field("detail"),
                field("origin"),
            )
        })
        .collect();
    let web = |action: &str, target: &str, detail: &str| {
        (
            "alice".to_owned(),
            action.to_owned(),
            target.to_owned(),
            detail.to_owned(),
            "127.0.0.1".to_owned(),
        )
    };
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert_eq!(
        lines[0],
        (
            "(command line)".to_owned(),
            "disable".to_owned(),
            "carol".to_owned(),
            String::new(),
            "command line (operator)".to_owned()
        )
    );
    assert_eq!(lines[1], web("export_instance", "", "csv"));
    assert_eq!(
        (lines[2].1.as_str(), lines[2].4.as_str()),
        ("create_invite", "127.0.0.1")
    );
    assert!(
        lines[2].3.starts_with("one registration, until "),
        "{:?}",
        lines[2]
    );
    assert_eq!(lines[3], web("set_registration", "", "invite"));
    assert_eq!(lines[4], web("disable", "bob", ""));

    // The figures and the accounts, with who is disabled.
    assert_eq!(now["figures"]["users"], 3);
    assert_eq!(now["registration"], "invite");
    let accounts = now["accounts"].as_array().unwrap();
    let states: Vec<(&str, bool, bool)> = accounts
        .iter()
        .map(|a| {
            (
                a["username"].as_str().unwrap(),
                a["is_admin"].as_bool().unwrap(),
                a["disabled"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("alice", true, false),
            ("bob", false, true),
            ("carol", false, true)
        ]
    );
    assert!(now["limits"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l[0] == "Messages per user"));

    // A search, and a page after a name.
    let found = console(addr, &alice, "search=AR").await;
    assert_eq!(found["accounts"].as_array().unwrap().len(), 1);
    assert_eq!(found["accounts"][0]["username"], "carol");
    let after = console(addr, &alice, "after=bob").await;
    assert_eq!(after["accounts"][0]["username"], "carol");
    let (status, _, body) = post(
        addr,
        "/api/admin_console",
        &format!("search={}", "x".repeat(65)),
        Some(&alice),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    // The page itself, as a browser without JavaScript gets it.
    let (status, _, page) = get(addr, "/admin?q=bo", Some(&alice)).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("aria-label=\"Enable bob\""),
        "bob's row offers Enable"
    );
    assert!(
        !page.contains("Enable carol"),
        "the search leaves carol out"
    );
    assert!(
        page.contains("command line (operator)"),
        "the audit log is on the page"
    );

    // The download: every line, as CSV.
    let (status, head, csv) = get(addr, "/export/audit", Some(&alice)).await;
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase().contains("content-type: text/csv"),
        "{head}"
    );
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        headers,
        ["id", "at", "actor", "action", "target", "detail", "origin"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5);
    assert_eq!(&rows[4][3], "disable");
    assert_eq!(&rows[4][4], "bob");
    assert!(
        rows[4][1].ends_with('Z'),
        "an RFC 3339 time: {:?}",
        &rows[4][1]
    );
}

/// A room `cookie`'s user creates, public or private; its id.
async fn room(addr: std::net::SocketAddr, cookie: &str, name: &str, private: bool) -> i64 {
    let args = format!(
        "name={}{}",
        form(name),
        if private { "&private=on" } else { "" }
    );
    call(addr, "create_room", &args, cookie)
        .await
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn an_admin_lists_archives_and_deletes_public_rooms_and_members_are_told() {
    let server = start().await;
    let addr = server.addr;
    let alice = register(addr, "alice").await; // the admin
    let bob = register(addr, "bob").await;
    let plans = room(addr, &bob, "Plans", false).await;
    let other = room(addr, &bob, "Parking", false).await;
    let secret = room(addr, &bob, "Secret", true).await;
    say(addr, &bob, plans, "first").await;
    say(addr, &bob, plans, "the zebra plan").await;
    let hits = call(addr, "search", "q=zebra", &bob).await;
    assert!(hits.contains("zebra"), "{hits}");

    // Public rooms only, with members and messages; the private one is only a number.
    let now = console(addr, &alice, "").await;
    let listed: Vec<(&str, i64, i64, bool)> = now["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap(),
                r["members"].as_i64().unwrap(),
                r["messages"].as_i64().unwrap(),
                r["archived"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("general", 2, 0, false),
            ("Parking", 1, 0, false),
            ("Plans", 1, 2, false)
        ]
    );
    assert_eq!(now["figures"]["rooms"], 3);
    assert_eq!(now["figures"]["private_rooms"], 1);
    let found = console(addr, &alice, "rooms=LAN").await;
    assert_eq!(found["rooms"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["rooms"][0]["name"], "Plans");
    assert_eq!(
        console(addr, &alice, "rooms_after=Parking").await["rooms"][0]["name"],
        "Plans"
    );

    // The page itself, as a browser without JavaScript gets it: the search, and each row's
    // plain forms.
    let (status, _, page) = get(addr, "/admin?rooms=pla", Some(&alice)).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("aria-label=\"Archive Plans\""),
        "Plans offers Archive"
    );
    assert!(
        page.contains("aria-label=\"Delete Plans for good\""),
        "and Delete, confirmed by name"
    );
    assert!(
        !page.contains("Archive Parking"),
        "the search leaves Parking out"
    );

    // To a member the room actions do not exist, and do nothing.
    for action in ["archive", "delete&confirm=Plans"] {
        let args = format!("room_id={plans}&action={action}");
        let (status, _, body) = post(addr, "/api/admin_room", &args, Some(&bob)).await;
        assert_eq!(status, 404, "{action}: {body}");
    }
    // A private room the admin is not in does not exist for them either.
    let args = format!("room_id={secret}&action=delete&confirm=Secret");
    let (status, _, body) = post(addr, "/api/admin_room", &args, Some(&alice)).await;
    assert_eq!(status, 404, "{body}");

    // Archived: no one posts, the row says so.
    let args = format!("room_id={plans}&action=archive");
    call(addr, "admin_room", &args, &alice).await;
    let (status, _, body) = post(
        addr,
        "/api/post_message",
        &format!("room_id={plans}&text=more"),
        Some(&bob),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let rows = console(addr, &alice, "rooms=plans").await;
    assert_eq!(rows["rooms"][0]["archived"], true);
    // Its members still find its messages.
    let hits = call(addr, "search", "q=zebra", &bob).await;
    assert!(
        hits.contains("zebra"),
        "an archived room stays searchable: {hits}"
    );

    // Deleting asks for the room's name; a wrong one changes nothing.
    let args = format!("room_id={plans}&action=delete&confirm=Parking");
    let (status, _, body) = post(addr, "/api/admin_room", &args, Some(&alice)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("type its name"), "{body}");
    assert_eq!(get(addr, &format!("/r/{plans}"), Some(&bob)).await.0, 200);

    // Deleted: bob's open socket hears it, the room and its history are gone.
    let mut ws = connect(addr, &bob).await;
    let args = format!("room_id={plans}&action=delete&confirm=plans");
    let done = call(addr, "admin_room", &args, &alice).await;
    assert!(done.contains("Plans deleted"), "{done}");
    match next(&mut ws).await {
        ServerFrame::Removed {
            room_id,
            by,
            deleted,
        } => assert_eq!((room_id, by.as_str(), deleted), (plans, "alice", true)),
        other => panic!("expected the room's removal, got {other:?}"),
    }
    assert_eq!(get(addr, &format!("/r/{plans}"), Some(&bob)).await.0, 404);
    let (status, _, body) = post(
        addr,
        "/api/history",
        &format!("room_id={plans}"),
        Some(&bob),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let hits = call(addr, "search", "q=zebra", &bob).await;
    assert!(!hits.contains("zebra"), "search still finds it: {hits}");
    let after = console(addr, &alice, "").await;
    let names: Vec<&str> = after["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["general", "Parking"]);
    assert_eq!(after["figures"]["messages"], 0);
    assert_eq!(get(addr, &format!("/r/{other}"), Some(&bob)).await.0, 200);

    // Both actions are in the audit log, naming the room.
    let audit: Vec<(&str, &str, &str)> = after["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["action"].as_str().unwrap(),
                l["target"].as_str().unwrap(),
                l["detail"].as_str().unwrap(),
            )
        })
        .collect();
    let detail = format!("room {plans}");
    assert_eq!(
        audit,
        [
            ("room_deleted", "Plans", detail.as_str()),
            ("room_archived", "Plans", detail.as_str())
        ]
    );
}
