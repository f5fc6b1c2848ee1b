//! The data of the side panels that load their own: the room's pins (`?pins`), its bans
//! (`?settings`) and a profile card (`?profile=NAME`), loaded by [`super::RoomPage`] at its top,
//! as the thread panel's is ([`super::thread::ThreadData`], which says why: a resource made
//! inside the room's `Suspend` gets a different id on the server than in the browser, and a
//! page opened straight at the panel then fails to hydrate). Each loads only while its panel
//! is open (the lists are empty, and never shown, while theirs is closed).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::messages::{room_pins, PinMessage};
use crate::api::profiles::{profile_card, ProfileView};
use crate::api::rooms::room_bans;
use crate::error::AppError;
use crate::model::{BanEntry, Message, RoomId};
use crate::ui::live::Live;
use crate::ui::session::Membership;

/// What the open panels show, and the panels' own actions.
#[derive(Clone, Copy)]
pub(crate) struct PanelData {
    /// The room's pins, newest first, while `?pins` is in the address (none otherwise).
    pub pins: Resource<Result<Vec<Message>, AppError>>,
    /// Unpin, from the pins panel: the list reloads after it.
    pub unpin: ServerAction<PinMessage>,
    /// The room's bans, while `?settings` is in the address (none otherwise; its moderators
    /// see them).
    pub bans: Resource<Result<Vec<BanEntry>, AppError>>,
    /// The card of the person `?profile=` names.
    pub profile: Resource<Result<Option<ProfileView>, AppError>>,
}

/// Whether the address holds `key`, as a memo: other changes of the address load nothing.
fn asks(key: &'static str) -> Memo<bool> {
    let query = use_query_map();
    Memo::new(move |_| query.with(|q| q.get(key).is_some()))
}

impl PanelData {
    /// Loads the panels the address opens in the room `room_id`, again when they change.
    pub(super) fn new(room_id: impl Fn() -> Option<RoomId> + Copy + Send + Sync + 'static) -> Self {
        let live = expect_context::<Live>();
        let ban = expect_context::<Membership>().ban;
        let query = use_query_map();
        let pins_open = asks("pins");
        let settings_open = asks("settings");
        let person = Memo::new(move |_| query.with(|q| q.get("profile")));
        let unpin = ServerAction::<PinMessage>::new();
        let pins = Resource::new(
            move || {
                let changed = (live.pins_changed.get(), unpin.version().get());
                (room_id().filter(|_| pins_open.get()), changed)
            },
            |(room, _)| async move {
                match room {
                    Some(room) => room_pins(room).await,
                    None => Ok(Vec::new()),
                }
            },
        );
        let bans = Resource::new(
            move || {
                (
                    room_id().filter(|_| settings_open.get()),
                    ban.version().get(),
                )
            },
            |(room, _)| async move {
                match room {
                    Some(room) => room_bans(room).await,
                    None => Ok(Vec::new()),
                }
            },
        );
        let profile = Resource::new(
            move || person.get(),
            |name| async move {
                match name {
                    Some(name) => profile_card(name).await.map(Some),
                    None => Ok(None),
                }
            },
        );
        Self {
            pins,
            unpin,
            bans,
            profile,
        }
    }
}
