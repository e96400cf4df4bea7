//! Named tensors in safetensors files: the inputs and outputs of `peftgrid forward` and the
//! parity fixtures. Float tensors are read as f32 (f16/bf16/f64 converted), integer ones as i64.

use std::collections::BTreeMap;
use std::path::Path;

use burn::prelude::*;
use burn::tensor::DType;
use safetensors::{Dtype, SafeTensors};

use crate::error::{ModelError, Result};

/// Values of a named tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    F32(Vec<f32>),
    I64(Vec<i64>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    pub shape: Vec<usize>,
    pub values: Values,
}

impl NamedTensor {
    pub fn f32(shape: Vec<usize>, values: Vec<f32>) -> Self {
        Self {
            shape,
            values: Values::F32(values),
        }
    }

    /// Takes a Burn tensor's values (float or int) off the device.
    pub fn from_data(data: TensorData) -> Self {
        let shape = data.shape.to_vec();
        let values = match data.dtype {
            DType::I64
            | DType::I32
            | DType::I16
            | DType::I8
            | DType::U64
            | DType::U32
            | DType::U16
            | DType::U8 => Values::I64(
                data.convert::<i64>()
                    .into_vec()
                    .expect("convert::<i64> gives i64 values"),
            ),
            // Not an empty tensor on failure: that would be written as a tensor of another size.
            _ => Values::F32(
                data.convert::<f32>()
                    .into_vec()
                    .expect("convert::<f32> gives f32 values"),
            ),
        };
        Self { shape, values }
    }

    pub fn float<B: Backend, const D: usize>(
        &self,
        name: &str,
        device: &B::Device,
    ) -> Result<Tensor<B, D>> {
        let shape = self.shape_of::<D>(name)?;
        let data = match &self.values {
            Values::F32(v) => TensorData::new(v.clone(), shape),
            Values::I64(v) => {
                TensorData::new(v.iter().map(|&x| x as f32).collect::<Vec<_>>(), shape)
            }
        };
        Ok(Tensor::from_data(data, device))
    }

    pub fn int<B: Backend, const D: usize>(
        &self,
        name: &str,
        device: &B::Device,
    ) -> Result<Tensor<B, D, Int>> {
        let shape = self.shape_of::<D>(name)?;
        let Values::I64(v) = &self.values else {
            return Err(ModelError::Input {
                name: name.into(),
                message: "expected an integer tensor (int64), found float".into(),
            });
        };
        Ok(Tensor::from_data(TensorData::new(v.clone(), shape), device))
    }

    fn shape_of<const D: usize>(&self, name: &str) -> Result<[usize; D]> {
        self.shape
            .clone()
            .try_into()
            .map_err(|_| ModelError::Input {
                name: name.into(),
                message: format!("expected {D} dimensions, found shape {:?}", self.shape),
            })
    }

    pub fn as_f32(&self) -> Vec<f32> {
        match &self.values {
            Values::F32(v) => v.clone(),
            Values::I64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }
}

/// Reads every tensor of a safetensors file.
pub fn read(path: &Path) -> Result<BTreeMap<String, NamedTensor>> {
    let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let fail = |key: &str, message: String| ModelError::BadTensor {
        path: path.to_path_buf(),
        key: key.to_string(),
        message,
    };
    let st = SafeTensors::deserialize(&bytes).map_err(|e| ModelError::Checkpoint {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        let raw = view.data();
        let values = match view.dtype() {
            Dtype::F32 => Values::F32(
                raw.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            ),
            Dtype::F64 => Values::F32(
                raw.chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f32)
                    .collect(),
            ),
            Dtype::I64 => Values::I64(
                raw.chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                    .collect(),
            ),
            Dtype::I32 => Values::I64(
                raw.chunks_exact(4)
                    .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64)
                    .collect(),
            ),
            other => {
                return Err(fail(
                    &name,
                    format!("unsupported dtype {other:?} (use float32 or int64)"),
                ))
            }
        };
        out.insert(
            name,
            NamedTensor {
                shape: view.shape().to_vec(),
                values,
            },
        );
    }
    Ok(out)
}

/// Writes named tensors (f32 or i64, little-endian) to a safetensors file.
pub fn write(path: &Path, tensors: &BTreeMap<String, NamedTensor>) -> Result<()> {
    let buffers: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| {
            let (dtype, bytes) = match &t.values {
                Values::F32(v) => (Dtype::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
                Values::I64(v) => (Dtype::I64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            };
            (name.clone(), dtype, t.shape.clone(), bytes)
        })
        .collect();
    let views = buffers
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| ModelError::BadTensor {
                    path: path.to_path_buf(),
                    key: name.clone(),
                    message: e.to_string(),
                })
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize_to_file(views, None, path).map_err(|e| ModelError::Checkpoint {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Largest absolute difference between two equally long slices (∞ if lengths differ or a value
/// is NaN, so that a broken output never passes a tolerance).
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return f32::INFINITY;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = (x - y).abs();
            if d.is_nan() {
                f32::INFINITY
            } else {
                d
            }
        })
        .fold(0.0, f32::max)
}
