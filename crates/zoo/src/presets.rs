//! Every named method as a few lines of data: a point (or a set of points) of the design space.
//! Budgets are the papers' defaults for base-size models; `NAME:B1,B2` overrides them.

use crate::error::{Result, ZooError};
use crate::forms::{
    BottleneckSpec, ButterflyOrthogonalSpec, DeepPromptSpec, FactoredKroneckerSpec, Form,
    HadamardSpec, HouseholderSpec, KroneckerSpec, LowRankInit, LowRankSpec, OrthogonalSpec,
    PhmOptions, PrefixSpec, PromptSpec, RandomBasisSpec, RankSchedule, RationalSpec, RescaleSpec,
    ShardSharedSpec, SingularValueSpec, SpectralSpec, TokenBiasSpec, WeightDecomposedSpec,
};
use crate::spec::{MethodSpec, ModificationSpec, ParamGroup};
use crate::{Activation, Composition, Init, Insertion, Position, Side};

use Position::*;

/// A named method and what it is.
pub struct Preset {
    pub name: &'static str,
    pub about: &'static str,
    pub build: fn() -> MethodSpec,
}

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "full",
        about: "full fine-tuning: every pretrained parameter trains",
        build: full,
    },
    Preset {
        name: "linear_probe",
        about: "only the task head trains",
        build: linear_probe,
    },
    Preset {
        name: "bitfit",
        about: "BitFit (Ben Zaken et al.): biases only",
        build: bitfit,
    },
    Preset {
        name: "ln_tuning",
        about: "LN-tuning (Qi et al.): LayerNorm gains and biases only",
        build: ln_tuning,
    },
    Preset {
        name: "prompt",
        about: "prompt tuning (Lester et al.): l embeddings at the input",
        build: prompt,
    },
    Preset {
        name: "prefix",
        about:
            "prefix tuning (Li & Liang): l keys/values per head, MLP-reparameterised in training",
        build: prefix,
    },
    Preset {
        name: "lora",
        about: "LoRA (Hu et al.): rank-r Δ beside W_q, W_v, scaled α/r",
        build: lora,
    },
    Preset {
        name: "ia3",
        about:
            "IA3 (Liu et al.): rescale keys, values and the FFN inner activation (peft's placement)",
        build: ia3,
    },
    Preset {
        name: "houlsby",
        about: "Houlsby adapter: sequential bottlenecks after attention and FFN",
        build: houlsby,
    },
    Preset {
        name: "pfeiffer",
        about: "Pfeiffer adapter: a sequential bottleneck after the FFN",
        build: pfeiffer,
    },
    Preset {
        name: "parallel",
        about: "parallel adapter (He et al.): bottleneck beside the FFN",
        build: parallel,
    },
    Preset {
        name: "scaled_parallel",
        about: "scaled parallel adapter (He et al.): PA at the FFN, s = 4",
        build: scaled_parallel,
    },
    Preset {
        name: "scaled_parallel_learned",
        about: "scaled parallel adapter with a learned s",
        build: scaled_parallel_learned,
    },
    Preset {
        name: "mh_parallel",
        about: "multi-head parallel adapter (He et al.): one bottleneck per head",
        build: mh_parallel,
    },
    Preset {
        name: "mam",
        about: "MAM adapter (He et al.): prefix l = 30 + scaled PA at the FFN r = 512, s = 4",
        build: mam,
    },
    Preset {
        name: "mam_glue",
        about: "MAM adapter, He et al.'s GLUE setting: l = 16, r = 16, s = 2",
        build: mam_glue,
    },
    Preset {
        name: "unipelt",
        about: "UniPELT (Mao et al.): gated adapter + prefix + LoRA",
        build: unipelt,
    },
    Preset {
        name: "compacter",
        about: "Compacter (Mahabadi et al.): PHM bottlenecks, n = 4, rules shared",
        build: compacter,
    },
    Preset {
        name: "krona",
        about: "KronA (Edalati et al.): A ⊗ B beside W_q, W_v",
        build: krona,
    },
    Preset {
        name: "adapter_bias",
        about: "AdapterBias (Fu et al.): a token-dependent shift α(x)·v at the FFN",
        build: adapter_bias,
    },
    Preset {
        name: "sparse_adapter",
        about: "SparseAdapter (He et al. 2022): Houlsby adapters pruned by magnitude at init, 50%",
        build: sparse_adapter,
    },
    Preset {
        name: "u_tuning",
        about: "U-Tuning (Jiang et al.): a parallel bottleneck around each whole block",
        build: u_tuning,
    },
    Preset {
        name: "u_tuning_attention",
        about: "U-Tuning around the attention sublayer",
        build: u_tuning_attention,
    },
    Preset {
        name: "u_tuning_ffn",
        about: "U-Tuning around the FFN sublayer",
        build: u_tuning_ffn,
    },
    Preset {
        name: "rslora",
        about: "rank-stabilised LoRA (Kalajdzievski): LoRA at W_q, W_v scaled α/√r",
        build: rslora,
    },
    Preset {
        name: "lora_plus",
        about: "LoRA+ (Hayou et al.): LoRA whose W_up trains at 16 × the learning rate",
        build: lora_plus,
    },
    Preset {
        name: "pissa",
        about: "PiSSA (Meng et al.): LoRA at W_q, W_v started from W's 8 leading singular triplets",
        build: pissa,
    },
    Preset {
        name: "olora",
        about: "OLoRA (Büyükakyüz): LoRA at W_q, W_v started from W's QR factors",
        build: olora,
    },
    Preset {
        name: "raft",
        about: "RAFT: the FFN activation replaced by a trained rational function (5/4, GELU fit)",
        build: raft,
    },
    Preset {
        name: "vpt_deep",
        about: "VPT-deep (Jia et al.): l = 10 prompt tokens at the input and at every layer",
        build: vpt_deep,
    },
    Preset {
        name: "dora",
        about: "DoRA (Liu et al. 2024): magnitude × direction of W_q, W_v, LoRA on the direction",
        build: dora,
    },
    Preset {
        name: "loha",
        about: "LoHa (Hyeon-Woo et al.): Hadamard product of two rank-r updates at W_q, W_v",
        build: loha,
    },
    Preset {
        name: "lokr",
        about: "LoKr (peft/LyCORIS): Kronecker update at W_q, W_v, widths factored near √d",
        build: lokr,
    },
    Preset {
        name: "vera",
        about:
            "VeRA (Kopiczko et al.): shared frozen random bases, trained scaling vectors, W_q, W_v",
        build: vera,
    },
    Preset {
        name: "fourierft",
        about: "FourierFT (Gao et al.): n spectral coefficients per W_q, W_v, inverse 2-D DFT",
        build: fourierft,
    },
    Preset {
        name: "adalora",
        about: "AdaLoRA (Zhang et al.): P diag(λ) Q at W_q, W_v, rank 12 pruned to 8 by importance",
        build: adalora,
    },
    Preset {
        name: "miss",
        about: "MiSS (Kang et al.): one r × d_out block shared by the input shards, W_q, W_v",
        build: miss,
    },
    Preset {
        name: "oft",
        about: "OFT (Qiu et al.): block-diagonal Cayley rotations of W_q's, W_v's input, b = 32",
        build: oft,
    },
    Preset {
        name: "boft",
        about: "BOFT (Liu et al.): 2 butterfly factors of 8 × 8 Cayley rotations, W_q, W_v",
        build: boft,
    },
    Preset {
        name: "hra",
        about: "HRA (Yuan et al.): a chain of r = 8 Householder reflections of W_q's, W_v's input",
        build: hra,
    },
];

/// The preset called `name`.
pub fn preset(name: &str) -> Result<MethodSpec> {
    PRESETS
        .iter()
        .find(|p| p.name == name)
        .map(|p| (p.build)())
        .ok_or_else(|| ZooError::UnknownMethod {
            name: name.to_string(),
            known: PRESETS
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

fn bottleneck(act: Activation, init: Init) -> Form {
    Form::Bottleneck(BottleneckSpec {
        act,
        init,
        ..BottleneckSpec::default()
    })
}

fn adapter(
    at: &[Position],
    insertion: Insertion,
    composition: Composition,
    r: usize,
) -> ModificationSpec {
    let (act, init) = match insertion {
        // Houlsby-style adapters start near the identity; He et al. init PA like LoRA.
        Insertion::Sequential | Insertion::PostNorm => (Activation::Relu, Init::Bert),
        Insertion::Parallel => (Activation::Relu, Init::Lora),
    };
    ModificationSpec::new(bottleneck(act, init), at)
        .insertion(insertion)
        .composition(composition)
        .budget(r)
}

fn prefix_mod(l: usize, composition: Composition) -> ModificationSpec {
    ModificationSpec::new(
        Form::Prefix(PrefixSpec {
            reparam: Some(512),
            shift_positions: false,
        }),
        &[Head],
    )
    .composition(composition)
    .budget(l)
}

fn full() -> MethodSpec {
    MethodSpec::new("full").unfreezing(ParamGroup::All)
}

fn linear_probe() -> MethodSpec {
    MethodSpec::new("linear_probe")
}

fn bitfit() -> MethodSpec {
    MethodSpec::new("bitfit").unfreezing(ParamGroup::Biases)
}

fn ln_tuning() -> MethodSpec {
    MethodSpec::new("ln_tuning").unfreezing(ParamGroup::LayerNorms)
}

fn prompt() -> MethodSpec {
    MethodSpec::new("prompt")
        .with(ModificationSpec::new(Form::Prompt(PromptSpec {}), &[Input]).budget(20))
}

fn prefix() -> MethodSpec {
    MethodSpec::new("prefix").with(prefix_mod(30, Composition::Add))
}

fn lora() -> MethodSpec {
    MethodSpec::new("lora").with(
        ModificationSpec::new(Form::LowRank(LowRankSpec::default()), &[Q, V])
            .composition(Composition::AlphaOverRank { alpha: 16.0 })
            .budget(8),
    )
}

fn rslora() -> MethodSpec {
    MethodSpec::new("rslora").with(
        ModificationSpec::new(Form::LowRank(LowRankSpec::default()), &[Q, V])
            .composition(Composition::AlphaOverSqrtRank { alpha: 16.0 })
            .budget(8),
    )
}

fn lora_plus() -> MethodSpec {
    // The paper's recommended ratio, λ = 2⁴.
    let form = Form::LowRank(LowRankSpec {
        up_lr_ratio: Some(16.0),
        ..LowRankSpec::default()
    });
    at_q_v(
        "lora_plus",
        form,
        Composition::AlphaOverRank { alpha: 16.0 },
        8,
    )
}

fn raft() -> MethodSpec {
    MethodSpec::new("raft").with(ModificationSpec::new(
        Form::Rational(RationalSpec {}),
        &[FfnIn],
    ))
}

fn vpt_deep() -> MethodSpec {
    MethodSpec::new("vpt_deep")
        .with(ModificationSpec::new(Form::Prompt(PromptSpec {}), &[Input]).budget(10))
        .with(ModificationSpec::new(Form::DeepPrompt(DeepPromptSpec {}), &[Block]).budget(10))
}

fn pissa() -> MethodSpec {
    let form = Form::LowRank(LowRankSpec {
        init: LowRankInit::Pissa,
        ..LowRankSpec::default()
    });
    at_q_v("pissa", form, Composition::AlphaOverRank { alpha: 16.0 }, 8)
}

fn olora() -> MethodSpec {
    let form = Form::LowRank(LowRankSpec {
        init: LowRankInit::Olora,
        ..LowRankSpec::default()
    });
    at_q_v("olora", form, Composition::AlphaOverRank { alpha: 16.0 }, 8)
}

fn dora() -> MethodSpec {
    MethodSpec::new("dora").with(
        ModificationSpec::new(Form::WeightDecomposed(WeightDecomposedSpec {}), &[Q, V])
            .composition(Composition::AlphaOverRank { alpha: 16.0 })
            .budget(8),
    )
}

/// One weight-space modification at W_q and W_v, as peft's examples place them.
fn at_q_v(name: &str, form: Form, composition: Composition, budget: usize) -> MethodSpec {
    MethodSpec::new(name).with(
        ModificationSpec::new(form, &[Q, V])
            .composition(composition)
            .budget(budget),
    )
}

fn loha() -> MethodSpec {
    let alpha = Composition::AlphaOverRank { alpha: 16.0 };
    at_q_v("loha", Form::Hadamard(HadamardSpec {}), alpha, 8)
}

fn lokr() -> MethodSpec {
    let form = Form::FactoredKronecker(FactoredKroneckerSpec {});
    at_q_v("lokr", form, Composition::AlphaOverRank { alpha: 16.0 }, 8)
}

fn vera() -> MethodSpec {
    // peft's default rank: the bases are frozen, so r costs no trainable parameters but r.
    at_q_v(
        "vera",
        Form::RandomBasis(RandomBasisSpec {}),
        Composition::Add,
        256,
    )
}

fn fourierft() -> MethodSpec {
    // peft's defaults: n = 1000 frequencies, scaling 150.
    let form = Form::Spectral(SpectralSpec::default());
    at_q_v("fourierft", form, Composition::Scaled { s: 150.0 }, 1000)
}

fn adalora() -> MethodSpec {
    // peft's defaults: init_r = 12 falling to target_r = 8, lora_alpha = 8.
    let form = Form::SingularValue(SingularValueSpec {
        schedule: Some(RankSchedule::new(8)),
    });
    at_q_v(
        "adalora",
        form,
        Composition::AlphaOverRank { alpha: 8.0 },
        12,
    )
}

fn miss() -> MethodSpec {
    at_q_v(
        "miss",
        Form::ShardShared(ShardSharedSpec {}),
        Composition::Add,
        64,
    )
}

fn oft() -> MethodSpec {
    at_q_v(
        "oft",
        Form::Orthogonal(OrthogonalSpec::default()),
        Composition::Add,
        32,
    )
}

fn boft() -> MethodSpec {
    let form = Form::ButterflyOrthogonal(ButterflyOrthogonalSpec { factors: 2 });
    at_q_v("boft", form, Composition::Add, 8)
}

fn hra() -> MethodSpec {
    at_q_v(
        "hra",
        Form::Householder(HouseholderSpec {}),
        Composition::Add,
        8,
    )
}

fn ia3() -> MethodSpec {
    MethodSpec::new("ia3")
        .with(ModificationSpec::new(
            Form::Rescale(RescaleSpec { side: Side::Output }),
            &[K, V],
        ))
        .with(ModificationSpec::new(
            Form::Rescale(RescaleSpec { side: Side::Input }),
            &[FfnOut],
        ))
}

fn houlsby() -> MethodSpec {
    MethodSpec::new("houlsby").with(adapter(
        &[Attention, Ffn],
        Insertion::Sequential,
        Composition::Add,
        64,
    ))
}

fn pfeiffer() -> MethodSpec {
    MethodSpec::new("pfeiffer").with(adapter(&[Ffn], Insertion::Sequential, Composition::Add, 64))
}

fn parallel() -> MethodSpec {
    MethodSpec::new("parallel").with(adapter(&[Ffn], Insertion::Parallel, Composition::Add, 64))
}

fn scaled_parallel() -> MethodSpec {
    MethodSpec::new("scaled_parallel").with(adapter(
        &[Ffn],
        Insertion::Parallel,
        Composition::Scaled { s: 4.0 },
        64,
    ))
}

fn scaled_parallel_learned() -> MethodSpec {
    MethodSpec::new("scaled_parallel_learned").with(adapter(
        &[Ffn],
        Insertion::Parallel,
        Composition::Learned { init: 1.0 },
        64,
    ))
}

fn mh_parallel() -> MethodSpec {
    let form = Form::Bottleneck(BottleneckSpec {
        per_head: true,
        ..BottleneckSpec::default()
    });
    MethodSpec::new("mh_parallel").with(
        ModificationSpec::new(form, &[Head])
            .insertion(Insertion::Parallel)
            .budget(16),
    )
}

fn mam() -> MethodSpec {
    MethodSpec::new("mam")
        .with(prefix_mod(30, Composition::Add))
        .with(adapter(
            &[Ffn],
            Insertion::Parallel,
            Composition::Scaled { s: 4.0 },
            512,
        ))
}

fn mam_glue() -> MethodSpec {
    MethodSpec::new("mam_glue")
        .with(prefix_mod(16, Composition::Add))
        .with(adapter(
            &[Ffn],
            Insertion::Parallel,
            Composition::Scaled { s: 2.0 },
            16,
        ))
}

fn unipelt() -> MethodSpec {
    MethodSpec::new("unipelt")
        .with(prefix_mod(10, Composition::Gated))
        .with(adapter(
            &[Ffn],
            Insertion::Sequential,
            Composition::Gated,
            48,
        ))
        .with(
            ModificationSpec::new(Form::LowRank(LowRankSpec::default()), &[Q, V])
                .composition(Composition::Gated)
                .budget(8),
        )
}

fn compacter() -> MethodSpec {
    let form = Form::Bottleneck(BottleneckSpec {
        act: Activation::Gelu,
        init: Init::Bert,
        phm: Some(PhmOptions { n: 4, rank: 1 }),
        ..BottleneckSpec::default()
    });
    MethodSpec::new("compacter").with(
        ModificationSpec::new(form, &[Attention, Ffn])
            .insertion(Insertion::Sequential)
            .budget(24),
    )
}

fn krona() -> MethodSpec {
    MethodSpec::new("krona")
        .with(ModificationSpec::new(Form::Kronecker(KroneckerSpec {}), &[Q, V]).budget(16))
}

fn adapter_bias() -> MethodSpec {
    MethodSpec::new("adapter_bias").with(
        ModificationSpec::new(Form::TokenBias(TokenBiasSpec {}), &[Ffn])
            .insertion(Insertion::Parallel),
    )
}

fn sparse_adapter() -> MethodSpec {
    let form = Form::Bottleneck(BottleneckSpec {
        init: Init::Bert,
        sparsity: 0.5,
        ..BottleneckSpec::default()
    });
    MethodSpec::new("sparse_adapter").with(
        ModificationSpec::new(form, &[Attention, Ffn])
            .insertion(Insertion::Sequential)
            .budget(64),
    )
}

fn u_tuning() -> MethodSpec {
    MethodSpec::new("u_tuning").with(adapter(&[Block], Insertion::Parallel, Composition::Add, 64))
}

fn u_tuning_attention() -> MethodSpec {
    MethodSpec::new("u_tuning_attention").with(adapter(
        &[Attention],
        Insertion::Parallel,
        Composition::Add,
        64,
    ))
}

fn u_tuning_ffn() -> MethodSpec {
    MethodSpec::new("u_tuning_ffn").with(adapter(&[Ffn], Insertion::Parallel, Composition::Add, 64))
}
