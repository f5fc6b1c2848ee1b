//! The server's shared state, handed to server functions and SSR through Leptos context (never a
//! global), and to plain axum handlers through axum state.

use std::sync::Arc;

use crate::store::Store;

/// Everything a request handler may need.
#[derive(Clone)]
pub struct AppState {
    /// The database, behind the storage seam.
    pub store: Arc<dyn Store>,
    /// Whether cookies get the `Secure` flag (the site is served over https).
    pub secure_cookies: bool,
}
