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

#[tokio::test]
async fn only_an_admin_ends_someone_elses_sessions() {
    let server = start().await;
    let addr = server.addr;
    let admin = register(addr, "alice").await; // the first account is an admin
    let bob = register(addr, "bob").await;
    let carol = register(addr, "carol").await;
    let mut bob_ws = connect(addr, &bob).await;

    let (status, _, body) = post(addr, "/api/end_sessions", "username=bob", Some(&carol)).await;
    assert_eq!(status, 403, "{body}");
    assert!(me(addr, &bob).await.contains("\"bob\""));
    let (status, _, body) = post(addr, "/api/end_sessions", "username=nobody", Some(&admin)).await;
    assert_eq!(status, 404, "{body}");

    let (status, _, body) = post(addr, "/api/end_sessions", "username=Bob", Some(&admin)).await;
    assert_eq!((status, body.trim()), (200, "1"));
    let frame = next_close(&mut bob_ws).await;
    assert_eq!(frame.reason.as_str(), CLOSE_SESSION_ENDED);
    assert_eq!(me(addr, &bob).await.trim(), "null");
    // Bob can log in again: ending sessions is not a ban.
    let again = log_in(addr, "bob").await;
    assert!(me(addr, &again).await.contains("\"bob\""));
}

#[tokio::test]
async fn the_command_line_ends_a_users_sessions_in_a_running_servers_database() {
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
    // The page still serves: the command only touched sessions.
    assert_eq!(get(addr, "/", None).await.0, 200);
}
