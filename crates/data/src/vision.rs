//! Image examples and decoding. Loaders are in [`crate::cifar100`] and [`crate::fgvc`]; the
//! ViT transforms and batching are in [`crate::image_pipeline`].

use std::path::PathBuf;

use crate::error::{read_file, DataError, Result};

/// Where an image's pixels are.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    /// Decoded 8-bit RGB pixels, row-major, interleaved (HWC): `rgb.len() == width * height * 3`.
    Raw {
        width: usize,
        height: usize,
        rgb: Vec<u8>,
    },
    /// An encoded JPEG or PNG in memory (e.g. a Parquet `img.bytes` cell).
    Encoded(Vec<u8>),
    /// A JPEG or PNG file, decoded when the batch is built.
    File(PathBuf),
}

/// One labelled image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageExample {
    pub image: ImageSource,
    pub label: usize,
    /// Where the example came from, for error messages: a file path, `"<file> row 17"` or
    /// `"<file> record 5"`.
    pub origin: String,
}

/// A decoded RGB image: `data` is HWC, `width * height * 3` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl Rgb {
    /// The pixel at (row, col).
    pub fn pixel(&self, row: usize, col: usize) -> [u8; 3] {
        let o = (row * self.width + col) * 3;
        [self.data[o], self.data[o + 1], self.data[o + 2]]
    }
}

/// The largest side of an image that is decoded (FGVC photos have a few thousand pixels).
/// Besides the `image` crate's 512 MiB cap on the pixels, this bounds the resampler's filter
/// taps, which grow with the source side: a few hundred bytes of PNG can declare (and
/// compress) a 10⁸ × 1 image whose resize to 224 would want gigabytes of taps.
pub const MAX_IMAGE_SIDE: u32 = 1 << 15;

/// Decodes an encoded image (any format the `image` build supports: JPEG, PNG) to RGB.
/// Never panics: a decoder panic on hostile input is caught and reported as an error. A
/// header declaring more than [`MAX_IMAGE_SIDE`] pixels a side, or pixels over 512 MiB, is
/// refused before the pixels are allocated.
pub fn decode_bytes(bytes: &[u8], origin: &str) -> Result<Rgb> {
    let decoded = std::panic::catch_unwind(|| {
        let mut reader =
            image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format()?;
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(MAX_IMAGE_SIDE);
        limits.max_image_height = Some(MAX_IMAGE_SIDE);
        reader.limits(limits);
        reader.decode()
    });
    match decoded {
        Ok(Ok(img)) => {
            let rgb = img.to_rgb8();
            let (w, h) = rgb.dimensions();
            Ok(Rgb {
                width: w as usize,
                height: h as usize,
                data: rgb.into_raw(),
            })
        }
        Ok(Err(e)) => Err(DataError::Image {
            origin: origin.to_string(),
            message: e.to_string(),
        }),
        Err(_) => Err(DataError::Image {
            origin: origin.to_string(),
            message: "the decoder failed on malformed data".to_string(),
        }),
    }
}

impl ImageExample {
    /// Decodes the image to RGB.
    pub fn decode(&self) -> Result<Rgb> {
        match &self.image {
            ImageSource::Raw { width, height, rgb } => {
                if rgb.len() != width * height * 3 {
                    return Err(DataError::Image {
                        origin: self.origin.clone(),
                        message: format!(
                            "{} bytes of raw RGB for a {width}×{height} image (expected {})",
                            rgb.len(),
                            width * height * 3
                        ),
                    });
                }
                Ok(Rgb {
                    width: *width,
                    height: *height,
                    data: rgb.clone(),
                })
            }
            ImageSource::Encoded(bytes) => decode_bytes(bytes, &self.origin),
            ImageSource::File(path) => {
                let bytes = read_file(path, "image", "")?;
                decode_bytes(&bytes, &path.display().to_string())
            }
        }
    }
}
