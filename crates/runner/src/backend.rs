//! The runtime backend switch. CPU (ndarray) is always built; CUDA and WGPU are cargo features
//! (`--features cuda`, `--features wgpu`), so a default build and CI need no GPU.

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// CPU, through ndarray (always available).
    Ndarray,
    /// NVIDIA GPUs through CubeCL's CUDA runtime (build with `--features cuda`).
    Cuda,
    /// Vulkan/Metal/DX12 through wgpu (build with `--features wgpu`).
    Wgpu,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Ndarray => "ndarray",
            BackendKind::Cuda => "cuda",
            BackendKind::Wgpu => "wgpu",
        }
    }
}

/// Something to run on whichever backend the user picked.
pub trait BackendJob {
    type Output;
    fn run<B: burn::tensor::backend::Backend>(
        self,
        device: burn::tensor::Device<B>,
    ) -> anyhow::Result<Self::Output>;
}

/// Runs `job` on the backend `kind`, or says how to build it in if it is not compiled in.
pub fn run_on<J: BackendJob>(kind: BackendKind, job: J) -> anyhow::Result<J::Output> {
    match kind {
        BackendKind::Ndarray => job.run::<burn::backend::NdArray<f32>>(Default::default()),
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => job.run::<burn::backend::Cuda<f32, i32>>(Default::default()),
        #[cfg(feature = "wgpu")]
        BackendKind::Wgpu => job.run::<burn::backend::Wgpu<f32, i32>>(Default::default()),
        #[allow(unreachable_patterns)]
        other => anyhow::bail!(
            "this peftgrid was built without the {0} backend: rebuild with `cargo build --release --features {0}`",
            other.name()
        ),
    }
}

/// Something that trains: it needs an autodiff backend.
pub trait TrainJob {
    type Output;
    fn run<B: burn::tensor::backend::AutodiffBackend>(
        self,
        device: burn::tensor::Device<B>,
        backend: BackendKind,
    ) -> anyhow::Result<Self::Output>;
}

/// Runs `job` on the autodiff version of the backend `kind`.
pub fn train_on<J: TrainJob>(kind: BackendKind, job: J) -> anyhow::Result<J::Output> {
    use burn::backend::Autodiff;
    match kind {
        BackendKind::Ndarray => job.run::<Autodiff<burn::backend::NdArray<f32>>>(Default::default(), kind),
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => job.run::<Autodiff<burn::backend::Cuda<f32, i32>>>(Default::default(), kind),
        #[cfg(feature = "wgpu")]
        BackendKind::Wgpu => job.run::<Autodiff<burn::backend::Wgpu<f32, i32>>>(Default::default(), kind),
        #[allow(unreachable_patterns)]
        other => anyhow::bail!(
            "this peftgrid was built without the {0} backend: rebuild with `cargo build --release --features {0}`",
            other.name()
        ),
    }
}
