//! The permissions matrix at the doors: every standing in a named room (outside it, member,
//! moderator, owner) × every action a role limits, over HTTP with a plain form body (what a
//! page sends without JavaScript) and over the socket. The expected table is written out here,
//! not read from `app::rights`, so a wrong rule fails too. Each cell starts from a room of its
//! own; an allowed action answers 200 (an `ack` on the socket) and changes what the room's
//! owner sees, a refused one answers 403 or 404 (an `error` frame) and changes nothing.
#![expect(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;

use app::model::Member;
use app::protocol::{ClientFrame, ErrorCode, ServerFrame};
use common::{call, connect, form, next, post, register, say, send, start};

/// Where the one acting stands in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Outsider,
    Member,
    Moderator,
    Owner,
}

const EVERYONE: [Who; 4] = [Who::Outsider, Who::Member, Who::Moderator, Who::Owner];

/// The people of every cell: an owner, a moderator, a member, someone outside the room, and
/// those the actions are done to: a member (`target`, tara, whose message it is) and another
/// moderator (max).
struct Cast {
    owner: String,
    moderator: String,
    member: String,
    outsider: String,
    target: String,
    target_moderator: String,
}

impl Cast {
    fn cookie(&self, who: Who) -> &str {
        match who {
            Who::Outsider => &self.outsider,
            Who::Member => &self.member,
            Who::Moderator => &self.moderator,
            Who::Owner => &self.owner,
        }
    }
}

/// A public room of its own for one cell, with the cast in place and a message by the
/// target; its id and that message's seq.
async fn fresh_room(addr: SocketAddr, cast: &Cast, name: &str) -> (i64, i64) {
    let room: i64 = call(
        addr,
        "create_room",
        &format!("name={}", form(name)),
        &cast.owner,
    )
    .await
    .trim()
    .parse()
    .unwrap();
    for cookie in [
        &cast.moderator,
        &cast.member,
        &cast.target,
        &cast.target_moderator,
    ] {
        call(addr, "join_room", &format!("room_id={room}"), cookie).await;
    }
    for name in ["mona", "max"] {
        let args = format!("room_id={room}&username={name}&role=moderator");
        call(addr, "set_role", &args, &cast.owner).await;
    }
    let message = say(addr, &cast.target, room, "the target's message").await;
    (room, message.seq)
}

/// What the owner sees of the room: every message with its rev (each change to a message or
/// the room's settings takes one), who is in it with which role, and who is banned.
async fn snapshot(addr: SocketAddr, owner: &str, room: i64) -> String {
    let args = format!("room_id={room}&after_rev=0&limit=100");
    let changes = call(addr, "changes", &args, owner).await;
    let members: Vec<Member> =
        serde_json::from_str(&call(addr, "members", &format!("room_id={room}"), owner).await)
            .unwrap();
    let mut roles: Vec<String> = members
        .iter()
        .map(|m| format!("{}:{:?}", m.username, m.role))
        .collect();
    roles.sort();
    let bans = call(addr, "bans", &format!("room_id={room}"), owner).await;
    format!("{changes}\n{roles:?}\n{bans}")
}

/// An action over HTTP: its server function and form body in `room` (the target's message is
/// at `seq`), and the lowest standing allowed to do it.
fn http_action(action: &str, room: i64, seq: i64) -> (&'static str, String, Who) {
    let at = |rest: &str| format!("room_id={room}&{rest}");
    match action {
        "post" => ("post_message", at("text=hello"), Who::Member),
        "delete another's message" => ("delete_message", at(&format!("seq={seq}")), Who::Moderator),
        "pin" => ("pin", at(&format!("seq={seq}")), Who::Moderator),
        "react" => (
            "react",
            at(&format!("seq={seq}&emoji=%F0%9F%91%8D")),
            Who::Member,
        ),
        "invite" => ("add_member", at("username=nina"), Who::Member),
        "set the topic" => (
            "configure_room",
            at("field=topic&value=Plans"),
            Who::Moderator,
        ),
        "rename" => (
            "configure_room",
            at(&format!("field=name&value=renamed-{room}")),
            Who::Moderator,
        ),
        "make it read-only" => ("configure_room", at("field=read_only&value=on"), Who::Owner),
        "make it private" => ("configure_room", at("field=private&value=on"), Who::Owner),
        "ban a member" => ("ban", at("username=tara"), Who::Moderator),
        "ban a moderator" => ("ban", at("username=max"), Who::Owner),
        "remove a member" => ("remove_member", at("username=tara"), Who::Moderator),
        "remove a moderator" => ("remove_member", at("username=max"), Who::Owner),
        "promote" => ("set_role", at("username=tara&role=moderator"), Who::Owner),
        "demote a moderator" => ("set_role", at("username=max&role=member"), Who::Owner),
        other => panic!("no such action {other}"),
    }
}

const HTTP_ACTIONS: [&str; 15] = [
    "post",
    "delete another's message",
    "pin",
    "react",
    "invite",
    "set the topic",
    "rename",
    "make it read-only",
    "make it private",
    "ban a member",
    "ban a moderator",
    "remove a member",
    "remove a moderator",
    "promote",
    "demote a moderator",
];

async fn cast(addr: SocketAddr) -> Cast {
    // The first account is the instance admin: kept out of the cast, who are plain accounts.
    register(addr, "root").await;
    let cast = Cast {
        owner: register(addr, "olive").await,
        moderator: register(addr, "mona").await,
        member: register(addr, "mel").await,
        outsider: register(addr, "otto").await,
        target: register(addr, "tara").await,
        target_moderator: register(addr, "max").await,
    };
    register(addr, "nina").await;
    cast
}

#[tokio::test]
async fn every_standing_and_action_over_http_forms() {
    let server = start().await;
    let addr = server.addr;
    let cast = cast(addr).await;
    let mut wrong = Vec::new();
    for (i, action) in HTTP_ACTIONS.iter().enumerate() {
        for who in EVERYONE {
            let (room, seq) = fresh_room(addr, &cast, &format!("cell-{i}-{who:?}")).await;
            let (endpoint, args, lowest) = http_action(action, room, seq);
            let before = snapshot(addr, &cast.owner, room).await;
            let (status, _, body) = post(
                addr,
                &format!("/api/{endpoint}"),
                &args,
                Some(cast.cookie(who)),
            )
            .await;
            let after = snapshot(addr, &cast.owner, room).await;
            let allowed = who >= lowest;
            let ok = if allowed {
                status == 200 && before != after
            } else {
                matches!(status, 403 | 404) && before == after
            };
            if !ok {
                wrong.push(format!(
                    "{who:?} → {action}: {status} {body} (changed: {})",
                    before != after
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "cells that broke the rule:\n{}",
        wrong.join("\n")
    );
}

/// The answer to a socket command with client id `id`: its ack, or its error's code.
async fn answer(ws: &mut common::Ws, id: &str) -> Result<(), ErrorCode> {
    loop {
        match next(ws).await {
            ServerFrame::Ack { client_id, .. } if client_id == id => return Ok(()),
            ServerFrame::Error {
                code,
                client_id: Some(client_id),
                ..
            } if client_id == id => return Err(code),
            _ => {}
        }
    }
}

#[tokio::test]
async fn every_standing_and_action_over_the_socket() {
    let server = start().await;
    let addr = server.addr;
    let cast = cast(addr).await;
    let mut wrong = Vec::new();
    let actions = ["post", "delete another's message", "pin", "react"];
    for (i, action) in actions.iter().enumerate() {
        for who in EVERYONE {
            let (room, seq) = fresh_room(addr, &cast, &format!("socket-{i}-{who:?}")).await;
            let id = format!("c-{i}-{who:?}");
            let (frame, lowest) = match *action {
                "post" => (common::post_frame(room, &id, "hello"), Who::Member),
                "delete another's message" => (
                    ClientFrame::Delete {
                        room_id: room,
                        seq,
                        client_id: id.clone(),
                    },
                    Who::Moderator,
                ),
                "pin" => (
                    ClientFrame::Pin {
                        room_id: room,
                        seq,
                        client_id: id.clone(),
                        pinned: true,
                    },
                    Who::Moderator,
                ),
                _ => (
                    ClientFrame::React {
                        room_id: room,
                        seq,
                        client_id: id.clone(),
                        emoji: "👍".into(),
                    },
                    Who::Member,
                ),
            };
            let before = snapshot(addr, &cast.owner, room).await;
            let mut ws = connect(addr, cast.cookie(who)).await;
            send(&mut ws, &frame).await;
            let answered = answer(&mut ws, &id).await;
            let after = snapshot(addr, &cast.owner, room).await;
            let allowed = who >= lowest;
            let ok = match answered {
                Ok(()) => allowed && before != after,
                Err(code) => {
                    !allowed
                        && matches!(code, ErrorCode::Forbidden | ErrorCode::NotFound)
                        && before == after
                }
            };
            if !ok {
                wrong.push(format!(
                    "{who:?} → {action}: {answered:?} (changed: {})",
                    before != after
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "cells that broke the rule:\n{}",
        wrong.join("\n")
    );
}
