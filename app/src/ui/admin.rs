//! The instance administrators' page (`/admin`): moderating an account and who may register,
//! with invite links. Plain forms, so it works without JavaScript too; every action checks on
//! the server that its caller is an admin.

use leptos::prelude::*;

use super::auth_page::page_error;
use super::feedback::{form_error, form_ok, UsernameInput};
use super::session::Session;
use crate::api::auth::{CreateInvite, Moderate, SetRegistration};
use crate::api::rooms::get_navigation;
use crate::model::RegistrationMode;

/// The page: its tools for an admin, a refusal for anyone else, the login screen for a visitor.
#[component]
pub fn AdminPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let navigation = Resource::new(move || session.changes(), |_| get_navigation());
    view! {
        <leptos_meta::Title text="Administration – Confab"/>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match navigation.await {
                    Ok(navigation) => match navigation.registration {
                        Some(registration) if navigation.user.is_admin => {
                            view! {
                                <section class="panel admin" aria-label="Administration">
                                    <h1>"Administration"</h1>
                                    <Moderation/>
                                    <Registration mode=registration/>
                                </section>
                            }
                                .into_any()
                        }
                        _ => {
                            view! {
                                <section class="panel">
                                    <h1>"Administration"</h1>
                                    <p>"Only the instance's administrators can open this page."</p>
                                </section>
                            }
                                .into_any()
                        }
                    },
                    Err(error) => page_error(error),
                }
            })}
        </Transition>
    }
}

/// An admin's tools for one account: end its sessions, disable it, or enable it again. A plain
/// form, so it works without JavaScript too.
#[component]
fn Moderation() -> impl IntoView {
    let moderate = ServerAction::<Moderate>::new();
    view! {
        <section class="card moderation" aria-labelledby="moderation-heading">
            <h2 id="moderation-heading">"Accounts"</h2>
            <ActionForm action=moderate>
                <label for="moderate-username">"Moderate an account"</label>
                <UsernameInput id="moderate-username"/>
                <div class="inline-field">
                    <select name="action" aria-label="Action">
                        <option value="end_sessions">"End sessions"</option>
                        <option value="disable">"Disable account"</option>
                        <option value="enable">"Enable account"</option>
                    </select>
                    <button type="submit">"Apply"</button>
                </div>
                {form_error(moderate.value())}
                {form_ok(moderate.value())}
            </ActionForm>
        </section>
    }
}

/// An admin's registration settings: who may register, and invite links.
#[component]
fn Registration(mode: RegistrationMode) -> impl IntoView {
    let set = ServerAction::<SetRegistration>::new();
    let invite = ServerAction::<CreateInvite>::new();
    let link = move || {
        invite
            .value()
            .with(|v| v.as_ref().and_then(|r| r.as_ref().ok().cloned()))
            .map(|code| {
                let href = format!("/?invite={code}");
                view! {
                    <p class="form-ok" role="status">
                        "Invite link (one registration, within 7 days): "
                        <a href=href.clone() class="invite-link">{href.clone()}</a>
                    </p>
                }
            })
    };
    view! {
        <section class="card registration" aria-labelledby="registration-heading">
        <h2 id="registration-heading">"Registration"</h2>
        <ActionForm action=set>
            <label for="registration-mode">"Who can register"</label>
            <div class="inline-field">
                <select id="registration-mode" name="mode">
                    {RegistrationMode::ALL
                        .into_iter()
                        .map(|option| {
                            let label = match option {
                                RegistrationMode::Open => "Anyone",
                                RegistrationMode::Invite => "People with an invite",
                                RegistrationMode::Closed => "No one",
                            };
                            view! {
                                <option value=option.as_str() selected=option == mode>
                                    {label}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
                <button type="submit">"Save"</button>
            </div>
            {form_error(set.value())}
            {form_ok(set.value())}
        </ActionForm>
        <ActionForm action=invite>
            <button type="submit" class="secondary">"Create invite link"</button>
            {form_error(invite.value())}
            {link}
        </ActionForm>
        </section>
    }
}
