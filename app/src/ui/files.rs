//! Files in the room: a message's attachments (an image as its thumbnail, linking to the full
//! image; any other file as a download link with its name and size), and the upload form.
//! Without JavaScript files go in a plain multipart form to `POST /files/{room}`; with it, the
//! composer attaches them (paperclip, paste, drop) and sends them the same way by
//! `XMLHttpRequest` ([`Uploads`]), whose upload events drive a progress bar, and a failed
//! upload keeps its files in memory for "Retry" (with the same client id, so a retry of an
//! upload that did arrive stores nothing twice). The message itself arrives like any other,
//! over the live socket.

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

/// Uploads from one place (a composer, or the plain upload form): the one in flight with its
/// progress, why the last failed, and what "Retry" sends again.
#[derive(Clone, Copy)]
pub(crate) struct Uploads {
    url: StoredValue<String>,
    problem: RwSignal<Option<String>>,
    progress: RwSignal<Option<f64>>,
    // Only ever set in the browser; on the server it stays `None`, so nothing thread-bound is
    // dropped on another thread there.
    retry: StoredValue<Option<SendWrapper<web_sys::FormData>>>,
}

impl Uploads {
    /// Uploads to `room_id`, starting with `refused` (a refusal of a form posted without
    /// JavaScript) shown.
    pub fn new(room_id: RoomId, refused: Option<String>) -> Self {
        Uploads {
            url: StoredValue::new(format!("/files/{room_id}")),
            problem: RwSignal::new(refused),
            progress: RwSignal::new(None),
            retry: StoredValue::new(None),
        }
    }

    /// Where the files go, for a form's `action`.
    pub fn url(self) -> String {
        self.url.get_value()
    }

    /// Whether an upload is in flight.
    pub fn busy(self) -> bool {
        self.progress.get().is_some()
    }

    /// Says why files cannot be sent, before any is.
    pub fn refuse(self, why: String) {
        self.problem.set(Some(why));
    }

    /// Sends `data` (files, caption, client id), kept for "Retry" until it arrives.
    pub fn send(self, data: web_sys::FormData) {
        self.problem.set(None);
        self.progress.set(Some(0.0));
        self.retry.set_value(Some(SendWrapper::new(data.clone())));
        let finished = move |result: Result<(), String>| {
            self.progress.set(None);
            match result {
                Ok(()) => self.retry.set_value(None),
                Err(e) => self.problem.set(Some(e)),
            }
        };
        if send_form(&self.url(), &data, self.progress, finished).is_err() {
            self.progress.set(None);
            self.problem
                .set(Some("The browser could not send the files.".into()));
        }
    }

    fn retry(self) {
        if let Some(data) = self.retry.with_value(|d| d.as_ref().map(|d| (**d).clone())) {
            self.send(data);
        }
    }
}

/// An upload's progress bar while it is in flight, and why it failed with "Retry".
#[component]
pub(crate) fn UploadStatus(uploads: Uploads) -> impl IntoView {
    view! {
        {move || {
            uploads
                .progress
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
            uploads
                .problem
                .get()
                .map(|p| {
                    let can_retry = uploads.retry.with_value(Option::is_some);
                    view! {
                        <p class="form-error" role="alert">
                            {p}
                            {can_retry
                                .then(|| {
                                    view! {
                                        " "
                                        <button
                                            type="button"
                                            class="secondary"
                                            on:click=move |_| uploads.retry()
                                        >
                                            "Retry"
                                        </button>
                                    }
                                })}
                        </p>
                    }
                })
        }}
    }
}

/// A refusal of an upload form posted without JavaScript, which comes back as
/// `?upload_error=`, for the form that sent it (the thread's while its panel is open).
pub(crate) fn refused_upload(thread: Option<i64>) -> Option<String> {
    let query = use_query_map();
    let sent_here = query.with_untracked(|q| q.get("thread").is_some()) == thread.is_some();
    query
        .with_untracked(|q| q.get("upload_error"))
        .filter(|_| sent_here)
}

/// The plain upload form, for a browser without JavaScript (with it, the composer's paperclip,
/// a paste or a drop attaches files): files and a caption, posted as a multipart form.
#[component]
pub(crate) fn UploadForm(room_id: RoomId, thread: Option<i64>) -> impl IntoView {
    let uploads = Uploads::new(room_id, refused_upload(thread));
    let form = NodeRef::<leptos::html::Form>::new();
    let id = upload_input_id(thread);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
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
        uploads.send(data);
    };

    view! {
        <form
            method="post"
            action=uploads.url()
            enctype="multipart/form-data"
            class="upload"
            node_ref=form
            on:submit=on_submit
        >
            {thread.map(|root| view! { <input type="hidden" name="thread" value=root/> })}
            // Without JavaScript a resent form is still stored once.
            <input type="hidden" name="client_id" value=uuid::Uuid::new_v4().to_string()/>
            <label for=id>"Attach files"</label>
            <input type="file" id=id name="file" multiple required/>
            <label for=format!("{id}-caption") class="visually-hidden">"Caption"</label>
            <input
                type="text"
                id=format!("{id}-caption")
                name="text"
                maxlength=crate::validate::MAX_MESSAGE_CHARS
                placeholder="Caption (optional)"
            />
            <button type="submit" class="secondary" disabled=move || uploads.busy()>
                "Upload"
            </button>
            <UploadStatus uploads/>
        </form>
    }
    .into_any()
}

/// The id of the plain upload form's file input (the room's, or a thread's).
pub(crate) fn upload_input_id(thread: Option<i64>) -> &'static str {
    if thread.is_some() {
        "reply-upload-file"
    } else {
        "upload-file"
    }
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
