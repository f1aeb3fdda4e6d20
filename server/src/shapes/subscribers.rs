//! How many live subscribers the server holds now, by kind (for
//! `/metrics`): each held request counts itself while it lives.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `GET /v1/shape?live=true`, waiting.
    ShapeLongPoll,
    /// `GET /v1/shape?live=true&live_sse=true`, open.
    ShapeStream,
    /// `GET /v1/wake`, waiting.
    WakeLongPoll,
    /// `GET /v1/wake?live_sse=true`, open.
    WakeStream,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::ShapeLongPoll, Kind::ShapeStream, Kind::WakeLongPoll, Kind::WakeStream];

    /// The `kind` label of `courtyard_live_subscribers`.
    pub fn label(self) -> &'static str {
        match self {
            Kind::ShapeLongPoll => "shape_long_poll",
            Kind::ShapeStream => "shape_sse",
            Kind::WakeLongPoll => "wake_long_poll",
            Kind::WakeStream => "wake_sse",
        }
    }
}

#[derive(Default)]
pub struct Subscribers([AtomicUsize; 4]);

/// One held subscriber: counted until dropped.
pub struct Subscriber {
    all: Arc<Subscribers>,
    kind: Kind,
}

impl Subscribers {
    pub fn hold(self: &Arc<Self>, kind: Kind) -> Subscriber {
        self.0[kind as usize].fetch_add(1, Ordering::Relaxed);
        Subscriber { all: self.clone(), kind }
    }

    pub fn count(&self, kind: Kind) -> usize {
        self.0[kind as usize].load(Ordering::Relaxed)
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.all.0[self.kind as usize].fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscriber_counts_while_it_lives() {
        let all = Arc::new(Subscribers::default());
        let one = all.hold(Kind::WakeStream);
        let two = all.hold(Kind::WakeStream);
        let poll = all.hold(Kind::ShapeLongPoll);
        assert_eq!(all.count(Kind::WakeStream), 2);
        assert_eq!(all.count(Kind::ShapeLongPoll), 1);
        assert_eq!(all.count(Kind::ShapeStream), 0);
        drop((one, poll));
        assert_eq!(all.count(Kind::WakeStream), 1);
        assert_eq!(all.count(Kind::ShapeLongPoll), 0);
        drop(two);
        assert_eq!(all.count(Kind::WakeStream), 0);
    }
}
