//! Server functions through the real axum router (no network): auth and cookies, status codes,
//! DM privacy, message limits, and the no-JavaScript form flow.
#![expect(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::Router;
use http::{header, Request, StatusCode};
use leptos::prelude::LeptosOptions;
use tower::ServiceExt;

struct TestApp {
    router: Router,
    _dir: tempfile::TempDir,
}

async fn test_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("confab.db").display());
    let (state, _store) =
        server::open_node(&url, false, None, app::limits::LimitsConfig::relaxed())
            .await
            .unwrap();
    let options = LeptosOptions::builder().output_name("confab").build();
    TestApp {
        router: server::router(state, options, server::LiveOptions::same_site()),
        _dir: dir,
    }
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    fn session_cookie(&self) -> String {
        let set = self
            .headers
            .get(header::SET_COOKIE)
            .expect("set-cookie")
            .to_str()
            .unwrap();
        set.split(';').next().unwrap().to_owned()
    }
}

/// How long one request may take in these tests: the slowest takes milliseconds, but a loaded
/// CI machine can be slow. About one run in 150 of this file, a room page (`GET /r/1`, with
/// the other tests rendering at once) never finished; this names it instead of hanging.
const REQUEST_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

impl TestApp {
    /// Sends `request` through the router; a request that takes over [`REQUEST_LIMIT`] fails
    /// the test naming it, rather than hanging the run.
    async fn send(&self, request: Request<Body>) -> Reply {
        let what = format!("{} {}", request.method(), request.uri());
        let answer = async {
            let response = self.router.clone().oneshot(request).await.unwrap();
            let (parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            (parts, bytes)
        };
        let Ok((parts, bytes)) = tokio::time::timeout(REQUEST_LIMIT, answer).await else {
            panic!("{what}: no complete answer within {REQUEST_LIMIT:?}");
        };
        let (status, headers) = (parts.status, parts.headers);
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// A server-function call as the browser's JavaScript makes it.
    async fn call(&self, endpoint: &str, form: &str, cookie: Option<&str>) -> Reply {
        let mut req = Request::post(format!("/api/{endpoint}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::from(form.to_owned())).unwrap())
            .await
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut req = Request::get(path);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    /// Registers `name` and returns its session cookie (`confab_session=…`).
    async fn register(&self, name: &str) -> String {
        let reply = self
            .call(
                "register",
                &format!("username={name}&password=password123"),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.session_cookie()
    }
}

#[tokio::test]
async fn register_sets_a_strict_session_cookie() {
    let app = test_app().await;
    let reply = app
        .call("register", "username=alice&password=password123", None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["username"], "alice");
    let cookie = reply.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("confab_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http gets no Secure flag: {cookie}"
    );

    let me = app.call("me", "", Some(&reply.session_cookie())).await;
    assert_eq!(me.json()["username"], "alice");
    let anonymous = app.call("me", "", None).await;
    assert_eq!(anonymous.json(), serde_json::Value::Null);
}

#[tokio::test]
async fn cookies_are_secure_behind_https() {
    let app = test_app().await;
    let req = Request::post("/api/register")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-forwarded-proto", "https")
        .body(Body::from("username=alice&password=password123"))
        .unwrap();
    let reply = app.send(req).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("; Secure"));
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = test_app().await;
    app.register("alice").await;
    let wrong = app
        .call("login", "username=alice&password=nope-nope", None)
        .await;
    let unknown = app
        .call("login", "username=mallory&password=nope-nope", None)
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.body, unknown.body);
    assert!(wrong.headers.get(header::SET_COOKIE).is_none());
    let right = app
        .call("login", "username=ALICE&password=password123", None)
        .await;
    assert_eq!(
        right.status,
        StatusCode::OK,
        "usernames match ignoring case"
    );
}

#[tokio::test]
async fn registration_rules_are_enforced() {
    let app = test_app().await;
    app.register("alice").await;
    for (form, status) in [
        ("username=Alice&password=password123", StatusCode::CONFLICT),
        (
            "username=bad%20name&password=password123",
            StatusCode::BAD_REQUEST,
        ),
        ("username=bob&password=short", StatusCode::BAD_REQUEST),
        (
            &format!("username={}&password=password123", "x".repeat(33)),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let reply = app.call("register", form, None).await;
        assert_eq!(reply.status, status, "{form}: {}", reply.body);
        assert!(!reply.json()["message"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn logout_revokes_the_session_on_the_server() {
    let app = test_app().await;
    let cookie = app.register("alice").await;
    let out = app.call("logout", "", Some(&cookie)).await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    // Replaying the old cookie no longer works.
    let replay = app.call("sidebar", "", Some(&cookie)).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn another_users_dm_history_is_refused() {
    let app = test_app().await;
    let alice = app.register("alice").await;
    let _bob = app.register("bob").await;
    let eve = app.register("eve").await;
    let dm = app.call("open_dm", "username=bob", Some(&alice)).await;
    assert_eq!(dm.status, StatusCode::OK, "{}", dm.body);
    let dm_id = dm.json().as_i64().unwrap();
    let posted = app
        .call(
            "post_message",
            &format!("room_id={dm_id}&text=for+bob+only"),
            Some(&alice),
        )
        .await;
    assert_eq!(posted.status, StatusCode::OK);

    let history = app
        .call("history", &format!("room_id={dm_id}"), Some(&eve))
        .await;
    assert_eq!(history.status, StatusCode::NOT_FOUND);
    assert!(!history.body.contains("for bob only"));
    let post = app
        .call(
            "post_message",
            &format!("room_id={dm_id}&text=hi"),
            Some(&eve),
        )
        .await;
    assert_eq!(post.status, StatusCode::NOT_FOUND);
    let page = app.get(&format!("/r/{dm_id}"), Some(&eve)).await;
    assert!(!page.body.contains("for bob only"));
    // Not logged in at all: 401.
    let anon = app.call("history", &format!("room_id={dm_id}"), None).await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    // Bob, a member, reads it.
    let bob = app
        .call("login", "username=bob&password=password123", None)
        .await;
    let mine = app
        .call(
            "history",
            &format!("room_id={dm_id}"),
            Some(&bob.session_cookie()),
        )
        .await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.json()["messages"][0]["body"], "for bob only");
}

#[tokio::test]
async fn message_length_is_checked_and_bad_posts_store_nothing() {
    let app = test_app().await;
    let alice = app.register("alice").await;
    let longest = "a".repeat(4000);
    let ok = app
        .call(
            "post_message",
            &format!("room_id=1&text={longest}"),
            Some(&alice),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    for text in ["", "%20%20%0A", &"a".repeat(4001)] {
        let reply = app
            .call(
                "post_message",
                &format!("room_id=1&text={text}"),
                Some(&alice),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert_eq!(reply.json()["kind"], "bad_request");
    }
    let history = app.call("history", "room_id=1", Some(&alice)).await;
    assert_eq!(history.json()["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn history_limit_is_capped_at_100() {
    let app = test_app().await;
    let alice = app.register("alice").await;
    for i in 0..105 {
        let r = app
            .call(
                "post_message",
                &format!("room_id=1&text=m{i}"),
                Some(&alice),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let page = app
        .call("history", "room_id=1&limit=1000", Some(&alice))
        .await;
    let messages = page.json()["messages"].as_array().unwrap().clone();
    assert_eq!(messages.len(), 100);
    assert_eq!(messages[0]["seq"], 6);
    assert_eq!(page.json()["has_older"], true);
}

#[tokio::test]
async fn malformed_requests_get_400_with_a_message() {
    let app = test_app().await;
    let alice = app.register("alice").await;
    let reply = app
        .call("post_message", "room_id=not-a-number&text=hi", Some(&alice))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("Invalid request"));
    let missing = app.call("post_message", "text=hi", Some(&alice)).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{}", missing.body);
    // Over the body limit: refused before it is read (413 when the length is announced, 400
    // when a chunked body runs over).
    let body = format!("room_id=1&text={}", "a".repeat(300_000));
    let announced = Request::post("/api/post_message")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, body.len())
        .header(header::COOKIE, &alice)
        .body(Body::from(body.clone()))
        .unwrap();
    assert_eq!(
        app.send(announced).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let chunked = app.call("post_message", &body, Some(&alice)).await;
    assert_eq!(chunked.status, StatusCode::BAD_REQUEST, "{}", chunked.body);
    let history = app.call("history", "room_id=1", Some(&alice)).await;
    assert!(history.json()["messages"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_plain_form_post_redirects_back_with_its_error() {
    let app = test_app().await;
    let alice = app.register("alice").await;
    let form_post = |text: &str| {
        Request::post("/api/post_message")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html,application/xhtml+xml")
            .header(header::REFERER, "http://localhost/r/1")
            .header(header::COOKIE, &alice)
            .body(Body::from(format!(
                "room_id=1&text={text}&client_id=form-1"
            )))
            .unwrap()
    };
    let ok = app.send(form_post("hello+from+a+form")).await;
    assert_eq!(ok.status, StatusCode::FOUND);
    assert!(ok.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .starts_with("http://localhost/r/1"));
    // The browser resends the same form (reload after POST): stored once.
    app.send(form_post("hello+from+a+form")).await;
    let page = app.get("/r/1", Some(&alice)).await;
    // (Counted in the rendered list; the page also carries its data for hydration.)
    assert_eq!(
        page.body.matches(">hello from a form</p>").count(),
        1,
        "{}",
        page.body
    );

    let bad = app.send(form_post("")).await;
    assert_eq!(bad.status, StatusCode::FOUND);
    let location = bad.headers[header::LOCATION].to_str().unwrap().to_owned();
    assert!(location.contains("__err="), "{location}");
    // Following the redirect shows the error next to the composer.
    let path = location.trim_start_matches("http://localhost");
    let shown = app.get(path, Some(&alice)).await;
    assert!(shown.body.contains("role=\"alert\""), "{}", shown.body);
    assert!(shown.body.contains("Type a message first."));
}

#[tokio::test]
async fn pages_render_message_text_as_text() {
    let app = test_app().await;
    let alice = app.register("alice").await;
    let payload = "%3Cimg+src%3Dx+onerror%3Dalert(1)%3E";
    app.call(
        "post_message",
        &format!("room_id=1&text={payload}"),
        Some(&alice),
    )
    .await;
    let page = app.get("/r/1", Some(&alice)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(!page.body.contains("<img src=x"));
    // Every resource on the page resolved for real (none lost its context mid-render).
    for path in ["/", "/rooms", "/r/1"] {
        let page = app.get(path, Some(&alice)).await;
        assert!(
            !page.body.contains(r#"\"kind\":\"internal\""#),
            "{path}: {}",
            page.body
        );
    }
    // Visitors see the login form instead of any room.
    let visitor = app.get("/r/1", None).await;
    assert!(visitor.body.contains("Log in"));
    assert!(!visitor.body.contains("onerror"));
    assert_eq!(
        app.get("/no/such/page", None).await.status,
        StatusCode::NOT_FOUND
    );
}
