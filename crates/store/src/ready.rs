//! Test helper: runs a future that never waits (the fakes of the unit tests answer at
//! once), without an async runtime.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// The output of `f`, which must be ready on its first poll.
pub(crate) fn ready<F: Future>(f: F) -> F::Output {
    match pin!(f)
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the future waited"),
    }
}
