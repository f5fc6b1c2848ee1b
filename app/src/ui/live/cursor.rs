//! How far a room's screen is caught up, by rev. Every change in a room (a post, an edit, a
//! delete) takes the room's next rev, and each reaches an open socket as one frame; but frames
//! of two commits may overtake each other on their way, so "the newest rev seen" is not a safe
//! place to catch up from after a reconnect. The cursor is the highest rev below which every
//! change has been seen; revs seen beyond a gap wait until the gap closes.

use std::collections::BTreeSet;

/// A room's catch-up position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevCursor {
    /// Every change up to this rev has been seen (or superseded by one that was).
    base: i64,
    /// Revs seen above `base`, with a gap below them.
    ahead: BTreeSet<i64>,
}

/// Revs held beyond a gap before the cursor stops waiting for it: a gap that long means frames
/// were lost, and catching up from `base` fetches them anyway.
const MAX_AHEAD: usize = 1024;

impl RevCursor {
    /// A cursor at `base`: the room's rev when its page was read.
    pub fn new(base: i64) -> Self {
        Self {
            base,
            ahead: BTreeSet::new(),
        }
    }

    /// Where to catch up from: everything after this rev may be missing.
    pub fn base(&self) -> i64 {
        self.base
    }

    /// Where a hole starts: a change after this rev is missing while a later one was seen.
    /// `None` when every change seen follows on from the base.
    pub fn hole(&self) -> Option<i64> {
        (!self.ahead.is_empty()).then_some(self.base)
    }

    /// A live frame carried the change with this rev.
    pub fn seen(&mut self, rev: i64) {
        if rev <= self.base {
            return;
        }
        self.ahead.insert(rev);
        self.close_up();
        if self.ahead.len() > MAX_AHEAD {
            // Keep memory bounded; the next catch-up starts at `base` and fills the gap.
            self.ahead.clear();
        }
    }

    /// A catch-up answer held every change up to `rev` (in rev order, each message's newest
    /// state: the revs it skips were superseded by those it holds).
    pub fn caught_up(&mut self, rev: i64) {
        if rev > self.base {
            self.base = rev;
            self.ahead.retain(|r| *r > rev);
            self.close_up();
        }
    }

    /// Moves the base over the revs seen right after it.
    fn close_up(&mut self) {
        while self.ahead.first() == Some(&(self.base + 1)) {
            self.ahead.pop_first();
            self.base += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_changes_move_the_cursor() {
        let mut c = RevCursor::new(10);
        c.seen(11);
        c.seen(12);
        assert_eq!(c.base(), 12);
        c.seen(12);
        c.seen(3);
        assert_eq!(c.base(), 12);
    }

    #[test]
    fn a_gap_holds_the_cursor_until_it_closes() {
        let mut c = RevCursor::new(10);
        c.seen(12);
        c.seen(13);
        assert_eq!(c.base(), 10, "11 is missing: catch up from 10");
        c.seen(11);
        assert_eq!(c.base(), 13);
    }

    #[test]
    fn a_hole_is_where_the_missing_change_would_follow() {
        let mut c = RevCursor::new(10);
        c.seen(11);
        assert_eq!(c.hole(), None);
        c.seen(13);
        assert_eq!(c.hole(), Some(11), "12 is missing");
        c.seen(12);
        assert_eq!(c.hole(), None);
        c.seen(20);
        c.caught_up(19);
        assert_eq!(c.hole(), None, "a catch-up to 19 closes the hole below 20");
        assert_eq!(c.base(), 20, "and the base moves on over 20, seen before");
    }

    #[test]
    fn a_catch_up_closes_every_gap_below_it() {
        let mut c = RevCursor::new(10);
        c.seen(12);
        c.seen(15);
        c.caught_up(13);
        assert_eq!(c.base(), 13);
        c.seen(14);
        assert_eq!(c.base(), 15);
        c.caught_up(9);
        assert_eq!(c.base(), 15);
    }

    #[test]
    fn what_waits_beyond_a_gap_is_bounded() {
        let mut c = RevCursor::new(0);
        for rev in 2..(MAX_AHEAD as i64 + 10) {
            c.seen(rev);
        }
        assert!(c.ahead.len() <= MAX_AHEAD);
        assert_eq!(c.base(), 0);
    }
}
