//! Honest figures on a shared machine: the adapter's peak is measured before and after the
//! table, ratios use the higher of the two, and rows whose samples spread widely or whose
//! ratio exceeds the peak are marked as not to be trusted, with the reason.

use super::{BenchResult, Peak};
use crate::kernels::Storage;

/// A row whose 90th-percentile sample exceeds its fastest by more than this shared
/// the machine with other work while it was timed.
const MAX_SPREAD: f64 = 1.25;
/// Peaks measured before and after the table that differ by more than this mean the
/// machine's load changed while it ran.
const MAX_PEAK_DRIFT: f64 = 0.15;

/// What the two peak measurements say about the machine.
pub struct PeakCheck {
    pub before: f64,
    pub after: f64,
}

impl PeakCheck {
    /// The FP32 peak the ratios use: the higher measurement (a busy machine only lowers it).
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
                "**Noisy machine:** the adapter's FP32 peak measured {:.1} GFLOP/s before the table and {:.1} after ({:.0}% apart): other work shared the processor, so every figure here is uncertain; ratios use the higher peak.",
                self.before,
                self.after,
                self.drift() * 100.0
            )
        })
    }
}

/// Re-rate every result against `check`'s peak (and `fp16_peak` for native f16 math) and
/// mark the rows not to trust.
pub fn judge(results: &mut [BenchResult], check: &PeakCheck, peak: &Peak) {
    for r in results {
        let samples: &[f64] = &r.samples_ms;
        let min = samples.iter().copied().fold(f64::INFINITY, f64::min);
        r.spread = r.wall_ms.p90 / min.max(1e-9);
        let peak_here = if r.storage == Storage::F16Native.name() {
            peak.fp16_gflops
        } else {
            Some(check.fp32())
        };
        r.fraction_of_peak = peak_here.map(|p| r.gflops / p);
        let mut why = Vec::new();
        if r.spread > MAX_SPREAD {
            why.push(format!(
                "samples spread {:.0}% (p90 over min)",
                (r.spread - 1.0) * 100.0
            ));
        }
        if r.fraction_of_peak.is_some_and(|f| f > 1.0) {
            why.push("above the measured peak (which must have run slowed)".to_string());
        }
        r.distrust = (!why.is_empty()).then(|| why.join("; "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::bench::Stats;

    fn result(samples: &[f64], gflops: f64) -> BenchResult {
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
            gflops,
            fraction_of_peak: None,
            flops: 1,
            params: 1,
            tuned_convs: 0,
            convs: 20,
            spread: 0.0,
            distrust: None,
        }
    }

    #[test]
    fn wide_spreads_and_impossible_ratios_are_marked_and_the_higher_peak_rates() {
        let peak = Peak {
            fp32_gflops: 30.0,
            fp16_gflops: None,
            bandwidth_gbs: 1.0,
            dispatch_us: 10.0,
        };
        let check = PeakCheck {
            before: 30.0,
            after: 60.0,
        };
        assert!(check.warning().is_some());
        let mut rs = vec![
            result(&[10.0, 10.1, 10.2, 10.1, 10.0], 30.0),
            result(&[10.0, 20.0, 21.0, 19.0, 10.5], 30.0),
            result(&[10.0, 10.0, 10.0], 70.0),
        ];
        judge(&mut rs, &check, &peak);
        assert_eq!(rs[0].fraction_of_peak, Some(0.5));
        assert!(rs[0].distrust.is_none());
        assert!(rs[1].distrust.as_deref().unwrap().contains("spread"));
        assert!(rs[2]
            .distrust
            .as_deref()
            .unwrap()
            .contains("above the measured peak"));
        let calm = PeakCheck {
            before: 60.0,
            after: 58.0,
        };
        assert!(calm.warning().is_none());
    }
}
