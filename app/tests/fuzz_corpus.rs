//! Replays the committed fuzz corpus (`app/fuzz/corpus/<target>/`) through the same bodies the
//! fuzzer runs (`app::fuzz_targets`), so an input that once crashed stays fixed without a
//! nightly toolchain in CI. The long runs are `app/fuzz/run.sh`.
#![expect(clippy::unwrap_used)]

use std::path::PathBuf;

use app::backup::Format;

/// Every input of one target, by file name.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut inputs: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    inputs.sort();
    // The seeds at least: an empty directory would make this test pass without testing.
    assert!(
        inputs.len() >= 2,
        "{} holds {} inputs",
        dir.display(),
        inputs.len()
    );
    inputs
}

/// Runs `body` on every input of `target`, naming the input that panics.
fn replay(target: &str, body: impl Fn(&[u8]) + std::panic::RefUnwindSafe) {
    for (name, data) in corpus(target) {
        if std::panic::catch_unwind(|| body(&data)).is_err() {
            panic!("{target}/{name} panics");
        }
    }
}

#[test]
fn socket_frames() {
    replay("client_frame", app::fuzz_targets::client_frame);
}

#[test]
fn jsonl_backups() {
    replay("backup_jsonl", |d| {
        app::fuzz_targets::backup(Format::Jsonl, d)
    });
}

#[test]
fn xml_backups() {
    replay("backup_xml", |d| app::fuzz_targets::backup(Format::Xml, d));
}

#[test]
fn csv_backups() {
    replay("backup_csv", |d| app::fuzz_targets::backup(Format::Csv, d));
}
