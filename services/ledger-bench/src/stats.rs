//! Percentiles and medians without a histogram crate: sort and pick (nearest rank).

/// Latency summary of one leg, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Nearest-rank percentile of `sorted` (ascending), `q` in `0.0..=1.0`.
fn nearest_rank(sorted: &[u32], q: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    // rank = ceil(q·n), clamped to 1..=n; the float→usize cast saturates and the clamp bounds it.
    let n = sorted.len();
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    sorted.get(rank - 1).copied()
}

/// p50, p99 and max of latencies given in microseconds (sorts `micros` in place).
pub fn latency(micros: &mut [u32]) -> Option<Latency> {
    micros.sort_unstable();
    let ms = |v: u32| f64::from(v) / 1000.0;
    Some(Latency {
        p50_ms: ms(nearest_rank(micros, 0.50)?),
        p99_ms: ms(nearest_rank(micros, 0.99)?),
        max_ms: ms(*micros.last()?),
    })
}

/// The median (mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v.get(mid).copied()
    } else {
        Some((v.get(mid - 1)? + v.get(mid)?) / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut v: Vec<u32> = (1..=100).rev().map(|x| x * 1000).collect();
        let l = latency(&mut v).expect("non-empty");
        assert_eq!(l.p50_ms, 50.0);
        assert_eq!(l.p99_ms, 99.0);
        assert_eq!(l.max_ms, 100.0);
        assert_eq!(latency(&mut []), None);
        let mut one = vec![7000];
        assert_eq!(latency(&mut one).map(|l| l.p99_ms), Some(7.0));
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[f64::NAN, 1.0]), Some(1.0));
    }
}
