//! Small batched linear algebra for the orthogonal forms (OFT, BOFT, HRA), in tensor operations
//! so that autodiff reaches the parameters: skew-symmetric matrices from their upper
//! triangles, the Cayley transform (exact, by Gauss–Jordan, and peft's Neumann series).

use burn::prelude::*;

/// `[n, b(b−1)/2]` → `[n, b, b]`: Q = M − Mᵀ with M's strict upper triangle filled row by row
/// from the vector (`torch.triu_indices(b, b, 1)`'s order, as peft's OFT reads `oft_R`).
pub fn skew_from_upper<B: Backend>(upper: Tensor<B, 2>, b: usize) -> Tensor<B, 3> {
    let [n, m] = upper.dims();
    let device = upper.device();
    // A constant 0/1 matrix placing entry k at (row_k, col_k): one matmul, differentiable.
    let mut place = vec![0f32; m * b * b];
    let mut k = 0;
    for row in 0..b {
        for col in row + 1..b {
            place[k * b * b + row * b + col] = 1.0;
            k += 1;
        }
    }
    let place = Tensor::<B, 2>::from_data(TensorData::new(place, [m, b * b]), &device);
    let upper_matrix = upper.matmul(place).reshape([n, b, b]);
    upper_matrix.clone() - upper_matrix.swap_dims(1, 2)
}

/// `[n, b, b]` identities.
pub fn identities<B: Backend>(n: usize, b: usize, device: &B::Device) -> Tensor<B, 3> {
    Tensor::<B, 2>::eye(b, device)
        .unsqueeze::<3>()
        .repeat_dim(0, n)
}

/// The inverse of each `[b, b]` matrix of `a` (`[n, b, b]`) by Gauss–Jordan elimination
/// without pivoting: the matrices inverted here are I + S with S skew-symmetric, whose leading
/// minors are all non-zero (every leading block is again I + skew).
pub fn inverse<B: Backend>(a: Tensor<B, 3>) -> Tensor<B, 3> {
    let [n, b, _] = a.dims();
    let device = a.device();
    let (mut a, mut inv) = (a, identities::<B>(n, b, &device));
    for k in 0..b {
        let pivot = a.clone().slice([0..n, k..k + 1, k..k + 1]);
        let row = a.clone().slice([0..n, k..k + 1, 0..b]) / pivot.clone();
        let inv_row = inv.clone().slice([0..n, k..k + 1, 0..b]) / pivot;
        // Every row r loses column[r]·row; row k itself must become `row`, so its factor is
        // column[k] − 1 = pivot − 1 (subtracting (pivot − 1)·row from pivot·row leaves row).
        let mut unit = vec![0f32; b];
        unit[k] = 1.0;
        let unit = Tensor::<B, 1>::from_floats(unit.as_slice(), &device).reshape([1, b, 1]);
        let factor = a.clone().slice([0..n, 0..b, k..k + 1]) - unit;
        a = a - factor.clone() * row;
        inv = inv - factor * inv_row;
    }
    inv
}

/// The exact Cayley transform (I − S)(I + S)⁻¹ of each skew-symmetric `[b, b]` matrix of `s`:
/// orthogonal (what peft's BOFT computes with `torch.linalg.solve`).
pub fn cayley<B: Backend>(s: Tensor<B, 3>) -> Tensor<B, 3> {
    let [n, b, _] = s.dims();
    let eye = identities::<B>(n, b, &s.device());
    (eye.clone() - s.clone()).matmul(inverse(eye + s))
}

/// peft's OFT rotation with `use_cayley_neumann`: I + 2Q + 2Q² + … + 2Q^(t−2) + Q^(t−1) for
/// `terms` = t, a truncated series of (I + Q)(I − Q)⁻¹ (not exactly orthogonal).
pub fn cayley_neumann<B: Backend>(q: Tensor<B, 3>, terms: usize) -> Tensor<B, 3> {
    let [n, b, _] = q.dims();
    let mut r = identities::<B>(n, b, &q.device());
    if terms > 1 {
        r = r + q.clone().mul_scalar(2.0);
        if terms > 2 {
            let mut power = q.clone().matmul(q.clone());
            r = r + power.clone().mul_scalar(2.0);
            for _ in 3..terms - 1 {
                power = power.matmul(q.clone());
                r = r + power.clone().mul_scalar(2.0);
            }
            power = power.matmul(q);
            r = r + power;
        }
    }
    r
}

/// Multiplies the rows of `weight` (`[d_in, d_out]`) block by block: rows `[i·b, (i+1)·b)` by
/// `blocks[i]` (`[n, b, b]`), i.e. block_diag(blocks) · weight.
pub fn block_diagonal_times<B: Backend>(
    blocks: Tensor<B, 3>,
    weight: Tensor<B, 2>,
) -> Tensor<B, 2> {
    let [n, b, _] = blocks.dims();
    let [d_in, d_out] = weight.dims();
    blocks
        .matmul(weight.reshape([n, b, d_out]))
        .reshape([d_in, d_out])
}
