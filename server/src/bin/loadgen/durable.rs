//! `durable`: every socket its own account posting into its own note-to-self DM, so each post
//! is delivered once and acknowledged only after its commit.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::client::post_form;
use super::LoadResult;

/// Opens each account's note-to-self DM; returns their room ids, in account order.
pub(crate) async fn own_dms(
    addr: SocketAddr,
    accounts: &[(String, String)],
) -> LoadResult<Vec<i64>> {
    let gate = Arc::new(Semaphore::new(16));
    let mut tasks = Vec::with_capacity(accounts.len());
    for (name, cookie) in accounts {
        let (name, cookie) = (name.clone(), cookie.clone());
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let body = format!("username={name}");
            let answer = post_form(addr, "/api/open_dm", &body, Some(&cookie)).await?;
            match (answer.status, answer.body.trim().parse::<i64>()) {
                (200, Ok(room)) => Ok::<_, Box<dyn std::error::Error + Send + Sync>>(room),
                (status, _) => Err(format!("open_dm answered {status}: {}", answer.body).into()),
            }
        }));
    }
    let mut rooms = Vec::with_capacity(accounts.len());
    for task in tasks {
        rooms.push(task.await??);
    }
    Ok(rooms)
}
