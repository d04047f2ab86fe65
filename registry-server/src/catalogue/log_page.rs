//! `GET /log`: this node's current signed checkpoint, the logs it mirrors
//! with the cosignatures it holds for them, and the peers it follows.

use super::{html, PageError};
use crate::federation::relay;
use crate::routes::log::current_checkpoint;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use askama::Template;
use shire_core::wire::{MirrorInfo, PeerStatus};

#[derive(Template)]
#[template(path = "log.html")]
struct LogPage {
    origin: String,
    size: u64,
    checkpoint: String,
    mirrors: Vec<MirrorInfo>,
    peers: Vec<PeerStatus>,
}

/// The log page.
pub async fn page(state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let checkpoint = current_checkpoint(&state)?;
    let size = checkpoint
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or_default();
    html(&LogPage {
        origin: state.origin.clone(),
        size,
        checkpoint,
        mirrors: relay::list(&state.store)?,
        peers: state
            .federation
            .as_ref()
            .map(|f| f.board.all())
            .unwrap_or_default(),
    })
}
