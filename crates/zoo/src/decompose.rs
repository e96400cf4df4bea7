//! The matrix factorisations that data-driven LoRA initialisations start from, on the host in
//! f64 (once per projection, at placement): the leading singular triplets (PiSSA) by one-sided
//! Jacobi, and the leading columns of a QR factorisation (OLoRA) by Householder reflections
//! with LAPACK's sign convention (what `torch.linalg.qr` returns).

/// A row-major `rows × cols` matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

impl Matrix {
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Self {
        assert_eq!(data.len(), rows * cols, "a {rows} × {cols} matrix");
        Self { rows, cols, data }
    }

    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self::new(rows, cols, vec![0.0; rows * cols])
    }

    pub fn at(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    fn set(&mut self, i: usize, j: usize, v: f64) {
        self.data[i * self.cols + j] = v;
    }

    pub fn transpose(&self) -> Self {
        let mut t = Self::zeros(self.cols, self.rows);
        for i in 0..self.rows {
            for j in 0..self.cols {
                t.set(j, i, self.at(i, j));
            }
        }
        t
    }
}

/// The r leading singular triplets of `w`: (U_r `rows × r`, σ_1 ≥ … ≥ σ_r, V_rᵀ `r × cols`),
/// with w ≈ U_r diag(σ) V_rᵀ. One-sided Jacobi (Hestenes) on the orientation whose columns are
/// the shorter side, sweeping until every pair of columns is orthogonal to 1e-15.
pub fn svd_top(w: &Matrix, r: usize) -> (Matrix, Vec<f64>, Matrix) {
    let transposed = w.rows < w.cols;
    let a = if transposed { w.transpose() } else { w.clone() };
    let (m, n) = (a.rows, a.cols);
    // Columns of A (and of V) stored contiguously.
    let mut u: Vec<Vec<f64>> = (0..n)
        .map(|j| (0..m).map(|i| a.at(i, j)).collect())
        .collect();
    let mut v: Vec<Vec<f64>> = (0..n)
        .map(|j| (0..n).map(|i| f64::from(u8::from(i == j))).collect())
        .collect();
    for _sweep in 0..80 {
        let mut rotated = false;
        for p in 0..n {
            for q in p + 1..n {
                let (alpha, beta, gamma) = u[p]
                    .iter()
                    .zip(&u[q])
                    .fold((0.0, 0.0, 0.0), |(a, b, g), (x, y)| {
                        (a + x * x, b + y * y, g + x * y)
                    });
                if gamma.abs() <= 1e-15 * (alpha * beta).sqrt() || gamma == 0.0 {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                for cols in [&mut u, &mut v] {
                    let (left, right) = cols.split_at_mut(q);
                    for (x, y) in left[p].iter_mut().zip(right[0].iter_mut()) {
                        let (xp, yq) = (*x, *y);
                        *x = c * xp - s * yq;
                        *y = s * xp + c * yq;
                    }
                }
            }
        }
        if !rotated {
            break;
        }
    }
    let sigma: Vec<f64> = u
        .iter()
        .map(|c| c.iter().map(|x| x * x).sum::<f64>().sqrt())
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| sigma[j].total_cmp(&sigma[i]));
    let r = r.min(n);
    // A = Ũ Σ Vᵀ with Ũ's columns u_j / σ_j.
    let mut left = Matrix::zeros(m, r);
    let mut right = Matrix::zeros(r, n);
    let mut values = Vec::with_capacity(r);
    for (k, &j) in order.iter().take(r).enumerate() {
        let s = sigma[j];
        values.push(s);
        for (i, x) in u[j].iter().enumerate() {
            left.set(i, k, if s > 0.0 { x / s } else { 0.0 });
        }
        for (i, x) in v[j].iter().enumerate() {
            right.set(k, i, *x);
        }
    }
    if transposed {
        // wᵀ = L Σ R  ⇒  w = Rᵀ Σ Lᵀ.
        (right.transpose(), values, left.transpose())
    } else {
        (left, values, right)
    }
}

/// The leading r columns of Q and rows of R in w = Q R (`rows × cols`), by Householder
/// reflections as LAPACK's `geqrf` makes them (R_jj = −sign(a_jj)·‖a_j‖), so the signs agree
/// with `torch.linalg.qr`.
pub fn qr_top(w: &Matrix, r: usize) -> (Matrix, Matrix) {
    let (m, n) = (w.rows, w.cols);
    let k = m.min(n);
    let r = r.min(k);
    let mut a = w.clone();
    let mut reflectors: Vec<(Vec<f64>, f64)> = Vec::with_capacity(k);
    for j in 0..k {
        let alpha = a.at(j, j);
        let tail: f64 = (j + 1..m).map(|i| a.at(i, j).powi(2)).sum::<f64>().sqrt();
        if tail == 0.0 {
            reflectors.push((vec![1.0], 0.0));
            continue;
        }
        let beta = -alpha.signum() * alpha.hypot(tail);
        let beta = if alpha == 0.0 {
            -alpha.hypot(tail)
        } else {
            beta
        };
        let tau = (beta - alpha) / beta;
        let scale = 1.0 / (alpha - beta);
        let mut vj = vec![1.0];
        vj.extend((j + 1..m).map(|i| a.at(i, j) * scale));
        // A[j.., j..] ← (I − τ v vᵀ) A[j.., j..]
        for c in j..n {
            let dot: f64 = vj.iter().enumerate().map(|(t, x)| x * a.at(j + t, c)).sum();
            for (t, x) in vj.iter().enumerate() {
                let value = a.at(j + t, c) - tau * x * dot;
                a.set(j + t, c, value);
            }
        }
        reflectors.push((vj, tau));
    }
    let mut rr = Matrix::zeros(r, n);
    for i in 0..r {
        for c in i..n {
            rr.set(i, c, a.at(i, c));
        }
    }
    // Q's first r columns: H_0 ⋯ H_{k−1} applied to the first r unit vectors.
    let mut q = Matrix::zeros(m, r);
    for c in 0..r {
        q.set(c, c, 1.0);
    }
    for (j, (vj, tau)) in reflectors.iter().enumerate().rev() {
        for c in 0..r {
            let dot: f64 = vj.iter().enumerate().map(|(t, x)| x * q.at(j + t, c)).sum();
            for (t, x) in vj.iter().enumerate() {
                let value = q.at(j + t, c) - tau * x * dot;
                q.set(j + t, c, value);
            }
        }
    }
    (q, rr)
}
