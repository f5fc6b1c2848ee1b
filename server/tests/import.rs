//! `confab import slack` from the outside, on SQLite and PostgreSQL: an export written here
//! from Slack's documented format (users, public and private channels, DMs, group DMs, a few
//! hundred messages with threads, reactions, mentions, edits, bots and files) comes out of a
//! JSONL backup as it went in, a second import adds nothing, and hostile archives (a path out
//! of the archive, a zip bomb, broken JSON, an unknown user) are refused with nothing stored.
#![expect(clippy::unwrap_used)]

mod common;
#[path = "../../app/tests/support/postgres.rs"]
mod pg;

use std::io::Write;
use std::path::Path;
use std::process::Output;

use serde_json::{json, Value};

/// Runs `confab` against the database `url`, its files kept in `files`.
fn confab(url: &str, files: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(args)
        .arg("--database-url")
        .arg(url)
        .env("CONFAB_FILES_DIR", files)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

/// Runs a case (an `async fn(url)`) as one test on a fresh SQLite file and one in a fresh
/// PostgreSQL schema (`CONFAB_TEST_POSTGRES_URL`).
macro_rules! on_both_databases {
    ($case:ident: $sqlite:ident, $postgres:ident) => {
        #[tokio::test]
        async fn $sqlite() {
            let dir = tempfile::tempdir().unwrap();
            $case(format!(
                "sqlite://{}",
                dir.path().join("confab.db").display()
            ))
            .await;
        }
        #[tokio::test]
        async fn $postgres() {
            let Some(url) = pg::fresh_url().await else {
                eprintln!("CONFAB_TEST_POSTGRES_URL is not set: PostgreSQL case not run");
                return;
            };
            $case(url).await;
        }
    };
}

fn ok(output: Output) -> String {
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    stderr
}

fn failed(output: Output) -> String {
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!output.status.success(), "expected a failure: {stderr}");
    stderr
}

/// The backup's records after its header, parsed.
fn backup(url: &str, files: &Path) -> Vec<Value> {
    let output = confab(url, files, &["backup"]);
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The record of `kind` whose `field` is `value`; for a message, whose text starts with it.
fn named<'a>(records: &'a [Value], kind: &str, field: &str, value: &str) -> &'a Value {
    records
        .iter()
        .filter(|r| r["type"] == kind)
        .find(|r| match r[field].as_str() {
            Some(text) if field == "text" => text.starts_with(value),
            other => other == Some(value),
        })
        .unwrap_or_else(|| panic!("no {kind} with {field} {value:?}"))
}

fn of_type<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == kind).collect()
}

/// Writes a ZIP of `entries` (name, bytes) at `path`.
fn zip(path: &Path, entries: &[(String, Vec<u8>)]) {
    let mut writer = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (name, bytes) in entries {
        writer.start_file(name.as_str(), options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap();
}

fn entry(name: &str, value: &Value) -> (String, Vec<u8>) {
    (name.to_owned(), serde_json::to_vec_pretty(value).unwrap())
}

/// 2024-03-01T09:00:00Z, in Slack's seconds.
const DAY0: i64 = 1_709_283_600;

fn ts(second: i64) -> String {
    format!("{}.{:06}", DAY0 + second, second.rem_euclid(1000))
}

/// What the fixture holds, for the assertions.
struct Expected {
    messages: usize,
    replies: usize,
}

/// A Slack export as Slack documents it: 300 messages in #general over three days (every
/// tenth a thread root with two replies), a private channel, an archived one, a DM and a
/// group DM, with notices, a bot, reactions (one custom), mentions, links, an edit, a
/// deleted thread root and two files, one of them in the archive.
fn export() -> (Vec<(String, Vec<u8>)>, Expected) {
    let users = json!([
        {"id": "U01", "name": "alice", "real_name": "Alice A", "tz": "Europe/London"},
        {"id": "U02", "name": "bob", "profile": {"display_name": "Bobby", "real_name": "Bob B"}},
        {"id": "U03", "name": "carol", "profile": {"real_name": "Carol Danvers"},
         "tz": "Europe/Paris"},
        {"id": "U04", "name": "dave", "deleted": true},
        {"id": "U05", "name": "here", "profile": {"real_name": "A name that is a group"}},
        {"id": "U06", "name": "deploybot", "is_bot": true}
    ]);
    let channels = json!([
        {"id": "C01", "name": "general", "created": DAY0 - 86_400, "creator": "U01",
         "members": ["U01", "U02", "U03", "U05"],
         "topic": {"value": "Company-wide"}, "purpose": {"value": "Everything & more"}},
        {"id": "C02", "name": "random", "created": DAY0 - 86_400, "creator": "U02",
         "members": ["U02"], "is_archived": true, "topic": {"value": "Off &amp; on"}}
    ]);
    let groups = json!([
        {"id": "G01", "name": "secret", "created": DAY0, "creator": "U01",
         "members": ["U01", "U02"]}
    ]);
    let dms = json!([{"id": "D01", "created": DAY0, "members": ["U01", "U02"]}]);
    let mpims = json!([
        {"id": "G02", "name": "mpdm-alice--bob--carol-1", "created": DAY0,
         "members": ["U01", "U02", "U03"]}
    ]);

    let mut days: Vec<Vec<Value>> = vec![Vec::new(); 3];
    let (mut messages, mut replies) = (0, 0);
    days[0].push(
        json!({"type": "message", "subtype": "channel_join", "user": "U03",
        "text": "<@U03> has joined the channel", "ts": ts(0)}),
    );
    for n in 1..=300_i64 {
        let day = ((n - 1) / 100) as usize;
        let second = n * 300;
        let author = ["U01", "U02", "U03"][(n % 3) as usize];
        let mut message = json!({"type": "message", "user": author, "ts": ts(second),
            "text": format!("message {n} from <@{author}>")});
        if n % 10 == 0 {
            message["thread_ts"] = json!(ts(second));
            message["reply_count"] = json!(2);
            for r in 1..=2_i64 {
                let mut reply = json!({"type": "message", "user": "U02",
                    "ts": ts(second + r), "thread_ts": ts(second),
                    "text": format!("reply {r} to {n}")});
                if n == 50 && r == 2 {
                    reply["subtype"] = json!("thread_broadcast");
                }
                days[day].push(reply);
                replies += 1;
                messages += 1;
            }
        }
        if n == 7 {
            message["text"] = json!(
                "*ship it* <@U02> <!here> see <#C02> and \
                <https://example.com/a?b=1&amp;c=2|the docs>"
            );
            message["reactions"] = json!([
                {"name": "+1", "users": ["U01"], "count": 1},
                {"name": "thumbsup", "users": ["U02", "U01"], "count": 2},
                {"name": "partyparrot", "users": ["U03"], "count": 1},
                {"name": "wave::skin-tone-3", "users": ["U03"], "count": 1}
            ]);
            message["edited"] = json!({"user": author, "ts": ts(second + 60)});
        }
        days[day].insert(0, message);
        messages += 1;
    }
    // Each day's file in Slack's order (by time); the replies were pushed after their roots.
    for day in &mut days {
        day.sort_by_key(|m| m["ts"].as_str().unwrap().to_owned());
    }
    days[2].push(
        json!({"type": "message", "subtype": "bot_message", "bot_id": "B01",
        "bot_profile": {"name": "builds"}, "username": "CI", "ts": ts(100_000), "text": "",
        "attachments": [{"fallback": "Build 12 passed"}]}),
    );
    days[2].push(
        json!({"type": "message", "subtype": "file_share", "user": "U01",
        "ts": ts(100_010), "text": "the report",
        "files": [{"id": "F01", "name": "report.txt", "mimetype": "text/plain"},
                  {"id": "F02", "name": "slides.pdf"}]}),
    );
    days[2].push(
        json!({"type": "message", "subtype": "tombstone", "user": "USLACKBOT",
        "hidden": true, "ts": ts(100_020), "thread_ts": ts(100_020),
        "text": "This message was deleted."}),
    );
    days[2].push(json!({"type": "message", "user": "U03", "ts": ts(100_021),
        "thread_ts": ts(100_020), "text": "an answer to a deleted question"}));
    // A root with nothing to show (its content was blocks only): its reply keeps its thread.
    days[2].push(json!({"type": "message", "user": "U02", "ts": ts(100_030),
        "thread_ts": ts(100_030), "text": "", "blocks": [{"type": "divider"}]}));
    days[2].push(json!({"type": "message", "user": "U01", "ts": ts(100_031),
        "thread_ts": ts(100_030), "text": "a reply to blocks"}));
    messages += 6;
    replies += 2;

    let mut entries = vec![
        entry("users.json", &users),
        entry("channels.json", &channels),
        entry("groups.json", &groups),
        entry("dms.json", &dms),
        entry("mpims.json", &mpims),
        entry(
            "random/2024-02-29.json",
            &json!([
                {"type": "message", "user": "U02", "ts": ts(-3600), "text": "old news"}
            ]),
        ),
        entry(
            "secret/2024-03-01.json",
            &json!([
                {"type": "message", "user": "U01", "ts": ts(10), "text": "just us"}
            ]),
        ),
        entry(
            "D01/2024-03-01.json",
            &json!([
                {"type": "message", "user": "U02", "ts": ts(20), "text": "hi <@U01>"}
            ]),
        ),
        entry(
            "mpdm-alice--bob--carol-1/2024-03-01.json",
            &json!([
                {"type": "message", "user": "U03", "ts": ts(30), "text": "all three"}
            ]),
        ),
        (
            "general/attachments/F01-report.txt".to_owned(),
            b"quarterly numbers\n".to_vec(),
        ),
    ];
    messages += 4;
    for (n, day) in days.iter().enumerate() {
        entries.push(entry(
            &format!("general/2024-03-0{}.json", n + 1),
            &json!(day),
        ));
    }
    // The USLACKBOT tombstone's author is Slack's own bot, which every export lists.
    let users_entry = &mut entries[0];
    let mut all: Vec<Value> = serde_json::from_slice(&users_entry.1).unwrap();
    all.push(json!({"id": "USLACKBOT", "name": "slackbot", "is_bot": true}));
    users_entry.1 = serde_json::to_vec(&all).unwrap();
    (entries, Expected { messages, replies })
}

async fn imports_threads_reactions_mentions_and_files_once(url: String) {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    let path = dir.path().join("export.zip");
    let (entries, expected) = export();
    zip(&path, &entries);
    let file = path.to_str().unwrap();

    // A dry run reads everything and writes nothing.
    let stderr = ok(confab(
        &url,
        &files,
        &["import", "slack", "--dry-run", file],
    ));
    let all_new = format!("{} messages (0 already present)", expected.messages);
    assert!(stderr.contains(&format!("would add {all_new}")), "{stderr}");
    assert!(of_type(&backup(&url, &files), "message").is_empty());

    let stderr = ok(confab(&url, &files, &["import", "slack", file]));
    assert!(stderr.contains(&format!("added {all_new}")), "{stderr}");
    assert!(
        stderr.contains("1 join, leave and topic notices left out"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 reactions with custom emoji left out"),
        "{stderr}"
    );
    assert!(stderr.contains(":partyparrot:"), "{stderr}");
    assert!(stderr.contains("1 files"), "{stderr}");

    let records = backup(&url, &files);
    let messages = of_type(&records, "message");
    assert_eq!(messages.len(), expected.messages);
    assert_eq!(
        messages
            .iter()
            .filter(|m| m.get("thread").is_some())
            .count(),
        expected.replies
    );
    let find = |text: &str| named(&records, "message", "text", text);

    // People: names, profiles, bots, no passwords, a group word renamed.
    let users = of_type(&records, "user");
    let user = |name: &str| named(&records, "user", "name", name);
    assert_eq!(user("carol")["profile"]["display_name"], "Carol Danvers");
    assert_eq!(user("carol")["profile"]["time_zone"], "Europe/Paris");
    assert_eq!(user("bob")["profile"]["display_name"], "Bobby");
    assert_eq!(user("deploybot")["bot"], true);
    assert_eq!(user("builds")["bot"], true);
    assert_eq!(
        user("here-slack")["profile"]["display_name"],
        "A name that is a group"
    );
    assert!(users.iter().all(|u| u.get("password_hash").is_none()));

    // Rooms and conversations.
    let room = |name: &str| named(&records, "room", "room", name);
    // A fresh instance has its own #general: it keeps its topic and gains the description.
    assert_eq!(room("general")["description"], "Everything & more");
    assert_eq!(room("random")["topic"], "Off & on");
    assert_eq!(room("random")["created_by"], "bob");
    assert_eq!(room("secret")["private"], true);
    assert_eq!(room("random")["archived"], true);
    room("@alice,bob");
    room("@alice,bob,carol");
    let owner = of_type(&records, "member")
        .into_iter()
        .find(|m| m["room"] == "general" && m["user"] == "alice")
        .unwrap();
    assert_eq!(owner["role"], "owner");

    // Text, mentions, reactions and the edit of message 7.
    let seven = find("**ship it**");
    assert_eq!(
        seven["text"],
        "**ship it** @bob @here see #random and [the docs](https://example.com/a?b=1&c=2)"
    );
    assert_eq!(seven["mentions"], json!(["bob", "@here"]));
    assert_eq!(
        seven["reactions"],
        json!([{"emoji": "👍", "users": ["alice", "bob"]}, {"emoji": "👋🏼", "users": ["carol"]}])
    );
    assert!(seven["edited_at"].is_string());

    // Threads: replies name their root; a broadcast reply is also in the room; a deleted
    // root keeps its place as a tombstone and its reply.
    let root = find("message 50 ");
    let broadcast = find("reply 2 to 50");
    assert_eq!(broadcast["thread"], root["id"]);
    assert_eq!(broadcast["also_in_room"], true);
    assert_eq!(find("reply 1 to 50").get("also_in_room"), None);
    let blocks = find("a reply to blocks");
    let root = named(
        &records,
        "message",
        "id",
        blocks["thread"].as_str().unwrap(),
    );
    assert!(root["deleted_at"].is_string());
    let answer = find("an answer to a deleted question");
    let tombstone = messages
        .iter()
        .find(|m| m["id"] == answer["thread"])
        .unwrap();
    assert!(tombstone["deleted_at"].is_string());
    assert_eq!(tombstone["text"], "");

    // A bot's message, and the files: one kept, one named as missing.
    // Shown as Slack showed it: under the name its integration gave, by the bot's account.
    assert_eq!(find("Build 12 passed")["from"], "builds");
    assert_eq!(find("Build 12 passed")["persona"]["name"], "CI");
    let shared = find("the report");
    assert_eq!(
        shared["text"],
        "the report\n📎 slides.pdf (not in the export)"
    );
    assert_eq!(shared["files"][0]["name"], "report.txt");
    assert_eq!(shared["files"][0]["size"], 18);
    assert_eq!(find("hi @alice")["room"], "@alice,bob");

    // A second import adds nothing and changes nothing.
    let stderr = ok(confab(&url, &files, &["import", "slack", file]));
    assert!(
        stderr.contains(&format!(
            "added 0 messages ({} already present)",
            expected.messages
        )),
        "{stderr}"
    );
    assert_eq!(backup(&url, &files), records);

    // What came in goes out and back in unchanged, through a JSONL backup.
    let again = dir.path().join("again.db");
    let again_url = format!("sqlite://{}", again.display());
    let jsonl = dir.path().join("imported.jsonl");
    let output = confab(&url, &files, &["backup", "--out", jsonl.to_str().unwrap()]);
    assert!(output.status.success());
    ok(confab(
        &again_url,
        &files,
        &["restore", jsonl.to_str().unwrap()],
    ));
    assert_eq!(backup(&again_url, &files), records);
}

on_both_databases!(
    imports_threads_reactions_mentions_and_files_once:
        a_slack_export_is_imported_once_into_sqlite,
        a_slack_export_is_imported_once_into_postgres
);

/// An imported person has no password; an admin's invite for their account lets them set one
/// and find their history, once, and only under their own name.
#[tokio::test]
async fn an_imported_person_claims_their_account_with_an_invite() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    let url = format!("sqlite://{}", dir.path().join("confab.db").display());
    let (entries, _) = export();
    let path = dir.path().join("export.zip");
    zip(&path, &entries);
    ok(confab(
        &url,
        &files,
        &["import", "slack", path.to_str().unwrap()],
    ));
    let invite = |user: &str| {
        let output = confab(&url, &files, &["admin", "invite", "--for", user]);
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(output.status.success(), "{stderr}");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    let code = invite("carol");
    let bot = failed(confab(
        &url,
        &files,
        &["admin", "invite", "--for", "deploybot"],
    ));
    assert!(bot.contains("nothing to claim"), "{bot}");

    let (state, _store) =
        server::open_node(&url, false, None, app::limits::LimitsConfig::relaxed())
            .await
            .unwrap();
    let addr = common::serve(state).await;
    let register = |name: &str, code: &str| {
        let form = format!("username={name}&password=password123&invite={code}");
        async move { common::post(addr, "/api/register", &form, None).await }
    };
    let (status, _, body) = register("bob", &code).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("This invite is for another account"),
        "{body}"
    );
    let (status, cookie, body) = register("carol", &code).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"username\":\"carol\""), "{body}");
    // Her rooms and history are there: she is the imported account, not a new one.
    let (status, _, sidebar) = common::get(addr, "/api/v1/rooms", Some(&cookie)).await;
    assert_eq!(status, 200, "{sidebar}");
    assert!(sidebar.contains("\"general\""), "{sidebar}");
    // The group DM with alice and bob, named for her by the others in it.
    assert!(sidebar.contains("\"name\":\"alice, bob\""), "{sidebar}");
    let (status, _, body) = register("carol", &code).await;
    assert_eq!(status, 403, "{body}");
    let again = failed(confab(&url, &files, &["admin", "invite", "--for", "carol"]));
    assert!(again.contains("can log in already"), "{again}");
}

#[test]
fn hostile_exports_are_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    let url = format!("sqlite://{}", dir.path().join("confab.db").display());
    let (good, _) = export();
    let path = dir.path().join("good.zip");
    zip(&path, &good);
    ok(confab(
        &url,
        &files,
        &["import", "slack", path.to_str().unwrap()],
    ));
    let before = backup(&url, &files);

    let with = |name: &str, extra: (String, Vec<u8>)| -> String {
        let mut entries = good.clone();
        entries.retain(|(n, _)| *n != extra.0);
        entries.push(extra);
        let path = dir.path().join(name);
        zip(&path, &entries);
        path.to_str().unwrap().to_owned()
    };
    let day = |messages: Value| serde_json::to_vec(&messages).unwrap();

    // Each refusal says so, names what was wrong, and stores nothing.
    let refused = |args: &[&str]| -> String {
        let mut all = vec!["import", "slack"];
        all.extend_from_slice(args);
        let stderr = failed(confab(&url, &files, &all));
        assert!(
            stderr.contains("import refused, nothing was changed: "),
            "{stderr}"
        );
        stderr
    };

    let traversal = with("traversal.zip", ("../../evil.json".into(), b"[]".to_vec()));
    let stderr = refused(&[&traversal]);
    assert!(
        stderr.contains("\"../../evil.json\" names a path outside"),
        "{stderr}"
    );

    // 70 MiB of JSON whitespace, a few kilobytes packed; and 2 MiB past a total of 1 MiB.
    let spaces = |len: usize| {
        let mut json = vec![b' '; len];
        json[0] = b'[';
        json[len - 1] = b']';
        json
    };
    let bomb = with(
        "bomb.zip",
        ("general/2024-03-04.json".into(), spaces(70 << 20)),
    );
    assert!(std::fs::metadata(&bomb).unwrap().len() < 1 << 20);
    let stderr = refused(&[&bomb]);
    assert!(
        stderr.contains("\"general/2024-03-04.json\" unpacks to"),
        "{stderr}"
    );
    assert!(stderr.contains("over the limit of 64 MiB"), "{stderr}");
    let big = with(
        "big.zip",
        ("general/2024-03-04.json".into(), spaces(2 << 20)),
    );
    let stderr = refused(&["--max-unpacked", "1M", &big]);
    assert!(
        stderr.contains("the archive unpacks to more than 1 MiB"),
        "{stderr}"
    );

    let broken = with(
        "broken.zip",
        (
            "general/2024-03-04.json".into(),
            b"[\n{\"ts\": \"1.0\",\n \"text\": }".to_vec(),
        ),
    );
    let stderr = refused(&[&broken]);
    assert!(
        stderr.contains("general/2024-03-04.json: expected value at line 3"),
        "{stderr}"
    );

    // A day naming someone users.json does not hold, as an author or in a mention.
    let strangers = [
        (
            json!([
                {"type": "message", "user": "U01", "ts": ts(200_000), "text": "fine"},
                {"type": "message", "user": "U999", "ts": ts(200_001), "text": "who?"}
            ]),
            "general/2024-03-04.json, record #2: user \"U999\" is not in users.json",
        ),
        (
            json!([{"type": "message", "user": "U01", "ts": ts(200_000), "text": "ask <@U998>"}]),
            "general/2024-03-04.json, record #1: it mentions user \"U998\"",
        ),
    ];
    for (n, (messages, problem)) in strangers.into_iter().enumerate() {
        let path = with(
            &format!("stranger-{n}.zip"),
            ("general/2024-03-04.json".into(), day(messages)),
        );
        let stderr = refused(&[&path]);
        assert!(stderr.contains(problem), "{stderr}");
    }

    let not_slack = dir.path().join("not-slack.zip");
    zip(&not_slack, &[("readme.txt".into(), b"hello".to_vec())]);
    let stderr = refused(&[not_slack.to_str().unwrap()]);
    assert!(
        stderr.contains("no users.json: it is not a Slack export"),
        "{stderr}"
    );
    let text = dir.path().join("export.txt");
    std::fs::write(&text, "not a zip").unwrap();
    let stderr = refused(&[text.to_str().unwrap()]);
    assert!(stderr.contains("is not a ZIP file"), "{stderr}");

    assert_eq!(backup(&url, &files), before);
}

/// 2024-03-01T09:00:00Z in Mattermost's milliseconds.
const MM0: i64 = DAY0 * 1000;

/// A Mattermost bulk file as Mattermost documents it: two teams, a public and a private
/// channel, three people and a bot, 200 posts (every fifth with two replies) with reactions
/// (one custom), mentions, a pin and two attachments (one on disk), a DM and a group DM.
/// Returns the lines and how many messages the team `acme` holds.
fn bulk(attachment: &str) -> (Vec<Value>, usize) {
    let mut lines = vec![
        json!({"type": "version", "version": 1}),
        json!({"type": "team", "team": {"name": "acme", "display_name": "ACME", "type": "O"}}),
        json!({"type": "team", "team": {"name": "other", "display_name": "Other", "type": "O"}}),
        json!({"type": "channel", "channel": {"team": "acme", "name": "town-square",
            "display_name": "Town Square", "type": "O", "header": "Welcome",
            "purpose": "Everyone"}}),
        json!({"type": "channel", "channel": {"team": "acme", "name": "leads",
            "display_name": "Leads", "type": "P"}}),
        json!({"type": "channel", "channel": {"team": "other", "name": "town-square",
            "type": "O"}}),
        json!({"type": "user", "user": {"username": "alice", "first_name": "Alice",
            "last_name": "Liddell", "teams": [
                {"name": "acme", "channels": [
                    {"name": "town-square", "roles": "channel_admin channel_user"},
                    {"name": "leads", "roles": "channel_user"}]},
                {"name": "other", "channels": [{"name": "town-square"}]}]}}),
        json!({"type": "user", "user": {"username": "bob", "nickname": "Bobby", "teams": [
            {"name": "acme", "channels": [{"name": "town-square"}, {"name": "leads"}]}]}}),
        json!({"type": "user", "user": {"username": "carol", "teams": [
            {"name": "acme", "channels": [{"name": "town-square"}]}]}}),
        json!({"type": "bot", "bot": {"username": "ci-bot", "display_name": "CI",
            "owner": "alice"}}),
    ];
    let mut messages = 0;
    for n in 1..=200_i64 {
        let at = MM0 + n * 60_000;
        let user = ["alice", "bob", "carol"][(n % 3) as usize];
        let mut post = json!({"team": "acme", "channel": "town-square", "user": user,
            "message": format!("post {n} for @bob"), "create_at": at});
        if n % 5 == 0 {
            post["replies"] = json!([
                {"user": "alice", "message": format!("first answer to {n}"),
                 "create_at": at + 1000},
                {"user": "ci-bot", "message": format!("second answer to {n}"),
                 "create_at": at + 2000,
                 "props": {"from_webhook": "true", "override_username": "Nightly build"}}
            ]);
            messages += 2;
        }
        if n == 9 {
            post["message"] = json!("**release** @here `@carol` is in code");
            post["reactions"] = json!([
                {"user": "bob", "emoji_name": "+1", "create_at": at + 5},
                {"user": "carol", "emoji_name": "thumbsup", "create_at": at + 6},
                {"user": "alice", "emoji_name": "partyparrot", "create_at": at + 7}
            ]);
            post["edit_at"] = json!(at + 90_000);
            post["is_pinned"] = json!(true);
        }
        if n == 11 {
            post["message"] = json!("the report");
            post["attachments"] = json!([{"path": attachment}, {"path": "data/gone.png"}]);
        }
        lines.push(json!({"type": "post", "post": post}));
        messages += 1;
    }
    lines.push(
        json!({"type": "post", "post": {"team": "acme", "channel": "leads",
        "user": "alice", "message": "leads only", "create_at": MM0}}),
    );
    // A post with nothing to show but a reply: kept as a tombstone, so the reply is a thread.
    lines.push(
        json!({"type": "post", "post": {"team": "acme", "channel": "leads",
        "user": "bob", "message": "", "create_at": MM0 + 10, "replies": [
            {"user": "alice", "message": "an answer to nothing", "create_at": MM0 + 11}]}}),
    );
    lines.push(
        json!({"type": "post", "post": {"team": "other", "channel": "town-square",
        "user": "alice", "message": "another team", "create_at": MM0}}),
    );
    lines.push(json!({"type": "direct_channel", "direct_channel": {
        "members": ["alice", "bob"], "header": "just us"}}));
    lines.push(json!({"type": "direct_post", "direct_post": {
        "channel_members": ["bob", "alice"], "user": "bob", "message": "hi @alice",
        "create_at": MM0 + 5}}));
    lines.push(json!({"type": "direct_post", "direct_post": {
        "channel_members": ["alice", "bob", "carol"], "user": "carol",
        "message": "all three", "create_at": MM0 + 6}}));
    messages += 5;
    (lines, messages)
}

fn write_jsonl(path: &Path, lines: &[Value]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).unwrap();
}

async fn imports_a_mattermost_team_once(url: String) {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/report.txt"), "quarterly numbers\n").unwrap();
    let (lines, expected) = bulk("data/report.txt");
    let path = dir.path().join("bulk.jsonl");
    write_jsonl(&path, &lines);
    let file = path.to_str().unwrap();

    let args = ["import", "mattermost", "--team", "acme", file];
    let stderr = ok(confab(&url, &files, &args));
    assert!(
        stderr.contains(&format!("added {expected} messages (0 already present)")),
        "{stderr}"
    );
    assert!(
        stderr.contains("note: 2 records of other teams left out"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 reactions with custom emoji left out"),
        "{stderr}"
    );
    assert!(stderr.contains(":partyparrot:"), "{stderr}");

    let records = backup(&url, &files);
    let messages = of_type(&records, "message");
    assert_eq!(messages.len(), expected);
    let find = |text: &str| named(&records, "message", "text", text);
    let users = of_type(&records, "user");
    let user = |name: &str| named(&records, "user", "name", name);
    assert_eq!(user("alice")["profile"]["display_name"], "Alice Liddell");
    assert_eq!(user("bob")["profile"]["display_name"], "Bobby");
    assert_eq!(user("ci-bot")["bot"], true);
    assert!(users.iter().all(|u| u.get("password_hash").is_none()));

    let rooms = of_type(&records, "room");
    let room = |name: &str| named(&records, "room", "room", name);
    assert_eq!(room("town-square")["topic"], "Welcome");
    assert_eq!(room("town-square")["description"], "Everyone");
    assert_eq!(room("leads")["private"], true);
    room("@alice,bob");
    room("@alice,bob,carol");
    assert!(rooms.iter().all(|r| r["room"] != "other-town-square"));
    let members = of_type(&records, "member");
    let role = |room: &str, user: &str| {
        members
            .iter()
            .find(|m| m["room"] == room && m["user"] == user)
            .map(|m| m.get("role").cloned())
    };
    assert_eq!(role("town-square", "alice"), Some(Some(json!("owner"))));
    // A plain member: a backup writes no role.
    assert_eq!(role("leads", "bob"), Some(None));
    assert_eq!(role("leads", "carol"), None);

    // Mentions outside code only; reactions merged by emoji; the edit and the pin.
    let nine = find("**release**");
    assert_eq!(nine["mentions"], json!(["@here"]));
    assert_eq!(
        nine["reactions"],
        json!([{"emoji": "👍", "users": ["bob", "carol"]}])
    );
    assert!(nine["edited_at"].is_string());
    assert_eq!(nine["pinned"]["by"], nine["from"]);
    assert_eq!(find("post 1 for @bob")["mentions"], json!(["bob"]));
    let root = find("post 10 for");
    assert_eq!(find("first answer to 10")["thread"], root["id"]);
    assert_eq!(find("second answer to 10")["from"], "ci-bot");
    // A webhook's post keeps the name it was shown with, by the bot's account.
    assert_eq!(
        find("second answer to 10")["persona"]["name"],
        "Nightly build"
    );
    let answer = find("an answer to nothing");
    let root = named(
        &records,
        "message",
        "id",
        answer["thread"].as_str().unwrap(),
    );
    assert!(root["deleted_at"].is_string());
    let shared = find("the report");
    assert_eq!(shared["text"], "the report\n📎 gone.png (not found)");
    assert_eq!(shared["files"][0]["name"], "report.txt");
    assert_eq!(find("hi @alice")["room"], "@alice,bob");
    assert_eq!(find("hi @alice")["mentions"], json!(["alice"]));

    let stderr = ok(confab(&url, &files, &args));
    assert!(
        stderr.contains(&format!("added 0 messages ({expected} already present)")),
        "{stderr}"
    );
    assert_eq!(backup(&url, &files), records);

    // What came in goes out and back in unchanged, through a JSONL backup.
    let again_url = format!("sqlite://{}", dir.path().join("again.db").display());
    let jsonl = dir.path().join("imported.jsonl");
    ok(confab(
        &url,
        &files,
        &["backup", "--out", jsonl.to_str().unwrap()],
    ));
    ok(confab(
        &again_url,
        &files,
        &["restore", jsonl.to_str().unwrap()],
    ));
    assert_eq!(backup(&again_url, &files), records);

    // Without --team, a file of several teams names each channel after its team.
    let every = dir.path().join("every.db");
    let every_url = format!("sqlite://{}", every.display());
    ok(confab(&every_url, &files, &["import", "mattermost", file]));
    let names: Vec<Value> = of_type(&backup(&every_url, &files), "room")
        .into_iter()
        .map(|r| r["room"].clone())
        .collect();
    for name in ["acme-town-square", "acme-leads", "other-town-square"] {
        assert!(names.contains(&json!(name)), "{names:?}");
    }
}

on_both_databases!(
    imports_a_mattermost_team_once:
        a_mattermost_file_is_imported_once_into_sqlite,
        a_mattermost_file_is_imported_once_into_postgres
);

#[test]
fn hostile_mattermost_files_are_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    let url = format!("sqlite://{}", dir.path().join("confab.db").display());
    let (good, _) = bulk("data/report.txt");
    let path = dir.path().join("good.jsonl");
    write_jsonl(&path, &good);
    ok(confab(
        &url,
        &files,
        &["import", "mattermost", path.to_str().unwrap()],
    ));
    let before = backup(&url, &files);

    let refused = |name: &str, text: String, problem: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let args = ["import", "mattermost", path.to_str().unwrap()];
        let stderr = failed(confab(&url, &files, &args));
        assert!(
            stderr.contains("import refused, nothing was changed: "),
            "{stderr}"
        );
        assert!(stderr.contains(problem), "{stderr}");
    };
    let lines = |lines: &[Value]| -> String { lines.iter().map(|l| format!("{l}\n")).collect() };
    let post_line = good.len() - 5;

    let (traversal, _) = bulk("../../etc/passwd");
    let problem = format!(
        "line {}: attachment path \"../../etc/passwd\" leaves the attachments folder",
        10 + 11
    );
    refused("traversal.jsonl", lines(&traversal), &problem);

    let mut broken = lines(&good);
    broken.insert_str(
        0,
        "{\"type\": \"version\", \"version\": 1}\n{\"type\": \"team\", \"team\": {\n",
    );
    refused(
        "broken.jsonl",
        broken,
        "line 2: EOF while parsing an object",
    );

    let mut stranger = good.clone();
    stranger[post_line]["post"]["user"] = json!("zed");
    refused(
        "stranger.jsonl",
        lines(&stranger),
        &format!(
            "line {}: user \"zed\" is not in the file's users",
            post_line + 1
        ),
    );

    refused(
        "headless.jsonl",
        lines(&good[1..]),
        "line 1: a Mattermost bulk file starts with one {\"type\":\"version\",\"version\":1}",
    );
    let stderr = failed(confab(
        &url,
        &files,
        &[
            "import",
            "mattermost",
            "--team",
            "nope",
            path.to_str().unwrap(),
        ],
    ));
    assert!(stderr.contains("the file has no team \"nope\""), "{stderr}");
    assert_eq!(backup(&url, &files), before);
}
