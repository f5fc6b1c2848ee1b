//! The admin console against the real router: to anyone but an instance admin every admin page,
//! call and download is "not found"; an admin sees the instance's figures and a searchable,
//! paged list of accounts (server-rendered, so without JavaScript too); and every admin action,
//! from the web or from the command line, lands in the audit log, which downloads as CSV.
#![expect(clippy::unwrap_used)]

mod common;

use common::{get, post, register, start};

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
