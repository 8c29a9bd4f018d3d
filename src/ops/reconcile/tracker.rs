//! What the agent remembers of one zone between rounds, and what it decides from it: which
//! drift to report (only when it appears, changes or clears), whether the SC's reachability
//! changed, and whether (and when) a remediation may run. Pure: the loop passes the time in.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::model::SpuId;

/// How remediation is paced.
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    /// At most one apply per zone in this interval (`--min-interval`).
    pub min_interval: Duration,
    /// Failed applies in a row after which remediation is suspended (`--max-failures`).
    pub max_failures: u32,
    /// A remediation whose drift is back this soon after it succeeded was undone (by
    /// another zone file, another agent, a script): it counts toward `--max-failures` like
    /// a failure, so that two writers cannot keep re-registering an SPU for ever
    /// (`--undone-within`, default 60s; zero: never).
    pub undone_within: Duration,
}

/// The longest wait between two attempts after failures.
pub const BACKOFF_CAP: Duration = Duration::from_secs(300);

impl Pacing {
    /// The wait after the `failures`-th failure in a row: the interval (at least a second),
    /// doubled per failure, at most [`BACKOFF_CAP`].
    pub fn backoff(&self, failures: u32) -> Duration {
        let base = self.min_interval.max(Duration::from_secs(1));
        let factor = 1u32 << failures.saturating_sub(1).min(16);
        base.saturating_mul(factor).min(BACKOFF_CAP.max(base))
    }
}

/// A zone's drift as one round found it: what each drifting SPU has and should have, and
/// why a plan would be refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    /// SPU id -> "SPU 1 (name): local A -> B", escaped.
    pub spus: BTreeMap<SpuId, String>,
    /// Why the plan is refused, escaped (an unknown SPU, too many changes, ...).
    pub blocked: Vec<String>,
}

impl Drift {
    pub fn is_none(&self) -> bool {
        self.spus.is_empty() && self.blocked.is_empty()
    }
}

/// What is worth a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Drift where there was none.
    Appeared(Drift),
    /// Different drift from the last reported.
    Changed(Drift),
    /// No drift where there was some.
    Cleared,
    /// The SC could not be read (first failure only).
    Unreachable(String),
    /// The SC answers again.
    Reachable,
    /// Remediation stopped after this many failures (or undone remediations) in a row.
    Suspended { failures: u32 },
    /// Remediation goes on: the zone file or the cluster changed.
    Resumed(&'static str),
}

/// Whether to remediate now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Apply,
    /// Not before then (the interval, or the backoff after a failure).
    NotBefore(Instant),
    /// Suspended until the file or the cluster changes.
    Suspended,
}

/// What a suspension waits for: a different desired state or a different cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Suspension {
    desired: u64,
    /// The cluster's SPUs as first read after the suspension.
    live: Option<u64>,
}

#[derive(Debug, Default)]
pub struct Tracker {
    reported: Drift,
    /// `None` before the first round.
    reachable: Option<bool>,
    /// Failed (or undone) remediations in a row.
    failures: u32,
    not_before: Option<Instant>,
    suspended: Option<Suspension>,
    /// When the last remediation succeeded, and from how long after it counts as lasting
    /// (`--undone-within`).
    last_ok: Option<Instant>,
    lasting_after: Duration,
    /// Why the last remediation was refused (a plan-wide blocker the read-only plan does
    /// not see: `max_changes`, a replication stall); until the drift changes.
    refused: Option<String>,
}

impl Tracker {
    /// A round read the cluster and found `drift`.
    pub fn observe(&mut self, drift: Drift) -> Vec<Event> {
        let mut events = Vec::new();
        if self.reachable == Some(false) {
            events.push(Event::Reachable);
        }
        self.reachable = Some(true);
        if drift.is_none() && self.suspended.take().is_some() {
            // converged while suspended: someone else put it right; start over
            events.push(Event::Resumed("the zone converged"));
            self.failures = 0;
            self.not_before = None;
            self.last_ok = None;
        }
        if drift != self.reported {
            self.refused = None;
            events.push(match (self.reported.is_none(), drift.is_none()) {
                (_, true) => Event::Cleared,
                (true, false) => Event::Appeared(drift.clone()),
                (false, false) => Event::Changed(drift.clone()),
            });
            self.reported = drift;
        }
        events
    }

    /// A round could not read the cluster.
    pub fn unreachable(&mut self, cause: &str) -> Option<Event> {
        let first = self.reachable != Some(false);
        self.reachable = Some(false);
        first.then(|| Event::Unreachable(cause.to_string()))
    }

    pub fn is_reachable(&self) -> bool {
        self.reachable == Some(true)
    }

    pub fn drift(&self) -> &Drift {
        &self.reported
    }

    pub fn is_suspended(&self) -> bool {
        self.suspended.is_some()
    }

    /// May a remediation run now? `desired` and `live` fingerprint the zone file and the
    /// cluster's SPUs: a suspension ends when either differs from what it was suspended on.
    pub fn decide(&mut self, now: Instant, desired: u64, live: u64) -> (Decision, Option<Event>) {
        let mut resumed = None;
        // a success that lasted ends the run of failures
        if self
            .last_ok
            .is_some_and(|t| now.saturating_duration_since(t) >= self.lasting_after)
        {
            self.failures = 0;
            self.last_ok = None;
        }
        if let Some(s) = &mut self.suspended {
            let live_then = *s.live.get_or_insert(live);
            let why = if s.desired != desired {
                Some("the zone file changed")
            } else if live_then != live {
                Some("the cluster's SPUs changed")
            } else {
                None
            };
            match why {
                None => return (Decision::Suspended, None),
                Some(why) => {
                    self.suspended = None;
                    self.failures = 0;
                    self.not_before = None;
                    resumed = Some(Event::Resumed(why));
                }
            }
        }
        match self.not_before {
            Some(t) if t > now => (Decision::NotBefore(t), resumed),
            _ => (Decision::Apply, resumed),
        }
    }

    /// Drift is back soon after a remediation succeeded: that counts as a failure (see
    /// [`Pacing::undone_within`]). Returns the suspension when it was the last allowed.
    pub fn undone(&mut self, now: Instant, desired: u64, pacing: &Pacing) -> Option<Event> {
        let recent = self
            .last_ok
            .is_some_and(|t| now.saturating_duration_since(t) < pacing.undone_within);
        if !recent || self.suspended.is_some() {
            return None;
        }
        self.last_ok = None;
        self.fail(now, desired, pacing)
    }

    /// Why the last remediation was refused, while the drift stays the same.
    pub fn refused(&self) -> Option<&str> {
        self.refused.as_deref()
    }

    pub fn set_refused(&mut self, why: String) {
        self.refused = Some(why);
    }

    /// A remediation ended at `now`: well, or not. On a failure, returns the suspension
    /// when this one was the last allowed.
    pub fn applied(
        &mut self,
        now: Instant,
        ok: bool,
        desired: u64,
        pacing: &Pacing,
    ) -> Option<Event> {
        if ok {
            // failures in a row end when this success lasts (see `decide`, `undone`)
            self.not_before = Some(now + pacing.min_interval);
            self.last_ok = Some(now);
            self.lasting_after = pacing.undone_within;
            return None;
        }
        self.fail(now, desired, pacing)
    }

    fn fail(&mut self, now: Instant, desired: u64, pacing: &Pacing) -> Option<Event> {
        self.failures += 1;
        self.not_before = Some(now + pacing.backoff(self.failures));
        if self.failures >= pacing.max_failures.max(1) {
            self.suspended = Some(Suspension {
                desired,
                live: None,
            });
            return Some(Event::Suspended {
                failures: self.failures,
            });
        }
        None
    }

    /// Failed remediations in a row.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// When the next remediation may run, if it must wait.
    pub fn not_before(&self) -> Option<Instant> {
        self.not_before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNDONE_WITHIN: Duration = Duration::from_secs(60);

    fn drift(ids: &[SpuId]) -> Drift {
        Drift {
            spus: ids.iter().map(|id| (*id, format!("SPU {id}"))).collect(),
            blocked: vec![],
        }
    }

    const PACING: Pacing = Pacing {
        min_interval: Duration::from_secs(10),
        max_failures: 3,
        undone_within: UNDONE_WITHIN,
    };

    #[test]
    fn drift_is_reported_once_when_it_appears_changes_and_clears() {
        let mut t = Tracker::default();
        assert_eq!(t.observe(drift(&[])), vec![]);
        assert_eq!(t.observe(drift(&[1])), vec![Event::Appeared(drift(&[1]))]);
        assert_eq!(t.observe(drift(&[1])), vec![], "no repeated noise");
        assert_eq!(
            t.observe(drift(&[1, 2])),
            vec![Event::Changed(drift(&[1, 2]))]
        );
        assert_eq!(t.observe(drift(&[])), vec![Event::Cleared]);
        assert_eq!(t.observe(drift(&[])), vec![]);
    }

    #[test]
    fn reachability_is_reported_on_transitions_only() {
        let mut t = Tracker::default();
        assert_eq!(
            t.unreachable("refused"),
            Some(Event::Unreachable("refused".into()))
        );
        assert_eq!(t.unreachable("refused"), None);
        assert!(!t.is_reachable());
        assert_eq!(t.observe(drift(&[])), vec![Event::Reachable]);
        assert_eq!(t.observe(drift(&[])), vec![]);
        assert!(t.is_reachable());
    }

    #[test]
    fn backoff_doubles_from_the_interval_and_is_capped() {
        assert_eq!(PACING.backoff(1), Duration::from_secs(10));
        assert_eq!(PACING.backoff(2), Duration::from_secs(20));
        assert_eq!(PACING.backoff(3), Duration::from_secs(40));
        assert_eq!(PACING.backoff(60), BACKOFF_CAP);
        let fast = Pacing {
            min_interval: Duration::ZERO,
            max_failures: 3,
            undone_within: UNDONE_WITHIN,
        };
        assert_eq!(fast.backoff(1), Duration::from_secs(1), "at least a second");
    }

    #[test]
    fn at_most_one_apply_per_interval() {
        let mut t = Tracker::default();
        let now = Instant::now();
        assert_eq!(t.decide(now, 1, 1).0, Decision::Apply);
        assert_eq!(t.applied(now, true, 1, &PACING), None);
        let later = now + Duration::from_secs(5);
        assert_eq!(
            t.decide(later, 1, 1).0,
            Decision::NotBefore(now + Duration::from_secs(10))
        );
        assert_eq!(
            t.decide(now + Duration::from_secs(10), 1, 1).0,
            Decision::Apply
        );
    }

    #[test]
    fn remediations_undone_soon_after_count_as_failures_and_convergence_ends_a_suspension() {
        let mut t = Tracker::default();
        let now = Instant::now();
        t.observe(drift(&[1]));
        assert_eq!(t.decide(now, 1, 1).0, Decision::Apply);
        t.applied(now, true, 1, &PACING);
        // undone twice within the minute, then a third time: suspended
        assert_eq!(t.undone(now + Duration::from_secs(5), 1, &PACING), None);
        t.applied(now, true, 1, &PACING);
        assert_eq!(t.undone(now + Duration::from_secs(6), 1, &PACING), None);
        t.applied(now, true, 1, &PACING);
        assert_eq!(
            t.undone(now + Duration::from_secs(7), 1, &PACING),
            Some(Event::Suspended { failures: 3 })
        );
        assert!(t.is_suspended());
        // drift long after a success is not an undoing
        let mut fresh = Tracker::default();
        fresh.applied(now, true, 1, &PACING);
        assert_eq!(fresh.undone(now + UNDONE_WITHIN, 1, &PACING), None);
        assert_eq!(fresh.failures(), 0);
        // the zone converges (someone else fixed it): the suspension ends
        assert_eq!(
            t.observe(drift(&[])),
            vec![Event::Resumed("the zone converged"), Event::Cleared]
        );
        // and a success that lasts ends a run of failures
        let mut lasting = Tracker::default();
        lasting.applied(now, false, 1, &PACING);
        lasting.applied(now, true, 1, &PACING);
        assert_eq!(lasting.failures(), 1);
        lasting.decide(now + UNDONE_WITHIN, 1, 1);
        assert_eq!(lasting.failures(), 0);
        assert!(!t.is_suspended());
        assert_eq!(t.failures(), 0);
    }

    #[test]
    fn repeated_failures_suspend_until_the_file_or_the_cluster_changes() {
        let mut t = Tracker::default();
        let mut now = Instant::now();
        for failure in 1..=3u32 {
            assert_eq!(
                t.decide(now, 7, 100).0,
                Decision::Apply,
                "attempt {failure}"
            );
            let event = t.applied(now, false, 7, &PACING);
            assert_eq!(event.is_some(), failure == 3, "{event:?}");
            now += PACING.backoff(failure);
        }
        assert_eq!(t.decide(now, 7, 100), (Decision::Suspended, None));
        assert_eq!(
            t.decide(now + BACKOFF_CAP * 10, 7, 100).0,
            Decision::Suspended
        );
        // the cluster changed under it (someone fixed what failed)
        let (decision, event) = t.decide(now, 7, 101);
        assert_eq!(decision, Decision::Apply);
        assert_eq!(event, Some(Event::Resumed("the cluster's SPUs changed")));
        assert_eq!(t.failures(), 0);
        // suspended again, then a new desired state
        for _ in 0..3 {
            t.applied(now, false, 7, &PACING);
        }
        assert_eq!(t.decide(now, 7, 101).0, Decision::Suspended);
        let (decision, event) = t.decide(now, 8, 101);
        assert_eq!(decision, Decision::Apply);
        assert_eq!(event, Some(Event::Resumed("the zone file changed")));
    }
}
