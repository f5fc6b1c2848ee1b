//! Who may register, from the outside: an admin opens registration, restricts it to invite
//! links, or closes it, in the app or on the command line; each refusal says why, and an invite
//! lets exactly one account in.
#![expect(clippy::unwrap_used)]

mod common;

use common::{post, register, start};

async fn try_register(addr: std::net::SocketAddr, name: &str, invite: &str) -> (u16, String) {
    let mut form = format!("username={name}&password=password123");
    if !invite.is_empty() {
        form.push_str(&format!("&invite={invite}"));
    }
    let (status, _, body) = post(addr, "/api/register", &form, None).await;
    (status, body)
}

#[tokio::test]
async fn an_admin_closes_registration_or_limits_it_to_invites() {
    let server = start().await;
    let addr = server.addr;
    let admin = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let (_, _, mode) = post(addr, "/api/registration", "", None).await;
    assert_eq!(mode.trim(), "\"open\"");

    let (status, _, body) = post(addr, "/api/set_registration", "mode=closed", Some(&bob)).await;
    assert_eq!(status, 404, "only admins: {body}");
    let (status, _, body) = post(addr, "/api/create_invite", "", Some(&bob)).await;
    assert_eq!(status, 404, "only admins: {body}");
    let (status, _, body) = post(addr, "/api/set_registration", "mode=secret", Some(&admin)).await;
    assert_eq!(status, 400, "{body}");

    let (status, _, body) = post(addr, "/api/set_registration", "mode=closed", Some(&admin)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = try_register(addr, "carol", "").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Registration is closed"), "{body}");

    post(addr, "/api/set_registration", "mode=invite", Some(&admin)).await;
    let (_, _, mode) = post(addr, "/api/registration", "", None).await;
    assert_eq!(mode.trim(), "\"invite\"");
    let (status, body) = try_register(addr, "carol", "").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("needs an invite"), "{body}");
    let (status, body) = try_register(addr, "carol", "made-up").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("not valid"), "{body}");

    let (status, _, code) = post(addr, "/api/create_invite", "", Some(&admin)).await;
    assert_eq!(status, 200, "{code}");
    let code: String = serde_json::from_str(&code).unwrap();
    assert!(code.len() >= 40, "{code}");
    let (status, body) = try_register(addr, "carol", &code).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = try_register(addr, "dave", &code).await;
    assert_eq!(status, 403, "used once: {body}");

    // An invite for two people, listed in the console; revoked after one, it lets no one else
    // in. Terms out of bounds are refused, and only admins revoke.
    for bad in ["uses=0", "uses=101", "days=0", "days=31"] {
        let (status, _, body) = post(addr, "/api/create_invite", bad, Some(&admin)).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, _, code) = post(addr, "/api/create_invite", "uses=2&days=1", Some(&admin)).await;
    assert_eq!(status, 200, "{code}");
    let code: String = serde_json::from_str(&code).unwrap();
    assert_eq!(try_register(addr, "dave", &code).await.0, 200);
    let console: app::api::admin::AdminView =
        serde_json::from_str(&post(addr, "/api/admin_console", "", Some(&admin)).await.2).unwrap();
    let newest = &console.invites[0];
    assert_eq!((newest.uses, newest.max_uses), (1, 2));
    assert!(newest.open(console.now));
    let day = 24 * 60 * 60 * 1000;
    assert!((newest.expires_at - newest.created_at - day).abs() < 5_000);
    let revoke = format!("id={}", newest.id);
    let (status, _, body) = post(addr, "/api/revoke_invite", &revoke, Some(&bob)).await;
    assert_eq!(status, 404, "only admins: {body}");
    let (status, _, body) = post(addr, "/api/revoke_invite", &revoke, Some(&admin)).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = post(addr, "/api/revoke_invite", &revoke, Some(&admin)).await;
    assert_eq!(status, 404, "once: {body}");
    let (status, _, body) = post(addr, "/api/revoke_invite", "id=zz", Some(&admin)).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = try_register(addr, "erin", &code).await;
    assert_eq!(status, 403, "revoked: {body}");
    let audit: app::api::admin::AdminView =
        serde_json::from_str(&post(addr, "/api/admin_console", "", Some(&admin)).await.2).unwrap();
    let actions: Vec<&str> = audit.audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions[..2],
        ["revoke_invite", "create_invite"],
        "{actions:?}"
    );
    assert!(
        audit.audit[1].detail.starts_with("2 registrations, until"),
        "{:?}",
        audit.audit[1]
    );

    post(addr, "/api/set_registration", "mode=open", Some(&admin)).await;
    let (status, body) = try_register(addr, "frank", "").await;
    assert_eq!(status, 200, "{body}");
}

#[test]
fn the_command_line_sets_the_mode_and_prints_invites() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("confab.db");
    let confab = |args: &[&str]| common::command(&db, args);
    let set = confab(&["admin", "registration", "invite"]);
    let stderr = String::from_utf8(set.stderr).unwrap();
    assert!(set.status.success(), "{stderr}");
    assert!(stderr.contains("registration is now invite"), "{stderr}");
    let wrong = confab(&["admin", "registration", "sometimes"]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8(wrong.stderr)
        .unwrap()
        .contains("use open, invite or closed"));

    let invite = confab(&["admin", "invite", "--uses", "2"]);
    assert!(invite.status.success());
    let code = String::from_utf8(invite.stdout).unwrap().trim().to_owned();
    let too_long = confab(&["admin", "invite", "--days", "90"]);
    assert!(!too_long.status.success());
    assert!(String::from_utf8(too_long.stderr)
        .unwrap()
        .contains("1 to 30 days"));

    // A server on that database: the first account needs no invite, the second uses the code.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let addr = common::free_addr();
        let _server = common::spawn_confab(addr, dir.path(), &[]).await;
        assert_eq!(try_register(addr, "first", "").await.0, 200);
        assert_eq!(try_register(addr, "second", "").await.0, 403);
        let (status, body) = try_register(addr, "second", &code).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(try_register(addr, "third", &code).await.0, 200, "two uses");
        assert_eq!(try_register(addr, "fourth", &code).await.0, 403);
    });
}
