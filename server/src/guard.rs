//! What a request must show before it may change anything: that it comes from this site.
//!
//! The session cookie is `SameSite=Lax`, which keeps other *sites* from posting with it, but not
//! a page on a sibling subdomain (same-site) or a login form elsewhere that logs the visitor in
//! to an account of the attacker's (login CSRF). So every state-changing request (anything but
//! GET, HEAD and OPTIONS: server functions, uploads, the no-JS forms) that a browser marks as
//! coming from elsewhere is refused with 403: `Sec-Fetch-Site` must say `same-origin`, or the
//! `Origin` must be this site's or an allowed one. A client that sends neither header is not a
//! browser, carries no visitor's cookies, and is let through.
//!
//! Over https (`--secure-cookies`) the session lives in the `__Host-` cookie, which only this
//! exact origin over https can set; a plain `confab_session` cookie (which a sibling subdomain
//! or a plain-http man in the middle could plant) is removed from the request before anything
//! reads it.

use std::sync::Arc;

use app::error::AppError;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, Method};

/// What the guard knows of the whole server.
#[derive(Clone)]
pub struct Guard {
    /// Cookies are Secure: only the `__Host-` session cookie counts.
    pub secure: bool,
    /// Origins allowed besides the site's own (`--allowed-origin`).
    pub allowed_origins: Arc<Vec<String>>,
}

/// Whether `origin` (an `Origin` header's value) is the site the request was sent to (its
/// `Host`, whatever the scheme: TLS may end at a proxy) or one of `allowed`.
pub fn origin_allowed(origin: &str, headers: &HeaderMap, allowed: &[String]) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let same_site = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|rest| !host.is_empty() && rest.eq_ignore_ascii_case(host));
    same_site || allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
}

/// Why a state-changing request is refused, if it is.
fn cross_site(headers: &HeaderMap, allowed: &[String]) -> Option<&'static str> {
    let fetch_site = headers
        .get("sec-fetch-site")
        .map(|v| v.to_str().unwrap_or_default());
    if fetch_site == Some("same-origin") {
        return None;
    }
    match headers.get(header::ORIGIN).map(HeaderValue::to_str) {
        Some(Ok(origin)) if origin_allowed(origin, headers, allowed) => None,
        Some(_) => Some("This request came from another site, so it was refused."),
        // No Origin from a browser that said where the request came from: not from here.
        None if fetch_site.is_some() => {
            Some("This request came from another site, so it was refused.")
        }
        None => None,
    }
}

/// The middleware: refuses cross-site writes, and over https drops a plain session cookie.
pub async fn guard(State(guard): State<Guard>, mut request: Request, next: Next) -> Response {
    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if writes {
        if let Some(why) = cross_site(request.headers(), &guard.allowed_origins) {
            tracing::warn!(
                path = %request.uri().path(),
                origin = ?request.headers().get(header::ORIGIN),
                "cross-site request refused"
            );
            let e = AppError::Forbidden(why.into());
            let body = serde_json::to_string(&e).unwrap_or_default();
            return (
                e.status(),
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
        }
    }
    if guard.secure {
        drop_plain_session_cookie(request.headers_mut());
    }
    next.run(request).await
}

/// Removes `confab_session=…` pairs from every `Cookie` header, keeping the rest.
fn drop_plain_session_cookie(headers: &mut HeaderMap) {
    let plain = format!("{}=", app::auth::SESSION_COOKIE);
    let kept: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .map(str::trim)
                .filter(|pair| !pair.starts_with(&plain))
                .collect::<Vec<_>>()
                .join("; ")
        })
        .filter(|v| !v.is_empty())
        .collect();
    headers.remove(header::COOKIE);
    for value in kept {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.append(header::COOKIE, value);
        }
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used)]
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("chat.example.org"));
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn only_this_site_may_write() {
        let allowed = vec!["https://app.example.org".to_owned()];
        let ok = |pairs: &[(&str, &str)]| cross_site(&headers(pairs), &allowed).is_none();
        assert!(ok(&[("sec-fetch-site", "same-origin")]));
        assert!(ok(&[("origin", "https://chat.example.org")]));
        assert!(ok(&[("origin", "http://CHAT.example.org")]));
        assert!(ok(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://app.example.org")
        ]));
        assert!(ok(&[]), "not a browser");
        assert!(!ok(&[("sec-fetch-site", "same-site")]));
        assert!(!ok(&[
            ("sec-fetch-site", "same-site"),
            ("origin", "https://evil.example.org")
        ]));
        assert!(!ok(&[("origin", "https://evil.example")]));
        assert!(!ok(&[("origin", "null")]));
        assert!(!ok(&[("sec-fetch-site", "cross-site")]));
    }

    #[test]
    fn over_https_only_the_host_cookie_is_read() {
        let mut h = headers(&[
            ("cookie", "confab_session=planted; theme=dark"),
            ("cookie", "__Host-confab_session=real"),
            ("cookie", "confab_session=again"),
        ]);
        drop_plain_session_cookie(&mut h);
        let left: Vec<_> = h
            .get_all(header::COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(left, ["theme=dark", "__Host-confab_session=real"]);
        assert_eq!(app::auth::session_token(&h).as_deref(), Some("real"));
    }
}
