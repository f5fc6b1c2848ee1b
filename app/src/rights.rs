//! Who may do what in a room, decided here and nowhere else. The store reads a user's standing
//! in the same transaction as the action it guards and asks [`Standing::refusal`]; the room page
//! shows only the controls the same rule allows. Instance admins act as owners in any named
//! room they can see, and that is all: a private room or a conversation they are not in stays
//! invisible to them, as to everyone outside it.

use crate::model::{GroupMentions, Role, RoomKind, RoomView};

/// Where a user stands in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub kind: RoomKind,
    /// Their role, or `None` when they are not a member. A conversation's members are all
    /// `Member`.
    pub role: Option<Role>,
    /// They are an instance admin.
    pub admin: bool,
    /// The room's settings that limit who posts (see [`crate::model::RoomSettings`]).
    pub read_only: bool,
    pub archived: bool,
}

/// Something done in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read its history (and be a member at all).
    Take,
    /// Post to its timeline (a read-only room: moderators and up; an archived one: no one).
    Post,
    /// Reply in a thread, react, or edit one's own message (anyone in it, unless it is
    /// archived: its messages are then kept as they are).
    Respond,
    /// Pin a message, or unpin it (in a conversation, either member).
    Pin,
    /// Change its name, topic or description.
    EditDetails,
    /// Make it private or public, read-only or open, archived or not.
    Configure,
    /// Ban a member who has this role (or, with `None`, someone not in it), or lift a ban.
    Ban(Option<Role>),
    /// Add someone to it.
    Invite,
    /// Make, list or revoke its incoming webhooks (which post as bots of their own).
    ManageHooks,
    /// Delete someone else's message.
    DeleteOthers,
    /// Remove a member who has this role.
    Remove(Role),
    /// Change a member's role from one to the other.
    SetRole { from: Role, to: Role },
    /// Notify the whole room with `@room` or `@here`, which the room's setting allows to this
    /// many (a conversation has no such mentions).
    MentionGroup(GroupMentions),
    /// Delete the room with its whole history (instance admins only, from the admin console;
    /// a room's owners archive it instead).
    Delete,
}

impl Standing {
    /// The viewer's standing in the room a page shows, to offer only what they may do.
    pub fn of(view: &RoomView) -> Self {
        Standing {
            kind: view.room.kind,
            role: view.role,
            admin: view.admin,
            read_only: view.settings.read_only,
            archived: view.settings.archived,
        }
    }

    /// A standing in a room that is neither read-only nor archived (for tests of the rules
    /// that build on these).
    #[cfg(test)]
    pub(crate) fn in_open_room(kind: RoomKind, role: Option<Role>, admin: bool) -> Self {
        Standing {
            kind,
            role,
            admin,
            read_only: false,
            archived: false,
        }
    }

    /// Whether the room exists at all for this user: a secret room (private, or a
    /// conversation) only for its members.
    pub fn sees(&self) -> bool {
        !self.kind.is_secret() || self.role.is_some()
    }

    /// The role the rules apply: an admin's is the owner's in a named room.
    pub fn acting_role(&self) -> Option<Role> {
        if self.admin && self.kind.is_named() && self.sees() {
            Some(Role::Owner)
        } else {
            self.role
        }
    }

    pub fn may(&self, action: Action) -> bool {
        self.refusal(action).is_none()
    }

    /// `None` when the action is allowed, else what to tell the user.
    pub fn refusal(&self, action: Action) -> Option<&'static str> {
        let dm = self.kind == RoomKind::Dm;
        let member = self.role.is_some();
        let role = self.acting_role();
        match action {
            Action::Take | Action::Post | Action::Respond | Action::MentionGroup(_) if !member => {
                Some("Join this room first.")
            }
            Action::Take => None,
            Action::Post | Action::Respond if self.archived => {
                Some("This room is archived: no one posts in it, and its messages are kept as they are.")
            }
            Action::Post if self.read_only && role < Some(Role::Moderator) => Some(
                "This room is read-only: only its moderators and owners post. You can react and reply in threads.",
            ),
            Action::Post | Action::Respond => None,
            Action::Pin if dm && member => None,
            _ if dm => Some("That cannot be done in a direct conversation: it has no roles."),
            Action::Invite if member => None,
            Action::Invite => Some("Only the room's members can add people to it."),
            Action::DeleteOthers if role >= Some(Role::Moderator) => None,
            Action::DeleteOthers => {
                Some("Only its author, the room's moderators or an admin can delete this message.")
            }
            Action::Remove(target) if role >= Some(Role::Moderator) && role > Some(target) => None,
            Action::Remove(_) if role == Some(Role::Owner) => None,
            Action::Remove(_) if role >= Some(Role::Moderator) => {
                Some("Only the room's owners can remove a moderator or an owner.")
            }
            Action::Remove(_) => Some("Only the room's moderators and owners can remove members."),
            Action::SetRole { .. } if role == Some(Role::Owner) => None,
            Action::SetRole { .. } => Some("Only the room's owners can change roles."),
            Action::Pin if role >= Some(Role::Moderator) => None,
            Action::Pin => Some("Only the room's moderators and owners can pin messages."),
            Action::ManageHooks if role >= Some(Role::Moderator) => None,
            Action::ManageHooks => {
                Some("Only the room's moderators and owners can manage its webhooks.")
            }
            Action::EditDetails if role >= Some(Role::Moderator) => None,
            Action::EditDetails => Some(
                "Only the room's moderators and owners can change its name, topic and description.",
            ),
            Action::Configure if role == Some(Role::Owner) => None,
            Action::Configure => Some("Only the room's owners can change that setting."),
            Action::Ban(target) if role >= Some(Role::Moderator) && role > target => None,
            Action::Ban(_) if role == Some(Role::Owner) => None,
            Action::Ban(_) if role >= Some(Role::Moderator) => {
                Some("Only the room's owners can ban a moderator or an owner.")
            }
            Action::Ban(_) => Some("Only the room's moderators and owners can ban people."),
            Action::Delete if self.admin => None,
            Action::Delete => Some("Only an instance admin can delete a room: archive it instead."),
            Action::MentionGroup(GroupMentions::Everyone) => None,
            Action::MentionGroup(GroupMentions::Moderators) if role >= Some(Role::Moderator) => {
                None
            }
            Action::MentionGroup(GroupMentions::Moderators) => Some(
                "In this room only moderators and owners can notify everyone with @room or @here.",
            ),
            Action::MentionGroup(_) => {
                Some("@room and @here are turned off in this room. Mention people by name.")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLES: [Option<Role>; 4] = [
        None,
        Some(Role::Member),
        Some(Role::Moderator),
        Some(Role::Owner),
    ];

    fn standing(kind: RoomKind, role: Option<Role>, admin: bool) -> Standing {
        Standing::in_open_room(kind, role, admin)
    }

    #[test]
    fn secret_rooms_exist_only_for_their_members_admins_included() {
        for kind in [RoomKind::Private, RoomKind::Dm] {
            assert!(!standing(kind, None, true).sees());
            assert!(standing(kind, Some(Role::Member), false).sees());
            assert_eq!(standing(kind, None, true).acting_role(), None);
        }
        assert!(standing(RoomKind::Public, None, false).sees());
    }

    #[test]
    fn the_matrix_of_roles_and_actions_in_a_named_room() {
        use Role::*;
        for kind in [RoomKind::Public, RoomKind::Private] {
            // (action, lowest role allowed) for each action; `None` when no role suffices.
            let table: &[(Action, Option<Role>)] = &[
                (Action::Take, Some(Member)),
                (Action::Post, Some(Member)),
                (Action::Respond, Some(Member)),
                (Action::Invite, Some(Member)),
                (Action::Pin, Some(Moderator)),
                (Action::EditDetails, Some(Moderator)),
                (Action::ManageHooks, Some(Moderator)),
                (Action::Configure, Some(Owner)),
                (Action::Ban(None), Some(Moderator)),
                (Action::Ban(Some(Member)), Some(Moderator)),
                (Action::Ban(Some(Moderator)), Some(Owner)),
                (Action::Ban(Some(Owner)), Some(Owner)),
                (Action::DeleteOthers, Some(Moderator)),
                (Action::Remove(Member), Some(Moderator)),
                (Action::Remove(Moderator), Some(Owner)),
                (Action::Remove(Owner), Some(Owner)),
                (
                    Action::SetRole {
                        from: Member,
                        to: Moderator,
                    },
                    Some(Owner),
                ),
                (
                    Action::SetRole {
                        from: Owner,
                        to: Member,
                    },
                    Some(Owner),
                ),
            ];
            for &(action, lowest) in table {
                for role in ROLES {
                    let allowed = role.is_some() && role >= lowest;
                    assert_eq!(
                        standing(kind, role, false).may(action),
                        allowed,
                        "{kind:?} {role:?} {action:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_read_only_room_takes_posts_from_moderators_up_and_replies_from_everyone() {
        for role in ROLES {
            let s = Standing {
                read_only: true,
                ..standing(RoomKind::Public, role, false)
            };
            assert_eq!(
                s.may(Action::Post),
                role >= Some(Role::Moderator),
                "{role:?}"
            );
            assert_eq!(s.may(Action::Respond), role.is_some(), "{role:?}");
        }
        let admin = Standing {
            read_only: true,
            ..standing(RoomKind::Public, Some(Role::Member), true)
        };
        assert!(admin.may(Action::Post), "an admin posts as an owner would");
    }

    #[test]
    fn an_archived_room_takes_no_posts_or_replies_from_anyone() {
        for role in ROLES {
            for admin in [false, true] {
                let s = Standing {
                    archived: true,
                    ..standing(RoomKind::Private, role, admin)
                };
                assert!(!s.may(Action::Post));
                assert!(!s.may(Action::Respond));
                assert_eq!(s.may(Action::Take), role.is_some(), "members still read it");
            }
        }
        let owner = Standing {
            archived: true,
            ..standing(RoomKind::Public, Some(Role::Owner), false)
        };
        assert!(owner.may(Action::Configure), "its owner can bring it back");
    }

    #[test]
    fn only_admins_delete_rooms_and_never_what_they_cannot_see() {
        for role in ROLES {
            assert!(!standing(RoomKind::Public, role, false).may(Action::Delete));
        }
        assert!(standing(RoomKind::Public, None, true).may(Action::Delete));
        assert!(!standing(RoomKind::Dm, Some(Role::Member), true).may(Action::Delete));
        let outside_private = standing(RoomKind::Private, None, true);
        assert!(
            !outside_private.sees(),
            "the store answers NotFound before asking"
        );
    }

    #[test]
    fn admins_act_as_owners_in_named_rooms_they_can_see() {
        let admin = standing(RoomKind::Public, None, true);
        assert!(admin.may(Action::Remove(Role::Owner)));
        assert!(admin.may(Action::DeleteOthers));
        assert!(!admin.may(Action::Take), "an admin still joins to post");
        let member_admin = standing(RoomKind::Private, Some(Role::Member), true);
        assert!(member_admin.may(Action::SetRole {
            from: Role::Member,
            to: Role::Owner
        }));
    }

    #[test]
    fn group_mentions_follow_the_room_setting_and_the_role() {
        use GroupMentions::*;
        for kind in [RoomKind::Public, RoomKind::Private] {
            for role in ROLES {
                let s = standing(kind, role, false);
                let member = role.is_some();
                assert_eq!(s.may(Action::MentionGroup(Everyone)), member, "{role:?}");
                assert_eq!(
                    s.may(Action::MentionGroup(Moderators)),
                    role >= Some(Role::Moderator),
                    "{role:?}"
                );
                assert!(!s.may(Action::MentionGroup(Nobody)), "{role:?}");
            }
        }
        let admin = standing(RoomKind::Public, Some(Role::Member), true);
        assert!(admin.may(Action::MentionGroup(Moderators)));
        assert!(!admin.may(Action::MentionGroup(Nobody)));
        let dm = standing(RoomKind::Dm, Some(Role::Member), false);
        assert!(!dm.may(Action::MentionGroup(Everyone)));
    }

    #[test]
    fn a_conversation_has_members_only() {
        for role in ROLES {
            for admin in [false, true] {
                let s = standing(RoomKind::Dm, role, admin);
                assert_eq!(s.may(Action::Take), role.is_some());
                assert!(!s.may(Action::Invite));
                assert!(!s.may(Action::DeleteOthers));
                assert!(!s.may(Action::Remove(Role::Member)));
                assert!(!s.may(Action::EditDetails));
                assert!(!s.may(Action::Configure));
                assert_eq!(s.may(Action::Pin), role.is_some(), "its members pin");
                assert!(!s.may(Action::Ban(None)));
            }
        }
    }
}
