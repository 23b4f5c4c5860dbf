//! A named host tensor: what every weights loader produces and every consumer reads.

use std::collections::BTreeMap;

/// A dense, row-major (C order) array converted to f32, with the dtype it was stored as.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
    /// The stored element type as the file names it (`f4`, `F16`, ...), for messages.
    pub stored_dtype: String,
}

impl Tensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor {
            shape,
            data,
            stored_dtype: "f32".into(),
        }
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// All tensors of one weights file, keyed by the names the file uses.
pub type TensorMap = BTreeMap<String, Tensor>;
