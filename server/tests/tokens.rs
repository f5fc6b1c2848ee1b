//! Personal access tokens and the HTTP API (`/api/v1`) over real HTTP on loopback: a token made
//! in the UI's server function posts as its owner, live on the owner's other screens; scopes
//! are enforced; a revoked, expired or disabled owner's token is refused at once; every error
//! is a typed JSON body; a token is rate-limited; and the operator's `confab token` commands
//! make, list and revoke tokens a running server honours. Incoming webhooks are here too: a
//! room moderator's hook posts Slack-style payloads as its own bot.
#![expect(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;

use app::limits::LimitsConfig;
use app::protocol::ServerFrame;
use app::validate::{
    MAX_CLIENT_ID_CHARS, MAX_FILES_PER_MESSAGE, MAX_MESSAGE_CHARS, MAX_REACTION_CHARS,
    MAX_SEARCH_CHARS,
};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server of its own, with `limits`, and its state (to reach the store directly).
async fn start(limits: LimitsConfig) -> (SocketAddr, app::state::AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("confab.db").display());
    let (state, _store) = server::open_node(&url, false, None, limits).await.unwrap();
    let addr = common::serve(state.clone()).await;
    (addr, state, dir)
}

/// An answer of the API: status, head, and the body as JSON (`Null` when empty).
struct Reply {
    status: u16,
    head: String,
    json: Value,
}

impl Reply {
    fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or_default()
    }
}

/// One HTTP/1.1 request to the server, with extra header lines; a body is sent as JSON.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: Option<&str>,
) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = body.unwrap_or_default();
    let typed = if body.is_empty() {
        String::new()
    } else {
        "Content-Type: application/json\r\n".to_owned()
    };
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{typed}Content-Length: {}\r\n\
         Connection: close\r\n{headers}\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{method} {path}: {e}: {body}"))
    };
    Reply {
        status: head[9..12].parse().unwrap(),
        head: head.to_lowercase(),
        json,
    }
}

/// A request with `Authorization: Bearer token`.
async fn api(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Reply {
    let body = body.map(|b| b.to_string());
    let auth = format!("Authorization: Bearer {token}\r\n");
    request(addr, method, path, &auth, body.as_deref()).await
}

/// Makes a token as its owner does on the "Access tokens" page; returns the secret and its id.
async fn make_token(addr: SocketAddr, cookie: &str, form: &str) -> (String, String) {
    let made: Value =
        serde_json::from_str(&common::call(addr, "create_token", form, cookie).await).unwrap();
    let secret = made["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("cfb_") && secret.len() == 47, "{secret}");
    (secret, made["token"]["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_token_posts_and_reads_as_its_owner_and_the_post_is_live() {
    let (addr, _state, _dir) = start(LimitsConfig::relaxed()).await;
    let alice = common::register(addr, "alice").await;
    let (token, _) = make_token(addr, &alice, "name=ci&read=on&write=on&days=30").await;
    let mut screen = common::connect(addr, &alice).await;

    let me = api(addr, "GET", "/api/v1/me", &token, None).await;
    assert_eq!(me.status, 200, "{}", me.json);
    assert_eq!(me.json["username"], "alice");
    assert_eq!(me.json["scopes"], json!(["read", "write"]));
    // Alice is the instance's admin, but this token has no admin scope: not an admin to the
    // instance-admin calls.
    assert_eq!(me.json["is_admin"], false);

    let rooms = api(addr, "GET", "/api/v1/rooms", &token, None).await;
    assert_eq!(rooms.status, 200);
    let general = rooms.json["rooms"][0]["id"].as_i64().unwrap();

    let path = format!("/api/v1/rooms/{general}/messages");
    let body = json!({"text": "Build **42** passed", "client_id": "build-42"});
    let posted = api(addr, "POST", &path, &token, Some(body.clone())).await;
    assert_eq!(posted.status, 201, "{}", posted.json);
    let seq = posted.json["seq"].as_i64().unwrap();
    assert_eq!(posted.json["author"], "alice");
    // Live on the owner's open screen, through the one write path.
    loop {
        if let ServerFrame::Message { message } = common::next(&mut screen).await {
            assert_eq!(message.seq, seq);
            assert_eq!(message.body, "Build **42** passed");
            break;
        }
    }
    // A retry with the same client id posts nothing new.
    let again = api(addr, "POST", &path, &token, Some(body)).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.json["seq"].as_i64(), Some(seq));

    let history = api(addr, "GET", &format!("{path}?limit=5"), &token, None).await;
    assert_eq!(history.status, 200);
    let bodies: Vec<&str> = history.json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert_eq!(
        bodies
            .iter()
            .filter(|b| **b == "Build **42** passed")
            .count(),
        1,
        "{bodies:?}"
    );

    // A reply in the message's thread, read back as the thread's page; the room's members.
    let reply = api(
        addr,
        "POST",
        &path,
        &token,
        Some(json!({"text": "which commit?", "thread": seq})),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.json);
    let thread = api(addr, "GET", &format!("{path}?thread={seq}"), &token, None).await;
    assert_eq!(thread.status, 200, "{}", thread.json);
    let replies: Vec<&str> = thread.json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert_eq!(replies, vec!["which commit?"]);
    common::register(addr, "bob").await;
    let members = api(
        addr,
        "GET",
        &format!("/api/v1/rooms/{general}/members"),
        &token,
        None,
    )
    .await;
    assert_eq!(members.status, 200, "{}", members.json);
    assert_eq!(members.json[0]["username"], "alice");
    assert_eq!(members.json[0]["presence"], "online");
    // Paged: a page of one, then the rest after its last name; together, the whole list.
    let names = |json: &serde_json::Value| -> Vec<String> {
        json.as_array()
            .unwrap()
            .iter()
            .map(|m| m["username"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = names(&members.json);
    assert!(all.len() >= 2, "{all:?}");
    let page = |query: String| {
        let path = format!("/api/v1/rooms/{general}/members?{query}");
        let token = token.clone();
        async move { api(addr, "GET", &path, &token, None).await }
    };
    let first = page("limit=1".into()).await;
    assert_eq!(first.status, 200, "{}", first.json);
    assert_eq!(names(&first.json), all[..1]);
    let rest = page(format!("after={}&limit=1000", all[0].to_uppercase())).await;
    assert_eq!(rest.status, 200, "{}", rest.json);
    assert_eq!(names(&rest.json), all[1..]);
    // A limit of 0 is read as 1, and one above the cap as the cap.
    assert_eq!(names(&page("limit=0".into()).await.json), all[..1]);
    let bad = page("limit=many".into()).await;
    assert_eq!(bad.status, 400, "{}", bad.json);

    let one = format!("{path}/{seq}");
    let edited = api(
        addr,
        "PATCH",
        &one,
        &token,
        Some(json!({"text": "Build 42 passed (2 flaky)"})),
    )
    .await;
    assert_eq!(edited.status, 200, "{}", edited.json);
    assert_eq!(edited.json["body"], "Build 42 passed (2 flaky)");
    let reacted = api(
        addr,
        "POST",
        &format!("{one}/reactions"),
        &token,
        Some(json!({"emoji": "🎉"})),
    )
    .await;
    assert_eq!(reacted.status, 200, "{}", reacted.json);
    assert_eq!(reacted.json["reactions"][0]["emoji"], "🎉");

    let changes = api(
        addr,
        "GET",
        &format!("/api/v1/rooms/{general}/changes?after_rev=0"),
        &token,
        None,
    )
    .await;
    assert_eq!(changes.status, 200, "{}", changes.json);
    assert!(changes.json.to_string().contains("2 flaky"));
    let found = api(addr, "GET", "/api/v1/search?q=flaky", &token, None).await;
    assert_eq!(found.status, 200, "{}", found.json);
    assert!(found.json.to_string().contains("2 flaky"));

    let deleted = api(addr, "DELETE", &one, &token, None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.json);
    assert!(deleted.json["deleted_at"].is_i64(), "{}", deleted.json);

    // The token's use shows in its owner's list.
    let listed: Value =
        serde_json::from_str(&common::call(addr, "tokens", "", &alice).await).unwrap();
    assert_eq!(listed["tokens"][0]["name"], "ci");
    assert!(listed["tokens"][0]["last_used_at"].is_i64());
    assert!(
        !listed.to_string().contains(&token),
        "a secret is never listed"
    );
}

#[tokio::test]
async fn a_token_pins_lists_pins_and_reads_profiles() {
    let (addr, _state, _dir) = start(LimitsConfig::relaxed()).await;
    let alice = common::register(addr, "alice").await;
    common::register(addr, "bob").await;
    let (token, _) = make_token(addr, &alice, "name=ci&read=on&write=on&days=30").await;
    let mut screen = common::connect(addr, &alice).await;
    let rooms = api(addr, "GET", "/api/v1/rooms", &token, None).await;
    let general = rooms.json["rooms"][0]["id"].as_i64().unwrap();
    let body = json!({"text": "Release checklist"});
    let path = format!("/api/v1/rooms/{general}/messages");
    let posted = api(addr, "POST", &path, &token, Some(body)).await;
    let seq = posted.json["seq"].as_i64().unwrap();

    let pin = format!("/api/v1/rooms/{general}/messages/{seq}/pin");
    let pinned = api(addr, "PUT", &pin, &token, None).await;
    assert_eq!(pinned.status, 200, "{}", pinned.json);
    assert_eq!(pinned.json["pinned"]["by"], "alice");
    // Live, through the one write path.
    loop {
        if let ServerFrame::Pinned { message } = common::next(&mut screen).await {
            assert_eq!(message.seq, seq);
            assert_eq!(message.pinned.unwrap().by, "alice");
            break;
        }
    }
    let list = format!("/api/v1/rooms/{general}/pins");
    let pins = api(addr, "GET", &list, &token, None).await;
    assert_eq!(pins.status, 200);
    assert_eq!(pins.json[0]["seq"], seq);
    let unpinned = api(addr, "DELETE", &pin, &token, None).await;
    assert_eq!(unpinned.status, 200, "{}", unpinned.json);
    assert!(unpinned.json["pinned"].is_null(), "{}", unpinned.json);
    let pins = api(addr, "GET", &list, &token, None).await;
    assert_eq!(pins.json, json!([]));

    let bob = api(addr, "GET", "/api/v1/users/BOB", &token, None).await;
    assert_eq!(bob.status, 200, "{}", bob.json);
    assert_eq!(bob.json["username"], "bob");
    assert_eq!(bob.json["is_admin"], false);
    let nobody = api(addr, "GET", "/api/v1/users/nobody", &token, None).await;
    assert_eq!((nobody.status, nobody.code()), (404, "not_found"));
}

#[tokio::test]
async fn scopes_are_enforced_and_only_an_admin_grants_admin() {
    let (addr, _state, _dir) = start(LimitsConfig::relaxed()).await;
    let alice = common::register(addr, "alice").await;
    let bob = common::register(addr, "bob").await;
    let (reader, _) = make_token(addr, &alice, "name=reader&read=on").await;
    let (writer, _) = make_token(addr, &alice, "name=writer&write=on").await;
    let (admin, _) = make_token(addr, &alice, "name=admin&read=on&admin=on").await;

    let post = Some(json!({"text": "hello"}));
    let refused = api(
        addr,
        "POST",
        "/api/v1/rooms/1/messages",
        &reader,
        post.clone(),
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.json);
    assert_eq!(refused.code(), "forbidden");
    assert!(refused.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("write scope"));
    let refused = api(addr, "GET", "/api/v1/rooms/1/messages", &writer, None).await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        api(addr, "POST", "/api/v1/rooms/1/messages", &writer, post)
            .await
            .status,
        201
    );
    let me = api(addr, "GET", "/api/v1/me", &admin, None).await;
    assert_eq!(me.json["is_admin"], true);

    let (status, _, body) = common::post(
        addr,
        "/api/create_token",
        "name=sneaky&read=on&admin=on",
        Some(&bob),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, _, body) = common::post(addr, "/api/create_token", "name=none", Some(&bob)).await;
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = common::post(
        addr,
        "/api/create_token",
        "name=x&read=on&days=400",
        Some(&bob),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn revoked_expired_and_disabled_owners_tokens_are_refused_at_once() {
    let (addr, state, _dir) = start(LimitsConfig::relaxed()).await;
    let alice = common::register(addr, "alice").await;
    let bob = common::register(addr, "bob").await;
    let (token, id) = make_token(addr, &alice, "name=ci&read=on").await;
    assert_eq!(
        api(addr, "GET", "/api/v1/me", &token, None).await.status,
        200
    );

    // Bob cannot revoke Alice's token; Alice can, and it is refused on the next request.
    let (status, _, _) =
        common::post(addr, "/api/revoke_token", &format!("id={id}"), Some(&bob)).await;
    assert_eq!(status, 404);
    common::call(addr, "revoke_token", &format!("id={id}"), &alice).await;
    let refused = api(addr, "GET", "/api/v1/me", &token, None).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.code(), "unauthorized");
    assert!(
        refused.head.contains("www-authenticate: bearer"),
        "{}",
        refused.head
    );

    // Expired: a token whose time is up (made straight in the store, as waiting days cannot).
    let secret = format!("cfb_{}", "e".repeat(43));
    let hash = app::auth::token_hash(&secret);
    let alice_user = state.store.user_by_name("alice").await.unwrap().unwrap();
    state
        .store
        .create_token(app::store::NewAccessToken {
            user_id: alice_user.id,
            hash: &hash,
            name: "old",
            scopes: &[app::model::TokenScope::Read],
            expires_at: Some(app::timestamp::now_ms() - 1),
            max_per_user: 50,
        })
        .await
        .unwrap();
    assert_eq!(
        api(addr, "GET", "/api/v1/me", &secret, None).await.status,
        401
    );

    // A disabled owner's tokens let no one in.
    let (bobs, _) = make_token(addr, &bob, "name=bot&read=on").await;
    assert_eq!(
        api(addr, "GET", "/api/v1/me", &bobs, None).await.status,
        200
    );
    common::call(addr, "moderate", "username=bob&action=disable", &alice).await;
    assert_eq!(
        api(addr, "GET", "/api/v1/me", &bobs, None).await.status,
        401
    );
}

#[tokio::test]
async fn every_refusal_is_a_typed_json_error() {
    let (addr, _state, _dir) = start(LimitsConfig::relaxed()).await;
    let alice = common::register(addr, "alice").await;
    let (token, _) = make_token(addr, &alice, "name=ci&read=on&write=on").await;

    let nobody = request(addr, "GET", "/api/v1/me", "", None).await;
    assert_eq!(nobody.status, 401);
    assert_eq!(nobody.code(), "unauthorized");
    let basic = request(
        addr,
        "GET",
        "/api/v1/me",
        "Authorization: Basic YTpi\r\n",
        None,
    )
    .await;
    assert_eq!(basic.status, 401);
    let forged = api(
        addr,
        "GET",
        "/api/v1/me",
        &format!("cfb_{}", "x".repeat(43)),
        None,
    )
    .await;
    assert_eq!(forged.status, 401);

    let path = "/api/v1/rooms/1/messages";
    let auth = format!("Authorization: Bearer {token}\r\n");
    let not_json = request(addr, "POST", path, &auth, Some("{text: oops")).await;
    assert_eq!(not_json.status, 400, "{}", not_json.json);
    assert_eq!(not_json.code(), "bad_request");
    let unknown = api(
        addr,
        "POST",
        path,
        &token,
        Some(json!({"text": "a", "txet": "b"})),
    )
    .await;
    assert_eq!(unknown.status, 400);
    let untyped = request(
        addr,
        "POST",
        path,
        &format!("{auth}Content-Type: text/plain\r\n"),
        None,
    )
    .await;
    assert_eq!(untyped.status, 400, "{}", untyped.json);
    let empty = api(addr, "POST", path, &token, Some(json!({"text": "   "}))).await;
    assert_eq!(empty.status, 400, "{}", empty.json);
    let long = api(
        addr,
        "POST",
        path,
        &token,
        Some(json!({"text": "x".repeat(5000)})),
    )
    .await;
    assert_eq!(long.status, 400, "{}", long.json);

    for (method, path) in [
        ("GET", "/api/v1/nothing"),
        ("GET", "/api/v1/rooms/abc/messages"),
        ("GET", "/api/v1/rooms/999/messages"),
        ("DELETE", "/api/v1/rooms/1/messages/999"),
    ] {
        let reply = api(addr, method, path, &token, None).await;
        assert_eq!(reply.status, 404, "{method} {path}: {}", reply.json);
        assert_eq!(reply.code(), "not_found", "{method} {path}");
    }
    let bad_query = api(
        addr,
        "GET",
        "/api/v1/rooms/1/changes?after_rev=x",
        &token,
        None,
    )
    .await;
    assert_eq!(bad_query.status, 400);

    // A browser's session works too, and its writes are checked against other sites.
    let cookie = format!("Cookie: {alice}\r\n");
    assert_eq!(
        request(addr, "GET", "/api/v1/me", &cookie, None)
            .await
            .status,
        200
    );
    let body = json!({"text": "from the page"}).to_string();
    let elsewhere = format!("{cookie}Origin: https://evil.example\r\n");
    let refused = request(addr, "POST", path, &elsewhere, Some(&body)).await;
    assert_eq!(refused.status, 403);
    let same_site = format!("{cookie}Origin: http://{addr}\r\n");
    assert_eq!(
        request(addr, "POST", path, &same_site, Some(&body))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn the_openapi_document_describes_every_call_served_and_its_page_reads_without_scripts() {
    let (addr, _state, _dir) = start(LimitsConfig::relaxed()).await;
    let doc = request(addr, "GET", "/api/v1/openapi.json", "", None).await;
    assert_eq!(doc.status, 200);
    assert!(
        doc.head.contains("content-type: application/json"),
        "{}",
        doc.head
    );
    assert_eq!(doc.json["openapi"], "3.1.0");
    assert_eq!(doc.json["servers"][0]["url"], "/api/v1");
    let mut described = Vec::new();
    for (path, item) in doc.json["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            described.push(format!("{} {path}", method.to_uppercase()));
            let responses = operation["responses"].as_object().unwrap();
            // Every refusal is described as the typed body it is.
            for status in ["401", "403", "404", "429"] {
                assert_eq!(
                    responses[status]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path}"
            );
        }
    }
    described.sort();
    assert_eq!(
        described,
        [
            "DELETE /rooms/{room}/messages/{seq}",
            "DELETE /rooms/{room}/messages/{seq}/pin",
            "GET /me",
            "GET /rooms",
            "GET /rooms/{room}/changes",
            "GET /rooms/{room}/members",
            "GET /rooms/{room}/messages",
            "GET /rooms/{room}/messages/{seq}/files/{id}",
            "GET /rooms/{room}/messages/{seq}/files/{id}/thumb",
            "GET /rooms/{room}/pins",
            "GET /search",
            "GET /users/{username}",
            "PATCH /rooms/{room}/messages/{seq}",
            "POST /rooms/{room}/files",
            "POST /rooms/{room}/join",
            "POST /rooms/{room}/leave",
            "POST /rooms/{room}/messages",
            "POST /rooms/{room}/messages/{seq}/reactions",
            "PUT /rooms/{room}/messages/{seq}/pin",
        ]
    );
    // What is described is what is served: each call, made without credentials, is refused
    // as unauthorised by its own handler, where an unknown one is not found.
    for call in &described {
        let (method, path) = call.split_once(' ').unwrap();
        let path = path
            .replace("{room}", "1")
            .replace("{seq}", "1")
            .replace("{id}", "x")
            .replace("{username}", "alice");
        let path = format!("/api/v1{path}");
        let body = (method == "POST" || method == "PATCH").then_some("{}");
        let refused = request(addr, method, &path, "", body).await;
        assert_eq!(
            (refused.status, refused.code()),
            (401, "unauthorized"),
            "{call}"
        );
    }
    let missing = request(addr, "GET", "/api/v1/rooms/1/nothing", "", None).await;
    assert_eq!((missing.status, missing.code()), (404, "not_found"));
    // The limits a program reads are the ones the server enforces.
    let schemas = &doc.json["components"]["schemas"];
    let limits = [
        (
            &schemas["NewMessage"]["properties"]["text"],
            MAX_MESSAGE_CHARS,
        ),
        (&schemas["Edit"]["properties"]["text"], MAX_MESSAGE_CHARS),
        (
            &schemas["NewMessage"]["properties"]["client_id"],
            MAX_CLIENT_ID_CHARS,
        ),
        (
            &schemas["NewReaction"]["properties"]["emoji"],
            MAX_REACTION_CHARS,
        ),
        (
            &schemas["NewReaction"]["properties"]["client_id"],
            MAX_CLIENT_ID_CHARS,
        ),
    ];
    for (field, limit) in limits {
        assert_eq!(field["maxLength"], limit, "{field}");
    }
    let upload = &schemas["FileUpload"]["properties"];
    assert_eq!(upload["text"]["maxLength"], MAX_MESSAGE_CHARS);
    assert_eq!(upload["client_id"]["maxLength"], MAX_CLIENT_ID_CHARS);
    assert_eq!(upload["file"]["maxItems"], MAX_FILES_PER_MESSAGE);
    let query = &doc.json["paths"]["/search"]["get"]["parameters"][0];
    assert_eq!(query["name"], "q");
    assert_eq!(query["schema"]["maxLength"], MAX_SEARCH_CHARS);
    // Every reference names a schema the document holds.
    fn references(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    out.push(target.clone());
                }
                map.values().for_each(|v| references(v, out));
            }
            Value::Array(list) => list.iter().for_each(|v| references(v, out)),
            _ => {}
        }
    }
    let mut targets = Vec::new();
    references(&doc.json, &mut targets);
    assert!(targets.len() > 20, "{targets:?}");
    for target in targets {
        let name = target.strip_prefix("#/components/schemas/").unwrap();
        assert!(schemas[name].is_object(), "{target} is not in the document");
    }
    for schema in ["Message", "HistoryPage", "Member", "RoomEvent", "ErrorBody"] {
        assert!(
            doc.json["components"]["schemas"][schema].is_object(),
            "{schema}"
        );
    }

    // People read the same document as a page, with no script and only its own stylesheet.
    let (status, head, page) = common::get(addr, "/api/v1/docs", None).await;
    assert_eq!(status, 200);
    let head = head.to_lowercase();
    assert!(
        head.contains("content-security-policy: default-src 'none'; style-src 'self';"),
        "{head}"
    );
    assert!(!page.contains("<script"), "{page}");
    assert!(
        page.contains("<span class=\"method\">POST</span> <code>/rooms/{room}/messages</code>"),
        "{page}"
    );
    assert!(page.contains("id=\"schema-Message\""), "{page}");
    assert!(
        page.contains(
            "<p>Body (<code>multipart/form-data</code>): \
             <a href=\"#schema-FileUpload\">FileUpload</a></p>"
        ),
        "{page}"
    );
    let (status, head, _) = common::get(addr, "/api/v1/docs.css", None).await;
    assert_eq!(status, 200);
    assert!(
        head.to_lowercase().contains("content-type: text/css"),
        "{head}"
    );
}

#[tokio::test]
async fn a_token_is_limited_and_wrong_tokens_count_against_the_address() {
    let limits = LimitsConfig {
        api_per_token: "3/min".parse().unwrap(),
        login_per_ip: "2/min".parse().unwrap(),
        ..LimitsConfig::relaxed()
    };
    let (addr, _state, _dir) = start(limits).await;
    let alice = common::register(addr, "alice").await;
    let (token, _) = make_token(addr, &alice, "name=busy&read=on").await;
    let (other, _) = make_token(addr, &alice, "name=calm&read=on").await;
    for _ in 0..3 {
        assert_eq!(
            api(addr, "GET", "/api/v1/me", &token, None).await.status,
            200
        );
    }
    let limited = api(addr, "GET", "/api/v1/me", &token, None).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.code(), "rate_limited");
    assert!(limited.head.contains("retry-after:"), "{}", limited.head);
    // Per token: another token of the same owner is not held back.
    assert_eq!(
        api(addr, "GET", "/api/v1/me", &other, None).await.status,
        200
    );

    let wrong = format!("cfb_{}", "w".repeat(43));
    for _ in 0..2 {
        assert_eq!(
            api(addr, "GET", "/api/v1/me", &wrong, None).await.status,
            401
        );
    }
    assert_eq!(
        api(addr, "GET", "/api/v1/me", &wrong, None).await.status,
        429
    );
}

#[tokio::test]
async fn without_javascript_the_new_secret_comes_back_with_the_page_once() {
    let (addr, _state, _dir) = start(LimitsConfig::relaxed()).await;
    let alice = common::register(addr, "alice").await;
    let headers = format!(
        "Cookie: {alice}\r\nAccept: text/html,application/xhtml+xml\r\nReferer: http://{addr}/tokens\r\n"
    );
    let answer = common::post_from(
        None,
        addr,
        "/api/create_token",
        "name=nojs&read=on&days=7",
        &headers,
    )
    .await;
    assert!(
        (300..400).contains(&answer.status),
        "{} {}",
        answer.status,
        answer.body
    );
    let handed = answer
        .cookie("confab_new_token")
        .expect("the secret's cookie");
    let secret = handed.split_once('=').unwrap().1.to_owned();
    assert!(secret.starts_with("cfb_"));

    let page = common::call(addr, "tokens", "", &format!("{alice}; {handed}")).await;
    let view: Value = serde_json::from_str(&page).unwrap();
    assert_eq!(view["fresh"]["secret"], secret.as_str());
    assert_eq!(view["fresh"]["token"]["name"], "nojs");
    // Without the cookie (the browser dropped it as told), it is not shown again.
    let later: Value =
        serde_json::from_str(&common::call(addr, "tokens", "", &alice).await).unwrap();
    assert!(later["fresh"].is_null());
    assert_eq!(
        api(addr, "GET", "/api/v1/me", &secret, None).await.status,
        200
    );
}

#[tokio::test]
async fn the_operators_token_commands_make_list_and_revoke_tokens_a_server_honours() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("confab.db");
    let addr = common::free_addr();
    let _server = common::spawn_confab(addr, dir.path(), &[]).await;
    common::register(addr, "alice").await;
    let confab = |args: &[&str]| common::command(&db, args);
    let made = confab(&[
        "token", "create", "alice", "--name", "deploys", "--days", "30",
    ]);
    let stderr = String::from_utf8(made.stderr).unwrap();
    assert!(made.status.success(), "{stderr}");
    let secret = String::from_utf8(made.stdout).unwrap().trim().to_owned();
    assert!(secret.starts_with("cfb_"), "{secret}");
    assert!(stderr.contains("read write"), "{stderr}");
    let me = api(addr, "GET", "/api/v1/me", &secret, None).await;
    assert_eq!(me.status, 200, "{}", me.json);
    assert_eq!(me.json["username"], "alice");

    let listed = confab(&["token", "list", "alice"]);
    let list = String::from_utf8(listed.stdout).unwrap();
    assert!(
        list.contains("deploys") && !list.contains(&secret),
        "{list}"
    );
    let id = list.split('\t').next().unwrap().to_owned();

    let wrong = confab(&[
        "token",
        "create",
        "alice",
        "--name",
        "x",
        "--scopes",
        "read,delete",
    ]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8(wrong.stderr)
        .unwrap()
        .contains("--scopes"));
    let nobody = confab(&["token", "list", "nobody"]);
    assert!(String::from_utf8(nobody.stderr)
        .unwrap()
        .contains("no user named nobody"));

    let revoked = confab(&["token", "revoke", "alice", &id]);
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    assert_eq!(
        api(addr, "GET", "/api/v1/me", &secret, None).await.status,
        401
    );

    // A bot account: made by the operator, given a token, it posts as itself, marked a bot.
    let made = confab(&["bot", "create", "deployer"]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let taken = confab(&["bot", "create", "Alice"]);
    assert!(!taken.status.success());
    assert!(String::from_utf8(taken.stderr).unwrap().contains("taken"));
    let made = confab(&["token", "create", "deployer", "--name", "ship"]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let bot = String::from_utf8(made.stdout).unwrap().trim().to_owned();
    // It is in no room until it joins one (the first room is general).
    let rooms = api(addr, "GET", "/api/v1/rooms", &bot, None).await;
    assert_eq!(rooms.json["rooms"], json!([]), "{}", rooms.json);
    let general = 1;
    let joined = api(addr, "POST", "/api/v1/rooms/1/join", &bot, None).await;
    assert_eq!(joined.status, 204, "{}", joined.json);
    let posted = api(
        addr,
        "POST",
        &format!("/api/v1/rooms/{general}/messages"),
        &bot,
        Some(json!({"text": "v1.2 is live"})),
    )
    .await;
    assert_eq!(posted.status, 201, "{}", posted.json);
    assert_eq!(posted.json["author"], "deployer");
    assert_eq!(posted.json["author_bot"], true);
    // No password lets anyone in as it.
    let (status, _, body) = common::post(
        addr,
        "/api/login",
        "username=deployer&password=correct-horse-battery",
        None,
    )
    .await;
    assert_ne!(status, 200, "{body}");
}

/// A POST to an incoming webhook's URL with a body of `content_type`: status, lower-case
/// head and the plain-text body.
async fn hook(
    addr: SocketAddr,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    (
        head[9..12].parse().unwrap(),
        head.to_lowercase(),
        body.to_owned(),
    )
}

#[tokio::test]
async fn an_incoming_webhook_posts_as_its_bot_live_within_its_budget_until_revoked() {
    let limits = LimitsConfig {
        posts_per_user: "3/min".parse().unwrap(),
        login_per_ip: "2/min".parse().unwrap(),
        ..LimitsConfig::relaxed()
    };
    let (addr, state, _dir) = start(limits).await;
    let alice = common::register(addr, "alice").await;
    let bob = common::register(addr, "bob").await;
    let user = |name: &'static str| {
        let state = state.clone();
        async move { state.store.user_by_name(name).await.unwrap().unwrap() }
    };
    let room = state
        .store
        .create_room(user("alice").await.id, "builds", None, false)
        .await
        .unwrap()
        .id;
    state
        .store
        .join_room(user("bob").await.id, room)
        .await
        .unwrap();

    // Only the room's moderators make hooks.
    let args = format!("room_id={room}&name=ci-bot");
    let (status, _, body) = common::post(addr, "/api/create_webhook", &args, Some(&bob)).await;
    assert_eq!(status, 403, "{body}");
    let made: Value =
        serde_json::from_str(&common::call(addr, "create_webhook", &args, &alice).await).unwrap();
    let path = made["path"].as_str().unwrap().to_owned();
    assert!(
        path.starts_with("/hooks/whk_") && path.len() == 7 + 47,
        "{path}"
    );
    assert_eq!(made["hook"]["name"], "ci-bot");

    // A Slack-style payload posts as the bot, live on a member's screen, with Slack's links
    // made ours; the sender's `username` is shown as its persona, and the author stays the bot.
    let mut screen = common::connect(addr, &bob).await;
    let payload = json!({"text": "Build <https://ci.example/42|#42> passed", "username": "alice"});
    let (status, _, body) = hook(addr, &path, "application/json", &payload.to_string()).await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    loop {
        if let ServerFrame::Message { message } = common::next(&mut screen).await {
            assert_eq!(message.room_id, room);
            assert_eq!(message.author, "ci-bot");
            assert!(message.author_bot);
            let persona = message.persona().expect("the payload's username");
            assert_eq!((persona.name.as_str(), persona.icon), ("alice", None));
            assert_eq!(message.body, "Build [#42](https://ci.example/42) passed");
            assert!(
                message.html.contains("href=\"https://ci.example/42\""),
                "{}",
                message.html
            );
            break;
        }
    }
    // Slack's form encoding works too.
    let form = format!("payload={}", common::form(r#"{"text":"deploy done"}"#));
    let (status, _, _) = hook(addr, &path, "application/x-www-form-urlencoded", &form).await;
    assert_eq!(status, 200);
    // What is not a payload is refused with the reason, and posts nothing.
    let (status, _, body) = hook(addr, &path, "application/json", "{oops").await;
    assert_eq!(status, 400);
    assert!(body.contains("not valid"), "{body}");
    let (status, _, body) = hook(addr, &path, "application/json", r#"{"text":""}"#).await;
    assert_eq!(status, 400);
    assert!(body.contains("no text"), "{body}");
    let bad_icon = json!({"text": "x", "icon_url": "javascript:alert(1)"}).to_string();
    let (status, _, body) = hook(addr, &path, "application/json", &bad_icon).await;
    assert_eq!(status, 400);
    assert!(body.contains("icon_url"), "{body}");
    let handle = json!({"text": "x", "username": "@alice"}).to_string();
    let (status, _, body) = hook(addr, &path, "application/json", &handle).await;
    assert_eq!(status, 400);
    assert!(body.contains("username"), "{body}");
    // The hook's bot has a person's post budget: the fourth post in a minute waits.
    let one = json!({"text": "three"}).to_string();
    assert_eq!(hook(addr, &path, "application/json", &one).await.0, 200);
    let (status, head, _) = hook(addr, &path, "application/json", &one).await;
    assert_eq!(status, 429);
    assert!(head.contains("retry-after:"), "{head}");

    // The room's list shows its use, never its secret; the bot is listed as a bot.
    let listed = common::call(addr, "webhooks", &format!("room_id={room}"), &alice).await;
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert!(listed["hooks"][0]["last_used_at"].is_i64(), "{listed}");
    assert!(!listed.to_string().contains(&path["/hooks/".len()..]));
    let members = common::call(addr, "members", &format!("room_id={room}"), &alice).await;
    let members: Value = serde_json::from_str(&members).unwrap();
    let bot = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["username"] == "ci-bot")
        .unwrap();
    assert_eq!(bot["bot"], true);

    // Revoked, the URL posts nothing; wrong URLs spend the address's login budget.
    let id = listed["hooks"][0]["id"].as_str().unwrap();
    common::call(
        addr,
        "revoke_webhook",
        &format!("room_id={room}&id={id}"),
        &alice,
    )
    .await;
    let (status, _, body) = hook(addr, &path, "application/json", &one).await;
    assert_eq!(status, 404);
    assert!(body.contains("no webhook"), "{body}");
    assert_eq!(
        hook(addr, "/hooks/whk_guess", "application/json", &one)
            .await
            .0,
        404
    );
    assert_eq!(
        hook(addr, "/hooks/whk_guess", "application/json", &one)
            .await
            .0,
        429
    );
}
