//! How a list of messages reads, in the room and in the thread panel: a run of messages by one
//! author within a few minutes is grouped under one name, a separator opens each day, and a
//! divider marks the first message that was unread when the room opened.

use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::model::Message;
use crate::ui::local_time::{day_of, DayLabel};

/// Messages by one author this close to the one before them join its group.
const GROUP_WITHIN_MS: i64 = 5 * 60 * 1000;

/// One message with how it sits among its neighbours.
#[derive(Clone)]
pub(super) struct Entry {
    pub message: Message,
    /// It continues the group of the message before: the same author, a few minutes later, the
    /// same day, no divider between. Its name is left for screen readers only.
    pub compact: bool,
    /// It is the first message of its day (`YYYYMMDD`), which gets a separator above it.
    pub day: Option<i64>,
    /// The "New messages" divider stands above it.
    pub first_unread: bool,
}

impl Entry {
    /// What a keyed list tells entries apart by: a message is drawn again when its state or
    /// its place among its neighbours changes, and only then.
    pub fn key(&self) -> (i64, i64, bool, Option<i64>, bool) {
        (
            self.message.seq,
            self.message.rev,
            self.compact,
            self.day,
            self.first_unread,
        )
    }
}

/// `messages` in order, each with its place: days in UTC until `local` (see
/// [`crate::ui::local_time::local_after_hydration`]), the divider above `first_unread`.
pub(super) fn entries<'a>(
    messages: impl IntoIterator<Item = &'a Message>,
    local: bool,
    first_unread: Option<i64>,
) -> Vec<Entry> {
    let mut previous: Option<(&Message, i64)> = None;
    let mut out = Vec::new();
    for message in messages {
        let day = day_of(message.created_at, local);
        let unread = first_unread == Some(message.seq);
        let compact = previous.is_some_and(|(before, before_day)| {
            before_day == day
                && !unread
                && !before.is_deleted()
                && !message.is_deleted()
                && before.event.is_none()
                && message.event.is_none()
                && before.author == message.author
                && before.persona_name == message.persona_name
                && (0..=GROUP_WITHIN_MS).contains(&(message.created_at - before.created_at))
        });
        out.push(Entry {
            message: message.clone(),
            compact,
            day: (previous.map(|(_, d)| d) != Some(day)).then_some(day),
            first_unread: unread,
        });
        previous = Some((message, day));
    }
    out
}

/// The first message after `last_read` that someone else wrote (not a timeline event): where
/// "New messages" begins when a room opens.
pub(super) fn first_unread(
    messages: &BTreeMap<i64, Message>,
    last_read: i64,
    viewer: &str,
) -> Option<i64> {
    messages
        .range(last_read + 1..)
        .find(|(_, m)| m.event.is_none() && !m.author.eq_ignore_ascii_case(viewer))
        .map(|(seq, _)| *seq)
}

/// What stands above a message: its day's separator and the "New messages" divider. Plain text
/// in the log, not `role="separator"`, whose content screen readers would not read.
#[component]
pub(super) fn Dividers(entry: Entry) -> impl IntoView {
    let ms = entry.message.created_at;
    view! {
        {entry.day.map(|_| view! {
            <div class="day-separator">
                <DayLabel ms/>
            </div>
        })}
        {entry.first_unread.then(|| view! {
            <div class="new-divider" id="new-messages">
                <span>"New messages"</span>
            </div>
        })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn message(seq: i64, author: &str, created_at: i64) -> Message {
        Message {
            seq,
            author: author.to_owned(),
            created_at,
            ..Message::default()
        }
    }

    fn shape(entries: &[Entry]) -> Vec<(i64, bool, bool, bool)> {
        entries
            .iter()
            .map(|e| (e.message.seq, e.compact, e.day.is_some(), e.first_unread))
            .collect()
    }

    #[test]
    fn groups_one_author_within_minutes_and_splits_days_and_unread() {
        let start = 20_000 * DAY + 10 * 3_600_000;
        let list = [
            message(1, "ana", start),
            message(2, "ana", start + 60_000),
            message(3, "bo", start + 120_000),
            message(4, "bo", start + 120_000 + GROUP_WITHIN_MS + 1),
            message(5, "bo", start + 130_000 + GROUP_WITHIN_MS),
            message(6, "bo", start + DAY),
            message(7, "bo", start + DAY + 1_000),
        ];
        let got = entries(&list, false, Some(5));
        assert_eq!(
            shape(&got),
            vec![
                (1, false, true, false),
                (2, true, false, false),
                (3, false, false, false),
                (4, false, false, false),
                (5, false, false, true),
                (6, false, true, false),
                (7, true, false, false),
            ]
        );
    }

    #[test]
    fn a_deleted_message_never_joins_a_group() {
        let mut gone = message(2, "ana", 61_000);
        gone.deleted_at = Some(62_000);
        let list = [message(1, "ana", 60_000), gone, message(3, "ana", 63_000)];
        let got = entries(&list, false, None);
        assert_eq!(
            shape(&got),
            vec![
                (1, false, true, false),
                (2, false, false, false),
                (3, false, false, false)
            ]
        );
    }

    #[test]
    fn unread_starts_at_someone_elses_message() {
        let all: BTreeMap<i64, Message> = [
            message(1, "ana", 0),
            message(2, "me", 1),
            message(3, "ana", 2),
        ]
        .into_iter()
        .map(|m| (m.seq, m))
        .collect();
        assert_eq!(first_unread(&all, 1, "Me"), Some(3));
        assert_eq!(first_unread(&all, 3, "me"), None);
    }
}
