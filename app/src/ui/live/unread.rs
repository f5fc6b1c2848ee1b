//! Unread counts as the browser keeps them between sidebar loads: the server's count at load,
//! plus messages by others that arrived live since, minus what the user read on any device.

use std::collections::BTreeSet;

use crate::model::{RoomKind, RoomSummary, UNREAD_CAP};

/// One room or DM in the sidebar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomCounter {
    pub kind: RoomKind,
    pub name: String,
    /// Newest seq known in the room.
    pub last_seq: i64,
    /// Unread count the server gave at load, covering seqs up to `base_last_seq`.
    base_unread: u32,
    base_last_seq: i64,
    /// Seqs of messages by others that arrived after `base_last_seq` and are not read yet.
    arrived: BTreeSet<i64>,
}

impl RoomCounter {
    /// Starts from the server's view of the room.
    pub fn new(room: &RoomSummary) -> Self {
        Self {
            kind: room.kind,
            name: room.name.clone(),
            last_seq: room.last_seq,
            base_unread: room.unread,
            base_last_seq: room.last_seq,
            arrived: BTreeSet::new(),
        }
    }

    /// Takes a newer server view, keeping messages that arrived after it was read.
    pub fn reseed(&mut self, room: &RoomSummary) {
        self.kind = room.kind;
        self.name.clone_from(&room.name);
        self.base_unread = room.unread;
        self.base_last_seq = room.last_seq;
        self.arrived = self.arrived.split_off(&(room.last_seq + 1));
        self.last_seq = self.last_seq.max(room.last_seq);
    }

    /// How many messages by others are unread, at most [`UNREAD_CAP`].
    pub fn unread(&self) -> u32 {
        let arrived = u32::try_from(self.arrived.len()).unwrap_or(UNREAD_CAP);
        self.base_unread.saturating_add(arrived).min(UNREAD_CAP)
    }

    /// A message arrived live; `mine` messages never count.
    pub fn message(&mut self, seq: i64, mine: bool) {
        self.last_seq = self.last_seq.max(seq);
        if !mine && seq > self.base_last_seq {
            self.arrived.insert(seq);
            // Past the cap the exact seqs no longer matter; keep memory flat.
            if self.arrived.len() > UNREAD_CAP as usize {
                self.arrived.pop_first();
            }
        }
    }

    /// The user read up to `seq` (here or on another device).
    pub fn read(&mut self, seq: i64) {
        if seq >= self.base_last_seq {
            self.base_unread = 0;
        }
        self.arrived = self.arrived.split_off(&(seq + 1));
    }
}

/// "3", or "999+" past the cap.
pub fn badge_text(unread: u32) -> String {
    if unread >= UNREAD_CAP {
        format!("{}+", UNREAD_CAP - 1)
    } else {
        unread.to_string()
    }
}

/// Whether `body` mentions `@name` (ignoring case, not as part of a longer name).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn mentions(body: &str, name: &str) -> bool {
    let body = body.to_lowercase();
    let needle = format!("@{}", name.to_lowercase());
    body.match_indices(&needle).any(|(at, _)| {
        let before_ok = body[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !is_name_char(c));
        let after_ok = body[at + needle.len()..]
            .chars()
            .next()
            .is_none_or(|c| !is_name_char(c));
        before_ok && after_ok
    })
}

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-' || c == '.'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(last_seq: i64, unread: u32) -> RoomSummary {
        RoomSummary {
            id: 1,
            kind: RoomKind::Public,
            name: "general".into(),
            topic: None,
            last_seq,
            unread,
        }
    }

    #[test]
    fn counts_what_arrives_and_clears_what_is_read() {
        let mut c = RoomCounter::new(&room(10, 2));
        assert_eq!(c.unread(), 2);
        c.message(11, false);
        c.message(12, true);
        c.message(13, false);
        assert_eq!((c.unread(), c.last_seq), (4, 13));
        // Read on another device up to 11: the base and 11 are read, 13 is not.
        c.read(11);
        assert_eq!(c.unread(), 1);
        c.read(13);
        assert_eq!(c.unread(), 0);
        // A repeat of a message already counted counts once.
        c.message(14, false);
        c.message(14, false);
        assert_eq!(c.unread(), 1);
    }

    #[test]
    fn a_read_older_than_the_load_leaves_the_base() {
        let mut c = RoomCounter::new(&room(10, 5));
        c.read(4);
        assert_eq!(c.unread(), 5);
    }

    #[test]
    fn a_reload_keeps_what_arrived_after_it() {
        let mut c = RoomCounter::new(&room(10, 0));
        c.message(11, false);
        c.message(12, false);
        // The server read the sidebar after 11 but before 12.
        c.reseed(&room(11, 1));
        assert_eq!(c.unread(), 2);
    }

    #[test]
    fn counts_stop_at_the_cap() {
        let mut c = RoomCounter::new(&room(0, UNREAD_CAP - 1));
        for seq in 1..=5 {
            c.message(seq, false);
        }
        assert_eq!(c.unread(), UNREAD_CAP);
        assert_eq!(badge_text(c.unread()), "999+");
        assert_eq!(badge_text(7), "7");
    }

    #[test]
    fn mentions_need_the_whole_name() {
        assert!(mentions("hey @Bob, look", "bob"));
        assert!(mentions("@bob", "bob"));
        assert!(!mentions("hey @bobby", "bob"));
        assert!(!mentions("mail bob@bob.org", "bob"));
        assert!(!mentions("bob without at", "bob"));
        assert!(mentions("x @bobby and @bob", "bob"));
    }
}
