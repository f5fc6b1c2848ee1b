//! Unread counts as the browser keeps them between sidebar loads: the server's count at load,
//! plus messages by others that arrived live since, minus what the user read on any device.
//! Mentions of the user are counted the same way, by the server's word (a message's
//! `mentions`), never by the browser reading the text.

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
    /// Of the unread at load, how many mention the user.
    base_mentions: u32,
    /// Of `arrived`, those that mention the user.
    mentioned: BTreeSet<i64>,
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
            base_mentions: room.mentions,
            mentioned: BTreeSet::new(),
        }
    }

    /// Takes a newer server view, keeping messages that arrived after it was read.
    pub fn reseed(&mut self, room: &RoomSummary) {
        self.kind = room.kind;
        self.name.clone_from(&room.name);
        self.base_unread = room.unread;
        self.base_last_seq = room.last_seq;
        self.arrived = self.arrived.split_off(&(room.last_seq + 1));
        self.base_mentions = room.mentions;
        self.mentioned = self.mentioned.split_off(&(room.last_seq + 1));
        self.last_seq = self.last_seq.max(room.last_seq);
    }

    /// How many unread messages mention the user, at most [`UNREAD_CAP`].
    pub fn mentions(&self) -> u32 {
        let arrived = u32::try_from(self.mentioned.len()).unwrap_or(UNREAD_CAP);
        self.base_mentions.saturating_add(arrived).min(UNREAD_CAP)
    }

    /// How many messages by others are unread, at most [`UNREAD_CAP`].
    pub fn unread(&self) -> u32 {
        let arrived = u32::try_from(self.arrived.len()).unwrap_or(UNREAD_CAP);
        self.base_unread.saturating_add(arrived).min(UNREAD_CAP)
    }

    /// A message arrived live; `mine` messages never count. `mentions_me`: the server says it
    /// mentions the user.
    pub fn message(&mut self, seq: i64, mine: bool, mentions_me: bool) {
        self.last_seq = self.last_seq.max(seq);
        if !mine && seq > self.base_last_seq {
            self.arrived.insert(seq);
            if mentions_me {
                self.mentioned.insert(seq);
            }
            // Past the cap the exact seqs no longer matter; keep memory flat.
            if self.arrived.len() > UNREAD_CAP as usize {
                self.arrived.pop_first();
            }
            if self.mentioned.len() > UNREAD_CAP as usize {
                self.mentioned.pop_first();
            }
        }
    }

    /// A message that arrived live and is still unread was edited or deleted: an edit may add
    /// or take away a mention; a deleted message is no longer unread.
    pub fn changed(&mut self, seq: i64, deleted: bool, mentions_me: bool) {
        if !self.arrived.contains(&seq) {
            return;
        }
        if deleted {
            self.arrived.remove(&seq);
        }
        if mentions_me && !deleted {
            self.mentioned.insert(seq);
        } else {
            self.mentioned.remove(&seq);
        }
    }

    /// The user read up to `seq` (here or on another device).
    pub fn read(&mut self, seq: i64) {
        if seq >= self.base_last_seq {
            self.base_unread = 0;
            self.base_mentions = 0;
        }
        self.arrived = self.arrived.split_off(&(seq + 1));
        self.mentioned = self.mentioned.split_off(&(seq + 1));
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
            mentions: 0,
        }
    }

    #[test]
    fn counts_what_arrives_and_clears_what_is_read() {
        let mut c = RoomCounter::new(&room(10, 2));
        assert_eq!(c.unread(), 2);
        c.message(11, false, false);
        c.message(12, true, false);
        c.message(13, false, false);
        assert_eq!((c.unread(), c.last_seq), (4, 13));
        // Read on another device up to 11: the base and 11 are read, 13 is not.
        c.read(11);
        assert_eq!(c.unread(), 1);
        c.read(13);
        assert_eq!(c.unread(), 0);
        // A repeat of a message already counted counts once.
        c.message(14, false, false);
        c.message(14, false, false);
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
        c.message(11, false, false);
        c.message(12, false, false);
        // The server read the sidebar after 11 but before 12.
        c.reseed(&room(11, 1));
        assert_eq!(c.unread(), 2);
    }

    #[test]
    fn counts_stop_at_the_cap() {
        let mut c = RoomCounter::new(&room(0, UNREAD_CAP - 1));
        for seq in 1..=5 {
            c.message(seq, false, false);
        }
        assert_eq!(c.unread(), UNREAD_CAP);
        assert_eq!(badge_text(c.unread()), "999+");
        assert_eq!(badge_text(7), "7");
    }

    #[test]
    fn mentions_count_apart_and_follow_reads_and_edits() {
        let mut c = RoomCounter::new(&RoomSummary {
            mentions: 1,
            ..room(10, 3)
        });
        assert_eq!(c.mentions(), 1);
        c.message(11, false, true);
        c.message(12, false, false);
        c.message(13, true, true);
        assert_eq!((c.unread(), c.mentions()), (5, 2));
        // An edit that names the user counts; deleting a mention takes it away.
        c.changed(12, false, true);
        assert_eq!(c.mentions(), 3);
        c.changed(11, true, false);
        assert_eq!((c.unread(), c.mentions()), (4, 2));
        c.read(12);
        assert_eq!((c.unread(), c.mentions()), (0, 0));
    }
}
