//! The batching policy: what a free worker does with the rows queued for it. A pure function of
//! the queue's state and a [`CostModel`] (each plan's measured time), so a unit test with a fake
//! cost model checks its decisions; docs/serving.md explains it with the measurements.
//!
//! The rule: run the queued rows as the cheapest sequence of plan runs (splitting, e.g. 5 = 4+1,
//! or padding, e.g. 7 in the 8-plan, whichever costs less in total), unless waiting for rows on
//! their way makes the time per row lower, counting the wait as time the device sits idle. A
//! wait never exceeds the extra wait still allowed to the oldest row (`--max-queue-delay-us`,
//! counted from when the worker became free or the row arrived, whichever is later).

use std::time::Duration;

/// Each plan's expected time for one run, by batch size.
pub trait CostModel {
    /// The compiled batch sizes, ascending.
    fn plans(&self) -> &[usize];
    /// Expected microseconds for one run of the plan of `batch` rows (a compiled size).
    fn cost_us(&self, batch: usize) -> f64;
}

/// Plan costs measured at warm-up and updated after each run (an exponentially weighted
/// moving average, so a machine that slows down or speeds up is followed within ~10 runs).
#[derive(Debug, Clone)]
pub struct MeasuredCosts {
    batches: Vec<usize>,
    cost_us: Vec<f64>,
}

impl MeasuredCosts {
    /// Weight of a new measurement.
    const ALPHA: f64 = 0.2;

    /// `measured[i]`: the warm-up time of the plan of `batches[i]` rows.
    pub fn new(batches: Vec<usize>, measured: Vec<f64>) -> Self {
        assert_eq!(batches.len(), measured.len());
        MeasuredCosts {
            batches,
            cost_us: measured,
        }
    }

    pub fn record(&mut self, batch: usize, us: f64) {
        if let Some(i) = self.batches.iter().position(|&b| b == batch) {
            let c = &mut self.cost_us[i];
            *c = (1.0 - Self::ALPHA) * *c + Self::ALPHA * us;
        }
    }
}

impl CostModel for MeasuredCosts {
    fn plans(&self) -> &[usize] {
        &self.batches
    }
    fn cost_us(&self, batch: usize) -> f64 {
        self.batches
            .iter()
            .position(|&b| b == batch)
            .map_or(f64::INFINITY, |i| self.cost_us[i])
    }
}

/// What a free worker does next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Take the `rows` oldest rows and run them in the plan of `plan` rows (padding the rest).
    Run { rows: usize, plan: usize },
    /// Wait at most this long for more rows (then decide again).
    Wait(Duration),
}

/// The cheapest way to run `n` rows: (total µs, the first run's plan and rows). Runs take the
/// largest piece first (the oldest rows leave soonest).
pub fn best_split(costs: &dyn CostModel, n: usize) -> (f64, usize, usize) {
    let plans = costs.plans();
    // best[k]: the cheapest total for k rows, and the plan of its largest run.
    let mut best = vec![(0.0f64, 0usize); n + 1];
    for k in 1..=n {
        best[k] = plans
            .iter()
            .map(|&p| {
                let (rest, _) = best[k.saturating_sub(p)];
                (costs.cost_us(p) + rest, p)
            })
            .min_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))
            .unwrap_or((f64::INFINITY, 1));
    }
    // The decomposition's pieces, the largest first.
    let mut pieces = Vec::new();
    let mut k = n;
    while k > 0 {
        let p = best[k].1;
        pieces.push((p, p.min(k)));
        k -= p.min(k);
    }
    let first = pieces
        .iter()
        .copied()
        .max_by_key(|&(p, rows)| (rows, p))
        .unwrap_or((1, 0));
    (best[n].0, first.0, first.1)
}

/// Decide for `queued` rows (>= 1), `budget` of extra wait left to the oldest row, and `soon`
/// rows expected within that budget (the rows of requests just answered, whose closed-loop
/// clients send their next request at once).
pub fn decide(costs: &dyn CostModel, queued: usize, budget: Duration, soon: usize) -> Decision {
    let (now_us, plan, rows) = best_split(costs, queued);
    let now_per_row = now_us / queued as f64;
    if !budget.is_zero() {
        let wait_us = budget.as_secs_f64() * 1e6;
        // Only up to the largest plan: more rows than that would not share a run with these.
        let largest = costs.plans().last().copied().unwrap_or(1);
        let reach = (queued + soon).min(queued.max(largest));
        let gain = (queued + 1..=reach).any(|n| {
            let (then_us, _, _) = best_split(costs, n);
            (wait_us + then_us) / (n as f64) < now_per_row
        });
        if gain {
            return Decision::Wait(budget);
        }
    }
    Decision::Run { rows, plan }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plans 1, 4, 8 with the given times (ms).
    fn costs(c1: f64, c4: f64, c8: f64) -> MeasuredCosts {
        MeasuredCosts::new(vec![1, 4, 8], vec![c1 * 1e3, c4 * 1e3, c8 * 1e3])
    }

    const NO_WAIT: Duration = Duration::ZERO;

    #[test]
    fn splits_when_padding_costs_more() {
        // lavapipe's ResNet50 (issue 22): 5 rows padded to 8 ~ 2.2-2.4 s, 4+1 = 1.5 s.
        let lavapipe = costs(335.0, 1165.0, 2170.0);
        assert_eq!(
            decide(&lavapipe, 5, NO_WAIT, 0),
            Decision::Run { rows: 4, plan: 4 }
        );
        assert_eq!(
            decide(&lavapipe, 1, NO_WAIT, 0),
            Decision::Run { rows: 1, plan: 1 }
        );
        // 9 rows: a full 8 first, then 1.
        assert_eq!(
            decide(&lavapipe, 9, NO_WAIT, 0),
            Decision::Run { rows: 8, plan: 8 }
        );
    }

    #[test]
    fn pads_when_a_larger_plan_costs_less() {
        // A GPU where batch 8 costs 3x batch 1: 5 rows padded to 8 beat 4+1.
        let gpu = costs(2.5, 5.5, 7.4);
        assert_eq!(
            decide(&gpu, 5, NO_WAIT, 0),
            Decision::Run { rows: 5, plan: 8 }
        );
        // 3 rows: padded to 4 (5.5) beats 1+1+1 (7.5).
        assert_eq!(
            decide(&gpu, 3, NO_WAIT, 0),
            Decision::Run { rows: 3, plan: 4 }
        );
        // Where batch 4 costs 4x batch 1, 2 rows run as 1+1.
        let linear = costs(1.0, 4.0, 8.0);
        assert_eq!(
            decide(&linear, 2, NO_WAIT, 0),
            Decision::Run { rows: 1, plan: 1 }
        );
    }

    #[test]
    fn waits_only_when_rows_are_coming_and_the_wait_pays() {
        let lavapipe = costs(335.0, 1165.0, 2170.0);
        let budget = Duration::from_millis(2);
        // 1 row queued, 7 answered a moment ago: 8 together cost 271 ms a row, alone 335.
        assert_eq!(decide(&lavapipe, 1, budget, 7), Decision::Wait(budget));
        // Nothing on its way: run at once.
        assert_eq!(
            decide(&lavapipe, 1, budget, 0),
            Decision::Run { rows: 1, plan: 1 }
        );
        // The budget spent: run at once.
        assert_eq!(
            decide(&lavapipe, 1, NO_WAIT, 7),
            Decision::Run { rows: 1, plan: 1 }
        );
        // A full plan queued: nothing to gain.
        assert_eq!(
            decide(&lavapipe, 8, budget, 7),
            Decision::Run { rows: 8, plan: 8 }
        );
        // Where the wait is long next to the run (a fast GPU, 50 ms budget), run now.
        let gpu = costs(2.5, 5.5, 7.4);
        let long = Duration::from_millis(50);
        assert_eq!(decide(&gpu, 1, long, 7), Decision::Run { rows: 1, plan: 1 });
        // ...but with a 1 ms budget 8 rows in one run are worth the wait.
        let short = Duration::from_millis(1);
        assert_eq!(decide(&gpu, 1, short, 7), Decision::Wait(short));
    }

    #[test]
    fn costs_follow_measurements() {
        let mut c = costs(1.0, 2.0, 3.0);
        for _ in 0..40 {
            c.record(8, 10_000.0);
        }
        assert!((c.cost_us(8) - 10_000.0).abs() < 10.0);
        assert_eq!(c.cost_us(2), f64::INFINITY);
    }
}
