//! Log in and register, side by side, for visitors.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::feedback::{form_error, ErrorPanel};
use super::session::Session;
use crate::api::auth::registration;
use crate::error::AppError;
use crate::model::RegistrationMode;

/// What a page shows when its data could not be loaded: the login screen for a visitor, the
/// error otherwise.
pub fn page_error(error: AppError) -> AnyView {
    match error {
        AppError::Unauthorized(_) => view! { <AuthPage/> }.into_any(),
        error => view! { <ErrorPanel error/> }.into_any(),
    }
}

/// The visitor's screen.
#[component]
pub fn AuthPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let mode = Resource::new(|| (), |_| registration());
    // An invite link is this page with `?invite=CODE`.
    let invite = use_query_map()
        .with_untracked(|q| q.get("invite"))
        .unwrap_or_default();
    view! {
        <main class="auth">
            <header class="auth-header">
                <h1>"Confab"</h1>
                <p>"Chat for your people, on your own server."</p>
            </header>
            <div class="auth-forms">
                <section class="card" aria-labelledby="login-heading">
                    <h2 id="login-heading">"Log in"</h2>
                    <ActionForm action=session.login>
                        <CredentialFields prefix="login" new_password=false/>
                        <button type="submit">"Log in"</button>
                        {form_error(session.login.value())}
                    </ActionForm>
                </section>
                <section class="card" aria-labelledby="register-heading">
                    <h2 id="register-heading">"Register"</h2>
                    <Suspense fallback=|| ()>
                        {move || {
                            let invite = invite.clone();
                            Suspend::new(async move {
                                match mode.await {
                                    Ok(RegistrationMode::Closed) => {
                                        view! {
                                            <p class="muted">
                                                "Registration is closed on this instance. Ask an admin for an account."
                                            </p>
                                        }
                                            .into_any()
                                    }
                                    mode => {
                                        let needs_invite = matches!(mode, Ok(RegistrationMode::Invite));
                                        view! { <RegisterForm needs_invite invite/> }.into_any()
                                    }
                                }
                            })
                        }}
                    </Suspense>
                </section>
            </div>
        </main>
    }
}

/// The registration form; with `needs_invite`, or an invite link (which may be one to claim an
/// imported account), an invite code field filled from the link.
#[component]
fn RegisterForm(needs_invite: bool, invite: String) -> impl IntoView {
    let session = expect_context::<Session>();
    let shown = needs_invite || !invite.is_empty();
    view! {
        <ActionForm action=session.register>
            <CredentialFields prefix="register" new_password=true/>
            {shown
                .then(|| {
                    view! {
                        <label for="register-invite">"Invite code"</label>
                        <input
                            id="register-invite"
                            name="invite"
                            autocomplete="off"
                            spellcheck="false"
                            required
                            value=invite
                        />
                    }
                })}
            <button type="submit">"Register"</button>
            {form_error(session.register.value())}
        </ActionForm>
    }
}

/// The "Username" and "Password" fields both forms share.
#[component]
fn CredentialFields(prefix: &'static str, new_password: bool) -> impl IntoView {
    let user_id = format!("{prefix}-username");
    let pass_id = format!("{prefix}-password");
    let hint_id = format!("{prefix}-hint");
    view! {
        <label for=user_id.clone()>"Username"</label>
        <input
            id=user_id
            name="username"
            autocomplete="username"
            autocapitalize="none"
            spellcheck="false"
            required
            maxlength="32"
        />
        <label for=pass_id.clone()>"Password"</label>
        <input
            id=pass_id
            name="password"
            type="password"
            autocomplete=if new_password { "new-password" } else { "current-password" }
            aria-describedby=new_password.then(|| hint_id.clone())
            required
        />
        {new_password
            .then(|| {
                view! {
                    <p class="hint" id=hint_id>
                        "Letters, digits, _ - . in the username; at least 8 characters of password."
                    </p>
                }
            })}
    }
}
