//! The runtime backend switch. Both CPU backends (flex, ndarray) are always built; CUDA and WGPU
//! are cargo features (`--features cuda`, `--features wgpu`), so a default build and CI need no
//! GPU. `flex` is the default because it measured faster (`peftgrid bench`, see
//! `reports/bench/`).

use clap::ValueEnum;
use peftgrid_zoo::dropout::{set_mask_source, MaskSource};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// CPU, through burn-flex: gemm matmuls, SIMD, rayon (always available; the default).
    Flex,
    /// CPU, through ndarray + matrixmultiply (always available; Burn's legacy CPU backend).
    Ndarray,
    /// NVIDIA GPUs through CubeCL's CUDA runtime (build with `--features cuda`).
    Cuda,
    /// Vulkan/Metal/DX12 through wgpu (build with `--features wgpu`).
    Wgpu,
}

/// Where dropout masks come from (`--dropout-masks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Masks {
    /// The host stream on CPU backends (fast, parallel, the same on every backend), the
    /// backend's generator on GPUs (no host-to-device copy per call).
    Auto,
    /// Always the host stream: a GPU run then trains exactly as the CPU backends do.
    Host,
    /// Always the backend's generator.
    Device,
}

impl BackendKind {
    pub fn is_cpu(self) -> bool {
        matches!(self, BackendKind::Flex | BackendKind::Ndarray)
    }

    fn default_masks(self) -> MaskSource {
        if self.is_cpu() {
            MaskSource::Host
        } else {
            MaskSource::Device
        }
    }

    /// Sets the dropout-mask source for this backend and the user's choice.
    pub fn use_masks(self, masks: Masks) {
        set_mask_source(match masks {
            Masks::Auto => self.default_masks(),
            Masks::Host => MaskSource::Host,
            Masks::Device => MaskSource::Device,
        });
    }

    /// What a results row records: the backend, and the dropout-mask stream when it is not the
    /// backend's default (a run is reproducible from its row).
    pub fn label(self) -> String {
        let masks = peftgrid_zoo::dropout::mask_source();
        if masks == self.default_masks() {
            self.name().to_string()
        } else {
            format!(
                "{}+{}-dropout",
                self.name(),
                if masks == MaskSource::Host {
                    "host"
                } else {
                    "device"
                }
            )
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
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
        BackendKind::Flex => job.run::<burn::backend::Flex<f32>>(Default::default()),
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
        BackendKind::Flex => job.run::<Autodiff<burn::backend::Flex<f32>>>(Default::default(), kind),
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

/// Sizes the CPU thread pool that both CPU backends share (rayon's global pool: flex's gemm and
/// elementwise kernels, ndarray's parallel iterators; matrixmultiply reads
/// `MATMUL_NUM_THREADS`, set here to the same count). `None` keeps rayon's own choice: every
/// core, or `RAYON_NUM_THREADS` when set.
pub fn init_threads(threads: Option<usize>) -> anyhow::Result<usize> {
    if let Some(n) = threads {
        anyhow::ensure!(n > 0, "--threads must be at least 1");
        // Set before any thread is started: nothing else reads the environment concurrently.
        std::env::set_var("MATMUL_NUM_THREADS", n.to_string());
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| anyhow::anyhow!("could not size the thread pool to {n}: {e}"))?;
    }
    Ok(rayon::current_num_threads())
}
