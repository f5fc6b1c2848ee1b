//! The bodies of Confab's fuzz targets (`app/fuzz`), kept in the crate so that the committed
//! corpus is replayed by a plain `cargo test` (`app/tests/fuzz_corpus.rs`) through exactly the
//! code the fuzzer ran. Each takes arbitrary bytes and panics only on a real bug: a parser that
//! panics, a frame that reads differently after a round trip, a validator that lets through
//! what it must refuse, a decoder that reads past its byte limits or never ends.

use std::io::Cursor;

use crate::backup::decoder;
use crate::backup::read::Bounded;
use crate::backup::Format;
use crate::protocol::{ClientFrame, MAX_FRAME_BYTES};

/// Limits of the backup targets: small, so a run explores structure rather than size (the
/// limits themselves are what keep a large file in check, and they are the same code).
const FUZZ_FILE_BYTES: u64 = 256 * 1024;
const FUZZ_RECORD_BYTES: u64 = 16 * 1024;

/// A socket frame, as the server's reader takes it: text up to [`MAX_FRAME_BYTES`], parsed as a
/// [`ClientFrame`], and a post's fields through the same validators the write path uses.
pub fn client_frame(data: &[u8]) {
    if data.len() > MAX_FRAME_BYTES {
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(frame) = serde_json::from_str::<ClientFrame>(text) else {
        return;
    };
    // What the server understood, it understands the same way when written back out.
    let written = match serde_json::to_string(&frame) {
        Ok(written) => written,
        Err(e) => panic!("a parsed frame does not serialize: {e}"),
    };
    match serde_json::from_str::<ClientFrame>(&written) {
        Ok(again) => assert_eq!(again, frame, "round trip changed the frame"),
        Err(e) => panic!("a frame's own serialization does not parse: {e}: {written}"),
    }
    if let ClientFrame::Post {
        client_id, text, ..
    } = &frame
    {
        if let Ok(body) = crate::validate::message_text(text) {
            assert!(
                !body.trim().is_empty(),
                "an empty message passed validation"
            );
            assert!(
                body.chars().all(crate::validate::is_message_char),
                "a refused character passed validation: {body:?}"
            );
            assert!(body.chars().count() <= crate::validate::MAX_MESSAGE_CHARS);
        }
        let _ = crate::validate::client_id(Some(client_id));
    }
}

/// A backup file in `format`: decoded record by record until it ends or is refused. The reader
/// is bounded, so the decoder must stop within [`FUZZ_FILE_BYTES`]; a record per input byte
/// (plus the header) is the most any format can yield.
pub fn backup(format: Format, data: &[u8]) {
    let input = Bounded::new(
        Cursor::new(data.to_vec()),
        FUZZ_FILE_BYTES,
        FUZZ_RECORD_BYTES,
    );
    let Ok(mut records) = decoder(format, input, "general") else {
        return;
    };
    let most = data.len() + 2;
    for _ in 0..most {
        match records.next_record() {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return,
        }
    }
    panic!(
        "{} records from {} bytes: the decoder does not end",
        most,
        data.len()
    );
}
