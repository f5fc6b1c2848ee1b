//! A socket frame as the server reads it (see `app::fuzz_targets::client_frame`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| app::fuzz_targets::client_frame(data));
