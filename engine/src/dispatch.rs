//! When an idle worker looks for due tasks: at once on a NOTIFY, again
//! shortly after it, and on an interval.
//!
//! apalis 1.0's `PollWith` consumes a notification even while a fetch is in
//! flight, and that fetch's snapshot may predate the insert that was
//! announced: the fetch comes back empty, nothing is left to wake the worker,
//! and the new task waits for the next interval (the tail that `bench steps`
//! measured). After each notification this strategy therefore wakes the
//! worker again after each of [`RECHECKS`]: a fetch started then sees the
//! committed task. A wake-up that finds the worker busy costs nothing (it
//! only polls the fetch under way); one that finds it idle costs one indexed
//! query.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use apalis::prelude::{PollSnapshot, PollStrategy};
use futures::Stream;
use tokio::time::{Instant, Sleep};

/// Delays after the latest notification at which the worker looks again:
/// the first covers an ordinary fetch under way, the second a slow one.
pub const RECHECKS: [Duration; 2] = [Duration::from_millis(3), Duration::from_millis(20)];

/// A [`PollStrategy`]: ready when `notifications` yields, after each of
/// [`RECHECKS`] following the latest one, and every `interval`.
pub struct NotifyThenRecheck<S> {
    notifications: S,
    interval: Duration,
    tick: Pin<Box<Sleep>>,
    heard_at: Option<Instant>,
    recheck: Pin<Box<Sleep>>,
    next_recheck: usize,
}

impl<S> NotifyThenRecheck<S> {
    /// Wakes on `notifications` (apalis-postgres's `Pubsub` for the queue)
    /// and every `interval` (timers coming due are not announced).
    pub fn new(notifications: S, interval: Duration) -> Self {
        let now = Instant::now();
        Self {
            notifications,
            interval,
            tick: Box::pin(tokio::time::sleep_until(now + interval)),
            heard_at: None,
            recheck: Box::pin(tokio::time::sleep_until(now)),
            next_recheck: RECHECKS.len(),
        }
    }

    fn arm_recheck(&mut self) {
        match (self.heard_at, RECHECKS.get(self.next_recheck)) {
            (Some(heard), Some(after)) => self.recheck.as_mut().reset(heard + *after),
            _ => self.heard_at = None,
        }
    }
}

impl<S, T> PollStrategy for NotifyThenRecheck<S>
where
    S: Stream<Item = T> + Unpin,
{
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        let mut ready = false;
        // Drain every notification that is waiting: one fetch serves them all.
        while let Poll::Ready(Some(_)) = Pin::new(&mut self.notifications).poll_next(cx) {
            self.heard_at = Some(Instant::now());
            self.next_recheck = 0;
            self.arm_recheck();
            ready = true;
        }
        if self.heard_at.is_some() && self.recheck.as_mut().poll(cx).is_ready() {
            self.next_recheck += 1;
            self.arm_recheck();
            if self.heard_at.is_some() {
                // Register the re-armed timer's waker.
                let _ = self.recheck.as_mut().poll(cx);
            }
            ready = true;
        }
        if self.tick.as_mut().poll(cx).is_ready() {
            let next = Instant::now() + self.interval;
            self.tick.as_mut().reset(next);
            let _ = self.tick.as_mut().poll(cx);
            ready = true;
        }
        if ready {
            Poll::Ready(Some(()))
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::task::noop_waker_ref;

    fn drive<S: Stream<Item = ()> + Unpin>(s: &mut NotifyThenRecheck<S>) -> bool {
        let mut cx = Context::from_waker(noop_waker_ref());
        s.poll_drive(&mut cx, &PollSnapshot::default()).is_ready()
    }

    #[tokio::test(start_paused = true)]
    async fn a_notification_wakes_at_once_and_again_after_each_recheck() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<()>();
        let mut s = NotifyThenRecheck::new(rx, Duration::from_secs(60));
        assert!(!drive(&mut s), "nothing heard, nothing due");
        let _ = tx.unbounded_send(());
        assert!(drive(&mut s), "the notification itself");
        assert!(!drive(&mut s));
        tokio::time::advance(RECHECKS[0]).await;
        assert!(drive(&mut s), "the first recheck");
        assert!(!drive(&mut s));
        tokio::time::advance(RECHECKS[1] - RECHECKS[0]).await;
        assert!(drive(&mut s), "the second recheck");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!drive(&mut s), "no more after the last recheck");
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(drive(&mut s), "the interval");
    }
}
