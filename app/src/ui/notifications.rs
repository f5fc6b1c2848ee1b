//! `/notifications`: what notifies the user (all messages, DMs and mentions, nothing), this
//! browser's push subscription, and the list of devices that get pushes, each removable. The
//! level and removal are plain forms (they work without JavaScript); turning push on needs
//! the browser's Push API, so that button appears once the page is live.

use leptos::prelude::*;

use super::auth_page::page_error;
use super::feedback::{form_error, form_ok};
use super::local_time::LocalTime;
use super::session::Session;
use crate::api::notifications::{
    get_notifications, RemovePushDevice, SetNotifyLevel, SubscribePush,
};
use crate::model::{NotificationSettings, NotifyLevel, PushDevice};

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let level = ServerAction::<SetNotifyLevel>::new();
    let remove = ServerAction::<RemovePushDevice>::new();
    let subscribe = ServerAction::<SubscribePush>::new();
    let settings = Resource::new(
        move || {
            (
                session.changes(),
                level.version().get(),
                remove.version().get(),
                subscribe.version().get(),
            )
        },
        |_| get_notifications(),
    );
    view! {
        <leptos_meta::Title text="Notifications · Confab"/>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(settings) => {
                        view! { <Settings settings level remove subscribe/> }.into_any()
                    }
                    Err(error) => page_error(error),
                }
            })}
        </Transition>
    }
}

#[component]
fn Settings(
    settings: NotificationSettings,
    level: ServerAction<SetNotifyLevel>,
    remove: ServerAction<RemovePushDevice>,
    subscribe: ServerAction<SubscribePush>,
) -> impl IntoView {
    let current = settings.level;
    let choices = NotifyLevel::ALL
        .into_iter()
        .map(|choice| {
            let id = format!("level-{}", choice.as_str());
            let label_for = id.clone();
            view! {
                <label class="choice" for=label_for>
                    <input
                        type="radio"
                        id=id
                        name="level"
                        value=choice.as_str()
                        checked=choice == current
                    />
                    {choice.label()}
                </label>
            }
        })
        .collect_view();
    let muted = settings.muted.len();
    view! {
        <section class="panel notifications">
            <h1>"Notifications"</h1>
            <ActionForm action=level attr:class="card">
                <fieldset>
                    <legend>"Notify me about"</legend>
                    {choices}
                </fieldset>
                <p class="hint">
                    "Notifications come when no Confab tab of yours is open and in view. "
                    {match muted {
                        0 => "Mute a room from its header to silence it.".to_owned(),
                        1 => "1 muted room stays silent.".to_owned(),
                        n => format!("{n} muted rooms stay silent."),
                    }}
                </p>
                <button type="submit">"Save"</button>
                {form_ok(Memo::new(move |_| {
                    level.value().get().map(|r| r.map(|_| "Saved.".to_owned()))
                }))}
                {form_error(level.value())}
            </ActionForm>
            <ThisDevice key=settings.vapid_public_key subscribe devices=settings.devices.clone()/>
            <h2>"Devices that get notifications"</h2>
            <DeviceList devices=settings.devices remove/>
        </section>
    }
    .into_any()
}

/// Turning push on for this browser: it asks for permission, subscribes with the instance's
/// key, and hands the subscription to the server.
#[component]
fn ThisDevice(
    key: String,
    subscribe: ServerAction<SubscribePush>,
    devices: Vec<PushDevice>,
) -> impl IntoView {
    // What this browser's state is, found once the page is live (never on the server).
    let state = RwSignal::new(None::<Result<bool, String>>);
    #[cfg(feature = "hydrate")]
    {
        let endpoints: Vec<String> = devices.iter().map(|d| d.endpoint.clone()).collect();
        leptos::task::spawn_local(async move {
            let here = super::live::push::current_endpoint().await;
            state.set(Some(Ok(here.is_some_and(|e| endpoints.contains(&e)))));
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (&devices, &key, subscribe);
    let turn_on = Callback::new(move |_: ()| {
        #[cfg(feature = "hydrate")]
        {
            let key = key.clone();
            leptos::task::spawn_local(async move {
                match super::live::push::subscribe(&key).await {
                    Ok(sub) => {
                        subscribe.dispatch(SubscribePush {
                            endpoint: sub.endpoint,
                            p256dh: sub.keys.p256dh,
                            auth: sub.keys.auth,
                        });
                        state.set(Some(Ok(true)));
                    }
                    Err(why) => state.set(Some(Err(why))),
                }
            });
        }
    });
    view! {
        <div class="card this-device">
            <h2>"This browser"</h2>
            <p class="hint">
                "With push on, this browser shows new messages even when Confab is closed. "
                "The browser asks you first; you can turn it off here or in its settings."
            </p>
            {move || match state.get() {
                None => {
                    view! {
                        <p class="muted" id="push-state">
                            "Push needs JavaScript and a browser with the Push API."
                        </p>
                    }
                        .into_any()
                }
                Some(Ok(true)) => {
                    view! { <p id="push-state">"Push notifications are on for this browser."</p> }
                        .into_any()
                }
                Some(Ok(false)) => {
                    view! {
                        <button type="button" id="push-on" on:click=move |_| turn_on.run(())>
                            "Turn on push notifications"
                        </button>
                    }
                        .into_any()
                }
                Some(Err(why)) => {
                    view! { <p class="form-error" role="alert" id="push-state">{why}</p> }
                        .into_any()
                }
            }}
            {form_error(subscribe.value())}
        </div>
    }
}

#[component]
fn DeviceList(devices: Vec<PushDevice>, remove: ServerAction<RemovePushDevice>) -> impl IntoView {
    if devices.is_empty() {
        return view! { <p class="muted">"No device gets push notifications yet."</p> }.into_any();
    }
    view! {
        <ul class="devices">
            {devices
                .into_iter()
                .map(|device| {
                    view! {
                        <li class="device">
                            <span class="device-label">{device.label}</span>
                            <span class="muted">
                                " via " {device.service} ", since "
                                <LocalTime ms=device.created_at/>
                            </span>
                            <ActionForm action=remove>
                                <input type="hidden" name="id" value=device.id/>
                                <button type="submit" class="secondary small">"Remove"</button>
                            </ActionForm>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
        {form_error(remove.value())}
    }
    .into_any()
}
