//! Order statistics over samples: medians and spread (p10/p90, quartiles), and ratios.

/// Summary of one series of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub p10: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub p90: f64,
    pub max: f64,
}

/// The `p`-th percentile (0..=100) of sorted samples, interpolating linearly between the
/// two nearest ranks (the "R-7" definition used by numpy's default and spreadsheets).
pub fn percentile_sorted(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=100.0).contains(&p) {
        return None;
    }
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let frac = rank - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

impl Summary {
    /// `None` for no samples; NaNs are ignored.
    pub fn of(samples: &[f64]) -> Option<Summary> {
        let mut s: Vec<f64> = samples.iter().copied().filter(|x| !x.is_nan()).collect();
        if s.is_empty() {
            return None;
        }
        s.sort_by(|a, b| a.partial_cmp(b).expect("no NaN left"));
        let p = |q| percentile_sorted(&s, q).expect("non-empty");
        Some(Summary {
            n: s.len(),
            min: s[0],
            p10: p(10.0),
            q1: p(25.0),
            median: p(50.0),
            q3: p(75.0),
            p90: p(90.0),
            max: s[s.len() - 1],
        })
    }

    pub fn iqr(&self) -> f64 {
        self.q3 - self.q1
    }

    /// Every statistic multiplied by `k` (unit conversions).
    pub fn scaled(&self, k: f64) -> Summary {
        Summary {
            n: self.n,
            min: self.min * k,
            p10: self.p10 * k,
            q1: self.q1 * k,
            median: self.median * k,
            q3: self.q3 * k,
            p90: self.p90 * k,
            max: self.max * k,
        }
    }
}

/// `value / base`, `None` when the base is not a positive number.
pub fn ratio(value: f64, base: f64) -> Option<f64> {
    (base > 0.0 && base.is_finite() && value.is_finite()).then(|| value / base)
}

/// Interleaved run order: round `r` starts at variant `r mod n` and wraps around, so no
/// variant always runs first (after a cache-cold gap) or last.
pub fn rotation(round: usize, n: usize) -> Vec<usize> {
    (0..n).map(|i| (round + i) % n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate() {
        let s = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile_sorted(&s, 50.0), Some(3.0));
        assert_eq!(percentile_sorted(&s, 0.0), Some(1.0));
        assert_eq!(percentile_sorted(&s, 100.0), Some(5.0));
        assert_eq!(percentile_sorted(&s, 25.0), Some(2.0));
        assert_eq!(percentile_sorted(&s, 10.0), Some(1.4));
        assert_eq!(percentile_sorted(&[1.0, 2.0], 50.0), Some(1.5));
        assert_eq!(percentile_sorted(&[], 50.0), None);
        assert_eq!(percentile_sorted(&s, 101.0), None);
    }

    #[test]
    fn summary_sorts_and_skips_nan() {
        let s = Summary::of(&[5.0, f64::NAN, 1.0, 4.0, 2.0, 3.0]).unwrap();
        assert_eq!(s.n, 5);
        assert_eq!((s.min, s.median, s.max), (1.0, 3.0, 5.0));
        assert_eq!(s.iqr(), 2.0);
        assert!((s.p90 - 4.6).abs() < 1e-12);
        let one = Summary::of(&[7.0]).unwrap();
        assert_eq!((one.p10, one.median, one.p90), (7.0, 7.0, 7.0));
        assert!(Summary::of(&[]).is_none());
        assert!(Summary::of(&[f64::NAN]).is_none());
        assert_eq!(s.scaled(2.0).median, 6.0);
    }

    #[test]
    fn ratios() {
        assert_eq!(ratio(3.0, 2.0), Some(1.5));
        assert_eq!(ratio(3.0, 0.0), None);
        assert_eq!(ratio(f64::NAN, 1.0), None);
    }

    #[test]
    fn rotation_covers_every_variant_once() {
        assert_eq!(rotation(0, 3), vec![0, 1, 2]);
        assert_eq!(rotation(4, 3), vec![1, 2, 0]);
        assert!(rotation(0, 0).is_empty());
    }
}
