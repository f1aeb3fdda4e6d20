//! HTTP for the sync: GETs and POSTs with a timeout, abortable, answering
//! status, headers and body (or a network failure). Each names the user
//! whose local copy it serves (`EXPECTED_USER_HEADER`): the server answers
//! 401 if the browser's session has become someone else's since.

use crate::model::EXPECTED_USER_HEADER;
use futures::{future::Either, pin_mut};
use gloo_net::http::{Request, Response};
use uuid::Uuid;
use web_sys::{AbortController, RequestCache};

pub struct Answer {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    }
}

/// The request never got an answer (offline, server down, timed out, aborted).
#[derive(Debug)]
pub struct Unreachable;

pub async fn get(
    url: &str,
    user: Uuid,
    query: &[(&str, String)],
    timeout_ms: u32,
    abort: &AbortController,
) -> Result<Answer, Unreachable> {
    read(open(url, user, query, timeout_ms, abort).await?).await
}

/// A GET whose status and headers came in time, its body still to read
/// (as it comes: `events`).
pub async fn open(
    url: &str,
    user: Uuid,
    query: &[(&str, String)],
    timeout_ms: u32,
    abort: &AbortController,
) -> Result<Response, Unreachable> {
    within(timeout_ms, abort, async { send(get_request(url, user, query, abort)?).await }).await
}

pub async fn post_json(
    url: &str,
    user: Uuid,
    body: &impl serde::Serialize,
    timeout_ms: u32,
) -> Result<Answer, Unreachable> {
    let abort = AbortController::new().map_err(|_| Unreachable)?;
    let request = Request::post(url)
        .header(EXPECTED_USER_HEADER, &user.to_string())
        .abort_signal(Some(&abort.signal()))
        .json(body)
        .map_err(|_| Unreachable)?;
    read(within(timeout_ms, &abort, send(request)).await?).await
}

fn get_request(
    url: &str,
    user: Uuid,
    query: &[(&str, String)],
    abort: &AbortController,
) -> Result<Request, Unreachable> {
    // Never from the HTTP cache: a catch-up at an offset asked before must
    // see what came since (the rows live in IndexedDB anyway).
    Request::get(url)
        .header(EXPECTED_USER_HEADER, &user.to_string())
        .query(query.iter().map(|(k, v)| (*k, v.as_str())))
        .cache(RequestCache::NoStore)
        .abort_signal(Some(&abort.signal()))
        .build()
        .map_err(|_| Unreachable)
}

async fn send(request: Request) -> Result<Response, Unreachable> {
    request.send().await.map_err(|_| Unreachable)
}

/// The whole answer, its body as text.
pub async fn read(response: Response) -> Result<Answer, Unreachable> {
    let headers = response.headers().entries().collect();
    let status = response.status();
    let body = response.text().await.map_err(|_| Unreachable)?;
    Ok(Answer { status, headers, body })
}

/// `work`, aborted if it takes longer than `timeout_ms`. Only the status
/// and headers are timed: a large answer on a slow link takes its time.
async fn within<T>(
    timeout_ms: u32,
    abort: &AbortController,
    work: impl std::future::Future<Output = Result<T, Unreachable>>,
) -> Result<T, Unreachable> {
    let timer = gloo_timers::future::TimeoutFuture::new(timeout_ms);
    pin_mut!(work);
    match futures::future::select(work, timer).await {
        Either::Left((done, _)) => done,
        Either::Right(_) => {
            abort.abort();
            Err(Unreachable)
        }
    }
}
