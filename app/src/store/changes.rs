//! Edits, deletes and reactions, shared by every backend. Who may change which message, what a
//! retried change answers, how a reaction toggles, and when a change is no change at all are
//! the same whatever database is behind the store; each backend reads the facts inside its
//! transaction, asks [`decide`], and writes what it says, bumping the room's rev in the same
//! commit.

use super::rows::Target;
use super::{StoreError, StoreResult};
use crate::model::{LinkPreview, Message, Reaction, RoomId, RoomKind, UserId};
use crate::rights::Action;
use crate::validate::MAX_REACTIONS_PER_MESSAGE;

/// What is done to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind<'a> {
    /// Replace the text (already validated and trimmed), rendered as `html` (empty: when first
    /// read) with these mentions.
    Edit {
        body: &'a str,
        html: &'a str,
        mentions: &'a [String],
    },
    /// Delete it, leaving a tombstone.
    Delete,
    /// Add this reaction (already validated) of the user's, or take it back if it is there.
    React { emoji: &'a str },
    /// Pin it to the room (`true`) or unpin it.
    Pin { pinned: bool },
    /// Show this card of the message's first link (found by the server, for the author), or
    /// remove the card (`None`, asked by the author).
    Preview { preview: Option<&'a LinkPreview> },
}

/// A change asked for by `user_id` to the message at `seq` of `room_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageChange<'a> {
    pub user_id: UserId,
    pub room_id: RoomId,
    pub seq: i64,
    /// The client's id for this change; a retry with the same id changes nothing more.
    pub client_id: Option<&'a str>,
    pub kind: ChangeKind<'a>,
}

/// A change as stored: the message's state afterwards, and whether this call changed it (a
/// retry, a delete of a tombstone or an edit to the same text did not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub message: Message,
    pub changed: bool,
    /// The thread's root, when deleting a reply changed its count.
    pub root: Option<Message>,
}

/// Whether to write the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Apply,
    /// Allowed, but it would change nothing.
    Unchanged,
}

/// The rule for every backend: authors edit their own messages, which must not be deleted;
/// authors delete their own, and whoever [`crate::rights`] lets delete others' messages (a
/// named room's moderators and owners, and instance admins) delete anyone's. (A DM has no
/// moderator: admins cannot even see it.)
pub(crate) fn decide(change: &MessageChange<'_>, target: &Target) -> StoreResult<Decision> {
    let own = target.author_id == change.user_id;
    if target.event {
        return Err(StoreError::Invalid(
            "That is a note of a change to the room; it cannot be changed.".into(),
        ));
    }
    if change.kind != ChangeKind::Delete {
        if let Some(why) = target.standing.refusal(Action::Respond) {
            return Err(StoreError::Forbidden(why.into()));
        }
    }
    match change.kind {
        ChangeKind::Edit { .. } if !own => Err(StoreError::Forbidden(
            "You can only edit your own messages.".into(),
        )),
        ChangeKind::Edit { .. } if target.deleted => Err(StoreError::Invalid(
            "That message was deleted; it cannot be edited.".into(),
        )),
        ChangeKind::Edit { body, .. } if body == target.body => Ok(Decision::Unchanged),
        ChangeKind::Edit { .. } => Ok(Decision::Apply),
        ChangeKind::Delete if target.deleted => Ok(Decision::Unchanged),
        ChangeKind::Delete if own || target.standing.may(Action::DeleteOthers) => {
            Ok(Decision::Apply)
        }
        ChangeKind::React { .. } if target.deleted => Err(StoreError::Invalid(
            "That message was deleted; it cannot be reacted to.".into(),
        )),
        ChangeKind::React { emoji } => {
            toggled(target, emoji)?;
            Ok(Decision::Apply)
        }
        ChangeKind::Pin { .. } if target.deleted => Err(StoreError::Invalid(
            "That message was deleted; it cannot be pinned.".into(),
        )),
        ChangeKind::Pin { .. } if !target.standing.may(Action::Pin) => Err(StoreError::Forbidden(
            target
                .standing
                .refusal(Action::Pin)
                .unwrap_or_default()
                .into(),
        )),
        ChangeKind::Pin { pinned } if pinned == target.pinned => Ok(Decision::Unchanged),
        ChangeKind::Pin { .. } => Ok(Decision::Apply),
        ChangeKind::Preview { .. } if !own => Err(StoreError::Forbidden(
            "You can only remove the preview of your own messages.".into(),
        )),
        ChangeKind::Preview { .. } if target.deleted => Ok(Decision::Unchanged),
        ChangeKind::Preview { preview: None } if !target.preview => Ok(Decision::Unchanged),
        // Fetched for a link the message no longer starts with: an edit came first.
        ChangeKind::Preview { preview: Some(p) }
            if crate::markdown::first_link(&target.body).as_deref() != Some(p.url.as_str()) =>
        {
            Ok(Decision::Unchanged)
        }
        ChangeKind::Preview { .. } => Ok(Decision::Apply),
        ChangeKind::Delete if target.standing.kind == RoomKind::Dm => Err(StoreError::Forbidden(
            "You can only delete your own messages.".into(),
        )),
        ChangeKind::Delete => Err(StoreError::Forbidden(
            target
                .standing
                .refusal(Action::DeleteOthers)
                .unwrap_or_default()
                .into(),
        )),
    }
}

/// The columns a change writes to its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written<'a> {
    pub body: &'a str,
    /// Set by an edit; `None` keeps the stored value.
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
    /// The reactions column (JSON), or `None` for none.
    pub reactions: Option<String>,
    /// The `html` and `mentions` columns to write, or `None` to keep them (a reaction).
    pub text: Option<(Option<String>, Option<String>)>,
    /// The pin to write: `Some(Some(at))` pins, `Some(None)` unpins, `None` keeps it.
    pub pin: Option<Option<i64>>,
    /// The preview to write (its JSON and its thumbnail's hash): `Some(None)` removes it,
    /// `None` keeps it.
    pub preview: Option<Option<(String, Option<String>)>>,
}

/// What `change`, allowed by [`decide`], writes at time `at`. A tombstone keeps its uid, seq,
/// author and time; its words and reactions go.
pub(crate) fn written<'a>(
    change: &MessageChange<'a>,
    target: &'a Target,
    at: i64,
) -> StoreResult<Written<'a>> {
    let reactions = |list: &[Reaction]| super::rows::list_json(list);
    Ok(match change.kind {
        ChangeKind::Edit {
            body,
            html,
            mentions,
        } => Written {
            body,
            edited_at: Some(at),
            deleted_at: None,
            reactions: reactions(&target.reactions),
            text: Some((
                Some(super::rendered(body, html, mentions)),
                super::rows::list_json(mentions),
            )),
            pin: None,
            // A card stays while the message still starts with its link.
            preview: (crate::markdown::first_link(body)
                != crate::markdown::first_link(&target.body))
            .then_some(None),
        },
        ChangeKind::Delete => Written {
            body: "",
            edited_at: None,
            deleted_at: Some(at),
            reactions: None,
            text: Some((None, None)),
            // A deleted message is no longer pinned, and shows no card.
            pin: Some(None),
            preview: Some(None),
        },
        ChangeKind::React { emoji } => Written {
            body: &target.body,
            edited_at: None,
            deleted_at: None,
            reactions: reactions(&toggled(target, emoji)?),
            text: None,
            pin: None,
            preview: None,
        },
        ChangeKind::Pin { pinned } => Written {
            body: &target.body,
            edited_at: None,
            deleted_at: None,
            reactions: reactions(&target.reactions),
            text: None,
            pin: Some(pinned.then_some(at)),
            preview: None,
        },
        ChangeKind::Preview { preview } => Written {
            body: &target.body,
            edited_at: None,
            deleted_at: None,
            reactions: reactions(&target.reactions),
            text: None,
            pin: None,
            preview: Some(preview.map(|p| {
                (
                    serde_json::to_string(p).unwrap_or_default(),
                    p.image.as_ref().map(|i| i.sha256.clone()),
                )
            })),
        },
    })
}

/// The message's reactions after the user toggles `emoji`: taken back if they had given it
/// (an emoji nobody gives any more goes), otherwise added after the others. A message carries
/// at most [`MAX_REACTIONS_PER_MESSAGE`] different emoji.
pub(crate) fn toggled(target: &Target, emoji: &str) -> StoreResult<Vec<Reaction>> {
    let mut reactions = target.reactions.clone();
    let me = target.user_name.as_str();
    match reactions.iter().position(|r| r.emoji == emoji) {
        Some(i) if reactions[i].by(me) => {
            reactions[i].users.retain(|u| !u.eq_ignore_ascii_case(me));
            if reactions[i].users.is_empty() {
                reactions.remove(i);
            }
        }
        Some(i) => reactions[i].users.push(me.to_owned()),
        None if reactions.len() >= MAX_REACTIONS_PER_MESSAGE => {
            return Err(StoreError::Invalid(format!(
                "A message can carry at most {MAX_REACTIONS_PER_MESSAGE} different reactions."
            )));
        }
        None => reactions.push(Reaction {
            emoji: emoji.to_owned(),
            users: vec![me.to_owned()],
        }),
    }
    Ok(reactions)
}

/// The answer to a change whose client id was used before, for the message at `(room, seq)`:
/// the same message is a retry (nothing more is done); another is a mistake.
pub(crate) fn retry(change: &MessageChange<'_>, earlier: (RoomId, i64)) -> StoreResult<()> {
    if earlier == (change.room_id, change.seq) {
        Ok(())
    } else {
        Err(StoreError::Invalid(
            "That client id was already used for another change.".into(),
        ))
    }
}

/// No message at that seq (or the room hides it).
pub(crate) fn no_such_message() -> StoreError {
    StoreError::NotFound("That message does not exist.".into())
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::Role;
    use crate::rights::Standing;

    fn standing(kind: RoomKind, role: Option<Role>, admin: bool) -> Standing {
        Standing::in_open_room(kind, role, admin)
    }

    fn target(author: UserId) -> Target {
        Target {
            author_id: author,
            body: "hello".into(),
            deleted: false,
            standing: standing(RoomKind::Public, Some(Role::Member), false),
            user_name: "bob".into(),
            reactions: Vec::new(),
            event: false,
            pinned: false,
            preview: false,
        }
    }

    #[test]
    fn a_card_is_set_for_the_current_first_link_and_removed_by_its_author_only() {
        let card = LinkPreview {
            url: "https://a.example/".into(),
            title: "A".into(),
            ..LinkPreview::default()
        };
        let set = ChangeKind::Preview {
            preview: Some(&card),
        };
        let linked = Target {
            body: "look https://a.example/".into(),
            ..target(1)
        };
        assert_eq!(decide(&change(1, set), &linked).ok(), Some(Decision::Apply));
        // Edited to another link before the fetch ended: nothing is written.
        let edited = Target {
            body: "now https://b.example/".into(),
            ..target(1)
        };
        assert_eq!(
            decide(&change(1, set), &edited).ok(),
            Some(Decision::Unchanged)
        );
        let remove = ChangeKind::Preview { preview: None };
        let shown = Target {
            preview: true,
            ..linked.clone()
        };
        assert_eq!(
            decide(&change(1, remove), &shown).ok(),
            Some(Decision::Apply)
        );
        assert_eq!(
            decide(&change(1, remove), &linked).ok(),
            Some(Decision::Unchanged)
        );
        let moderator = Target {
            standing: standing(RoomKind::Public, Some(Role::Moderator), false),
            ..shown
        };
        assert!(matches!(
            decide(&change(2, remove), &moderator),
            Err(StoreError::Forbidden(_))
        ));
        // An edit keeping the link keeps the card; one changing it drops it.
        let keep = ChangeKind::Edit {
            body: "look again https://a.example/",
            html: "",
            mentions: &[],
        };
        assert_eq!(written(&change(1, keep), &linked, 5).unwrap().preview, None);
        let other = ChangeKind::Edit {
            body: "https://c.example/",
            html: "",
            mentions: &[],
        };
        assert_eq!(
            written(&change(1, other), &linked, 5).unwrap().preview,
            Some(None)
        );
    }

    fn change(user: UserId, kind: ChangeKind<'_>) -> MessageChange<'_> {
        MessageChange {
            user_id: user,
            room_id: 1,
            seq: 4,
            client_id: None,
            kind,
        }
    }

    #[test]
    fn moderators_pin_once_never_a_tombstone_or_an_event() {
        let pin = ChangeKind::Pin { pinned: true };
        // A member, even the author, does not pin in a named room.
        assert!(matches!(
            decide(&change(1, pin), &target(1)),
            Err(StoreError::Forbidden(_))
        ));
        let moderated = Target {
            standing: standing(RoomKind::Public, Some(Role::Moderator), false),
            ..target(1)
        };
        assert_eq!(
            decide(&change(2, pin), &moderated).ok(),
            Some(Decision::Apply)
        );
        let pinned = Target {
            pinned: true,
            ..moderated.clone()
        };
        assert_eq!(
            decide(&change(2, pin), &pinned).ok(),
            Some(Decision::Unchanged)
        );
        let unpin = ChangeKind::Pin { pinned: false };
        assert_eq!(
            decide(&change(2, unpin), &pinned).ok(),
            Some(Decision::Apply)
        );
        let gone = Target {
            deleted: true,
            ..moderated.clone()
        };
        assert!(matches!(
            decide(&change(2, pin), &gone),
            Err(StoreError::Invalid(_))
        ));
        let event = Target {
            event: true,
            ..moderated
        };
        assert!(matches!(
            decide(&change(2, pin), &event),
            Err(StoreError::Invalid(_))
        ));
        // In a conversation either member pins.
        let dm = Target {
            standing: standing(RoomKind::Dm, Some(Role::Member), false),
            ..target(1)
        };
        assert_eq!(decide(&change(2, pin), &dm).ok(), Some(Decision::Apply));
        // Deleting a pinned message unpins it.
        let w = written(&change(1, ChangeKind::Delete), &pinned, 5).unwrap();
        assert_eq!(w.pin, Some(None));
    }

    #[test]
    fn only_authors_edit_and_never_a_tombstone() {
        let edit = ChangeKind::Edit {
            body: "hi",
            html: "",
            mentions: &[],
        };
        assert_eq!(
            decide(&change(1, edit), &target(1)).ok(),
            Some(Decision::Apply)
        );
        assert!(matches!(
            decide(&change(2, edit), &target(1)),
            Err(StoreError::Forbidden(_))
        ));
        // Not even the room's owner or an admin edits someone else's words.
        let admin = Target {
            standing: standing(RoomKind::Public, Some(Role::Owner), true),
            ..target(1)
        };
        assert!(decide(&change(9, edit), &admin).is_err());
        let gone = Target {
            deleted: true,
            ..target(1)
        };
        assert!(matches!(
            decide(&change(1, edit), &gone),
            Err(StoreError::Invalid(_))
        ));
        let same = ChangeKind::Edit {
            body: "hello",
            html: "",
            mentions: &[],
        };
        assert_eq!(
            decide(&change(1, same), &target(1)).ok(),
            Some(Decision::Unchanged)
        );
    }

    #[test]
    fn deletes_by_author_moderators_or_admin_in_named_rooms_only() {
        let delete = ChangeKind::Delete;
        assert_eq!(
            decide(&change(1, delete), &target(1)).ok(),
            Some(Decision::Apply)
        );
        assert!(matches!(
            decide(&change(2, delete), &target(1)),
            Err(StoreError::Forbidden(_))
        ));
        for kind in [RoomKind::Public, RoomKind::Private] {
            for (role, admin) in [
                (Some(Role::Moderator), false),
                (Some(Role::Owner), false),
                (Some(Role::Member), true),
            ] {
                let moderator = Target {
                    standing: standing(kind, role, admin),
                    ..target(1)
                };
                assert_eq!(
                    decide(&change(2, delete), &moderator).ok(),
                    Some(Decision::Apply),
                    "{kind:?} {role:?} admin {admin}"
                );
            }
        }
        let dm = Target {
            standing: standing(RoomKind::Dm, Some(Role::Member), true),
            ..target(1)
        };
        assert!(decide(&change(9, delete), &dm).is_err());
        assert_eq!(decide(&change(1, delete), &dm).ok(), Some(Decision::Apply));
        let gone = Target {
            deleted: true,
            ..target(1)
        };
        assert_eq!(
            decide(&change(1, delete), &gone).ok(),
            Some(Decision::Unchanged)
        );
    }

    #[test]
    fn a_client_id_names_one_change() {
        let c = change(1, ChangeKind::Delete);
        assert!(retry(&c, (1, 4)).is_ok());
        assert!(retry(&c, (1, 5)).is_err());
        assert!(retry(&c, (2, 4)).is_err());
    }

    #[test]
    fn a_reaction_toggles_and_is_counted_per_person() {
        let mut t = target(1);
        let thumbs = ChangeKind::React { emoji: "👍" };
        assert_eq!(decide(&change(2, thumbs), &t).ok(), Some(Decision::Apply));
        t.reactions = toggled(&t, "👍").unwrap();
        assert_eq!(t.reactions[0].users, ["bob"]);
        t.user_name = "carol".into();
        t.reactions = toggled(&t, "👍").unwrap();
        t.reactions = toggled(&t, "🎉").unwrap();
        assert_eq!(t.reactions[0].users, ["bob", "carol"]);
        assert_eq!(t.reactions[1].emoji, "🎉");
        // Taken back; an emoji nobody gives any more goes.
        t.reactions = toggled(&t, "🎉").unwrap();
        assert_eq!(t.reactions.len(), 1);
        t.user_name = "BOB".into();
        t.reactions = toggled(&t, "👍").unwrap();
        assert_eq!(t.reactions[0].users, ["carol"]);
        // A tombstone takes none, and a message takes only so many different ones.
        let gone = Target {
            deleted: true,
            ..target(1)
        };
        assert!(decide(&change(2, thumbs), &gone).is_err());
        let mut full = target(1);
        for i in 0..MAX_REACTIONS_PER_MESSAGE {
            full.reactions.push(Reaction {
                emoji: format!("e{i}"),
                users: vec!["x".into()],
            });
        }
        assert!(matches!(toggled(&full, "👍"), Err(StoreError::Invalid(_))));
        assert!(
            toggled(&full, "e3").is_ok(),
            "joining an existing one is fine"
        );
    }
}
