//! Files in the room: a message's attachments (an image as its thumbnail, linking to the full
//! image; any other file as a download link with its name and size), and the upload form.
//! The form is a plain multipart form to `POST /files/{room}`, so it works without
//! JavaScript; with it, the form is sent by `XMLHttpRequest`, whose upload events drive a
//! progress bar, and a failed upload keeps its files in memory for "Retry" (with the same
//! client id, so a retry of an upload that did arrive stores nothing twice). The message
//! itself arrives like any other, over the live socket.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;

use crate::model::{Message, RoomId};

/// A message's files, or nothing when it has none.
pub(super) fn file_list(message: &Message) -> Option<AnyView> {
    if message.files.is_empty() {
        return None;
    }
    let (room, seq) = (message.room_id, message.seq);
    let items = message
        .files
        .iter()
        .map(|file| {
            let url = file.url(room, seq);
            match &file.image {
                Some(image) => view! {
                    <li class="file image">
                        <a href=url title=file.name.clone()>
                            <img
                                src=file.thumb_url(room, seq)
                                width=image.thumb_width
                                height=image.thumb_height
                                alt=file.name.clone()
                                loading="lazy"
                            />
                        </a>
                    </li>
                }
                .into_any(),
                None => view! {
                    <li class="file">
                        <a href=url download=file.name.clone()>{file.name.clone()}</a>
                        " "
                        <span class="muted size">{file.size_label()}</span>
                    </li>
                }
                .into_any(),
            }
        })
        .collect_view();
    Some(view! { <ul class="files" aria-label="Files">{items}</ul> }.into_any())
}

/// The upload form under a composer (the room's, or a thread's with `thread`).
#[component]
pub(super) fn UploadForm(room_id: RoomId, thread: Option<i64>) -> impl IntoView {
    // A refusal of a form posted without JavaScript comes back as `?upload_error=`, shown by
    // the form that sent it (the thread's while its panel is open).
    let query = use_query_map();
    let sent_here = query.with_untracked(|q| q.get("thread").is_some()) == thread.is_some();
    let refused = query
        .with_untracked(|q| q.get("upload_error"))
        .filter(|_| sent_here);
    let problem = RwSignal::new(refused);
    let progress = RwSignal::new(None::<f64>);
    // Only ever set in the browser; on the server it stays `None`, so nothing thread-bound is
    // dropped on another thread there.
    let retry = StoredValue::new(None::<SendWrapper<web_sys::FormData>>);
    let form = NodeRef::<leptos::html::Form>::new();
    let url = format!("/files/{room_id}");
    let id = if thread.is_some() {
        "reply-upload"
    } else {
        "upload"
    };

    let send = {
        let url = url.clone();
        move |data: web_sys::FormData| {
            problem.set(None);
            progress.set(Some(0.0));
            retry.set_value(Some(SendWrapper::new(data.clone())));
            let finished = move |result: Result<(), String>| {
                progress.set(None);
                match result {
                    Ok(()) => retry.set_value(None),
                    Err(e) => problem.set(Some(e)),
                }
            };
            if send_form(&url, &data, progress, finished).is_err() {
                progress.set(None);
                problem.set(Some("The browser could not send the files.".into()));
            }
        }
    };
    let on_submit = {
        let send = send.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let Some(el) = form.get_untracked() else {
                return;
            };
            let Ok(data) = web_sys::FormData::new_with_form(&el) else {
                return;
            };
            // Each upload its own client id; its retries keep it.
            let _ = data.set_with_str("client_id", &uuid::Uuid::new_v4().to_string());
            el.reset();
            send(data);
        }
    };
    let on_retry = move |_| {
        if let Some(data) = retry.with_value(|d| d.as_ref().map(|d| (**d).clone())) {
            send(data);
        }
    };

    view! {
        <form
            method="post"
            action=url
            enctype="multipart/form-data"
            class="upload"
            node_ref=form
            on:submit=on_submit
        >
            {thread.map(|root| view! { <input type="hidden" name="thread" value=root/> })}
            // Without JavaScript a resent form is still stored once.
            <input type="hidden" name="client_id" value=uuid::Uuid::new_v4().to_string()/>
            <label for=format!("{id}-file")>"Attach files"</label>
            <input type="file" id=format!("{id}-file") name="file" multiple required/>
            <label for=format!("{id}-caption") class="visually-hidden">"Caption"</label>
            <input
                type="text"
                id=format!("{id}-caption")
                name="text"
                maxlength=crate::validate::MAX_MESSAGE_CHARS
                placeholder="Caption (optional)"
            />
            <button type="submit" class="secondary" disabled=move || progress.get().is_some()>
                "Upload"
            </button>
            {move || {
                progress
                    .get()
                    .map(|done| {
                        let percent = (done * 100.0).round();
                        view! {
                            <span class="upload-progress" role="status">
                                <progress max="1" value=done aria-label="Upload progress"></progress>
                                {format!(" Uploading… {percent}%")}
                            </span>
                        }
                    })
            }}
            {move || {
                problem
                    .get()
                    .map(|p| {
                        let can_retry = retry.with_value(Option::is_some);
                        view! {
                            <p class="form-error" role="alert">
                                {p}
                                {can_retry
                                    .then(|| {
                                        view! {
                                            " "
                                            <button type="button" class="secondary" on:click=on_retry.clone()>
                                                "Retry"
                                            </button>
                                        }
                                    })}
                            </p>
                        }
                    })
            }}
        </form>
    }
    .into_any()
}

/// Posts `data` to `url` with `XMLHttpRequest` (whose upload reports progress, which `fetch`
/// does not), setting `progress` (0 to 1) as bytes leave; `finished` is called once, with the
/// server's reason on a refusal.
fn send_form(
    url: &str,
    data: &web_sys::FormData,
    progress: RwSignal<Option<f64>>,
    finished: impl FnOnce(Result<(), String>) + 'static,
) -> Result<(), wasm_bindgen::JsValue> {
    use wasm_bindgen::closure::Closure;
    let xhr = web_sys::XmlHttpRequest::new()?;
    xhr.open("POST", url)?;
    xhr.set_request_header("Accept", "application/json")?;
    let on_progress =
        Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
            if e.length_computable() && e.total() > 0.0 {
                progress.set(Some(e.loaded() / e.total()));
            }
        });
    xhr.upload()?
        .set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    let request = xhr.clone();
    // Called once, when the request ends however it ends; it frees itself and the progress
    // handler.
    let on_end = Closure::once_into_js(move || {
        drop(on_progress);
        let status = request.status().unwrap_or(0);
        let result = match status {
            200..=299 => Ok(()),
            0 => Err("Could not reach the server. Check your connection, then retry.".to_owned()),
            _ => Err(request
                .response_text()
                .ok()
                .flatten()
                .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("The upload failed (HTTP {status})."))),
        };
        finished(result);
    });
    xhr.set_onloadend(Some(on_end.unchecked_ref()));
    xhr.send_with_opt_form_data(Some(data))
}
