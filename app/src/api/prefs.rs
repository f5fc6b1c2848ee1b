//! Preferences a person sets for one device, kept in a cookie of that browser (no account
//! needed, nothing stored on the server): the theme.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::Theme;

/// The cookie holding this browser's theme.
pub const THEME_COOKIE: &str = "confab_theme";

/// Keeps `theme` (`system`, `light` or `dark`) for this browser, for a year; answers it. A form
/// posted without JavaScript comes back to the page it was sent from.
#[server(endpoint = "theme")]
pub async fn set_theme(theme: String) -> Result<Theme, AppError> {
    use super::ssr::{secure_cookies, set_cookie};
    let chosen = Theme::parse(&theme)
        .ok_or_else(|| AppError::BadRequest("Choose a theme: system, light or dark.".to_owned()))?;
    let secure = if secure_cookies()? { "; Secure" } else { "" };
    set_cookie(&format!(
        "{THEME_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax{secure}",
        chosen.as_str()
    ))?;
    Ok(chosen)
}

/// The theme the request's cookie names (the system's when there is none, or it names none).
#[cfg(feature = "ssr")]
pub fn requested_theme() -> Theme {
    use_context::<http::request::Parts>()
        .and_then(|parts| {
            parts
                .headers
                .get_all(http::header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(name, _)| *name == THEME_COOKIE)
                .and_then(|(_, value)| Theme::parse(value))
        })
        .unwrap_or_default()
}
