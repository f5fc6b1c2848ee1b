//! `confab doctor`, run as the real binary: a sound configuration passes (on SQLite and on
//! PostgreSQL), and each broken setting fails with its own line saying what is wrong and what
//! to do, while the other checks still pass. Nothing is changed by a check.
#![expect(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Output;

#[path = "../../app/tests/support/postgres.rs"]
mod pg;

/// Environment variables for a `confab` process.
type Env = Vec<(String, String)>;

/// A sound setup in `dir`: a migrated SQLite database, a built site (unhashed names), and an
/// https public address; and the environment that names them.
async fn sound(dir: &Path) -> Env {
    let url = format!("sqlite://{}", dir.join("confab.db").display());
    app::store::open(&url).await.unwrap().close().await;
    std::fs::create_dir_all(dir.join("site/pkg")).unwrap();
    for file in ["confab.js", "confab.wasm", "confab.css"] {
        std::fs::write(dir.join("site/pkg").join(file), b"built").unwrap();
    }
    [
        ("DATABASE_URL", url),
        ("LEPTOS_SITE_ROOT", dir.join("site").display().to_string()),
        ("LEPTOS_OUTPUT_NAME", "confab".into()),
        ("LEPTOS_HASH_FILES", "false".into()),
        ("CONFAB_PUBLIC_URL", "https://chat.example.org".into()),
        ("CONFAB_FILES_DIR", dir.join("files").display().to_string()),
        ("CONFAB_REDIS_URL", redis_url()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn redis_url() -> String {
    std::env::var("CONFAB_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// `env` with `key` set to `value` (replaced, or added).
fn with(env: &[(String, String)], key: &str, value: &str) -> Env {
    let mut env: Vec<_> = env.iter().filter(|(k, _)| k != key).cloned().collect();
    env.push((key.to_owned(), value.to_owned()));
    env
}

/// Runs `confab doctor` with only `env` (no inherited `CONFAB_*` or `DATABASE_URL`).
fn doctor(env: &[(String, String)]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_confab"));
    command.arg("doctor");
    for (key, _) in std::env::vars() {
        if key.starts_with("CONFAB_") || key.starts_with("LEPTOS_") || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    command.output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The report's lines that start with `mark` (`ok`, `warn`, `FAIL`), by check name.
fn marked(output: &Output, mark: &str) -> Vec<String> {
    stdout(output)
        .lines()
        .filter_map(|line| line.strip_prefix(mark))
        .filter(|rest| rest.starts_with(' '))
        .map(|rest| rest.trim_start().split(':').next().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sound_configuration_passes_every_check() {
    let dir = tempfile::tempdir().unwrap();
    let env = sound(dir.path()).await;
    let output = doctor(&env);
    let report = stdout(&output);
    assert!(
        output.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        marked(&output, "ok"),
        [
            "database",
            "site",
            "files folder",
            "free disk",
            "push",
            "redis"
        ],
        "{report}"
    );
    assert!(report.contains("migrations applied"), "{report}");
    assert!(report.contains("has the 3 bundle files"), "{report}");
    // Nothing was made: the files folder is still to be created at the first start.
    assert!(!dir.path().join("files").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sound_postgres_configuration_passes_and_a_fresh_one_has_migrations_to_run() {
    let Some(url) = pg::fresh_url().await else {
        eprintln!("CONFAB_TEST_POSTGRES_URL is not set: PostgreSQL case not run");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let env = with(&sound(dir.path()).await, "DATABASE_URL", &url);
    // An empty schema: every migration is still to run, which is no failure.
    let output = doctor(&env);
    assert!(output.status.success(), "{}", stdout(&output));
    assert_eq!(marked(&output, "warn"), ["database"], "{}", stdout(&output));
    assert!(
        stdout(&output).contains("they run at the next start"),
        "{}",
        stdout(&output)
    );

    app::store::open(&url).await.unwrap().close().await;
    let output = doctor(&env);
    assert!(output.status.success(), "{}", stdout(&output));
    assert!(
        marked(&output, "ok").contains(&"database".to_owned()),
        "{}",
        stdout(&output)
    );
}

/// Each broken setting: exit 1, `confab: 1 of 6 checks failed`, one FAIL line naming the
/// check, with the problem and what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_setting_fails_its_own_check_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let env = sound(dir.path()).await;
    let closed = common_free_port();
    let not_a_folder = dir.path().join("a-file");
    std::fs::write(&not_a_folder, b"").unwrap();
    // (check, environment, the problem it names, what to do)
    let cases: Vec<(&str, Env, String, &str)> = vec![
        (
            "database",
            with(
                &env,
                "DATABASE_URL",
                &format!("postgres://confab:s3cret@127.0.0.1:{closed}/confab"),
            ),
            format!("cannot open postgres://…@127.0.0.1:{closed}/confab"),
            "check --database-url",
        ),
        (
            "site",
            with(
                &env,
                "LEPTOS_SITE_ROOT",
                &dir.path().join("nowhere").display().to_string(),
            ),
            "lacks /pkg/confab.js".into(),
            "set LEPTOS_SITE_ROOT",
        ),
        (
            "files folder",
            with(
                &env,
                "CONFAB_FILES_DIR",
                &not_a_folder.display().to_string(),
            ),
            "is not a folder".into(),
            "set --files-dir",
        ),
        (
            "free disk",
            with(&env, "CONFAB_MIN_FREE_DISK", "100000000G"),
            "every upload is refused".into(),
            "lower --min-free-disk",
        ),
        (
            "push",
            with(&env, "CONFAB_PUBLIC_URL", "http://chat.example.org"),
            "--public-url http://chat.example.org is not https".into(),
            "serve Confab over https",
        ),
        (
            "redis",
            with(
                &env,
                "CONFAB_REDIS_URL",
                &format!("redis://127.0.0.1:{closed}"),
            ),
            format!("cannot reach redis://127.0.0.1:{closed}"),
            "check --redis-url",
        ),
    ];
    for (check, env, problem, fix) in cases {
        let output = doctor(&env);
        let report = stdout(&output);
        assert_eq!(output.status.code(), Some(1), "{check}: {report}");
        assert_eq!(marked(&output, "FAIL"), [check], "{check}: {report}");
        let line = report
            .lines()
            .position(|l| l.starts_with("FAIL"))
            .expect("a FAIL line");
        let lines: Vec<&str> = report.lines().collect();
        assert!(lines[line].contains(&problem), "{check}: {report}");
        assert!(
            lines[line + 1].trim_start().starts_with('→'),
            "{check}: {report}"
        );
        assert!(lines[line + 1].contains(fix), "{check}: {report}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr).trim_end(),
            "confab: 1 of 6 checks failed",
            "{check}"
        );
        assert!(!report.contains("s3cret"), "{report}");
    }
}

/// A database a newer Confab migrated fails; one with a migration left to run only warns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_check_compares_migrations_without_applying_them() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let env = sound(dir.path()).await;
    let url = format!("sqlite://{}", dir.path().join("confab.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();

    // The last migration undone in the record: it is pending, and stays so (doctor migrates
    // nothing).
    let last: i64 = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
        .fetch_one(&mut db)
        .await
        .unwrap();
    let row: (String, Vec<u8>, i64) = sqlx::query_as(
        "SELECT description, checksum, execution_time FROM _sqlx_migrations WHERE version = $1",
    )
    .bind(last)
    .fetch_one(&mut db)
    .await
    .unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(last)
        .execute(&mut db)
        .await
        .unwrap();
    for _ in 0..2 {
        let output = doctor(&env);
        assert!(output.status.success(), "{}", stdout(&output));
        assert_eq!(marked(&output, "warn"), ["database"], "{}", stdout(&output));
        assert!(stdout(&output).contains("1 of "), "{}", stdout(&output));
    }

    // Put back, and one more that this Confab does not know.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, \
         execution_time) VALUES ($1, $2, CURRENT_TIMESTAMP, TRUE, $3, $4), \
         (99990101000000, 'from the future', CURRENT_TIMESTAMP, TRUE, x'00', 1)",
    )
    .bind(last)
    .bind(&row.0)
    .bind(&row.1)
    .bind(row.2)
    .execute(&mut db)
    .await
    .unwrap();
    let output = doctor(&env);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert_eq!(marked(&output, "FAIL"), ["database"], "{}", stdout(&output));
    assert!(
        stdout(&output).contains("migrated by a newer Confab"),
        "{}",
        stdout(&output)
    );
    db.close().await.unwrap();
}

/// A loopback port nothing listens on.
fn common_free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
