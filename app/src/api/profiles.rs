//! Profiles: anyone's card, the caller's own profile with the choices its form offers, and the
//! changes a person makes to theirs (each through `crate::chat::update_profile`). The picture
//! itself is uploaded as a multipart form to `/avatar` (see the server's `avatars` module).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::model::Profile;

/// A profile as its card shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileView {
    pub profile: Profile,
    /// The time in their zone when the card was read, and the zone's offset ("14:32",
    /// "UTC+01:00"), if they set a zone.
    pub local_time: Option<(String, String)>,
    /// The card is the caller's own.
    pub mine: bool,
}

/// The caller's profile, with the time zones its form offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileEditor {
    pub profile: Profile,
    pub zones: Vec<String>,
    /// The largest picture accepted, in bytes.
    pub max_avatar_bytes: u64,
    /// Whether this server keeps files, and so pictures.
    pub pictures: bool,
}

/// `username`'s profile card, for anyone signed in.
#[server(endpoint = "profile")]
pub async fn profile_card(username: String) -> Result<ProfileView, AppError> {
    let user = super::ssr::require_user().await?;
    let profile = crate::read::profile(&super::ssr::state()?, &user, &username).await?;
    let local_time = profile
        .time_zone
        .as_deref()
        .and_then(|zone| crate::zones::local_time(zone, crate::timestamp::now_ms()));
    Ok(ProfileView {
        mine: profile.username.eq_ignore_ascii_case(&user.username),
        profile,
        local_time,
    })
}

/// The caller's own profile, to edit.
#[server(endpoint = "my_profile")]
pub async fn my_profile() -> Result<ProfileEditor, AppError> {
    let user = super::ssr::require_user().await?;
    let state = super::ssr::state()?;
    Ok(ProfileEditor {
        profile: state.store.profile(&user.username).await?,
        zones: crate::zones::names()
            .into_iter()
            .map(str::to_owned)
            .collect(),
        max_avatar_bytes: state
            .files
            .as_ref()
            .map_or(0, |f| f.max_upload().min(crate::files::MAX_AVATAR_BYTES)),
        pictures: state.files.is_some(),
    })
}

/// Sets the caller's display name and time zone (empty clears each).
#[server(endpoint = "save_profile")]
pub async fn save_profile(display_name: String, time_zone: String) -> Result<(), AppError> {
    let user = super::ssr::require_user().await?;
    let form = crate::chat::ProfileForm::Details {
        display_name: &display_name,
        time_zone: &time_zone,
    };
    crate::chat::update_profile(&super::ssr::state()?, &user, form).await?;
    Ok(())
}

/// Sets the caller's status: an emoji and words, for `minutes` (empty: until cleared).
#[server(endpoint = "set_status")]
pub async fn set_status(
    emoji: String,
    text: String,
    minutes: Option<String>,
) -> Result<(), AppError> {
    let user = super::ssr::require_user().await?;
    let form = crate::chat::ProfileForm::Status {
        emoji: &emoji,
        text: &text,
        minutes: minutes.as_deref().unwrap_or_default(),
    };
    crate::chat::update_profile(&super::ssr::state()?, &user, form).await?;
    Ok(())
}

/// Clears the caller's status.
#[server(endpoint = "clear_status")]
pub async fn clear_status() -> Result<(), AppError> {
    let user = super::ssr::require_user().await?;
    let form = crate::chat::ProfileForm::ClearStatus;
    crate::chat::update_profile(&super::ssr::state()?, &user, form).await?;
    Ok(())
}

/// Removes the caller's picture: their initials show instead.
#[server(endpoint = "remove_avatar")]
pub async fn remove_avatar() -> Result<(), AppError> {
    let user = super::ssr::require_user().await?;
    let form = crate::chat::ProfileForm::Avatar(None);
    crate::chat::update_profile(&super::ssr::state()?, &user, form).await?;
    Ok(())
}
