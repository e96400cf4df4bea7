//! A method as data: modifications (form, positions, insertion, composition, budget), the
//! pretrained parameter groups it unfreezes, and whether the task head trains. Round-trips
//! through JSON and TOML, so a new combination is a config, not code.

use serde::{Deserialize, Serialize};

use crate::error::{Result, ZooError};
use crate::forms::{Form, Placement};
use crate::shape::{BackboneShape, NormPlacement};
use crate::{Composition, Insertion, Position};

/// The largest budget a spec may set. Ranks are bounded by the widths they must fit (a few
/// thousand), prompt and prefix lengths by the sequences they extend (budget matching searches
/// up to max(hidden, ffn, 4096)); a larger budget can only be a mistake, and its parameter
/// count (budget × width × layers) would overflow or ask for more memory than any machine has
/// before a width check could refuse it.
pub const MAX_BUDGET: usize = 1 << 16;

/// One modification of the design space, placed at every layer's site of each listed position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModificationSpec {
    pub form: Form,
    pub at: Vec<Position>,
    #[serde(default)]
    pub insertion: Insertion,
    #[serde(default)]
    pub composition: Composition,
    /// The form's budget knob (r, l, k); absent for forms without one (rescale, token_bias).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<usize>,
}

/// Pretrained parameters a method trains besides its own modules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamGroup {
    /// Every pretrained parameter (full fine-tuning).
    All,
    /// Every bias: linear biases and LayerNorm betas (BitFit).
    Biases,
    /// LayerNorm gains and biases (LN-tuning).
    LayerNorms,
}

impl ParamGroup {
    /// Its name in specs (`unfreeze = ["layer_norms"]`) and in messages.
    pub fn name(self) -> &'static str {
        match self {
            ParamGroup::All => "all",
            ParamGroup::Biases => "biases",
            ParamGroup::LayerNorms => "layer_norms",
        }
    }
}

impl std::fmt::Display for ParamGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A method's place in the design space as text: one entry per modification, `+`-joined (the
/// positions of one modification `,`-joined). Result rows hold these columns, reports group by
/// them and published numbers are matched on them, so there is one way to write each.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Dimensions {
    /// `low_rank`, `prefix+bottleneck`.
    pub forms: String,
    /// `q,v`, `head+ffn`.
    pub positions: String,
    /// `parallel`, `sequential+post_norm`.
    pub insertions: String,
    /// `add+scaled(s=4.0)` (see [`Composition`]'s `Display`).
    pub compositions: String,
    /// The budget knobs of the modifications that have one: `30+512`; empty for none.
    pub budgets: String,
}

/// A PEFT method: what it adds, what it unfreezes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modifications: Vec<ModificationSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unfreeze: Vec<ParamGroup>,
    /// Whether the task head trains (default: yes; a linear probe trains only the head).
    #[serde(default = "yes")]
    pub train_head: bool,
}

fn yes() -> bool {
    true
}

impl ModificationSpec {
    pub fn new(form: Form, at: &[Position]) -> Self {
        Self {
            form,
            at: at.to_vec(),
            insertion: Insertion::default(),
            composition: Composition::default(),
            budget: None,
        }
    }

    pub fn insertion(mut self, insertion: Insertion) -> Self {
        self.insertion = insertion;
        self
    }

    pub fn composition(mut self, composition: Composition) -> Self {
        self.composition = composition;
        self
    }

    pub fn budget(mut self, budget: usize) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Its positions, `,`-joined: `q,v`.
    pub fn positions(&self) -> String {
        self.at
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Where and how it is placed, `q+v/parallel/scaled(s=4.0)`: what names a design-space
    /// grid point (`low_rank@q+v/parallel/scaled(s=4.0)`).
    pub fn placement_label(&self) -> String {
        let at: Vec<&str> = self.at.iter().map(|p| p.name()).collect();
        format!("{}/{}/{}", at.join("+"), self.insertion, self.composition)
    }

    /// The placement at one of its positions.
    /// The widths a group of this modification's sites shares its tensors over: the largest
    /// input and output width among its positions (VeRA slices its bases to each site).
    pub fn shared_dims(&self, shape: &BackboneShape) -> crate::shape::SiteDims {
        let dims = self
            .at
            .iter()
            .filter(|p| **p != Position::Head)
            .map(|p| shape.sites(*p).dims);
        let first = dims.clone().next().unwrap_or(crate::shape::SiteDims {
            d_in: shape.hidden,
            d_out: shape.hidden,
            heads: shape.heads,
        });
        dims.fold(first, |a, d| crate::shape::SiteDims {
            d_in: a.d_in.max(d.d_in),
            d_out: a.d_out.max(d.d_out),
            heads: a.heads,
        })
    }

    pub fn placement(&self, position: Position) -> Placement {
        Placement {
            position,
            insertion: self.insertion,
            composition: self.composition,
            budget: self.budget.unwrap_or(0),
        }
    }

    /// Shape-free validity: positions, insertion, composition and whether the budget is given.
    pub fn check(&self) -> Result<()> {
        let name = self.form.name();
        if self.at.is_empty() {
            return Err(crate::error::invalid(name, "no position given (`at`)"));
        }
        match (self.form.knob(), self.budget) {
            (Some(knob), None) => {
                return Err(crate::error::invalid(
                    name,
                    format!("needs a budget (its {knob})"),
                ))
            }
            (None, Some(b)) => {
                return Err(crate::error::invalid(
                    name,
                    format!("has no budget knob, but budget = {b} was given"),
                ))
            }
            (_, Some(b)) if b > MAX_BUDGET => {
                return Err(crate::error::invalid(
                    name,
                    format!("budget {b} is larger than any knob needs (at most {MAX_BUDGET})"),
                ))
            }
            _ => {}
        }
        // The forms' other sizes multiply like budgets (a PHM rank, a prefix reparam width).
        let sizes: Vec<(&str, usize)> = match &self.form {
            Form::Bottleneck(b) => b
                .phm
                .iter()
                .flat_map(|phm| [("phm n", phm.n), ("phm rank", phm.rank)])
                .collect(),
            Form::Prefix(p) => p.reparam.iter().map(|&r| ("reparam width", r)).collect(),
            _ => Vec::new(),
        };
        if let Some((what, n)) = sizes.into_iter().find(|&(_, n)| n > MAX_BUDGET) {
            return Err(crate::error::invalid(
                name,
                format!("{what} {n} is larger than any method needs (at most {MAX_BUDGET})"),
            ));
        }
        if let Composition::AlphaOverRank { .. } | Composition::AlphaOverSqrtRank { .. } =
            self.composition
        {
            if self.form.knob() != Some("r") {
                return Err(crate::error::invalid(
                    name,
                    format!("{} needs a rank", self.composition.kind()),
                ));
            }
        }
        for &position in &self.at {
            if self.insertion == Insertion::PostNorm
                && !matches!(position, Position::Attention | Position::Ffn)
            {
                return Err(crate::error::invalid(
                    name,
                    format!("post_norm insertion reads LN(x + h) of a sublayer: only at `attention` or `ffn`, not `{position}`"),
                ));
            }
            self.form.check(&self.placement(position))?;
        }
        Ok(())
    }
}

impl MethodSpec {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            modifications: Vec::new(),
            unfreeze: Vec::new(),
            train_head: true,
        }
    }

    pub fn with(mut self, m: ModificationSpec) -> Self {
        self.modifications.push(m);
        self
    }

    pub fn unfreezing(mut self, group: ParamGroup) -> Self {
        self.unfreeze.push(group);
        self
    }

    pub fn check(&self) -> Result<()> {
        self.modifications
            .iter()
            .try_for_each(ModificationSpec::check)?;
        // VPT-deep replaces the prompt tokens that a prompt at the input put there.
        for m in &self.modifications {
            if matches!(m.form, Form::DeepPrompt(_)) {
                let prompted = self.modifications.iter().any(|p| {
                    matches!(p.form, Form::Prompt(_))
                        && p.at.contains(&Position::Input)
                        && p.budget == m.budget
                });
                if !prompted {
                    return Err(ZooError::Spec {
                        spec: self.name.clone(),
                        message: "deep_prompt: replaces the prompt tokens of a `prompt` at `input` with the same l, which this method lacks".into(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Whether the backbone can carry the method: the rules that depend on its layout, not on
    /// its widths (those are [`crate::count`]'s, which calls this). Checked when a sweep is
    /// expanded, so `--dry-run` and `params` refuse what a run would.
    pub fn check_backbone(&self, shape: &BackboneShape) -> Result<()> {
        let refuse = |m: &ModificationSpec, message: String| ZooError::Spec {
            spec: self.name.clone(),
            message: format!("{}: {message}", m.form.name()),
        };
        let family = if shape.family.is_empty() {
            "this backbone"
        } else {
            shape.family.as_str()
        };
        for m in &self.modifications {
            if m.insertion == Insertion::PostNorm && shape.norm == NormPlacement::Pre {
                return Err(refuse(m, format!(
                    "post_norm insertion reads LN(x + h), which only a post-LN backbone has (BERT, RoBERTa, BART); {family} normalises before its sublayers"
                )));
            }
            // UniPELT's gate averages σ(x W_g) over the sequence (Mao et al. define it on
            // encoders): in a decoder that average reads tokens not generated yet, so
            // teacher-forced training would leak the target and cached decoding would disagree.
            if m.composition == Composition::Gated && shape.is_encoder_decoder() {
                return Err(refuse(m, format!(
                    "gated composition (UniPELT's gate, a mean over the sequence) is defined for encoders; on {family}, an encoder-decoder, it would read future decoder tokens"
                )));
            }
            if matches!(m.form, Form::DeepPrompt(_)) && shape.is_encoder_decoder() {
                return Err(refuse(m, format!(
                    "VPT-deep's per-layer prompts are implemented for encoders (ViT, BERT-style); {family} is an encoder-decoder"
                )));
            }
        }
        Ok(())
    }

    /// The method as it is deployed: each form's training-time reparameterisation dropped
    /// (a prefix's MLP), everything else as trained. What an adapter file describes.
    pub fn deployed(&self) -> Self {
        let mut spec = self.clone();
        for m in &mut spec.modifications {
            m.form = m.form.deployed();
        }
        spec
    }

    /// Its design-space dimensions as text ([`Dimensions`]).
    pub fn dimensions(&self) -> Dimensions {
        let join = |f: &dyn Fn(&ModificationSpec) -> String| {
            self.modifications
                .iter()
                .map(f)
                .collect::<Vec<_>>()
                .join("+")
        };
        Dimensions {
            forms: join(&|m| m.form.name().to_string()),
            positions: join(&|m| m.positions()),
            insertions: join(&|m| m.insertion.to_string()),
            compositions: join(&|m| m.composition.to_string()),
            budgets: self
                .budgets()
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join("+"),
        }
    }

    /// The budget knobs of the method, in order of its modifications.
    pub fn budgets(&self) -> Vec<usize> {
        self.modifications.iter().filter_map(|m| m.budget).collect()
    }

    /// Sets the budget knobs in order of the modifications that have one.
    pub fn with_budgets(mut self, budgets: &[usize]) -> Result<Self> {
        let knobs = self
            .modifications
            .iter()
            .filter(|m| m.budget.is_some())
            .count();
        if budgets.len() != knobs {
            return Err(ZooError::Spec {
                spec: self.name.clone(),
                message: format!("has {knobs} budget knob(s), {} given", budgets.len()),
            });
        }
        let mut values = budgets.iter();
        for m in self.modifications.iter_mut().filter(|m| m.budget.is_some()) {
            let (old, new) = (m.budget.unwrap_or(1).max(1), values.next().copied());
            // AdaLoRA's target rank keeps its ratio to r (`adalora:6` prunes 6 to 4 as the
            // preset prunes 12 to 8), never below 1.
            if let (Form::SingularValue(s), Some(new)) = (&mut m.form, new) {
                if let Some(schedule) = s.schedule.as_mut() {
                    let scaled = (schedule.target_r * new) as f64 / old as f64;
                    schedule.target_r = (scaled.round() as usize).clamp(1, new.max(1));
                }
            }
            m.budget = new;
        }
        Ok(self)
    }

    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| self.not_written("JSON", e.to_string()))
    }

    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| self.not_written("TOML", e.to_string()))
    }

    fn not_written(&self, format: &str, why: String) -> ZooError {
        ZooError::Spec {
            spec: self.name.clone(),
            message: format!("cannot be written as {format}: {why}"),
        }
    }

    /// Reads a spec from JSON or TOML text (`origin` names it in errors).
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let spec: MethodSpec = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| ZooError::Spec {
                spec: origin.to_string(),
                message: e.to_string(),
            })?
        } else {
            toml::from_str(text).map_err(|e| ZooError::Spec {
                spec: origin.to_string(),
                message: e.to_string(),
            })?
        };
        // A spec that reads but cannot be built is an error about this file: name it.
        spec.check().map_err(|e| ZooError::Spec {
            spec: origin.to_string(),
            message: e.to_string(),
        })?;
        Ok(spec)
    }

    /// `NAME`, `NAME:B1,B2,...` (a preset with its budget knobs set), or a `.json`/`.toml` file.
    pub fn from_arg(arg: &str) -> Result<Self> {
        if arg.ends_with(".json") || arg.ends_with(".toml") {
            let text = std::fs::read_to_string(arg).map_err(|e| ZooError::Spec {
                spec: arg.to_string(),
                message: e.to_string(),
            })?;
            return Self::parse(&text, arg);
        }
        let (name, budgets) = match arg.split_once(':') {
            Some((name, b)) => (name, Some(b)),
            None => (arg, None),
        };
        let spec = crate::presets::preset(name)?;
        let spec = match budgets {
            None => spec,
            Some(b) => {
                let values = b
                    .split(',')
                    .map(|v| {
                        v.trim().parse::<usize>().map_err(|_| ZooError::Spec {
                            spec: arg.to_string(),
                            message: format!("budget `{v}` is not a whole number"),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                spec.with_budgets(&values)?
            }
        };
        spec.check()?;
        Ok(spec)
    }
}

/// `bottleneck(act=relu) r=64 @ ffn_out, parallel, scaled(s=4.0)`: one line per modification,
/// options that differ from nothing are shown as the spec holds them.
impl std::fmt::Display for ModificationSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.form.name())?;
        let form = serde_json::to_value(&self.form).map_err(|_| std::fmt::Error)?;
        let options = inline_fields(&form);
        if !options.is_empty() {
            write!(f, "({options})")?;
        }
        if let (Some(knob), Some(b)) = (self.form.knob(), self.budget) {
            write!(f, " {knob}={b}")?;
        }
        let at: Vec<&str> = self.at.iter().map(|p| p.name()).collect();
        write!(
            f,
            " @ {}, {}, {}",
            at.join("+"),
            self.insertion,
            self.composition
        )
    }
}

/// `a=1, b=x` from a JSON object's fields other than `kind`.
fn inline_fields(value: &serde_json::Value) -> String {
    let Some(map) = value.as_object() else {
        return String::new();
    };
    map.iter()
        .filter(|(k, _)| k.as_str() != "kind")
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
