//! Honest figures on a shared machine, whose speed moves minute to minute. Each row's ratio
//! to the FMA peak is taken from best-of-N on both sides: its fastest run over the highest
//! peak measured between its runs (the medians of both are kept too). A row is marked not to
//! be trusted only when even that is unstable: its best run or its best peak was seen once
//! (no other sample within [`NEAR_BEST`] of it), or the ratio exceeds the peak. The peak is
//! also measured before and after the whole table; a change says the machine's load did.

use super::{BenchResult, Stats};

/// A best-of-N is stable when another of the N lies within this fraction of it.
const NEAR_BEST: f64 = 0.10;
/// Peaks measured before and after the table that differ by more than this mean the
/// machine's load changed while it ran.
const MAX_PEAK_DRIFT: f64 = 0.15;

/// What the peak measurements around the table say about the machine.
pub struct PeakCheck {
    pub before: f64,
    pub after: f64,
}

impl PeakCheck {
    /// The higher measurement (a busy machine only lowers it).
    pub fn fp32(&self) -> f64 {
        self.before.max(self.after)
    }

    pub fn drift(&self) -> f64 {
        (self.before - self.after).abs() / self.fp32().max(1e-9)
    }

    /// A sentence for the report when the machine's load changed during the table.
    pub fn warning(&self) -> Option<String> {
        (self.drift() > MAX_PEAK_DRIFT).then(|| {
            format!(
                "**Noisy machine:** the adapter's FP32 peak measured {:.1} GFLOP/s before the table and {:.1} after ({:.0}% apart): other work shared the processor. Each row's ratio is taken against the peak measured between its own runs.",
                self.before,
                self.after,
                self.drift() * 100.0
            )
        })
    }
}

/// How many of `samples` lie within [`NEAR_BEST`] of the best (the lowest when
/// `lower_is_better`, else the highest), the best included.
fn near_best(samples: &[f64], lower_is_better: bool) -> usize {
    let best = if lower_is_better {
        samples.iter().copied().fold(f64::INFINITY, f64::min)
    } else {
        samples.iter().copied().fold(0.0, f64::max)
    };
    samples
        .iter()
        .filter(|&&s| {
            if lower_is_better {
                s <= best * (1.0 + NEAR_BEST)
            } else {
                s >= best * (1.0 - NEAR_BEST)
            }
        })
        .count()
}

/// Rate every result against the peak measured between its runs, and mark the rows whose
/// best-of-N is unstable.
pub fn judge(results: &mut [BenchResult]) {
    for r in results {
        let min = r.samples_ms.iter().copied().fold(f64::INFINITY, f64::min);
        r.spread = r.wall_ms.p90 / min.max(1e-9);
        let peaks = &r.peak_samples_gflops;
        let peak_best = peaks.iter().copied().fold(0.0, f64::max);
        let peak_median = Stats::of(peaks).map(|s| s.median);
        r.fraction_of_peak = (peak_best > 0.0).then(|| r.gflops_best / peak_best);
        r.fraction_of_peak_median = peak_median.map(|p| r.gflops / p);
        // The samples the best run was taken from: GPU times where measured, else wall.
        let runs: Vec<f64> = match &r.gpu_ms {
            Some(_) if r.gpu_samples_ms.len() == r.samples_ms.len() => r.gpu_samples_ms.clone(),
            _ => r.samples_ms.clone(),
        };
        let mut why = Vec::new();
        if runs.len() < 2 {
            why.push("one run: its best cannot be checked".to_string());
        } else if near_best(&runs, true) < 2 {
            why.push(format!(
                "its fastest run was seen once (no other within {:.0}%)",
                NEAR_BEST * 100.0
            ));
        }
        if peaks.len() >= 2 && near_best(peaks, false) < 2 {
            why.push(format!(
                "the peak between its runs was reached once (no other within {:.0}%)",
                NEAR_BEST * 100.0
            ));
        }
        // Winograd does fewer multiplies than the direct-conv FLOPs the row is credited with.
        if r.winograd_convs == 0 && r.fraction_of_peak.is_some_and(|f| f > 1.0) {
            why.push("best run above the best peak measured between its runs".to_string());
        }
        r.distrust = (!why.is_empty()).then(|| why.join("; "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::bench::Stats;

    fn result(samples: &[f64], peaks: &[f64], gflop: f64) -> BenchResult {
        let best = samples.iter().copied().fold(f64::INFINITY, f64::min);
        let median = Stats::of(samples).unwrap().median;
        BenchResult {
            model: "ResNet18".into(),
            arch: "ResNet18",
            precision: "fp32",
            storage: "fp32",
            batch: 1,
            crop: 224,
            resize_short: 256,
            input_size: 224,
            wall_ms: Stats::of(samples).unwrap(),
            gpu_ms: None,
            samples_ms: samples.to_vec(),
            gpu_samples_ms: Vec::new(),
            gflops: gflop / (median * 1e-3),
            gflops_best: gflop / (best * 1e-3),
            peak_samples_gflops: peaks.to_vec(),
            fraction_of_peak: None,
            fraction_of_peak_median: None,
            flops: 1,
            params: 1,
            tuned_convs: 0,
            winograd_convs: 0,
            convs: 20,
            tiles: Default::default(),
            spread: 0.0,
            distrust: None,
        }
    }

    #[test]
    fn ratios_are_best_over_best_and_median_over_median() {
        // 0.3 GFLOP per run: 30 GFLOP/s at its best (10 ms), 20 at its median (15 ms).
        let mut rs = vec![result(
            &[10.0, 15.0, 10.5, 20.0, 15.0],
            &[60.0, 40.0, 58.0, 30.0, 40.0],
            0.3,
        )];
        judge(&mut rs);
        let r = &rs[0];
        assert!((r.fraction_of_peak.unwrap() - 30.0 / 60.0).abs() < 1e-9);
        assert!((r.fraction_of_peak_median.unwrap() - 20.0 / 40.0).abs() < 1e-9);
        // Both bests were seen twice: the row stands, however wide its spread.
        assert!(r.distrust.is_none(), "{:?}", r.distrust);
        assert!(r.spread > 1.5);
    }

    #[test]
    fn a_best_seen_once_or_above_the_peak_is_distrusted() {
        let mut rs = vec![
            // The fastest run alone, 30% ahead of every other.
            result(&[10.0, 13.0, 14.0, 13.5], &[60.0, 59.0, 58.0, 60.0], 0.3),
            // The peak reached once: the other peak samples 40% lower.
            result(&[10.0, 10.2, 10.1], &[60.0, 36.0, 35.0], 0.3),
            // 0.9 GFLOP in 10 ms = 90 GFLOP/s against a 60 GFLOP/s peak.
            result(&[10.0, 10.0, 10.0], &[60.0, 60.0, 60.0], 0.9),
            // A single run.
            result(&[10.0], &[60.0], 0.3),
        ];
        judge(&mut rs);
        let why: Vec<&str> = rs.iter().map(|r| r.distrust.as_deref().unwrap()).collect();
        assert!(why[0].contains("fastest run was seen once"), "{}", why[0]);
        assert!(
            why[1].contains("peak between its runs was reached once"),
            "{}",
            why[1]
        );
        assert!(why[2].contains("above the best peak"), "{}", why[2]);
        assert!(why[3].contains("one run"), "{}", why[3]);
        // The same 150% with Winograd convs in the plan is what Winograd is for.
        let mut winograd = result(&[10.0, 10.0, 10.0], &[60.0, 60.0, 60.0], 0.9);
        winograd.winograd_convs = 3;
        let mut rs = vec![winograd];
        judge(&mut rs);
        assert!(rs[0].distrust.is_none(), "{:?}", rs[0].distrust);
    }

    #[test]
    fn a_changing_load_shows_in_the_warning() {
        let check = PeakCheck {
            before: 30.0,
            after: 60.0,
        };
        assert!(check.warning().is_some());
        let calm = PeakCheck {
            before: 60.0,
            after: 58.0,
        };
        assert!(calm.warning().is_none());
    }
}
