//! A JSONL backup file as `confab restore` reads it (see `app::fuzz_targets::backup`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    app::fuzz_targets::backup(app::backup::Format::Jsonl, data)
});
