//! What every page of a signed-in tab shares: the actions that start and end a session and
//! those that change which rooms the user is in. The layout provides them as context; a page
//! reloads its data when one of them completes.

use leptos::prelude::*;

use crate::api::auth::{Login, Logout, LogoutEverywhere, Register};
use crate::api::rooms::{
    AddMember, Ban, ConfigureRoom, CreateRoom, JoinRoom, LeaveRoom, OpenDm, RemoveMember, SetRole,
};

/// The actions that start and end a session; every page reloads its data after each.
#[derive(Clone, Copy)]
pub struct Session {
    pub login: ServerAction<Login>,
    pub register: ServerAction<Register>,
    pub logout: ServerAction<Logout>,
    pub logout_everywhere: ServerAction<LogoutEverywhere>,
}

impl Session {
    /// Changes whenever someone logs in, registers or logs out in this tab.
    pub fn changes(&self) -> (usize, usize, usize, usize) {
        (
            self.login.version().get(),
            self.register.version().get(),
            self.logout.version().get(),
            self.logout_everywhere.version().get(),
        )
    }
}

/// The actions that change which rooms a user is in; the sidebar reloads after each.
#[derive(Clone, Copy)]
pub struct Membership {
    pub create_room: ServerAction<CreateRoom>,
    pub join: ServerAction<JoinRoom>,
    pub leave: ServerAction<LeaveRoom>,
    pub open_dm: ServerAction<OpenDm>,
    pub remove_member: ServerAction<RemoveMember>,
    pub add_member: ServerAction<AddMember>,
    pub set_role: ServerAction<SetRole>,
    pub configure_room: ServerAction<ConfigureRoom>,
    pub ban: ServerAction<Ban>,
}

impl Membership {
    /// Changes whenever any of the actions completes.
    pub fn changes(&self) -> (usize, usize, usize, usize, usize, (usize, usize)) {
        (
            self.create_room.version().get(),
            self.join.version().get(),
            self.leave.version().get(),
            self.open_dm.version().get(),
            self.remove_member.version().get(),
            (
                self.configure_room.version().get(),
                self.ban.version().get(),
            ),
        )
    }
}
