use super::*;
use crate::outcome::Passed;

#[test]
fn the_wake_up_is_the_end_of_the_tick_the_deadline_falls_in_never_before_it() {
    let epoch = Instant::now();
    let ms = Duration::from_millis;
    assert_eq!(wake_tick(epoch, epoch), epoch);
    assert_eq!(wake_tick(epoch + ms(10), epoch), epoch + ms(10));
    assert_eq!(
        wake_tick(epoch + ms(10) + Duration::from_nanos(1), epoch),
        epoch + ms(20)
    );
    assert_eq!(wake_tick(epoch + ms(1234), epoch), epoch + ms(1240));
    for n in 0..1000u64 {
        let due = epoch + Duration::from_micros(n * 997);
        let wake = wake_tick(due, epoch);
        assert!(wake >= due && wake - due < WAKE_TICK, "{n}");
    }
    // A deadline already past (before the scheduler started) wakes at once.
    assert_eq!(wake_tick(epoch - ms(5), epoch), epoch);
}

#[test]
fn a_probe_task_that_ends_without_a_result_reports_a_failure() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    drop(Answer {
        to: Some(tx.clone()),
        slot: 3,
        generation: 7,
    });
    match rx.try_recv() {
        Ok(((3, 7), ProbeResult::Failed(Failure::Internal(_)))) => {}
        other => panic!("expected an internal failure, got {other:?}"),
    }

    let mut answer = Answer {
        to: Some(tx),
        slot: 4,
        generation: 8,
    };
    answer.send(ProbeResult::Passed(Passed::Connected));
    drop(answer);
    assert!(matches!(
        rx.try_recv(),
        Ok(((4, 8), ProbeResult::Passed(Passed::Connected)))
    ));
    // One answer per probe: the drop after a send adds nothing.
    assert!(rx.try_recv().is_err());
}
