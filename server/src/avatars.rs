//! Profile pictures over HTTP. `POST /avatar` takes one picture as a multipart form (so it
//! works without JavaScript; the page's form redirects back to `/profile`), which
//! `app::files` checks and re-encodes, and `chat::update_profile` sets. `GET
//! /avatars/{username}/{size}` serves a person's 128 or 64 px square to anyone signed in, or,
//! when they have none, their initials drawn by the server as an SVG of fixed shapes.

use app::chat::{self, ProfileForm};
use app::error::AppError;
use app::model::{Profile, User};
use app::state::AppState;
use axum::body::Body;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};

use crate::files::{
    authenticate, content_length, json_error, multipart_error, percent, wants_page, ETag,
};

/// `POST /avatar`: sets the caller's picture from the form's `avatar` file. Answers their
/// profile as JSON, or (to a browser posting the form itself) redirects to `/profile`.
pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let page = wants_page(&headers);
    match receive(&state, &headers, multipart).await {
        Ok(_) if page => Redirect::to("/profile").into_response(),
        Ok(profile) => axum::Json(profile).into_response(),
        Err(e) if page && !matches!(e, AppError::Unauthorized(_)) => {
            let back = format!("/profile?avatar_error={}", percent(&e.to_string()));
            Redirect::to(&back).into_response()
        }
        Err(e) => json_error(&e),
    }
}

async fn receive(
    state: &AppState,
    headers: &HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Profile, AppError> {
    let user = authenticate(state, headers).await?;
    let files = state.files.clone().ok_or_else(|| {
        AppError::BadRequest("This server keeps no files, so no profile pictures.".into())
    })?;
    let cap = files.max_upload().min(app::files::MAX_AVATAR_BYTES);
    let length = content_length(headers, "picture")?;
    if length > cap.saturating_add(crate::files::FORM_OVERHEAD_BYTES) {
        return Err(app::files::too_large(cap));
    }
    state.limits.create(user.id)?;
    state.limits.upload(user.id, length)?;
    files.check_space(length)?;
    let mut multipart = multipart.map_err(|e| {
        AppError::BadRequest(format!("Send the picture as a multipart form ({e})."))
    })?;
    let mut avatar = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() != Some("avatar") {
            return Err(AppError::BadRequest(format!(
                "Unknown form field {:?}.",
                field.name().unwrap_or_default()
            )));
        }
        if avatar.is_some() {
            return Err(AppError::BadRequest("Send one picture.".into()));
        }
        let mut upload = files.upload().await?;
        upload.limit(cap);
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            upload.write(&chunk).await?;
        }
        avatar = Some(upload.finish_avatar(&files).await?);
    }
    let avatar =
        avatar.ok_or_else(|| AppError::BadRequest("Choose a picture to upload.".into()))?;
    chat::update_profile(state, &user, ProfileForm::Avatar(Some(&avatar))).await
}

/// The `?v=` a picture's address carries (see `app::model::avatar_url`).
#[derive(serde::Deserialize)]
pub struct Version {
    v: Option<String>,
}

/// `GET /avatars/{username}/{size}`: the picture, `size` 128 or 64, to anyone signed in.
pub async fn avatar(
    State(state): State<AppState>,
    Path((username, size)): Path<(String, u32)>,
    Query(version): Query<Version>,
    headers: HeaderMap,
) -> Response {
    serve(&state, &username, size, version.v.is_some(), &headers)
        .await
        .unwrap_or_else(|e| json_error(&e))
}

async fn serve(
    state: &AppState,
    username: &str,
    size: u32,
    versioned: bool,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let _user: User = authenticate(state, headers).await?;
    let (large, small) = app::files::AVATAR_SIZES;
    if size != large && size != small {
        return Err(AppError::NotFound(format!(
            "Pictures come in {large} and {small} pixels."
        )));
    }
    let profile = state.store.profile(username).await?;
    let picture = profile
        .avatar
        .as_ref()
        .map(|a| if size == large { &a.large } else { &a.small });
    // A picture whose bytes are not in the files folder (a restore without `--files`) shows
    // as the initials, as if there were none.
    let stored = match (picture, &state.files) {
        (Some(hash), Some(files)) => {
            let found = files.open(hash).await?;
            if found.is_none() {
                tracing::warn!("avatar {hash} of {username} is missing from the files folder");
            }
            found.map(|(reader, _)| (hash.clone(), reader))
        }
        _ => None,
    };
    let (tag, body, content_type) = match stored {
        Some((hash, reader)) => {
            let body = Body::from_stream(tokio_util::io::ReaderStream::new(reader));
            (hash, body, "image/png")
        }
        None => {
            let svg = initials_svg(&profile, size);
            let tag = format!("i{:016x}", fnv(svg.as_bytes()));
            (tag, Body::from(svg), "image/svg+xml")
        }
    };
    let etag = ETag::of(&tag);
    let mut response = if etag.held_by(headers) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body.into_response()
    };
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // A versioned address names one picture for good; a bare one is checked again after a
    // few minutes, so a new picture shows soon everywhere.
    let cache = if versioned {
        "private, max-age=31536000, immutable"
    } else {
        "private, max-age=300"
    };
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    etag.stamp(out);
    Ok(response)
}

/// A stable 64-bit hash of `bytes` (FNV-1a), for an ETag.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Background colours for initials, each dark enough for white letters (WCAG AA).
const PALETTE: [&str; 8] = [
    "#1d4ed8", "#047857", "#b45309", "#7c3aed", "#be123c", "#0e7490", "#4d7c0f", "#a21caf",
];

/// The initials of a picture-less profile as a square SVG: a coloured square (the colour picked
/// from the username, so it stays when the display name changes) with up to two letters. The
/// letters are escaped; nothing else in it comes from the user.
pub fn initials_svg(profile: &Profile, size: u32) -> String {
    let letters = app::model::initials(profile.shown_name());
    let escaped: String = letters
        .chars()
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect();
    let colour = PALETTE[(fnv(profile.username.to_lowercase().as_bytes()) % 8) as usize];
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size}\" height=\"{size}\" \
         viewBox=\"0 0 100 100\"><rect width=\"100\" height=\"100\" fill=\"{colour}\"/>\
         <text x=\"50\" y=\"50\" dy=\".35em\" text-anchor=\"middle\" fill=\"#fff\" \
         font-family=\"system-ui,sans-serif\" font-size=\"42\" font-weight=\"600\">{escaped}\
         </text></svg>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(username: &str, display_name: Option<&str>) -> Profile {
        Profile {
            username: username.into(),
            display_name: display_name.map(Into::into),
            status: None,
            time_zone: None,
            avatar: None,
            is_admin: false,
            joined_at: 0,
        }
    }

    #[test]
    fn initials_come_from_the_shown_name_and_are_escaped() {
        let svg = initials_svg(&profile("ada", Some("Ada Lovelace")), 64);
        assert!(svg.contains(">AL</text>"), "{svg}");
        assert!(svg.contains("width=\"64\""));
        let svg = initials_svg(&profile("x", Some("<b &c")), 128);
        assert!(
            svg.contains(">BC</text>"),
            "only letters and digits are kept: {svg}"
        );
        // The colour follows the username, not the display name.
        let a = initials_svg(&profile("bob", None), 64);
        let b = initials_svg(&profile("bob", Some("Robert")), 64);
        assert_eq!(
            a[..a.find("<text").unwrap_or(0)],
            b[..b.find("<text").unwrap_or(0)]
        );
    }
}
