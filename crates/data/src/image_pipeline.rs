//! The ViT image pipeline: a [`Preprocessor`] built from a checkpoint's
//! `preprocessor_config.json` (Hugging Face `ViTImageProcessor` fields), the evaluation and
//! training transforms, and [`batch_pixels`], which decodes and transforms a batch in parallel
//! (rayon) into one `[b, 3, h, w]` `f32` buffer.
//!
//! Resampling is Pillow's convolution resampler (what torchvision and Hugging Face run on PIL
//! images), integer arithmetic included: separable, horizontal pass first over only the rows
//! the vertical pass reads, the filter's support widened by the scale factor when shrinking
//! (antialiasing), 22-bit fixed-point weights, each pass rounded and clamped to 8 bits. Checked
//! byte for byte against Pillow 12.1.1 (bilinear and bicubic, up- and downscaling, with and
//! without the centre crop). Pillow 13 sometimes runs the vertical pass first, which moves some
//! bytes by one against it.
//!
//! Transforms:
//! - [`Transform::Eval`]: resize the shorter side to `resize_shorter` (bilinear unless the config
//!   says otherwise) and centre-crop to the output size (torchvision `Resize(int)` +
//!   `CenterCrop`, as VPT evaluates; only the cropped window is computed).
//! - [`Transform::Train`]: torchvision's `RandomResizedCrop` (scale 0.08–1, ratio 3/4–4/3, ten
//!   attempts then its centre fallback) then `RandomHorizontalFlip(0.5)`, drawn from a seeded
//!   ChaCha8 stream per example, so a batch is the same whatever the thread count.
//! - [`Transform::Resize`]: Hugging Face `ViTImageProcessor` itself: resize straight to the
//!   output size (aspect ratio not kept), no crop.
//!
//! then rescale (`rescale_factor`, 1/255) and normalise (`(x − mean) / std`) into CHW.

use std::path::Path;

/// The largest output side or resize target a `preprocessor_config.json` may ask for. ViT
/// checkpoints use 224 to 518; a batch holds 3·h·w floats per image (200 MiB each at this
/// size), so a larger value, or one whose products overflow, is refused when the config is read.
pub const MAX_SIDE: usize = 4096;

use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde_json::Value;

use crate::error::{read_text, DataError, Result};
use crate::rng;
use crate::vision::{ImageExample, Rgb};

/// Pillow's resampling filters, by their `resample` number in Hugging Face configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resample {
    Nearest,
    Lanczos,
    Bilinear,
    Bicubic,
    Box,
    Hamming,
}

impl Resample {
    /// From Pillow's enum value (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming).
    pub fn from_pil(v: i64) -> Option<Self> {
        Some(match v {
            0 => Resample::Nearest,
            1 => Resample::Lanczos,
            2 => Resample::Bilinear,
            3 => Resample::Bicubic,
            4 => Resample::Box,
            5 => Resample::Hamming,
            _ => return None,
        })
    }

    fn support(self) -> f64 {
        match self {
            Resample::Nearest | Resample::Box => 0.5,
            Resample::Bilinear | Resample::Hamming => 1.0,
            Resample::Bicubic => 2.0,
            Resample::Lanczos => 3.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        fn sinc(x: f64) -> f64 {
            if x == 0.0 {
                1.0
            } else {
                let px = std::f64::consts::PI * x;
                px.sin() / px
            }
        }
        match self {
            Resample::Nearest | Resample::Box => {
                if (-0.5..0.5).contains(&x) {
                    1.0
                } else {
                    0.0
                }
            }
            Resample::Bilinear => {
                let x = x.abs();
                if x < 1.0 {
                    1.0 - x
                } else {
                    0.0
                }
            }
            Resample::Hamming => {
                let x = x.abs();
                if x == 0.0 {
                    1.0
                } else if x >= 1.0 {
                    0.0
                } else {
                    let px = std::f64::consts::PI * x;
                    px.sin() / px * (0.54 + 0.46 * px.cos())
                }
            }
            Resample::Bicubic => {
                let a = -0.5;
                let x = x.abs();
                if x < 1.0 {
                    ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * a
                } else {
                    0.0
                }
            }
            Resample::Lanczos => {
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

/// Which transform [`batch_pixels`] applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    /// Resize the shorter side, centre crop (evaluation).
    Eval,
    /// Random resized crop + horizontal flip (training), seeded.
    Train,
    /// Resize straight to the output size, as `ViTImageProcessor` does.
    Resize,
}

/// Image preprocessing settings, as in a `preprocessor_config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessor {
    /// Output (height, width).
    pub size: (usize, usize),
    /// The shorter side's length before the centre crop ([`Transform::Eval`]); `None` when
    /// `do_resize` is false (the image is only cropped, or zero-padded if smaller).
    pub resize_shorter: Option<usize>,
    pub resample: Resample,
    /// `Some(rescale_factor)` when `do_rescale`.
    pub rescale: Option<f32>,
    /// `Some((mean, std))` when `do_normalize`.
    pub normalize: Option<([f32; 3], [f32; 3])>,
    /// Random-resized-crop area range.
    pub scale: (f64, f64),
    /// Random-resized-crop aspect-ratio range.
    pub ratio: (f64, f64),
    /// Probability of a horizontal flip in training.
    pub flip_prob: f64,
}

impl Default for Preprocessor {
    /// ViT-B/16 ImageNet-21k (`google/vit-base-patch16-224-in21k`): 224×224, mean = std = 0.5.
    fn default() -> Self {
        Preprocessor {
            size: (224, 224),
            resize_shorter: Some(224),
            resample: Resample::Bilinear,
            rescale: Some(1.0 / 255.0),
            normalize: Some(([0.5; 3], [0.5; 3])),
            scale: (0.08, 1.0),
            ratio: (3.0 / 4.0, 4.0 / 3.0),
            flip_prob: 0.5,
        }
    }
}

/// A `size` / `crop_size` value: (height, width) if given, `shortest_edge` if given.
type SizeSpec = (Option<(usize, usize)>, Option<usize>);

fn size_of(v: &Value) -> Option<SizeSpec> {
    if let Some(n) = v.as_u64() {
        return Some((Some((n as usize, n as usize)), None));
    }
    let o = v.as_object()?;
    let get = |k: &str| o.get(k).and_then(Value::as_u64).map(|n| n as usize);
    let hw = match (get("height"), get("width")) {
        (Some(h), Some(w)) => Some((h, w)),
        _ => None,
    };
    let short = get("shortest_edge");
    if hw.is_none() && short.is_none() {
        return None;
    }
    Some((hw, short))
}

impl Preprocessor {
    /// Reads `preprocessor_config.json` (or a checkpoint folder that has one).
    pub fn from_config(path: &Path) -> Result<Self> {
        let file = if path.is_dir() {
            path.join("preprocessor_config.json")
        } else {
            path.to_path_buf()
        };
        let text = read_text(
            &file,
            "preprocessor config",
            "it ships with the checkpoint (Hugging Face folder)",
        )?;
        Self::from_json(&text, &file)
    }

    /// Parses the JSON text of a `preprocessor_config.json`; `path` is for error messages.
    pub fn from_json(text: &str, path: &Path) -> Result<Self> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| DataError::format(path, format!("not valid JSON: {e}")))?;
        let bad = |field: &str, msg: &str| DataError::value(path, "config", field, msg);
        let mut p = Preprocessor::default();
        let flag = |k: &str, default: bool| -> Result<bool> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(default),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(bad(k, "expected true or false")),
            }
        };
        let triple = |k: &str, default: [f32; 3]| -> Result<[f32; 3]> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(default),
                Some(Value::Number(n)) => Ok([n.as_f64().unwrap_or(0.0) as f32; 3]),
                Some(Value::Array(a)) if a.len() == 3 && a.iter().all(Value::is_number) => {
                    let f = |i: usize| a[i].as_f64().unwrap_or(0.0) as f32;
                    Ok([f(0), f(1), f(2)])
                }
                Some(_) => Err(bad(k, "expected three numbers")),
            }
        };
        let mean = triple("image_mean", [0.5; 3])?;
        let std = triple("image_std", [0.5; 3])?;
        if std.contains(&0.0) {
            return Err(bad("image_std", "a standard deviation of 0"));
        }
        p.normalize = flag("do_normalize", true)?.then_some((mean, std));
        let factor = match v.get("rescale_factor") {
            None | Some(Value::Null) => 1.0 / 255.0,
            Some(n) => n
                .as_f64()
                .ok_or_else(|| bad("rescale_factor", "expected a number"))?
                as f32,
        };
        p.rescale = flag("do_rescale", true)?.then_some(factor);
        if let Some(r) = v.get("resample").filter(|r| !r.is_null()) {
            p.resample = r
                .as_i64()
                .and_then(Resample::from_pil)
                .ok_or_else(|| bad("resample", "expected a Pillow filter number 0–5"))?;
        }
        let size = match v.get("size").filter(|s| !s.is_null()) {
            Some(s) => Some(size_of(s).ok_or_else(|| {
                bad(
                    "size",
                    "expected an integer, {height, width} or {shortest_edge}",
                )
            })?),
            None => None,
        };
        let crop = match v.get("crop_size").filter(|s| !s.is_null()) {
            Some(s) => size_of(s)
                .and_then(|(hw, _)| hw)
                .map(Some)
                .ok_or_else(|| bad("crop_size", "expected an integer or {height, width}"))?,
            None => None,
        };
        let (hw, short) = size.unwrap_or((Some((224, 224)), None));
        p.size = crop.or(hw).or(short.map(|s| (s, s))).unwrap_or((224, 224));
        let shorter = short.unwrap_or(p.size.0.max(p.size.1));
        p.resize_shorter = flag("do_resize", true)?.then_some(shorter);
        if p.size.0 == 0 || p.size.1 == 0 || p.resize_shorter == Some(0) {
            return Err(bad("size", "a size of 0"));
        }
        let largest = p.size.0.max(p.size.1).max(p.resize_shorter.unwrap_or(0));
        if largest > MAX_SIDE {
            return Err(bad(
                "size",
                &format!("{largest} pixels is larger than the {MAX_SIDE} this pipeline takes"),
            ));
        }
        Ok(p)
    }

    /// Sets the shorter side before the centre crop (e.g. 256 for VPT's 256 → 224).
    pub fn with_resize_shorter(mut self, shorter: usize) -> Self {
        self.resize_shorter = Some(shorter);
        self
    }

    /// Output (height, width).
    pub fn output_size(&self) -> (usize, usize) {
        self.size
    }

    /// Applies `transform` to one decoded image, writing `3 * h * w` CHW floats into `out`.
    pub fn apply(&self, img: &Rgb, transform: Transform, rng: &mut ChaCha8Rng, out: &mut [f32]) {
        let (oh, ow) = self.size;
        let pixels = match transform {
            Transform::Eval => {
                let (rh, rw) = match self.resize_shorter {
                    Some(s) => shorter_side(img.height, img.width, s),
                    None => (img.height, img.width),
                };
                // torchvision's centre crop: offsets rounded half to even; zero padding when the
                // image is smaller than the crop.
                let top = ((rh as f64 - oh as f64) / 2.0).round_ties_even() as i64;
                let left = ((rw as f64 - ow as f64) / 2.0).round_ties_even() as i64;
                resample(
                    img,
                    (0, 0, img.width, img.height),
                    (rw, rh),
                    (left, top, ow, oh),
                    self.resample,
                )
            }
            Transform::Resize => resample(
                img,
                (0, 0, img.width, img.height),
                (ow, oh),
                (0, 0, ow, oh),
                self.resample,
            ),
            Transform::Train => {
                let (i, j, h, w) =
                    random_resized_crop(img.height, img.width, self.scale, self.ratio, rng);
                let px = resample(img, (j, i, w, h), (ow, oh), (0, 0, ow, oh), self.resample);
                if rng::unit(rng) < self.flip_prob {
                    flip(px, ow, oh)
                } else {
                    px
                }
            }
        };
        // Rescale and normalise into CHW.
        let plane = oh * ow;
        let scale = self.rescale.unwrap_or(1.0);
        let (mean, std) = self.normalize.unwrap_or(([0.0; 3], [1.0; 3]));
        for c in 0..3 {
            let (m, s) = (mean[c], std[c]);
            let dst = &mut out[c * plane..(c + 1) * plane];
            for (k, d) in dst.iter_mut().enumerate() {
                *d = (pixels[k * 3 + c] as f32 * scale - m) / s;
            }
        }
    }
}

/// (height, width) after resizing the shorter side to `s` (torchvision `Resize(int)`: the longer
/// side is `int(s * long / short)`).
pub fn shorter_side(h: usize, w: usize, s: usize) -> (usize, usize) {
    if h == 0 || w == 0 {
        return (s, s);
    }
    if w <= h {
        (((s as f64) * h as f64 / w as f64) as usize, s)
    } else {
        (s, ((s as f64) * w as f64 / h as f64) as usize)
    }
}

/// torchvision `RandomResizedCrop.get_params`: (top, left, height, width) of the crop.
pub fn random_resized_crop(
    height: usize,
    width: usize,
    scale: (f64, f64),
    ratio: (f64, f64),
    rng: &mut ChaCha8Rng,
) -> (usize, usize, usize, usize) {
    let area = (height * width) as f64;
    let (lr0, lr1) = (ratio.0.ln(), ratio.1.ln());
    for _ in 0..10 {
        let target_area = area * rng::uniform(rng, scale.0, scale.1);
        let aspect = rng::uniform(rng, lr0, lr1).exp();
        let w = (target_area * aspect).sqrt().round_ties_even() as usize;
        let h = (target_area / aspect).sqrt().round_ties_even() as usize;
        if 0 < w && w <= width && 0 < h && h <= height {
            let i = rng::below(rng, (height - h + 1) as u64) as usize;
            let j = rng::below(rng, (width - w + 1) as u64) as usize;
            return (i, j, h, w);
        }
    }
    // Fallback: a centre crop with the ratio clamped to the range.
    let in_ratio = width as f64 / height as f64;
    let (w, h) = if in_ratio < ratio.0.min(ratio.1) {
        let w = width;
        (
            w,
            (w as f64 / ratio.0.min(ratio.1)).round_ties_even() as usize,
        )
    } else if in_ratio > ratio.0.max(ratio.1) {
        let h = height;
        (
            (h as f64 * ratio.0.max(ratio.1)).round_ties_even() as usize,
            h,
        )
    } else {
        (width, height)
    };
    ((height - h) / 2, (width - w) / 2, h, w)
}

fn flip(mut px: Vec<u8>, w: usize, h: usize) -> Vec<u8> {
    for y in 0..h {
        let row = &mut px[y * w * 3..(y + 1) * w * 3];
        for x in 0..w / 2 {
            for c in 0..3 {
                row.swap(x * 3 + c, (w - 1 - x) * 3 + c);
            }
        }
    }
    px
}

/// Pillow's fixed-point precision for 8-bit resampling.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Per-output-pixel taps: first source index, tap count, fixed-point weights.
struct Taps {
    start: Vec<usize>,
    len: Vec<usize>,
    weights: Vec<i32>,
    stride: usize,
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for `out` outputs over `n` inputs,
/// for outputs `first..first+count`.
fn taps(n: usize, out: usize, first: usize, count: usize, filter: Resample) -> Taps {
    let scale = n as f64 / out as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let stride = (support.ceil() as usize) * 2 + 1;
    let mut t = Taps {
        start: Vec::with_capacity(count),
        len: Vec::with_capacity(count),
        weights: vec![0; stride * count],
        stride,
    };
    let ss = 1.0 / filterscale;
    let mut w = vec![0.0f64; stride];
    for (k, xx) in (first..first + count).enumerate() {
        let center = (xx as f64 + 0.5) * scale;
        // C's (int) cast truncates toward zero, as Pillow's does.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64)
            .min(n as i64)
            .max(xmin as i64) as usize
            - xmin;
        let xmax = xmax.min(stride);
        let mut total = 0.0;
        for (x, wx) in w[..xmax].iter_mut().enumerate() {
            *wx = filter.weight((x as f64 + xmin as f64 - center + 0.5) * ss);
            total += *wx;
        }
        let dst = &mut t.weights[k * stride..k * stride + xmax];
        for (d, &wx) in dst.iter_mut().zip(&w[..xmax]) {
            let v = if total != 0.0 { wx / total } else { wx };
            let f = v * (1u64 << PRECISION_BITS) as f64;
            *d = if v < 0.0 {
                (f - 0.5) as i32
            } else {
                (f + 0.5) as i32
            };
        }
        t.start.push(xmin);
        t.len.push(xmax);
    }
    t
}

fn clip8(v: i32) -> u8 {
    if v >= (1 << PRECISION_BITS << 8) {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> PRECISION_BITS) as u8
    }
}

/// Resizes the source box `(x0, y0, bw, bh)` of `img` to `(out_w, out_h)` and returns the output
/// window `(left, top, ww, wh)` of it as HWC bytes; window pixels outside the output are 0
/// (torchvision's padding). Pillow's algorithm and integer arithmetic: horizontal pass first
/// (over only the rows the vertical pass reads), 8-bit intermediate, a pass skipped when its
/// axis keeps its size.
fn resample(
    img: &Rgb,
    (x0, y0, bw, bh): (usize, usize, usize, usize),
    (out_w, out_h): (usize, usize),
    (left, top, ww, wh): (i64, i64, usize, usize),
    filter: Resample,
) -> Vec<u8> {
    let mut out = vec![0u8; ww * wh * 3];
    if bw == 0 || bh == 0 || out_w == 0 || out_h == 0 {
        return out;
    }
    // The part of the window inside the output image.
    let cx0 = left.max(0) as usize;
    let cx1 = ((left + ww as i64).min(out_w as i64)).max(cx0 as i64) as usize;
    let cy0 = top.max(0) as usize;
    let cy1 = ((top + wh as i64).min(out_h as i64)).max(cy0 as i64) as usize;
    if cx1 <= cx0 || cy1 <= cy0 {
        return out;
    }
    let (ncx, ncy) = (cx1 - cx0, cy1 - cy0);
    let ox0 = (cx0 as i64 - left) as usize;
    let oy0 = (cy0 as i64 - top) as usize;
    let src_px = |x: usize, y: usize| {
        let o = ((y0 + y) * img.width + x0 + x) * 3;
        &img.data[o..o + 3]
    };

    if filter == Resample::Nearest {
        // Pillow resizes with NEAREST through an affine transform: source = floor((x + 0.5) * scale).
        let (sx, sy) = (bw as f64 / out_w as f64, bh as f64 / out_h as f64);
        for y in 0..ncy {
            let syy = ((((cy0 + y) as f64 + 0.5) * sy) as usize).min(bh - 1);
            for x in 0..ncx {
                let sxx = ((((cx0 + x) as f64 + 0.5) * sx) as usize).min(bw - 1);
                let d = ((oy0 + y) * ww + ox0 + x) * 3;
                out[d..d + 3].copy_from_slice(src_px(sxx, syy));
            }
        }
        return out;
    }

    let need_h = out_w != bw;
    let need_v = out_h != bh;
    let vy = taps(bh, out_h, cy0, ncy, filter);
    // Source rows the vertical pass reads (all of the window's rows when it is skipped).
    let (rmin, rmax) = if need_v {
        let lo = vy.start.iter().copied().min().unwrap_or(0);
        let hi = vy
            .start
            .iter()
            .zip(&vy.len)
            .map(|(s, l)| s + l)
            .max()
            .unwrap_or(0);
        (lo, hi)
    } else {
        (cy0, cy1)
    };
    // Horizontal pass (or a copy of the window's columns) over rows rmin..rmax.
    let mut mid = vec![0u8; (rmax - rmin) * ncx * 3];
    if need_h {
        let hx = taps(bw, out_w, cx0, ncx, filter);
        for (r, mid_row) in (rmin..rmax).zip(mid.chunks_mut(ncx * 3)) {
            for (k, dst) in mid_row.chunks_mut(3).enumerate() {
                let (s, l) = (hx.start[k], hx.len[k]);
                let w = &hx.weights[k * hx.stride..k * hx.stride + l];
                let mut acc = [1i32 << (PRECISION_BITS - 1); 3];
                for (t, &wt) in w.iter().enumerate() {
                    let p = src_px(s + t, r);
                    acc[0] += p[0] as i32 * wt;
                    acc[1] += p[1] as i32 * wt;
                    acc[2] += p[2] as i32 * wt;
                }
                dst[0] = clip8(acc[0]);
                dst[1] = clip8(acc[1]);
                dst[2] = clip8(acc[2]);
            }
        }
    } else {
        for (r, mid_row) in (rmin..rmax).zip(mid.chunks_mut(ncx * 3)) {
            for (k, dst) in mid_row.chunks_mut(3).enumerate() {
                dst.copy_from_slice(src_px(cx0 + k, r));
            }
        }
    }
    // Vertical pass (or a copy) into the window.
    for k in 0..ncy {
        let dst_row = &mut out[((oy0 + k) * ww + ox0) * 3..((oy0 + k) * ww + ox0 + ncx) * 3];
        if !need_v {
            let r = cy0 + k - rmin;
            dst_row.copy_from_slice(&mid[r * ncx * 3..(r + 1) * ncx * 3]);
            continue;
        }
        let (s, l) = (vy.start[k], vy.len[k]);
        let w = &vy.weights[k * vy.stride..k * vy.stride + l];
        for (x, d) in dst_row.chunks_mut(3).enumerate() {
            let mut acc = [1i32 << (PRECISION_BITS - 1); 3];
            for (t, &wt) in w.iter().enumerate() {
                let p = &mid[((s + t - rmin) * ncx + x) * 3..];
                acc[0] += p[0] as i32 * wt;
                acc[1] += p[1] as i32 * wt;
                acc[2] += p[2] as i32 * wt;
            }
            d[0] = clip8(acc[0]);
            d[1] = clip8(acc[1]);
            d[2] = clip8(acc[2]);
        }
    }
    out
}

/// Decodes and transforms `examples` in parallel into a `[b, 3, h, w]` buffer (row-major).
/// Example `i` draws its random crop and flip from the ChaCha8 stream `(seed, i)`; pass a seed
/// that changes per batch and epoch. The first failing image's error is returned (it names the
/// file, or the Parquet row / CIFAR record).
pub fn batch_pixels(
    examples: &[ImageExample],
    pre: &Preprocessor,
    transform: Transform,
    seed: u64,
) -> Result<(Vec<f32>, [usize; 4])> {
    let (h, w) = pre.size;
    let per = 3 * h * w;
    let mut out = vec![0.0f32; per * examples.len()];
    out.par_chunks_mut(per.max(1))
        .zip(examples.par_iter())
        .enumerate()
        .try_for_each(|(i, (dst, ex))| -> Result<()> {
            let img = ex.decode()?;
            if img.width == 0 || img.height == 0 {
                return Err(DataError::Image {
                    origin: ex.origin.clone(),
                    message: "an empty (0-pixel) image".into(),
                });
            }
            let mut r = rng::rng(seed, i as u64);
            pre.apply(&img, transform, &mut r, dst);
            Ok(())
        })?;
    Ok((out, [examples.len(), 3, h, w]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(w: usize, h: usize, px: [u8; 3]) -> Rgb {
        Rgb {
            width: w,
            height: h,
            data: px.iter().copied().cycle().take(w * h * 3).collect(),
        }
    }

    #[test]
    fn a_solid_image_stays_solid_through_every_filter() {
        let img = solid(37, 23, [10, 128, 250]);
        for f in [
            Resample::Nearest,
            Resample::Bilinear,
            Resample::Bicubic,
            Resample::Lanczos,
            Resample::Box,
            Resample::Hamming,
        ] {
            for (ow, oh) in [(224, 224), (8, 5), (37, 23)] {
                let px = resample(&img, (0, 0, 37, 23), (ow, oh), (0, 0, ow, oh), f);
                assert!(px.chunks(3).all(|p| p == [10, 128, 250]), "{f:?} {ow}x{oh}");
            }
        }
    }

    #[test]
    fn identity_resize_is_exact() {
        let data: Vec<u8> = (0..5 * 4 * 3).map(|i| (i * 7 % 256) as u8).collect();
        let img = Rgb {
            width: 5,
            height: 4,
            data: data.clone(),
        };
        let px = resample(&img, (0, 0, 5, 4), (5, 4), (0, 0, 5, 4), Resample::Bilinear);
        assert_eq!(px, data);
    }

    /// Bytes from Pillow 12.1.1 `Image.resize` on a 7×5 pattern (x·37 + y·91 + c·53 mod 256).
    #[test]
    fn matches_pillow_byte_for_byte() {
        let (w, h) = (7usize, 5usize);
        let data: Vec<u8> = (0..h)
            .flat_map(|y| {
                (0..w).flat_map(move |x| {
                    (0..3).map(move |c| ((x * 37 + y * 91 + c * 53) % 256) as u8)
                })
            })
            .collect();
        let img = Rgb {
            width: w,
            height: h,
            data,
        };
        let bilinear = resample(&img, (0, 0, w, h), (4, 3), (0, 0, 4, 3), Resample::Bilinear);
        assert_eq!(
            bilinear,
            vec![
                58, 111, 159, 116, 169, 134, 162, 158, 151, 137, 109, 99, 137, 129, 105, 88, 113,
                120, 117, 140, 136, 132, 152, 178, 88, 141, 187, 146, 158, 135, 109, 121, 95, 126,
                121, 122
            ]
        );
        let bicubic = resample(
            &img,
            (0, 0, w, h),
            (11, 9),
            (0, 0, 11, 9),
            Resample::Bicubic,
        );
        let red: Vec<u8> = bicubic.chunks(3).map(|p| p[0]).collect();
        assert_eq!(
            red,
            vec![
                0, 6, 33, 57, 80, 104, 126, 155, 194, 224, 238, 21, 34, 62, 93, 118, 142, 171, 171,
                138, 156, 176, 77, 92, 121, 153, 179, 202, 244, 193, 39, 39, 69, 142, 165, 179,
                113, 102, 132, 168, 142, 49, 58, 83, 179, 209, 208, 48, 0, 37, 61, 84, 108, 135,
                151, 84, 107, 120, 55, 42, 74, 108, 142, 175, 204, 219, 14, 29, 57, 90, 116, 139,
                150, 165, 190, 217, 233, 74, 90, 118, 148, 181, 197, 97, 51, 82, 110, 126, 112,
                128, 155, 179, 214, 226, 65, 0, 19, 48, 64
            ]
        );
        // A window of the output is the same bytes as the full output, cut.
        let window = resample(&img, (0, 0, w, h), (11, 9), (3, 2, 5, 4), Resample::Bicubic);
        for y in 0..4 {
            assert_eq!(
                &window[y * 15..(y + 1) * 15],
                &bicubic[((y + 2) * 11 + 3) * 3..((y + 2) * 11 + 8) * 3]
            );
        }
    }

    #[test]
    fn shorter_side_and_pil_bilinear_upscale() {
        assert_eq!(shorter_side(32, 32, 224), (224, 224));
        assert_eq!(shorter_side(300, 400, 256), (256, 341));
        // 2 → 4 pixels, bilinear, half-pixel centres: [0, 100] → [0, 25, 75, 100].
        let img = Rgb {
            width: 2,
            height: 1,
            data: vec![0, 0, 0, 100, 100, 100],
        };
        let px = resample(&img, (0, 0, 2, 1), (4, 1), (0, 0, 4, 1), Resample::Bilinear);
        let r: Vec<u8> = px.chunks(3).map(|p| p[0]).collect();
        assert_eq!(r, vec![0, 25, 75, 100]);
    }

    #[test]
    fn random_resized_crop_is_in_bounds_and_seeded() {
        for s in 0..200 {
            let mut r = rng::rng(s, 0);
            let (i, j, h, w) = random_resized_crop(30, 50, (0.08, 1.0), (0.75, 4.0 / 3.0), &mut r);
            assert!(h > 0 && w > 0 && i + h <= 30 && j + w <= 50);
        }
        let a = random_resized_crop(30, 50, (0.08, 1.0), (0.75, 1.33), &mut rng::rng(9, 3));
        let b = random_resized_crop(30, 50, (0.08, 1.0), (0.75, 1.33), &mut rng::rng(9, 3));
        assert_eq!(a, b);
        // A 1×100 strip can never fit the ratio range: the fallback crops its centre.
        let (i, j, h, w) =
            random_resized_crop(1, 100, (0.08, 1.0), (0.75, 4.0 / 3.0), &mut rng::rng(0, 0));
        assert_eq!((i, h), (0, 1));
        assert_eq!(w, 1);
        assert_eq!(j, 49);
    }

    #[test]
    fn config_forms() {
        let p = Preprocessor::from_json(
            r#"{"do_normalize": true, "do_resize": true, "image_mean": [0.485,0.456,0.406],
                "image_std": [0.229,0.224,0.225], "resample": 3, "size": {"shortest_edge": 256},
                "crop_size": {"height": 224, "width": 224}}"#,
            Path::new("p.json"),
        )
        .unwrap();
        assert_eq!(p.size, (224, 224));
        assert_eq!(p.resize_shorter, Some(256));
        assert_eq!(p.resample, Resample::Bicubic);
        let p =
            Preprocessor::from_json(r#"{"size": 384, "do_rescale": false}"#, Path::new("p.json"))
                .unwrap();
        assert_eq!(p.size, (384, 384));
        assert_eq!(p.rescale, None);
        let e = Preprocessor::from_json(r#"{"size": "big"}"#, Path::new("p.json")).unwrap_err();
        assert!(
            e.to_string().contains("p.json") && e.to_string().contains("size"),
            "{e}"
        );
    }
}
