//! The browser's side of the installable app and Web Push: registering the service worker
//! (`/sw.js`, which caches pages for offline use and shows pushes), subscribing this browser
//! with the instance's VAPID key, showing a notification through the worker (so one from an
//! open tab and one from a push share their tags and replace each other), and forgetting the
//! subscription and the cached pages at logout.
//!
//! The Push API is reached through `js_sys::Reflect`: it is a handful of promise-returning
//! calls, and this keeps the WASM free of a dozen more `web-sys` bindings.

use base64::Engine as _;
use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Why something failed, in words for the page.
fn describe(error: JsValue) -> String {
    Reflect::get(&error, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "the browser refused".into())
}

fn get(target: &JsValue, key: &str) -> Result<JsValue, String> {
    let value = Reflect::get(target, &key.into()).map_err(describe)?;
    if value.is_undefined() || value.is_null() {
        return Err(format!("this browser has no {key}"));
    }
    Ok(value)
}

/// Calls `target.method(...args)` and waits for the promise it returns.
async fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, String> {
    let function: Function = get(target, method)?
        .dyn_into()
        .map_err(|_| format!("{method} is not a function"))?;
    let list = Array::new();
    for arg in args {
        list.push(arg);
    }
    let promise: Promise = function
        .apply(target, &list)
        .map_err(describe)?
        .dyn_into()
        .map_err(|_| format!("{method} did not return a promise"))?;
    JsFuture::from(promise).await.map_err(describe)
}

/// `navigator.serviceWorker`, where there is one (not in every browser, nor over plain http
/// except on localhost).
fn workers() -> Result<JsValue, String> {
    let navigator = web_sys::window()
        .map(|w| JsValue::from(w.navigator()))
        .ok_or("no window")?;
    get(&navigator, "serviceWorker")
}

/// Registers the service worker once the app runs; a browser without one just stays online
/// only.
pub fn register_service_worker() {
    leptos::task::spawn_local(async {
        let Ok(workers) = workers() else { return };
        if let Err(e) = call(&workers, "register", &["/sw.js".into()]).await {
            leptos::logging::warn!("service worker not registered: {e}");
        }
    });
}

async fn push_manager() -> Result<JsValue, String> {
    let ready: Promise = get(&workers()?, "ready")?
        .dyn_into()
        .map_err(|_| "serviceWorker.ready is not a promise".to_owned())?;
    let registration = JsFuture::from(ready).await.map_err(describe)?;
    get(&registration, "pushManager")
}

/// The endpoint this browser is subscribed at, if it is.
pub async fn current_endpoint() -> Option<String> {
    let manager = push_manager().await.ok()?;
    let subscription = call(&manager, "getSubscription", &[]).await.ok()?;
    Reflect::get(&subscription, &"endpoint".into())
        .ok()?
        .as_string()
}

/// A subscription as `PushSubscription.toJSON()` gives it.
#[derive(serde::Deserialize)]
pub struct Subscribed {
    pub endpoint: String,
    pub keys: Keys,
}

#[derive(serde::Deserialize)]
pub struct Keys {
    pub p256dh: String,
    pub auth: String,
}

/// Asks for permission (from a click) and subscribes this browser with `vapid_key`.
pub async fn subscribe(vapid_key: &str) -> Result<Subscribed, String> {
    let permission = JsFuture::from(web_sys::Notification::request_permission().map_err(describe)?)
        .await
        .map_err(describe)?;
    if permission.as_string().as_deref() != Some("granted") {
        return Err(
            "Notifications are blocked for this site; allow them in the browser's site settings."
                .into(),
        );
    }
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(vapid_key)
        .map_err(|_| "the server's key is not base64url".to_owned())?;
    let options = js_sys::Object::new();
    Reflect::set(&options, &"userVisibleOnly".into(), &true.into()).map_err(describe)?;
    let key = js_sys::Uint8Array::from(key.as_slice());
    Reflect::set(&options, &"applicationServerKey".into(), &key).map_err(describe)?;
    let manager = push_manager().await?;
    let subscription = call(&manager, "subscribe", &[options.into()]).await?;
    let json = js_sys::JSON::stringify(&subscription)
        .map_err(describe)?
        .as_string()
        .unwrap_or_default();
    serde_json::from_str(&json).map_err(|e| format!("the browser's subscription: {e}"))
}

/// Ends this browser's subscription (the server forgets it with the session).
pub async fn unsubscribe() {
    let Ok(manager) = push_manager().await else {
        return;
    };
    if let Ok(subscription) = call(&manager, "getSubscription", &[]).await {
        if !subscription.is_null() {
            let _ = call(&subscription, "unsubscribe", &[]).await;
        }
    }
}

/// After logout: no pushes for the old account, and no copies of its pages left offline.
pub fn forget() {
    leptos::task::spawn_local(async {
        unsubscribe().await;
        let Some(window) = web_sys::window() else {
            return;
        };
        let Ok(caches) = get(&window.into(), "caches") else {
            return;
        };
        if let Ok(keys) = call(&caches, "keys", &[]).await {
            for key in Array::from(&keys).iter() {
                let _ = call(&caches, "delete", &[key]).await;
            }
        }
    });
}

/// Shows a notification through the service worker when there is one, else from the page.
/// `url` is where a click leads.
pub fn show(title: String, body: String, tag: String, url: String) {
    leptos::task::spawn_local(async move {
        // `ready` waits for a worker; only one that controls this page is sure to come.
        let controlled = workers().and_then(|w| get(&w, "controller").map(|_| w));
        if let Ok(workers) = controlled {
            if let Ok(ready) = get(&workers, "ready").and_then(|r| {
                r.dyn_into::<Promise>()
                    .map_err(|_| "not a promise".to_owned())
            }) {
                if let Ok(registration) = JsFuture::from(ready).await {
                    let options = js_sys::Object::new();
                    let data = js_sys::Object::new();
                    let _ = Reflect::set(&data, &"url".into(), &url.as_str().into());
                    let _ = Reflect::set(&options, &"body".into(), &body.as_str().into());
                    let _ = Reflect::set(&options, &"tag".into(), &tag.as_str().into());
                    let _ = Reflect::set(&options, &"icon".into(), &"/icons/icon-192.png".into());
                    let _ = Reflect::set(&options, &"data".into(), &data);
                    let shown = call(
                        &registration,
                        "showNotification",
                        &[title.as_str().into(), options.into()],
                    )
                    .await;
                    if shown.is_ok() {
                        return;
                    }
                }
            }
        }
        page_notification(&title, &body, &tag, url);
    });
}

/// A notification owned by the page (no service worker): a click focuses the tab there.
fn page_notification(title: &str, body: &str, tag: &str, url: String) {
    use wasm_bindgen::closure::Closure;
    let options = web_sys::NotificationOptions::new();
    options.set_body(body);
    options.set_tag(tag);
    if let Ok(notification) = web_sys::Notification::new_with_options(title, &options) {
        let on_click = Closure::once_into_js(move || {
            if let Some(w) = web_sys::window() {
                let _ = w.focus();
                let _ = w.location().set_href(&url);
            }
        });
        notification.set_onclick(Some(on_click.unchecked_ref()));
    }
}
