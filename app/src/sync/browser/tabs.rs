//! Several tabs of one group share one outbox (in IndexedDB). One tab, the
//! holder of the Web Lock `courtyard-outbox:<scope>`, sends it, so no write
//! goes out twice; the others hand over by writing to the store and saying
//! so on a BroadcastChannel. The same tab holds the group's wake stream and
//! relays what it hears on that channel. When it closes, the lock passes
//! to another tab.

use js_sys::{Function, Promise, Reflect};
use std::{
    cell::{Cell, RefCell},
    rc::Rc,
};
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use web_sys::{BroadcastChannel, MessageEvent};

pub struct Tabs {
    leader: Rc<Cell<bool>>,
    /// The page left: a lock granted from now on is given straight back.
    left: Rc<Cell<bool>>,
    /// Resolving it gives the lock up.
    release: Rc<RefCell<Option<Function>>>,
    channel: Option<BroadcastChannel>,
    _on_message: Option<Closure<dyn FnMut(MessageEvent)>>,
}

impl Tabs {
    /// Asks for the lock (`on_leader` runs once it is granted) and listens
    /// to the other tabs (`on_message` gets what they post).
    pub fn join(scope: &str, on_leader: impl Fn() + 'static, on_message: impl Fn(String) + 'static) -> Self {
        let leader = Rc::new(Cell::new(false));
        let left = Rc::new(Cell::new(false));
        let release = Rc::new(RefCell::new(None));
        let name = format!("courtyard-outbox:{scope}");
        if !request_lock(&name, leader.clone(), left.clone(), release.clone(), on_leader) {
            // No Web Locks here: this tab sends on its own.
            leader.set(true);
        }
        let channel = BroadcastChannel::new(&name).ok();
        let on_message = channel.as_ref().map(|channel| {
            let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                if let Some(text) = event.data().as_string() {
                    on_message(text);
                }
            });
            channel.set_onmessage(Some(handler.as_ref().unchecked_ref()));
            handler
        });
        Self { leader, left, release, channel, _on_message: on_message }
    }

    pub fn is_leader(&self) -> bool {
        self.leader.get()
    }

    /// Tells the other tabs of this scope.
    pub fn post(&self, message: &str) {
        if let Some(channel) = &self.channel {
            let _ = channel.post_message(&JsValue::from_str(message));
        }
    }

    /// Gives the lock and the channel up (the page leaves the group).
    pub fn leave(&self) {
        self.left.set(true);
        if let Some(resolve) = self.release.borrow_mut().take() {
            let _ = resolve.call0(&JsValue::NULL);
        }
        self.leader.set(false);
        if let Some(channel) = &self.channel {
            channel.set_onmessage(None);
            channel.close();
        }
    }
}

/// `navigator.locks.request(name, lock => new Promise(resolve => ...))`:
/// held until `release` is called, or given back at once if the page left
/// while it waited. False if the browser has no Web Locks.
fn request_lock(
    name: &str,
    leader: Rc<Cell<bool>>,
    left: Rc<Cell<bool>>,
    release: Rc<RefCell<Option<Function>>>,
    on_leader: impl Fn() + 'static,
) -> bool {
    let Some(window) = web_sys::window() else { return false };
    let locks = Reflect::get(&window.navigator(), &JsValue::from_str("locks")).unwrap_or(JsValue::UNDEFINED);
    let Ok(request) = Reflect::get(&locks, &JsValue::from_str("request")).and_then(|f| f.dyn_into::<Function>()) else {
        return false;
    };
    let granted = Closure::once_into_js(move |_lock: JsValue| -> Promise {
        if left.get() {
            // A later visit of this group asks for the lock anew.
            return Promise::resolve(&JsValue::UNDEFINED);
        }
        leader.set(true);
        on_leader();
        Promise::new(&mut |resolve, _reject| {
            *release.borrow_mut() = Some(resolve);
        })
    });
    request.call2(&locks, &JsValue::from_str(name), &granted).is_ok()
}
