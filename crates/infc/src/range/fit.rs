//! Exact polynomial interpolation of a plan field over a grid of symbol values: the field's values
//! at every point of a tensor-product grid (up to three values per symbol) determine the unique
//! polynomial of degree < (values on that axis) in each symbol; its coefficients are rationals,
//! stored over one common denominator ([`infc_plan::DimExpr`]). Whether the polynomial is right
//! elsewhere is the caller's to check (it compiles verification shapes).

use infc_plan::{DimExpr, Term};

/// A rational `n / d` in lowest terms, `d > 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Q {
    n: i128,
    d: i128,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Q {
    const ZERO: Q = Q { n: 0, d: 1 };
    fn int(n: i128) -> Q {
        Q { n, d: 1 }
    }
    fn new(n: i128, d: i128) -> Option<Q> {
        if d == 0 {
            return None;
        }
        let g = gcd(n, d).max(1);
        let s = if d < 0 { -1 } else { 1 };
        Some(Q {
            n: s * n / g,
            d: s * d / g,
        })
    }
    fn add(self, o: Q) -> Option<Q> {
        let n = self
            .n
            .checked_mul(o.d)?
            .checked_add(o.n.checked_mul(self.d)?)?;
        Q::new(n, self.d.checked_mul(o.d)?)
    }
    fn mul(self, o: Q) -> Option<Q> {
        Q::new(self.n.checked_mul(o.n)?, self.d.checked_mul(o.d)?)
    }
}

/// Monomial coefficients (degree `xs.len() - 1`) of the Lagrange basis polynomial `j` of `xs`.
fn lagrange_basis(xs: &[u64], j: usize) -> Option<Vec<Q>> {
    let mut poly = vec![Q::int(1)];
    for (i, &xi) in xs.iter().enumerate() {
        if i == j {
            continue;
        }
        let den = xs[j] as i128 - xi as i128;
        // poly *= (x - xi) / den
        let mut next = vec![Q::ZERO; poly.len() + 1];
        for (e, &c) in poly.iter().enumerate() {
            let c = c.mul(Q::new(1, den)?)?;
            next[e + 1] = next[e + 1].add(c)?;
            next[e] = next[e].add(c.mul(Q::int(-(xi as i128)))?)?;
        }
        poly = next;
    }
    Some(poly)
}

/// The polynomial through `values` on the grid `axes[0] × axes[1] × …` (row-major: the last axis
/// varies fastest), or `None` if a coefficient overflows what a [`DimExpr`] holds.
pub fn fit(axes: &[Vec<u64>], values: &[i128]) -> Option<DimExpr> {
    let bases: Vec<Vec<Vec<Q>>> = axes
        .iter()
        .map(|xs| (0..xs.len()).map(|j| lagrange_basis(xs, j)).collect())
        .collect::<Option<_>>()?;
    let degrees: Vec<usize> = axes.iter().map(|xs| xs.len()).collect();
    let n_points: usize = degrees.iter().product();
    if values.len() != n_points {
        return None;
    }
    // Coefficient of monomial `e` (same mixed-radix numbering as the grid points).
    let mut coefs = vec![Q::ZERO; n_points];
    for (p, &y) in values.iter().enumerate() {
        if y == 0 {
            continue;
        }
        let point = digits(p, &degrees);
        for (m, c) in coefs.iter_mut().enumerate() {
            let exps = digits(m, &degrees);
            let mut t = Q::int(y);
            for (a, (&j, &e)) in point.iter().zip(&exps).enumerate() {
                t = t.mul(bases[a][j][e])?;
            }
            *c = c.add(t)?;
        }
    }
    let den = coefs.iter().try_fold(1i128, |l, c| {
        let g = gcd(l, c.d).max(1);
        l.checked_mul(c.d / g)
    })?;
    let mut terms = Vec::new();
    for (m, c) in coefs.iter().enumerate() {
        if c.n == 0 {
            continue;
        }
        let coef = c.n.checked_mul(den / c.d)?;
        terms.push(Term {
            coef: i64::try_from(coef).ok()?,
            exps: digits(m, &degrees).into_iter().map(|e| e as u8).collect(),
        });
    }
    if terms.is_empty() {
        terms.push(Term {
            coef: 0,
            exps: vec![0; axes.len()],
        });
    }
    Some(DimExpr {
        den: u64::try_from(den).ok()?,
        terms,
    })
}

/// The symbol values of point `p` of the grid `axes[0] × axes[1] × …` (row-major, as [`fit`]
/// numbers them).
pub fn grid_point(p: usize, axes: &[Vec<u64>]) -> Vec<u64> {
    let radix: Vec<usize> = axes.iter().map(Vec::len).collect();
    digits(p, &radix)
        .iter()
        .zip(axes)
        .map(|(&d, xs)| xs[d])
        .collect()
}

/// `p` in the mixed radix `radix` (last digit fastest).
pub fn digits(mut p: usize, radix: &[usize]) -> Vec<usize> {
    let mut out = vec![0; radix.len()];
    for (d, &r) in out.iter_mut().zip(radix).rev() {
        *d = p % r;
        p /= r;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(e: &DimExpr, v: &[u64]) -> i128 {
        e.eval(v, i128::MIN, i128::MAX).unwrap()
    }

    #[test]
    fn fits_products_and_rational_coefficients_exactly() {
        let axes = vec![vec![6, 7, 8], vec![126, 127, 128]];
        let f = |b: i128, s: i128| b * s * 768 + s * (s + 1) / 2 - 3 * b + 5;
        let values: Vec<i128> = (0..9)
            .map(|p| {
                let d = digits(p, &[3, 3]);
                f(axes[0][d[0]] as i128, axes[1][d[1]] as i128)
            })
            .collect();
        let e = fit(&axes, &values).unwrap();
        assert_eq!(e.den, 2);
        for b in 1..10u64 {
            for s in [1u64, 2, 17, 512] {
                assert_eq!(eval(&e, &[b, s]), f(b as i128, s as i128), "b={b} s={s}");
            }
        }
    }

    #[test]
    fn a_constant_and_a_single_symbol_come_out_plain() {
        let axes = vec![vec![2, 3, 4]];
        assert_eq!(fit(&axes, &[7, 7, 7]).unwrap().terms.len(), 1);
        let e = fit(&axes, &[2, 3, 4]).unwrap();
        assert_eq!(e.as_symbol(), Some(0));
        let e = fit(&[vec![5, 9]], &[0, 0]).unwrap();
        assert_eq!(eval(&e, &[100]), 0);
    }

    #[test]
    fn two_points_fit_a_line() {
        let e = fit(&[vec![1, 2]], &[10, 30]).unwrap();
        assert_eq!(eval(&e, &[3]), 50);
    }
}
