//! Backup and restore from the outside: the `confab` binary's commands (exit status, messages
//! naming the line, nothing half-written) and the browser downloads over real HTTP.
#![expect(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{command as confab, get, post, register, start};

fn ok(output: Output) -> (String, String) {
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    (String::from_utf8(output.stdout).unwrap(), stderr)
}

fn failed(output: Output) -> String {
    assert!(!output.status.success(), "expected a failure");
    String::from_utf8(output.stderr).unwrap()
}

/// A backup without its header line (which holds the backup's time).
fn body(db: &Path) -> String {
    let (out, _) = ok(confab(db, &["backup"]));
    out.split_once('\n').unwrap().1.to_owned()
}

const CLASSIC: &str = r#"<?xml version="1.0"?>
<history>
  <message from="alice" date="2024-01-01T12:00:00Z" msg="hello &amp; welcome"/>
  <message from="bob" date="2024-01-01T12:00:05Z" msg="two&#10;lines"/>
</history>
"#;

#[test]
fn commands_work_on_a_fresh_database_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("new").join("first.db");
    let xml = dir.path().join("classic.xml");
    std::fs::write(&xml, CLASSIC).unwrap();
    let (_, stderr) = ok(confab(&first, &["restore", xml.to_str().unwrap()]));
    assert!(stderr.contains("added 2 messages"), "{stderr}");
    assert!(stderr.contains("admin set-password"), "{stderr}");

    // To a file (which appears only when complete), then into another fresh database.
    let backup = dir.path().join("first.jsonl");
    let (stdout, stderr) = ok(confab(
        &first,
        &["backup", "--out", backup.to_str().unwrap()],
    ));
    assert!(stdout.is_empty());
    // Piped, a backup says nothing (no progress bar, no summary).
    assert!(stderr.is_empty(), "{stderr}");
    let second = dir.path().join("second.db");
    ok(confab(&second, &["restore", backup.to_str().unwrap()]));
    assert_eq!(body(&first), body(&second));
    let again = ok(confab(&second, &["restore", backup.to_str().unwrap()])).1;
    assert!(
        again.contains("added 0 messages (2 already present)"),
        "{again}"
    );

    // The other formats to stdout, and the classic room name default.
    let (csv, _) = ok(confab(&first, &["backup", "--format", "csv"]));
    assert!(csv.starts_with("id,room,seq,from,date,text\r\n"));
    assert!(
        csv.contains(",imported,2,bob,2024-01-01T12:00:05.000Z,\"two\nlines\"\r\n"),
        "{csv}"
    );
    let (xml_out, _) = ok(confab(
        &first,
        &["backup", "--format", "xml", "--room", "imported"],
    ));
    assert!(xml_out.contains("msg=\"two&#10;lines\""), "{xml_out}");
    let (since, _) = ok(confab(
        &first,
        &["backup", "--since", "2024-01-01T12:00:01Z"],
    ));
    assert!(
        !since.contains("welcome") && since.contains("two\\nlines"),
        "{since}"
    );
}

#[test]
fn a_bad_file_exits_non_zero_names_the_line_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("confab.db");
    let xml = dir.path().join("classic.xml");
    std::fs::write(&xml, CLASSIC).unwrap();
    ok(confab(&db, &["restore", xml.to_str().unwrap()]));
    let before = body(&db);

    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "id,room,seq,from,date,text\r\n,general,,carol,2024-02-01T00:00:00Z,fine\r\n,general,,carol,2024-02-30T00:00:00Z,bad day\r\n",
    )
    .unwrap();
    let stderr = failed(confab(&db, &["restore", bad.to_str().unwrap()]));
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert!(
        stderr.contains("line 3: date \"2024-02-30T00:00:00Z\" is not an RFC 3339 date"),
        "{stderr}"
    );
    assert_eq!(body(&db), before);

    let stderr = failed(confab(
        &db,
        &["restore", "--max-size", "100", xml.to_str().unwrap()],
    ));
    assert!(stderr.contains("larger than the restore limit"), "{stderr}");
    let stderr = failed(confab(
        &db,
        &[
            "restore",
            dir.path().join("missing.jsonl").to_str().unwrap(),
        ],
    ));
    assert!(stderr.contains("cannot open"), "{stderr}");

    // A dry run checks and reports without writing.
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        "id,room,seq,from,date,text\r\n,general,,carol,2024-02-01T00:00:00Z,fine\r\n",
    )
    .unwrap();
    let (_, stderr) = ok(confab(
        &db,
        &["restore", "--dry-run", good.to_str().unwrap()],
    ));
    assert!(stderr.contains("would add 1 messages"), "{stderr}");
    assert_eq!(body(&db), before);

    // A failed backup leaves no file behind.
    let out = dir.path().join("partial.jsonl");
    let stderr = failed(confab(
        &db,
        &[
            "backup",
            "--room",
            "nowhere",
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    assert!(stderr.contains("no room named"), "{stderr}");
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".confab-backup"))
            .count(),
        0
    );
    let stderr = failed(confab(&db, &["backup", "--format", "yaml"]));
    assert!(stderr.contains("unknown format"), "{stderr}");
}

#[test]
fn snapshot_and_admin_commands() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("confab.db");
    let xml = dir.path().join("classic.xml");
    std::fs::write(&xml, CLASSIC).unwrap();
    ok(confab(&db, &["restore", xml.to_str().unwrap()]));

    let snap = dir.path().join("snap.db");
    ok(confab(&db, &["snapshot", snap.to_str().unwrap()]));
    assert_eq!(body(&snap), body(&db));
    let stderr = failed(confab(&db, &["snapshot", snap.to_str().unwrap()]));
    assert!(stderr.contains("already exists"), "{stderr}");

    ok(confab(&db, &["admin", "grant", "bob"]));
    assert!(body(&db).contains("\"name\":\"bob\",\"admin\":true"));
    ok(confab(&db, &["admin", "revoke", "bob"]));
    assert!(body(&db).contains("\"name\":\"bob\",\"admin\":false"));
    let stderr = failed(confab(&db, &["admin", "grant", "nobody"]));
    assert!(stderr.contains("no user named"), "{stderr}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["admin", "set-password", "alice", "--database-url"])
        .arg(&db)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"a new password\n").unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let (with, _) = ok(confab(&db, &["backup", "--include-credentials"]));
    assert!(with.contains("\"name\":\"alice\",\"admin\":false,\"created_at\":\"2024-01-01T12:00:00.000Z\",\"password_hash\":\"$argon2id$"), "{with}");
}

#[tokio::test]
async fn downloads_give_my_rooms_and_dms_and_the_instance_only_to_admins() {
    let server = start().await;
    let addr = server.addr;
    let alice = register(addr, "alice").await; // the first account: admin
    let bob = register(addr, "bob").await;
    let carol = register(addr, "carol").await;
    let (status, _, dm) = post(addr, "/api/open_dm", "username=bob", Some(&alice)).await;
    assert_eq!(status, 200, "{dm}");
    let dm: i64 = dm.trim().parse().unwrap();
    post(
        addr,
        "/api/post_message",
        &format!("room_id={dm}&text=alice+to+bob+only"),
        Some(&alice),
    )
    .await;
    post(
        addr,
        "/api/post_message",
        "room_id=1&text=carol+in+general",
        Some(&carol),
    )
    .await;
    post(
        addr,
        "/api/post_message",
        "room_id=1&text=bob+in+general",
        Some(&bob),
    )
    .await;

    let (status, head, file) = get(addr, "/export/me?format=jsonl", Some(&carol)).await;
    assert_eq!(status, 200);
    assert!(
        head.contains("attachment; filename=\"confab-carol-"),
        "{head}"
    );
    assert!(file.contains("carol in general") && file.contains("bob in general"));
    assert!(
        !file.contains("alice to bob only"),
        "another pair's DM leaked"
    );
    assert!(file.trim_end().ends_with("\"messages\":2}"), "{file}");

    let (_, _, bobs) = get(addr, "/export/me?format=csv", Some(&bob)).await;
    assert!(bobs.starts_with("id,room,seq,from,date,text\r\n"));
    assert!(
        bobs.contains(",\"'@alice,bob\",1,alice,") && bobs.contains("alice to bob only"),
        "{bobs}"
    );

    assert_eq!(get(addr, "/export/me", None).await.0, 401);
    assert_eq!(
        get(addr, "/export/me?format=pdf", Some(&carol)).await.0,
        400
    );
    assert_eq!(get(addr, "/export/instance", Some(&carol)).await.0, 404);
    let (status, _, all) = get(addr, "/export/instance", Some(&alice)).await;
    assert_eq!(status, 200);
    assert!(all.contains("alice to bob only") && all.contains("carol in general"));
    assert!(!all.contains("password_hash"));

    // History from a date, and a date that does not parse.
    let (status, _, page) = post(
        addr,
        "/api/history",
        "room_id=1&since=2000-01-01T00:00:00Z",
        Some(&carol),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.find("carol in general").unwrap() < page.find("bob in general").unwrap());
    let (status, _, err) = post(
        addr,
        "/api/history",
        "room_id=1&since=last+tuesday",
        Some(&carol),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    assert!(err.contains("not an RFC 3339 date"), "{err}");
}
