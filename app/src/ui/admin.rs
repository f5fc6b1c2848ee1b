//! The instance administrators' console (`/admin`): what the instance holds and the limits it
//! runs with, its accounts and its public rooms (each searchable, a page at a time, with their
//! actions), who may register and invite links, and the audit log of every admin action. Plain forms and links,
//! so it works without JavaScript too. Anyone but an admin gets "Page not found" (404), as the
//! server answers every admin call.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::auth_page::page_error;
use super::feedback::{form_error, form_ok, NotFound, UsernameInput};
use super::local_time::LocalTime;
use super::session::Session;
use crate::api::admin::{admin_console, AdminRoom, AdminView};
use crate::api::auth::{CreateInvite, Moderate, RevokeInvite, SetRegistration};
use crate::error::AppError;
use crate::model::{size_label, AccountRow, AdminRoomRow, AuditEntry, InviteRow, RegistrationMode};

/// The page: the console for an admin, "not found" for anyone else, the login screen for a
/// visitor. The console is read again after each action taken on it.
#[component]
pub fn AdminPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let query = use_query_map();
    let moderate = ServerAction::<Moderate>::new();
    let set = ServerAction::<SetRegistration>::new();
    let invite = ServerAction::<CreateInvite>::new();
    let revoke = ServerAction::<RevokeInvite>::new();
    let room_action = ServerAction::<AdminRoom>::new();
    // What is typed into "Moderate an account" outlives the console's redraw after an action.
    let moderate_name = RwSignal::new(String::new());
    let console = Resource::new(
        move || {
            let asked = query.with(|q| {
                (
                    q.get("q"),
                    q.get("after"),
                    q.get("before"),
                    q.get("rooms"),
                    q.get("rooms_after"),
                )
            });
            let acted = (
                moderate.version().get(),
                set.version().get(),
                invite.version().get(),
                revoke.version().get(),
                room_action.version().get(),
            );
            (session.changes(), asked, acted)
        },
        |(_, (search, after, before, rooms, rooms_after), _)| {
            let before = before.and_then(|b| b.parse().ok());
            admin_console(search, after, before, rooms, rooms_after)
        },
    );
    view! {
        <leptos_meta::Title text="Administration – Confab"/>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match console.await {
                    Ok(console) => {
                        let actions = Actions { moderate, set, invite, revoke, room_action };
                        view! { <Console console actions moderate_name/> }.into_any()
                    }
                    Err(AppError::NotFound(_)) => view! { <NotFound/> }.into_any(),
                    Err(error) => page_error(error),
                }
            })}
        </Transition>
    }
}

/// What an admin can do from the console; the console is read again after each.
#[derive(Clone, Copy)]
struct Actions {
    moderate: ServerAction<Moderate>,
    set: ServerAction<SetRegistration>,
    invite: ServerAction<CreateInvite>,
    revoke: ServerAction<RevokeInvite>,
    room_action: ServerAction<AdminRoom>,
}

/// Everything an admin sees, in the order they look for it.
#[component]
fn Console(console: AdminView, actions: Actions, moderate_name: RwSignal<String>) -> impl IntoView {
    let Actions {
        moderate,
        set,
        invite,
        revoke,
        room_action,
    } = actions;
    let AdminView {
        figures,
        sockets,
        push_key,
        limits,
        registration,
        invites,
        now,
        accounts,
        more_accounts,
        rooms,
        more_rooms,
        audit,
        older_audit,
    } = console;
    let (search, room_search) = use_query_map().with_untracked(|q| {
        (
            q.get("q").unwrap_or_default(),
            q.get("rooms").unwrap_or_default(),
        )
    });
    view! {
        <section class="panel admin" aria-label="Administration">
            <h1>"Administration"</h1>
            <section class="card instance" aria-labelledby="instance-heading">
                <h2 id="instance-heading">"Instance"</h2>
                <dl class="figures">
                    <div><dt>"Accounts"</dt><dd>{figures.users}</dd></div>
                    <div><dt>"Rooms"</dt><dd>{figures.rooms}</dd></div>
                    <div><dt>"Private rooms"</dt><dd>{figures.private_rooms}</dd></div>
                    <div><dt>"Direct messages"</dt><dd>{figures.dms}</dd></div>
                    <div><dt>"Messages"</dt><dd>{figures.messages}</dd></div>
                    <div>
                        <dt>"Database size"</dt>
                        <dd>{size_label(u64::try_from(figures.database_bytes).unwrap_or(0))}</dd>
                    </div>
                    <div><dt>"Connections on this server"</dt><dd>{sockets}</dd></div>
                </dl>
                <details class="limits">
                    <summary>"Limits and push key"</summary>
                    <dl>
                        {limits
                            .into_iter()
                            .map(|(name, value)| view! { <div><dt>{name}</dt><dd>{value}</dd></div> })
                            .collect_view()}
                        <div>
                            <dt>"Push public key"</dt>
                            <dd><code class="push-key">{push_key.unwrap_or_else(|| "push is off".into())}</code></dd>
                        </div>
                    </dl>
                </details>
            </section>
            <Accounts accounts more=more_accounts search moderate/>
            <Moderation moderate name=moderate_name/>
            <Rooms rooms more=more_rooms search=room_search act=room_action/>
            <Registration mode=registration set invite/>
            <Invites invites now revoke/>
            <AuditLog lines=audit older=older_audit/>
        </section>
    }
}

/// The accounts, a page at a time, with a search by name and each account's actions.
#[component]
fn Accounts(
    accounts: Vec<AccountRow>,
    more: Option<String>,
    search: String,
    moderate: ServerAction<Moderate>,
) -> impl IntoView {
    let next = more.map(|after| {
        let href = format!(
            "/admin?q={}&after={}",
            super::query_component(&search),
            super::query_component(&after)
        );
        view! { <a class="next-page" href=href>"Next accounts"</a> }
    });
    let empty = accounts.is_empty();
    view! {
        <section class="card accounts" aria-labelledby="accounts-heading">
            <h2 id="accounts-heading">"Accounts"</h2>
            <form method="get" action="/admin" role="search" class="inline-field">
                <label for="account-search" class="visually-hidden">"Search accounts"</label>
                <input id="account-search" type="search" name="q" value=search.clone()
                    placeholder="Search by name" maxlength="64"/>
                <button type="submit" class="secondary">"Search"</button>
            </form>
            <Show when=move || empty>
                <p>"No account matches."</p>
            </Show>
            <Table
                label="Account list"
                columns=&["Name", "State", "Last seen", "Sessions", "Actions"]
            >
                {accounts
                    .into_iter()
                    .map(|account| view! { <AccountLine account moderate/> })
                    .collect_view()}
            </Table>
            {next}
        </section>
    }
}

/// One account's row: who, whether they can log in, when they were last here, and buttons
/// that end their sessions or disable (or enable) them.
#[component]
fn AccountLine(account: AccountRow, moderate: ServerAction<Moderate>) -> impl IntoView {
    let AccountRow {
        username,
        is_admin,
        bot,
        disabled,
        last_seen_at,
        sessions,
        ..
    } = account;
    let state = match (disabled, is_admin, bot) {
        (true, _, _) => "Disabled",
        (false, true, _) => "Admin",
        (false, false, true) => "Bot",
        (false, false, false) => "Active",
    };
    let toggle = if disabled { "enable" } else { "disable" };
    let toggle_label = if disabled { "Enable" } else { "Disable" };
    let button = move |action: &'static str, label: &'static str, name: String| {
        let aria = format!("{label} {name}");
        view! {
            <ActionForm action=moderate>
                <input type="hidden" name="username" value=name/>
                <input type="hidden" name="action" value=action/>
                <button type="submit" class="secondary" aria-label=aria>{label}</button>
            </ActionForm>
        }
    };
    view! {
        <tr>
            <th scope="row">{username.clone()}</th>
            <td>{state}</td>
            <td>
                {match last_seen_at {
                    Some(ms) => view! { <LocalTime ms/> }.into_any(),
                    None => "never".into_any(),
                }}
            </td>
            <td>{sessions}</td>
            <td>
                <div class="row-actions">
                    {button("end_sessions", "End sessions", username.clone())}
                    {(!is_admin).then(|| button(toggle, toggle_label, username.clone()))}
                </div>
            </td>
        </tr>
    }
}

/// The public rooms, a page at a time, with a search by name and each room's actions. Private
/// rooms are not listed: they exist only for their members, admins included.
#[component]
fn Rooms(
    rooms: Vec<AdminRoomRow>,
    more: Option<String>,
    search: String,
    act: ServerAction<AdminRoom>,
) -> impl IntoView {
    let next = more.map(|after| {
        let href = format!(
            "/admin?rooms={}&rooms_after={}#rooms-heading",
            super::query_component(&search),
            super::query_component(&after)
        );
        view! { <a class="next-page" href=href>"Next rooms"</a> }
    });
    let empty = rooms.is_empty();
    view! {
        <section class="card admin-rooms" aria-labelledby="rooms-heading">
            <h2 id="rooms-heading">"Rooms"</h2>
            <form method="get" action="/admin#rooms-heading" role="search" class="inline-field">
                <label for="room-search" class="visually-hidden">"Search rooms"</label>
                <input id="room-search" type="search" name="rooms" value=search.clone()
                    placeholder="Search by name" maxlength="64"/>
                <button type="submit" class="secondary" aria-label="Search rooms">"Search"</button>
            </form>
            {form_error(act.value())}
            {form_ok(act.value())}
            <Show when=move || empty>
                <p>"No public room matches."</p>
            </Show>
            <Table
                label="Room list"
                columns=&["Name", "Members", "Messages", "Last message", "State", "Actions"]
            >
                {rooms.into_iter().map(|room| view! { <RoomLine room act/> }).collect_view()}
            </Table>
            {next}
        </section>
    }
}

/// One room's row: its name (a link to it), members, messages, last message and state, with
/// Archive (or Unarchive) and Delete, which asks for the room's name to be typed.
#[component]
fn RoomLine(room: AdminRoomRow, act: ServerAction<AdminRoom>) -> impl IntoView {
    let AdminRoomRow {
        id,
        name,
        members,
        messages,
        last_message_at,
        archived,
    } = room;
    let (toggle, toggle_label) = if archived {
        ("unarchive", "Unarchive")
    } else {
        ("archive", "Archive")
    };
    let confirm_id = format!("delete-room-{id}");
    let toggle_aria = format!("{toggle_label} {name}");
    let open_delete = format!("Delete {name}…");
    let delete_aria = format!("Delete {name} for good");
    view! {
        <tr>
            <th scope="row"><a href=format!("/r/{id}")>{name}</a></th>
            <td>{members}</td>
            <td>{messages}</td>
            <td>
                {if last_message_at > 0 {
                    view! { <LocalTime ms=last_message_at/> }.into_any()
                } else {
                    "never".into_any()
                }}
            </td>
            <td>{if archived { "Archived" } else { "Active" }}</td>
            <td>
                <div class="row-actions">
                    <ActionForm action=act>
                        <input type="hidden" name="room_id" value=id/>
                        <input type="hidden" name="action" value=toggle/>
                        <button type="submit" class="secondary"
                            aria-label=toggle_aria>
                            {toggle_label}
                        </button>
                    </ActionForm>
                    <details class="delete-room">
                        <summary aria-label=open_delete>"Delete…"</summary>
                        <ActionForm action=act>
                            <input type="hidden" name="room_id" value=id/>
                            <input type="hidden" name="action" value="delete"/>
                            <label for=confirm_id.clone()>
                                "Type the room’s name to delete it with all its messages"
                            </label>
                            <input id=confirm_id name="confirm" required autocomplete="off"
                                maxlength="80"/>
                            <button type="submit" class="danger"
                                aria-label=delete_aria>
                                "Delete for good"
                            </button>
                        </ActionForm>
                    </details>
                </div>
            </td>
        </tr>
    }
}

/// An admin's tools for one account by name: end its sessions, disable it, or enable it
/// again. A plain form, so it works without JavaScript too.
#[component]
fn Moderation(moderate: ServerAction<Moderate>, name: RwSignal<String>) -> impl IntoView {
    view! {
        <section class="card moderation" aria-labelledby="moderation-heading">
            <h2 id="moderation-heading">"Moderate by name"</h2>
            <ActionForm action=moderate>
                <label for="moderate-username">"Moderate an account"</label>
                <UsernameInput id="moderate-username" value=name/>
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
fn Registration(
    mode: RegistrationMode,
    set: ServerAction<SetRegistration>,
    invite: ServerAction<CreateInvite>,
) -> impl IntoView {
    let link = move || {
        invite
            .value()
            .with(|v| v.as_ref().and_then(|r| r.as_ref().ok().cloned()))
            .map(|code| {
                let href = format!("/?invite={code}");
                view! {
                    <p class="form-ok" role="status">
                        "Invite link (copy it now: it is not shown again): "
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
        <ActionForm action=invite attr:class="invite-form">
            <div class="inline-field">
                <label for="invite-uses">"People it admits"</label>
                <select id="invite-uses" name="uses">
                    {[1, 5, 25, 100]
                        .into_iter()
                        .map(|n| view! { <option value=n>{n}</option> })
                        .collect_view()}
                </select>
                <label for="invite-days">"Lasts"</label>
                <select id="invite-days" name="days">
                    <option value="1">"1 day"</option>
                    <option value="7" selected>"7 days"</option>
                    <option value="30">"30 days"</option>
                </select>
            </div>
            <label for="invite-claim">"For an imported account (optional)"</label>
            <input
                id="invite-claim"
                name="claim"
                autocomplete="off"
                autocapitalize="none"
                spellcheck="false"
                maxlength="32"
                aria-describedby="invite-claim-hint"
            />
            <p class="hint" id="invite-claim-hint">
                "Its person registers with this username and sets the password."
            </p>
            <button type="submit" class="secondary">"Create invite link"</button>
            {form_error(invite.value())}
            {link}
        </ActionForm>
        </section>
    }
}

/// The newest invites: who made each, how many it admitted of how many, until when, and
/// Revoke for those still open.
#[component]
fn Invites(invites: Vec<InviteRow>, now: i64, revoke: ServerAction<RevokeInvite>) -> impl IntoView {
    let empty = invites.is_empty();
    view! {
        <section class="card invites" aria-labelledby="invites-heading">
            <h2 id="invites-heading">"Invites"</h2>
            {form_error(revoke.value())}
            {form_ok(revoke.value())}
            {empty.then(|| view! { <p class="muted">"No invites yet."</p> })}
            <ul class="invite-list">
                {invites
                    .into_iter()
                    .map(|row| {
                        let open = row.open(now);
                        let state = row.state(now);
                        let by = row.created_by.clone().unwrap_or_else(|| "the command line".into());
                        let (created, expires) = (row.created_at, row.expires_at);
                        let used = format!("{} of {} used", row.uses, row.max_uses);
                        let id = row.id.clone();
                        view! {
                            <li class="invite">
                                <span>
                                    <strong>{state}</strong>
                                    " · " {used} " · made by " {by} " "
                                    <LocalTime ms=created/>
                                    " · until " <LocalTime ms=expires/>
                                </span>
                                {open.then(|| view! {
                                    <ActionForm action=revoke>
                                        <input type="hidden" name="id" value=id.clone()/>
                                        <button
                                            type="submit"
                                            class="secondary small"
                                            aria-label=format!("Revoke invite {id}")
                                        >
                                            "Revoke"
                                        </button>
                                    </ActionForm>
                                })}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}

/// The audit log, newest first, a page at a time, and its download.
#[component]
fn AuditLog(lines: Vec<AuditEntry>, older: Option<i64>) -> impl IntoView {
    let empty = lines.is_empty();
    let older = older.map(|before| {
        let href = format!("/admin?before={before}#audit-heading");
        view! { <a class="next-page" href=href>"Older actions"</a> }
    });
    view! {
        <section class="card audit" aria-labelledby="audit-heading">
            <h2 id="audit-heading">"Audit log"</h2>
            <p>
                "Every admin action, from here or from the server's command line. "
                <a href="/export/audit" download="">"Download the whole log (CSV)"</a>
            </p>
            <Show when=move || empty>
                <p>"No admin action yet."</p>
            </Show>
            <Table
                label="Audit log lines"
                columns=&["When", "Who", "What", "On", "Detail", "From"]
            >
                {lines
                    .into_iter()
                    .map(|line| {
                        view! {
                            <tr>
                                <td><LocalTime ms=line.at/></td>
                                <td>{line.actor}</td>
                                <td>{line.action}</td>
                                <td>{line.target}</td>
                                <td>{line.detail}</td>
                                <td>{line.origin}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </Table>
            {older}
        </section>
    }
}

/// A table named `label` with a head of `columns`, which scrolls sideways on a narrow screen
/// (and can be scrolled from the keyboard).
#[component]
fn Table(
    label: &'static str,
    columns: &'static [&'static str],
    children: Children,
) -> impl IntoView {
    view! {
        <div class="table-scroll" tabindex="0" role="region" aria-label=label>
            <table>
                <thead>
                    <tr>
                        {columns
                            .iter()
                            .map(|column| view! { <th scope="col">{*column}</th> })
                            .collect_view()}
                    </tr>
                </thead>
                <tbody>{children()}</tbody>
            </table>
        </div>
    }
}
