//! Small numeric kernels shared by the detectors (crate-private).
//!
//! Hand-written because they are a few lines each and the hot loops need a shape LLVM can
//! vectorise (eight independent partial sums, so the float reduction does not have to be
//! reassociated).

/// Dot product of two equal-length slices (extra elements of the longer one are ignored).
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Sum of squares.
pub(crate) fn energy(a: &[f32]) -> f32 {
    dot(a, a)
}

/// Median of a slice (sorts a copy; NaN-safe via total ordering). `None` when empty.
pub(crate) fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len() / 2).copied()
}

/// Wrap an angle to (-pi, pi].
pub(crate) fn wrap_pi(x: f64) -> f64 {
    let two_pi = 2.0 * std::f64::consts::PI;
    let mut y = x % two_pi;
    if y > std::f64::consts::PI {
        y -= two_pi;
    } else if y <= -std::f64::consts::PI {
        y += two_pi;
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..37).map(|i| 1.0 - i as f32 * 0.1).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-3);
    }

    #[test]
    fn wrap_pi_range() {
        for k in -20..20 {
            let x = k as f64 * 0.7;
            let w = wrap_pi(x);
            assert!(w > -std::f64::consts::PI - 1e-12 && w <= std::f64::consts::PI + 1e-12);
            assert!(
                ((x - w) / (2.0 * std::f64::consts::PI)).fract().abs() < 1e-9
                    || ((x - w) / (2.0 * std::f64::consts::PI)).fract().abs() > 1.0 - 1e-9
            );
        }
    }
}
