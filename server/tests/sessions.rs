//! Ending sessions from the outside: "log out everywhere" and an admin's order close the user's
//! open sockets at once (with the reason the browser acts on) and the cookies stop working; the
//! command line does the same to the database of a running server.
#![expect(clippy::unwrap_used)]

mod common;

use app::protocol::CLOSE_SESSION_ENDED;
use common::{connect, get, next_close, post, register, request, start};

/// Logs `name` in again, as another device; returns that device's session cookie.
async fn log_in(addr: std::net::SocketAddr, name: &str) -> String {
    let form = format!("username={name}&password=password123");
    let (status, cookie, body) = post(addr, "/api/login", &form, None).await;
    assert_eq!(status, 200, "{body}");
    cookie
}

/// Who the server thinks `cookie` is (`null` for nobody).
async fn me(addr: std::net::SocketAddr, cookie: &str) -> String {
    let (status, _, body) = post(addr, "/api/me", "", Some(cookie)).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn refused_handshake(addr: std::net::SocketAddr, cookie: &str) -> u16 {
    let origin = format!("http://{addr}");
    match tokio_tungstenite::connect_async(request(addr, Some(cookie), Some(&origin))).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        other => panic!("expected a refused handshake, got {other:?}"),
    }
}

#[tokio::test]
async fn logging_out_everywhere_ends_every_device_and_closes_its_sockets() {
    let server = start().await;
    let addr = server.addr;
    let laptop = register(addr, "alice").await;
    let phone = log_in(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let mut laptop_ws = connect(addr, &laptop).await;
    let mut phone_ws = connect(addr, &phone).await;
    let mut bob_ws = connect(addr, &bob).await;

    let (status, cleared, body) = post(addr, "/api/logout_everywhere", "", Some(&phone)).await;
    assert_eq!((status, body.trim()), (200, "2"), "two sessions ended");
    assert_eq!(
        cleared, "confab_session=",
        "this browser's cookie is cleared"
    );
    for ws in [&mut laptop_ws, &mut phone_ws] {
        let frame = next_close(ws).await;
        assert_eq!(u16::from(frame.code), 1008);
        assert_eq!(frame.reason.as_str(), CLOSE_SESSION_ENDED);
    }
    for cookie in [&laptop, &phone] {
        assert_eq!(me(addr, cookie).await.trim(), "null");
        assert_eq!(refused_handshake(addr, cookie).await, 401);
    }
    // Bob is someone else: his socket and session carry on.
    assert!(me(addr, &bob).await.contains("\"bob\""));
    common::send(&mut bob_ws, &common::post_frame(1, "b1", "still here")).await;
    assert!(matches!(
        common::next(&mut bob_ws).await,
        app::protocol::ServerFrame::Ack { .. }
    ));
    // Without a session there is nothing to end.
    let (status, _, _) = post(addr, "/api/logout_everywhere", "", Some(&laptop)).await;
    assert_eq!(status, 401);
}

/// An admin's `action` on `username`, from the session `cookie`.
async fn moderate(
    addr: std::net::SocketAddr,
    cookie: &str,
    username: &str,
    action: &str,
) -> (u16, String) {
    let form = format!("username={username}&action={action}");
    let (status, _, body) = post(addr, "/api/moderate", &form, Some(cookie)).await;
    (status, body)
}

#[tokio::test]
async fn only_an_admin_ends_someone_elses_sessions() {
    let server = start().await;
    let addr = server.addr;
    let admin = register(addr, "alice").await; // the first account is an admin
    let bob = register(addr, "bob").await;
    let carol = register(addr, "carol").await;
    let mut bob_ws = connect(addr, &bob).await;

    // To anyone but an admin, moderation does not exist.
    let (status, body) = moderate(addr, &carol, "bob", "end_sessions").await;
    assert_eq!(status, 404, "{body}");
    assert!(me(addr, &bob).await.contains("\"bob\""));
    let (status, body) = moderate(addr, &admin, "nobody", "end_sessions").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = moderate(addr, &admin, "bob", "ban_forever").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("use end_sessions, disable or enable"),
        "{body}"
    );

    let (status, body) = moderate(addr, &admin, "Bob", "end_sessions").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Ended 1 session(s) of bob."), "{body}");
    let frame = next_close(&mut bob_ws).await;
    assert_eq!(frame.reason.as_str(), CLOSE_SESSION_ENDED);
    assert_eq!(me(addr, &bob).await.trim(), "null");
    // Bob can log in again: ending sessions is not a ban.
    let again = log_in(addr, "bob").await;
    assert!(me(addr, &again).await.contains("\"bob\""));
}

#[tokio::test]
async fn a_disabled_account_is_logged_out_cannot_log_in_and_can_be_enabled_again() {
    let server = start().await;
    let addr = server.addr;
    let admin = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let mut bob_ws = connect(addr, &bob).await;
    let (status, _, body) = post(
        addr,
        "/api/post_message",
        "room_id=1&text=before",
        Some(&bob),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = moderate(addr, &admin, "alice", "disable").await;
    assert_eq!(status, 400, "not yourself: {body}");
    let (status, body) = moderate(addr, &admin, "bob", "disable").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("bob is disabled"), "{body}");
    assert_eq!(
        next_close(&mut bob_ws).await.reason.as_str(),
        CLOSE_SESSION_ENDED
    );
    assert_eq!(me(addr, &bob).await.trim(), "null");

    // The right password gets a clear refusal; a wrong one gets the usual answer.
    let form = "username=bob&password=password123";
    let (status, cookie, body) = post(addr, "/api/login", form, None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("disabled by an admin"), "{body}");
    assert!(cookie.is_empty(), "no session for a disabled account");
    let (status, _, body) = post(addr, "/api/login", "username=bob&password=guess1234", None).await;
    assert_eq!(status, 401, "{body}");
    // What bob wrote stays.
    let (status, _, history) = post(addr, "/api/history", "room_id=1", Some(&admin)).await;
    assert_eq!(status, 200, "{history}");
    assert!(history.contains("before"), "{history}");

    let (status, body) = moderate(addr, &admin, "bob", "enable").await;
    assert_eq!(status, 200, "{body}");
    let again = log_in(addr, "bob").await;
    assert!(me(addr, &again).await.contains("\"bob\""));
}

#[tokio::test]
async fn the_command_line_ends_sessions_and_disables_accounts_in_a_running_servers_database() {
    let dir = tempfile::tempdir().unwrap();
    let addr = common::free_addr();
    let _server = common::spawn_confab(addr, dir.path(), &[]).await;
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let db = dir.path().join("confab.db");
    let run = |user: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
            .args(["admin", "end-sessions", user, "--database-url"])
            .arg(&db)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    let output = run("alice");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("ended 1 session(s) of alice"), "{stderr}");
    assert_eq!(me(addr, &alice).await.trim(), "null");
    assert!(me(addr, &bob).await.contains("\"bob\""));

    let output = run("nobody");
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("there is no user nobody"), "{stderr}");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["admin", "disable", "bob", "--database-url"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(me(addr, &bob).await.trim(), "null");
    let form = "username=bob&password=password123";
    assert_eq!(post(addr, "/api/login", form, None).await.0, 403);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["admin", "enable", "bob", "--database-url"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(post(addr, "/api/login", form, None).await.0, 200);
    // The page still serves: the command only touched sessions.
    assert_eq!(get(addr, "/", None).await.0, 200);
}
