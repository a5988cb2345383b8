use super::*;
use std::sync::atomic::AtomicU32;

#[tokio::test]
async fn a_panic_becomes_its_message() {
    assert_eq!(caught(async { 7 }).await, Ok(7));
    let boom = caught(async { panic!("boom") }).await;
    assert_eq!(boom, Err::<(), _>("boom".to_owned()));
    let n = 3;
    let formatted = caught(async move { panic!("job {n} broke") }).await;
    assert_eq!(formatted, Err::<(), _>("job 3 broke".to_owned()));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_loop_is_restarted_after_its_leases_are_given_back() {
    let loops = Loops::default();
    let l = loops.add("claim-0".into(), Some("me/claim-0".into()));
    let (_stop, rx) = watch::channel(false);
    let runs = AtomicU32::new(0);
    let released = Mutex::new(Vec::new());
    let start = || async {
        // Panics twice, then runs until stopped (here: returns at once).
        if runs.fetch_add(1, Ordering::SeqCst) < 2 {
            panic!("loop broke");
        }
    };
    let after_panic = |panic: String| {
        // The loop is down while its leases are given back.
        let down = loops.all().iter().any(|l| !l.running());
        released
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((panic, down));
        async {}
    };
    supervise(&l, rx, start, after_panic).await;
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert!(l.running());
    let released = released.into_inner().unwrap_or_else(|e| e.into_inner());
    assert_eq!(
        released,
        vec![
            ("loop broke".to_owned(), true),
            ("loop broke".to_owned(), true)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn stopping_during_the_pause_ends_the_supervisor() {
    let loops = Loops::default();
    let l = loops.add("stock-0".into(), None);
    let (stop, rx) = watch::channel(false);
    let runs = AtomicU32::new(0);
    let start = || async {
        runs.fetch_add(1, Ordering::SeqCst);
        panic!("always")
    };
    let after_panic = |_| {
        let _ = stop.send(true);
        async {}
    };
    supervise(&l, rx, start, after_panic).await;
    assert_eq!(runs.load(Ordering::SeqCst), 1, "not restarted once stopped");
    assert!(!l.running(), "a stopped, panicked loop stays down");
}

#[test]
fn restarts_back_off_up_to_the_cap() {
    assert_eq!(RESTART.backoff(1, 1.0), Duration::from_millis(100));
    assert_eq!(RESTART.backoff(2, 1.0), Duration::from_millis(200));
    assert_eq!(RESTART.backoff(u32::MAX, 1.0), Duration::from_secs(30));
}
