//! Attachments through the real router: multipart uploads (with and without JavaScript), who
//! may download, the headers files are served with, thumbnails, types sniffed from content,
//! the upload cap and every refusal, and deletion taking access away.

#![expect(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;

use app::model::Message;
use app::protocol::ServerFrame;
use common::{
    call, connect, field, file, form_post, multipart, next, post, register, start,
    start_with_upload_cap, Part,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A raw HTTP answer with a binary body.
struct Raw {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn message(&self) -> Message {
        assert_eq!(self.status, 200, "{}", self.text());
        serde_json::from_slice(&self.body).unwrap()
    }
}

async fn exchange(addr: SocketAddr, head: String, body: &[u8]) -> Raw {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // A refusal may come (and the connection close) before the whole body is sent.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    Raw {
        status: head[9..12].parse().unwrap(),
        head,
        body: raw[split + 4..].to_vec(),
    }
}

/// Posts `parts` as a multipart form to `/files/{room}`, accepting `accept`.
async fn upload(
    addr: SocketAddr,
    room: i64,
    cookie: &str,
    parts: &[Part<'_>],
    accept: &str,
) -> Raw {
    upload_to(addr, &format!("/files/{room}"), cookie, parts, accept).await
}

/// Posts `parts` as a multipart form to `path`, accepting `accept`.
async fn upload_to(
    addr: SocketAddr,
    path: &str,
    cookie: &str,
    parts: &[Part<'_>],
    accept: &str,
) -> Raw {
    upload_as(addr, path, &format!("Cookie: {cookie}"), parts, accept).await
}

/// Posts `parts` as a multipart form to `path`, with `credentials` (a header line, the
/// session's cookie or a token), accepting `accept`.
async fn upload_as(
    addr: SocketAddr,
    path: &str,
    credentials: &str,
    parts: &[Part<'_>],
    accept: &str,
) -> Raw {
    let (boundary, body) = multipart(parts);
    let head = format!(
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\n{credentials}\r\nAccept: {accept}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    exchange(addr, head, &body).await
}

async fn fetch(addr: SocketAddr, path: &str, cookie: Option<&str>, extra: &str) -> Raw {
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let head = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n{cookie}{extra}\r\n");
    exchange(addr, head, &[]).await
}

/// A PNG of `width` × `height` pixels, a gradient so it is not trivially compressible.
fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

const JSON: &str = "application/json";

#[tokio::test]
async fn an_image_reaches_the_room_with_a_thumbnail_and_downloads_intact() {
    let server = start().await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let mut bob_ws = connect(addr, &bob).await;

    let picture = png(640, 480);
    let answer = upload(
        addr,
        1,
        &alice,
        &[
            field("text", "the **new** logo"),
            field("client_id", "up-1"),
            file("logo.png", "image/png", &picture),
        ],
        JSON,
    )
    .await;
    let message = answer.message();
    assert_eq!(message.body, "the **new** logo");
    assert_eq!(message.files.len(), 1);
    let sent = &message.files[0];
    assert_eq!(sent.name, "logo.png");
    assert_eq!(sent.size, picture.len() as u64);
    assert_eq!(sent.content_type, "image/png");
    let image = sent.image.clone().unwrap();
    assert_eq!((image.width, image.height), (640, 480));
    assert_eq!((image.thumb_width, image.thumb_height), (320, 240));

    // Bob sees it live, files and all.
    match next(&mut bob_ws).await {
        ServerFrame::Message { message: live } => assert_eq!(live.files, message.files),
        other => panic!("expected the message, got {other:?}"),
    }

    // The same upload again (a retry) stores nothing new.
    let again = upload(
        addr,
        1,
        &alice,
        &[
            field("text", "the **new** logo"),
            field("client_id", "up-1"),
            file("logo.png", "image/png", &picture),
        ],
        JSON,
    )
    .await
    .message();
    assert_eq!((again.seq, &again.files), (message.seq, &message.files));

    let got = fetch(addr, &sent.url(1, message.seq), Some(&bob), "").await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.body, picture);
    assert_eq!(got.header("content-type"), Some("image/png"));
    assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(got.header("cache-control"), Some("private, no-cache"));
    assert!(got
        .header("content-disposition")
        .unwrap()
        .starts_with("inline; filename=\"logo.png\""));
    // Asked again with its tag, the browser is told its copy is still good.
    let tag = got.header("etag").unwrap().to_owned();
    let cached = fetch(
        addr,
        &sent.url(1, message.seq),
        Some(&bob),
        &format!("If-None-Match: {tag}\r\n"),
    )
    .await;
    assert_eq!(cached.status, 304);

    let thumb = fetch(addr, &sent.thumb_url(1, message.seq), Some(&bob), "").await;
    assert_eq!(thumb.status, 200, "{}", thumb.text());
    assert_eq!(thumb.header("content-type"), Some("image/png"));
    let small = image::load_from_memory(&thumb.body).unwrap();
    assert_eq!((small.width(), small.height()), (320, 240));
    assert!(thumb.body.len() < picture.len());
}

/// A program sends a message with files and fetches them through the HTTP API with a token:
/// the page's checks and its one write path, with the API's typed refusals and scopes.
#[tokio::test]
async fn a_token_sends_and_fetches_files_through_the_api() {
    let server = start_with_upload_cap(64 * 1024).await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let mut bob_ws = connect(addr, &bob).await;
    let token = |form: &'static str| {
        let alice = alice.clone();
        async move {
            let made = call(addr, "create_token", form, &alice).await;
            let made: serde_json::Value = serde_json::from_str(&made).unwrap();
            format!("Authorization: Bearer {}", made["secret"].as_str().unwrap())
        }
    };
    let writer = token("name=ci&read=on&write=on&days=30").await;
    let reader = token("name=dashboard&read=on&days=30").await;

    let picture = png(200, 100);
    let parts = [
        field("text", "Build **42** screenshot"),
        field("client_id", "api-up-1"),
        file("screen.png", "image/png", &picture),
    ];
    let sent = upload_as(addr, "/api/v1/rooms/1/files", &writer, &parts, JSON).await;
    assert_eq!(sent.status, 201, "{}", sent.text());
    let message: Message = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(message.body, "Build **42** screenshot");
    assert_eq!(message.author, "alice");
    let attached = message.files[0].clone();
    assert_eq!(
        (attached.name.as_str(), attached.size),
        ("screen.png", picture.len() as u64)
    );
    match next(&mut bob_ws).await {
        ServerFrame::Message { message: live } => assert_eq!(live.files, message.files),
        other => panic!("expected the message, got {other:?}"),
    }
    // A retry with the same client id answers the message already posted.
    let again = upload_as(addr, "/api/v1/rooms/1/files", &writer, &parts, JSON).await;
    assert_eq!(again.status, 201, "{}", again.text());
    let again: Message = serde_json::from_slice(&again.body).unwrap();
    assert_eq!((again.seq, &again.files), (message.seq, &message.files));

    // The file and its thumbnail come back to any token that may read the room.
    let at = format!(
        "/api/v1/rooms/1/messages/{}/files/{}",
        message.seq, attached.id
    );
    let got = fetch(addr, &at, None, &format!("{reader}\r\n")).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.body, picture);
    assert_eq!(got.header("content-type"), Some("image/png"));
    let tag = got.header("etag").unwrap().to_owned();
    let cached = fetch(
        addr,
        &at,
        None,
        &format!("{reader}\r\nIf-None-Match: {tag}\r\n"),
    )
    .await;
    assert_eq!(cached.status, 304);
    let thumb = fetch(addr, &format!("{at}/thumb"), None, &format!("{reader}\r\n")).await;
    assert_eq!(thumb.status, 200, "{}", thumb.text());
    let small = image::load_from_memory(&thumb.body).unwrap();
    assert!(small.width() <= 200 && small.height() <= 100);

    // Refusals are the API's typed bodies: no token, a read-only one, too large, no file, an
    // outsider's room, a file that is not there.
    let typed = |raw: &Raw| -> (u16, String) {
        let body: serde_json::Value = serde_json::from_slice(&raw.body).unwrap();
        (
            raw.status,
            body["error"]["code"].as_str().unwrap().to_owned(),
        )
    };
    let one = [file("notes.txt", "text/plain", b"hello")];
    let anonymous = upload_as(addr, "/api/v1/rooms/1/files", "X-No: 1", &one, JSON).await;
    assert_eq!(typed(&anonymous), (401, "unauthorized".into()));
    let read_only = upload_as(addr, "/api/v1/rooms/1/files", &reader, &one, JSON).await;
    assert_eq!(typed(&read_only), (403, "forbidden".into()));
    let big = vec![b'x'; 100 * 1024];
    let oversize = [file("big.txt", "text/plain", &big)];
    let refused = upload_as(addr, "/api/v1/rooms/1/files", &writer, &oversize, JSON).await;
    assert_eq!(typed(&refused), (413, "too_large".into()));
    let empty = [field("text", "no file")];
    let refused = upload_as(addr, "/api/v1/rooms/1/files", &writer, &empty, JSON).await;
    assert_eq!(typed(&refused), (400, "bad_request".into()));
    let eve = register(addr, "eve").await;
    let dm: i64 = call(addr, "open_dm", "username=bob", &eve)
        .await
        .parse()
        .unwrap();
    let theirs = format!("/api/v1/rooms/{dm}/files");
    let refused = upload_as(addr, &theirs, &writer, &one, JSON).await;
    assert_eq!(typed(&refused), (404, "not_found".into()));
    let missing = format!("/api/v1/rooms/1/messages/{}/files/nothing", message.seq);
    let refused = fetch(addr, &missing, None, &format!("{writer}\r\n")).await;
    assert_eq!(typed(&refused), (404, "not_found".into()));
    // Only the one message was stored, with its one file.
    let history = fetch(
        addr,
        "/api/v1/rooms/1/messages",
        None,
        &format!("{reader}\r\n"),
    )
    .await;
    let history: serde_json::Value = serde_json::from_slice(&history.body).unwrap();
    assert_eq!(
        history["messages"].as_array().unwrap().len(),
        1,
        "{history}"
    );
}

#[tokio::test]
async fn only_members_reach_a_file_and_a_deleted_message_takes_it_away() {
    let server = start().await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    let eve = register(addr, "eve").await;
    let dm: i64 = call(addr, "open_dm", "username=bob", &alice)
        .await
        .parse()
        .unwrap();

    // Plain text, even named like a page, is a download of text, never a page of this site.
    let page = b"<html><script>alert(document.cookie)</script></html>";
    let message = upload(
        addr,
        dm,
        &alice,
        &[file("notes – final.html", "text/html", page)],
        JSON,
    )
    .await
    .message();
    assert_eq!(message.body, "", "a caption is optional");
    let sent = &message.files[0];
    assert_eq!(sent.content_type, "text/plain");
    assert!(sent.image.is_none());
    let url = sent.url(dm, message.seq);

    let got = fetch(addr, &url, Some(&bob), "").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, page);
    assert_eq!(
        got.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        got.header("content-disposition"),
        Some(
            "attachment; filename=\"notes _ final.html\"; \
             filename*=UTF-8''notes%20%E2%80%93%20final.html"
        )
    );
    assert!(got
        .header("content-security-policy")
        .unwrap()
        .starts_with("default-src 'none'"));

    // An outsider, a visitor and a wrong id find nothing; no thumbnail exists for text.
    assert_eq!(fetch(addr, &url, Some(&eve), "").await.status, 404);
    assert_eq!(fetch(addr, &url, None, "").await.status, 401);
    let wrong = format!("/files/{dm}/{}/{}", message.seq, uuid::Uuid::new_v4());
    assert_eq!(fetch(addr, &wrong, Some(&bob), "").await.status, 404);
    let thumb = sent.thumb_url(dm, message.seq);
    assert_eq!(fetch(addr, &thumb, Some(&bob), "").await.status, 404);
    // Nor can an outsider send files into the conversation.
    let refused = upload(addr, dm, &eve, &[file("x.txt", "text/plain", b"hi")], JSON).await;
    assert_eq!(refused.status, 404, "{}", refused.text());

    // Deleted, the message takes its files with it, for everyone.
    let (status, _, body) = post(
        addr,
        "/api/delete_message",
        &format!("room_id={dm}&seq={}", message.seq),
        Some(&alice),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fetch(addr, &url, Some(&bob), "").await.status, 404);
    assert_eq!(fetch(addr, &url, Some(&alice), "").await.status, 404);

    // The bytes stay until a prune finds no message naming them.
    let files_dir = server._dir.path().join("files");
    let shard = files_dir.join(&sent.sha256[..2]).join(&sent.sha256);
    assert!(shard.exists());
    let url = format!(
        "sqlite://{}",
        server._dir.path().join("confab.db").display()
    );
    let store = app::store::open(&url).await.unwrap();
    let files = app::files::Files::on_disk(&files_dir, 1024).unwrap();
    let pruned = files
        .prune(store.as_ref(), std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(pruned.removed, 1);
    assert!(!shard.exists());
}

#[tokio::test]
async fn bad_uploads_are_refused_with_a_reason_and_store_nothing() {
    let server = start_with_upload_cap(64 * 1024).await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;

    let cases: Vec<(Vec<Part>, u16, &str)> = vec![
        (
            vec![file(
                "big.bin",
                "application/octet-stream",
                &[7u8; 70 * 1024],
            )],
            413,
            "at most 65.5 KB",
        ),
        (vec![file("empty.txt", "text/plain", b"")], 400, "is empty"),
        (
            vec![file("evil.png", "image/png", b"<svg onload=alert(1)>")],
            400,
            "not what its name says",
        ),
        (
            vec![file("photo", "image/jpeg", b"just text")],
            400,
            "was sent as image/jpeg",
        ),
        (
            vec![file(
                "broken.png",
                "image/png",
                b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x10\0\0\0\x10\0\x08\x02\0\0\0garbage",
            )],
            400,
            "could not be read as an image",
        ),
        (vec![field("text", "no file")], 400, "Choose a file"),
        (
            vec![field("colour", "red"), file("a.txt", "text/plain", b"a")],
            400,
            "Unknown form field",
        ),
        (
            vec![field("thread", "first"), file("a.txt", "text/plain", b"a")],
            400,
            "not a message number",
        ),
    ];
    for (parts, status, says) in cases {
        let answer = upload(addr, 1, &alice, &parts, JSON).await;
        assert_eq!(answer.status, status, "{}", answer.text());
        let error: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        let error = error["error"].as_str().unwrap();
        assert!(error.contains(says), "{error:?} should say {says:?}");
    }

    // Not a multipart form at all.
    let head = format!(
        "POST /files/1 HTTP/1.0\r\nHost: {addr}\r\nCookie: {alice}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 6\r\n\r\n"
    );
    let answer = exchange(addr, head, b"text=a").await;
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert!(answer.text().contains("multipart"), "{}", answer.text());

    // A public room Bob has not joined takes no files from him.
    let room = call(addr, "create_room", "name=design", &alice).await;
    let room: i64 = room.parse().unwrap();
    let answer = upload(addr, room, &bob, &[file("a.txt", "text/plain", b"a")], JSON).await;
    assert_eq!(answer.status, 403, "{}", answer.text());

    // Nothing was stored: no message, no kept bytes, no staging left behind.
    let history = call(addr, "history", "room_id=1", &alice).await;
    let history: app::model::HistoryPage = serde_json::from_str(&history).unwrap();
    assert!(history.messages.is_empty(), "{:?}", history.messages);
    let files_dir = server._dir.path().join("files");
    let left: Vec<_> = walk(&files_dir);
    assert!(left.is_empty(), "{left:?}");
}

/// Every file under `dir`, at any depth.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[tokio::test]
async fn a_form_without_javascript_goes_back_to_the_room() {
    let server = start().await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let page = "text/html,application/xhtml+xml";

    let sent = upload(
        addr,
        1,
        &alice,
        &[
            field("text", "minutes"),
            file("minutes.txt", "text/plain", b"we met"),
        ],
        page,
    )
    .await;
    assert_eq!(sent.status, 303, "{}", sent.text());
    assert_eq!(sent.header("location"), Some("/r/1#m1"));

    let refused = upload(
        addr,
        1,
        &alice,
        &[file("empty.txt", "text/plain", b"")],
        page,
    )
    .await;
    assert_eq!(refused.status, 303);
    assert_eq!(
        refused.header("location"),
        Some("/r/1?upload_error=empty.txt%20is%20empty.")
    );

    // A reply's files go back to its thread.
    let reply = upload(
        addr,
        1,
        &alice,
        &[
            field("thread", "1"),
            file("more.txt", "text/plain", b"and more"),
        ],
        page,
    )
    .await;
    assert_eq!(reply.status, 303, "{}", reply.text());
    assert_eq!(reply.header("location"), Some("/r/1?thread=1#m2"));
}

fn confab(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("DATABASE_URL")
        .env_remove("CONFAB_FILES_DIR")
        .output()
        .unwrap()
}

fn succeeded(output: std::process::Output) -> String {
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    stderr
}

/// The message lines of a JSONL backup (the header's time differs between backups).
fn message_lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("{\"type\":\"message\""))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn files_round_trip_through_a_backup_with_their_bytes() {
    let server = start().await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let banner = png(400, 100);
    let sent = upload(
        addr,
        1,
        &alice,
        &[
            field("text", "banner and notes"),
            file("banner.png", "image/png", &banner),
            file("notes.txt", "text/plain", b"line one\n"),
        ],
        JSON,
    )
    .await
    .message();
    let face = png(90, 90);
    let answer = upload_to(
        addr,
        "/avatar",
        &alice,
        &[picture("me.png", "image/png", &face)],
        JSON,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let avatar = serde_json::from_slice::<app::model::Profile>(&answer.body)
        .unwrap()
        .avatar
        .unwrap();

    let dir = server._dir.path();
    let db = dir.join("confab.db");
    let out = dir.join("backup.jsonl");
    let (db, out) = (db.to_str().unwrap(), out.to_str().unwrap());
    let files_dir = dir.join("files");
    succeeded(confab(&[
        "backup",
        "--database-url",
        db,
        "--files-dir",
        files_dir.to_str().unwrap(),
        "--out",
        out,
        "--include-files",
    ]));
    let archive = dir.join("backup.jsonl.files.tar");
    let mut names: Vec<String> = tar::Archive::new(std::fs::File::open(&archive).unwrap())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected = vec![
        sent.files[0].sha256.clone(),
        sent.files[0].image.as_ref().unwrap().thumb_sha256.clone(),
        sent.files[1].sha256.clone(),
        avatar.large.clone(),
        avatar.small.clone(),
    ];
    expected.sort();
    assert_eq!(names, expected);

    // Restored elsewhere: the bytes are kept under their hashes, the messages name them, and
    // a backup of the copy says exactly what the first one did.
    let other = tempfile::tempdir().unwrap();
    let copy_db = other.path().join("copy.db");
    let copy_files = other.path().join("files");
    let copy_db = copy_db.to_str().unwrap();
    let restored = succeeded(confab(&[
        "restore",
        "--database-url",
        copy_db,
        "--files-dir",
        copy_files.to_str().unwrap(),
        "--files",
        archive.to_str().unwrap(),
        out,
    ]));
    assert!(restored.contains("files: 5 kept"), "{restored}");
    for hash in &expected {
        assert!(
            copy_files.join(&hash[..2]).join(hash).exists(),
            "{hash} not kept"
        );
    }
    let again = other.path().join("again.jsonl");
    succeeded(confab(&[
        "backup",
        "--database-url",
        copy_db,
        "--out",
        again.to_str().unwrap(),
    ]));
    assert_eq!(
        message_lines(&again),
        message_lines(std::path::Path::new(out))
    );
    let store = app::store::open(&format!("sqlite://{copy_db}"))
        .await
        .unwrap();
    assert_eq!(store.profile("alice").await.unwrap().avatar, Some(avatar));
    store.close().await;
    // Restoring the same file twice changes nothing.
    let twice = succeeded(confab(&[
        "restore",
        "--database-url",
        copy_db,
        "--files-dir",
        copy_files.to_str().unwrap(),
        "--files",
        archive.to_str().unwrap(),
        out,
    ]));
    assert!(twice.contains("added 0 messages"), "{twice}");

    // An archive whose entry does not hold what its name says is refused, naming the entry,
    // and no message is stored.
    let forged = other.path().join("forged.tar");
    let mut builder = tar::Builder::new(std::fs::File::create(&forged).unwrap());
    let mut header = tar::Header::new_gnu();
    header.set_size(5);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, &expected[0], &b"forged"[..5])
        .unwrap();
    builder.finish().unwrap();
    drop(builder);
    let fresh = other.path().join("fresh.db");
    let refused = confab(&[
        "restore",
        "--database-url",
        fresh.to_str().unwrap(),
        "--files-dir",
        other.path().join("fresh-files").to_str().unwrap(),
        "--files",
        forged.to_str().unwrap(),
        out,
    ]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert!(
        stderr.contains("entry 1") && stderr.contains("hashes to"),
        "{stderr}"
    );
    assert!(!fresh.exists() || message_count(&fresh).await == 0);
}

async fn message_count(db: &std::path::Path) -> usize {
    let store = app::store::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let user = store.user_by_name("alice").await.unwrap();
    match user {
        None => 0,
        Some(alice) => store
            .history(
                alice.id,
                1,
                app::store::HistoryQuery {
                    limit: 50,
                    ..Default::default()
                },
            )
            .await
            .map(|page| page.messages.len())
            .unwrap_or(0),
    }
}

/// A picture part of the profile form.
fn picture<'a>(name: &'a str, content_type: &'a str, data: &'a [u8]) -> Part<'a> {
    Part {
        name: "avatar",
        file: Some((name, content_type)),
        data,
    }
}

/// The CRC-32 of a PNG chunk's type and data.
fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, b| {
        (0..8).fold(crc ^ u32::from(*b), |c, _| {
            if c & 1 == 1 {
                (c >> 1) ^ 0xedb8_8320
            } else {
                c >> 1
            }
        })
    })
}

/// A PNG chunk: length, type, data and CRC.
fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    let mut out = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
    out
}

/// A PNG whose header declares `width` × `height` pixels of RGB, behind which is a few bytes
/// of pixel data: all a decompression bomb needs to make a careless decoder allocate.
fn declared_png(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    // A zlib stream of one stored block of 16 zero bytes.
    let data = [0u8; 16];
    let mut zlib = vec![0x78, 0x01, 0x01, 16, 0, !16, 0xff];
    zlib.extend_from_slice(&data);
    let adler = data.iter().fold((1u32, 0u32), |(a, b), x| {
        let a = (a + u32::from(*x)) % 65_521;
        (a, (b + a) % 65_521)
    });
    zlib.extend_from_slice(&((adler.1 << 16) | adler.0).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    out.extend(chunk(b"IDAT", &zlib));
    out.extend(chunk(b"IEND", b""));
    out
}

fn profile(
    addr: SocketAddr,
    cookie: &str,
    name: &str,
) -> impl std::future::Future<Output = app::model::Profile> {
    let cookie = cookie.to_owned();
    let args = format!("username={name}");
    async move {
        let body = call(addr, "profile", &args, &cookie).await;
        let card: app::api::profiles::ProfileView = serde_json::from_str(&body).unwrap();
        card.profile
    }
}

#[tokio::test]
async fn a_picture_is_kept_only_as_re_encoded_squares_and_bad_ones_store_nothing() {
    let server = start().await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;

    // No picture yet: the server draws the initials, for those signed in only.
    let drawn = fetch(addr, "/avatars/alice/64", Some(&bob), "").await;
    assert_eq!(drawn.status, 200, "{}", drawn.text());
    assert_eq!(drawn.header("content-type"), Some("image/svg+xml"));
    assert!(drawn.text().contains(">A</text>"), "{}", drawn.text());
    assert!(!drawn.text().contains("<script"), "{}", drawn.text());
    assert_eq!(fetch(addr, "/avatars/alice/64", None, "").await.status, 401);
    assert_eq!(
        fetch(addr, "/avatars/alice/100", Some(&bob), "")
            .await
            .status,
        404
    );
    assert_eq!(
        fetch(addr, "/avatars/nobody/64", Some(&bob), "")
            .await
            .status,
        404
    );

    let whole = png(300, 200);
    let truncated = &whole[..whole.len() / 2];
    let bomb = declared_png(20_000, 20_000);
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"><script>alert(2)</script></svg>";
    let cases: Vec<(Part, &str)> = vec![
        (
            picture("notes.txt", "text/plain", b"just some words"),
            "must be a PNG, JPEG, GIF or WebP",
        ),
        (
            picture("half.png", "image/png", truncated),
            "could not be read as an image",
        ),
        (
            picture("bomb.png", "image/png", &bomb),
            "20000 × 20000 pixels",
        ),
        (
            picture("evil.svg", "image/svg+xml", svg),
            "must be a PNG, JPEG, GIF or WebP",
        ),
        (picture("empty.png", "image/png", b""), "Choose a picture"),
        (file("a.png", "image/png", &whole), "Unknown form field"),
    ];
    for (part, says) in cases {
        let answer = upload_to(addr, "/avatar", &alice, &[part], JSON).await;
        assert_eq!(answer.status, 400, "{}", answer.text());
        let error: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        let error = error["error"].as_str().unwrap();
        assert!(error.contains(says), "{error:?} should say {says:?}");
    }
    let left: Vec<_> = walk(&server._dir.path().join("files"));
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(profile(addr, &bob, "alice").await.avatar, None);
    // Not signed in: refused before a byte is read.
    let answer = upload_to(
        addr,
        "/avatar",
        "",
        &[picture("a.png", "image/png", &whole)],
        JSON,
    )
    .await;
    assert_eq!(answer.status, 401, "{}", answer.text());

    // A real picture, 300 × 200: kept as two squares the server encoded itself.
    let answer = upload_to(
        addr,
        "/avatar",
        &alice,
        &[picture("me.png", "image/png", &whole)],
        JSON,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let set: app::model::Profile = serde_json::from_slice(&answer.body).unwrap();
    let avatar = set.avatar.clone().unwrap();
    assert_eq!(
        profile(addr, &bob, "ALICE").await.avatar,
        Some(avatar.clone())
    );
    for (size, hash) in [(128, &avatar.large), (64, &avatar.small)] {
        let served = fetch(addr, &format!("/avatars/alice/{size}"), Some(&bob), "").await;
        assert_eq!(served.status, 200);
        assert_eq!(served.header("content-type"), Some("image/png"));
        assert_ne!(
            served.body, whole,
            "the uploaded bytes are never served back"
        );
        let decoded = image::load_from_memory(&served.body).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (size, size));
        assert_eq!(served.header("etag"), Some(format!("\"{hash}\"").as_str()));
        assert_eq!(served.header("cache-control"), Some("private, max-age=300"));
    }
    let url = app::model::avatar_url("alice", 128, Some(&avatar.large));
    let versioned = fetch(addr, &url, Some(&bob), "").await;
    assert_eq!(
        versioned.header("cache-control"),
        Some("private, max-age=31536000, immutable")
    );
    let kept = walk(&server._dir.path().join("files"));
    assert_eq!(kept.len(), 2, "only the two squares are kept: {kept:?}");

    // Bytes gone from the folder (a restore without its files): the initials, not an error.
    for path in &kept {
        std::fs::remove_file(path).unwrap();
    }
    let drawn = fetch(addr, "/avatars/alice/64", Some(&bob), "").await;
    assert_eq!(drawn.status, 200, "{}", drawn.text());
    assert_eq!(drawn.header("content-type"), Some("image/svg+xml"));

    // Removed: the initials again.
    call(addr, "remove_avatar", "", &alice).await;
    let drawn = fetch(addr, "/avatars/alice/128", Some(&bob), "").await;
    assert_eq!(drawn.header("content-type"), Some("image/svg+xml"));
}

#[tokio::test]
async fn a_profile_is_set_part_by_part_and_bad_values_change_nothing() {
    let server = start().await;
    let addr = server.addr;
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;

    call(
        addr,
        "save_profile",
        "display_name=Alice+Liddell&time_zone=Asia%2FSeoul",
        &alice,
    )
    .await;
    call(
        addr,
        "set_status",
        &format!("emoji={}&text=On+holiday&minutes=60", common::form("🌴")),
        &alice,
    )
    .await;
    let seen = profile(addr, &bob, "alice").await;
    assert_eq!(seen.display_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(seen.time_zone.as_deref(), Some("Asia/Seoul"));
    let status = seen.status.unwrap();
    assert_eq!(
        (status.emoji.as_deref(), status.text.as_deref()),
        (Some("🌴"), Some("On holiday"))
    );
    let until = status.until.unwrap() - app::timestamp::now_ms();
    assert!((59 * 60_000..=60 * 60_000).contains(&until), "{until}");
    let card: app::api::profiles::ProfileView =
        serde_json::from_str(&call(addr, "profile", "username=alice", &bob).await).unwrap();
    let (time, offset) = card.local_time.unwrap();
    assert_eq!(offset, "UTC+09:00");
    assert_eq!(time.len(), 5, "{time}");
    assert!(!card.mine);

    let refused = [
        (
            "save_profile",
            "display_name=&time_zone=Mars%2FOlympus",
            "not a time zone",
        ),
        (
            "save_profile",
            "display_name=%40bob&time_zone=",
            "cannot start with '@'",
        ),
        (
            "save_profile",
            &format!("display_name={}&time_zone=", "x".repeat(65)),
            "at most 64",
        ),
        (
            "set_status",
            "emoji=&text=&minutes=",
            "an emoji or some words",
        ),
        ("set_status", "emoji=hi&text=x&minutes=", "one emoji"),
        (
            "set_status",
            "emoji=&text=x&minutes=-5",
            "number of minutes",
        ),
    ];
    for (endpoint, args, says) in refused {
        let (status, _, body) = post(addr, &format!("/api/{endpoint}"), args, Some(&alice)).await;
        assert_eq!(status, 400, "{endpoint} {args}: {body}");
        assert!(body.contains(says), "{body:?} should say {says:?}");
    }
    let unchanged = profile(addr, &bob, "alice").await;
    assert_eq!(unchanged.display_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(unchanged.time_zone.as_deref(), Some("Asia/Seoul"));

    // Without JavaScript the forms go back to the page they came from.
    let (status, location) = form_post(addr, "/api/clear_status", "", &alice).await;
    assert_eq!(status, 302);
    assert!(!location.contains("__err="), "{location}");
    assert_eq!(profile(addr, &bob, "alice").await.status, None);
    let (status, _, body) = post(addr, "/api/profile", "username=nobody", Some(&bob)).await;
    assert_eq!(status, 404, "{body}");
}

/// Serves `body` as a PNG to every request on loopback; counts the requests.
async fn icon_host(body: Vec<u8>) -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = asked.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = socket.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            });
        }
    });
    (addr, asked)
}

#[tokio::test]
async fn a_webhook_icon_is_fetched_once_and_served_from_here_to_readers_only() {
    let (host, asked) = icon_host(png(64, 64)).await;
    let dir = tempfile::tempdir().unwrap();
    let state = common::node_with_files(dir.path(), 1 << 20).await;
    // The icon's host is an intranet name the operator trusts (there is no public host here).
    let previews = app::preview::fetch::PreviewConfig {
        policy: app::preview::Policy {
            trusted: vec!["icons.test".into()],
            ..app::preview::Policy::default()
        },
        hosts: std::collections::HashMap::from([(
            "icons.test".to_owned(),
            std::net::IpAddr::from([127, 0, 0, 1]),
        )]),
        ..app::preview::fetch::PreviewConfig::default()
    };
    let state = app::chat::with_previews(state, previews).unwrap();
    let addr = common::serve(state).await;
    let alice = register(addr, "alice").await;
    let bob = register(addr, "bob").await;
    // `general`, the first room, which everyone joins.
    let room = 1;
    let made = call(
        addr,
        "create_webhook",
        &format!("room_id={room}&name=ci-bot"),
        &alice,
    )
    .await;
    let made: serde_json::Value = serde_json::from_str(&made).unwrap();
    let hook = made["path"].as_str().unwrap().to_owned();
    let icon_url = format!("http://icons.test:{}/jenkins.png", host.port());
    let payload =
        serde_json::json!({"text": "Build 9 passed", "username": "Jenkins", "icon_url": icon_url});
    let payload = payload.to_string();
    let head = format!(
        "POST {hook} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        payload.len()
    );
    let sent = exchange(addr, head.clone(), payload.as_bytes()).await;
    assert_eq!((sent.status, sent.text().as_str()), (200, "ok"));
    let again = exchange(addr, head, payload.as_bytes()).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        asked.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "fetched once"
    );

    // Bob reads it with its persona and gets the icon from this server.
    let history = call(addr, "history", &format!("room_id={room}"), &bob).await;
    let history: serde_json::Value = serde_json::from_str(&history).unwrap();
    let message: Message = serde_json::from_value(
        history["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["body"] == "Build 9 passed")
            .unwrap()
            .clone(),
    )
    .unwrap();
    assert_eq!(message.author, "ci-bot");
    let persona = message.persona().unwrap();
    assert_eq!(persona.name, "Jenkins");
    let path = message.persona_icon_url();
    let icon = fetch(addr, &path, Some(&bob), "").await;
    assert_eq!(icon.status, 200, "{}", icon.text());
    assert_eq!(icon.header("content-type"), Some("image/png"));
    let shown = image::load_from_memory(&icon.body).unwrap();
    assert_eq!((shown.width(), shown.height()), (64, 64));
    let etag = icon.header("etag").unwrap().to_owned();
    let cached = fetch(
        addr,
        &path,
        Some(&bob),
        &format!("If-None-Match: {etag}\r\n"),
    )
    .await;
    assert_eq!(cached.status, 304);
    // No session, no icon; and a message without a persona has none.
    assert_eq!(fetch(addr, &path, None, "").await.status, 401);
    let plain = format!("/previews/{room}/{}/icon", message.seq + 100);
    assert_eq!(fetch(addr, &plain, Some(&bob), "").await.status, 404);
}
