//! A `text/event-stream` read as it comes, over fetch (an `EventSource`
//! cannot send the expected-user header, nor be told how long to wait):
//! its `data:` events and comments, each waited for at most a given time.

use super::net::{self, Answer, Unreachable};
use gloo_net::http::Response;
use js_sys::{Reflect, Uint8Array};
use uuid::Uuid;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, ReadableStreamDefaultReader};

pub enum Event {
    /// A `data:` event's text.
    Data(String),
    /// A comment (`: keep-alive`).
    Comment,
}

/// An open stream; dropping it aborts the request.
pub struct EventStream {
    reader: ReadableStreamDefaultReader,
    abort: AbortController,
    buffer: Vec<u8>,
    /// Whether anything came on it yet.
    pub heard: bool,
    /// When it opened (ms since the epoch).
    pub opened: f64,
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.abort.abort();
    }
}

/// Opens `url` as an event stream (`abort` ends it); the answer itself if
/// it is not one (an error status, or a server that does not stream).
pub async fn open(
    url: &str,
    user: Uuid,
    query: &[(&str, String)],
    timeout_ms: u32,
    abort: AbortController,
) -> Result<Result<EventStream, Answer>, Unreachable> {
    let response: Response = net::open(url, user, query, timeout_ms, &abort).await?;
    let streamed = response.headers().get("content-type").is_some_and(|t| t.starts_with("text/event-stream"));
    match response.body() {
        Some(body) if response.status() == 200 && streamed => {
            let reader = body.get_reader().unchecked_into::<ReadableStreamDefaultReader>();
            Ok(Ok(EventStream { reader, abort, buffer: Vec::new(), heard: false, opened: js_sys::Date::now() }))
        }
        _ => Ok(Err(net::read(response).await?)),
    }
}

impl EventStream {
    /// What aborts it (from elsewhere, while it is being read).
    pub fn abort_handle(&self) -> AbortController {
        self.abort.clone()
    }

    /// The next event, waited for at most `timeout_ms`; `None` once the
    /// server ended the stream.
    pub async fn next(&mut self, timeout_ms: u32) -> Result<Option<Event>, Unreachable> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = self.buffer.drain(..end + 2).collect();
                self.heard = true;
                let text = String::from_utf8_lossy(&event);
                let data: Vec<&str> = text.lines().filter_map(|line| line.strip_prefix("data:")).collect();
                if data.is_empty() {
                    return Ok(Some(Event::Comment));
                }
                return Ok(Some(Event::Data(data.iter().map(|d| d.trim_start()).collect::<Vec<_>>().join("\n"))));
            }
            let read = JsFuture::from(self.reader.read());
            let timer = gloo_timers::future::TimeoutFuture::new(timeout_ms);
            let chunk = match futures::future::select(read, timer).await {
                futures::future::Either::Left((Ok(chunk), _)) => chunk,
                _ => return Err(Unreachable),
            };
            if Reflect::get(&chunk, &JsValue::from_str("done")).is_ok_and(|d| d.is_truthy()) {
                return Ok(None);
            }
            let value = Reflect::get(&chunk, &JsValue::from_str("value")).map_err(|_| Unreachable)?;
            self.buffer.extend(value.dyn_into::<Uint8Array>().map_err(|_| Unreachable)?.to_vec());
        }
    }
}
