//! The common form every deployment format is read into before matching: the ops in file
//! order with their inputs, outputs and the few attributes a ResNet op has, plus the
//! parameters (name -> tensor). Values are named by strings: Paddle's variable names, ONNX's
//! value names, PIR's value ids (`%118`), with a parameter's value named by its variable.

use crate::tensor::TensorMap;

/// Which file the program came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeployFormat {
    /// `inference.pdmodel`: a `ProgramDesc` protobuf (PaddlePaddle 2.x, PaddleClas `*_infer.tar`).
    ProgramDesc,
    /// `inference.json`: a PIR program (PaddlePaddle 3, PaddleX).
    Pir,
    /// ONNX (Paddle2ONNX, `torch.onnx.export`, timm).
    Onnx,
}

impl DeployFormat {
    pub fn describe(self) -> &'static str {
        match self {
            DeployFormat::ProgramDesc => "Paddle inference model (ProgramDesc .pdmodel)",
            DeployFormat::Pir => "Paddle inference model (PIR inference.json)",
            DeployFormat::Onnx => "ONNX",
        }
    }
}

/// What an op does, with the attributes the matcher checks. Inputs are in a canonical order per
/// kind (noted on each variant), whatever order or slot names the file used.
#[derive(Clone, Debug, PartialEq)]
pub enum OpKind {
    /// inputs: x, weight [, bias]
    Conv {
        /// ONNX's `kernel_shape`, when given (Paddle takes it from the filter).
        kernel: Option<[i64; 2]>,
        stride: [i64; 2],
        /// top, left, bottom, right
        pads: [i64; 4],
        dilation: [i64; 2],
        groups: i64,
        /// Paddle's `padding_algorithm` / ONNX's `auto_pad` when not explicit.
        auto_pad: Option<String>,
    },
    /// inputs: x, scale, bias, mean, variance
    BatchNorm { epsilon: f32 },
    /// inputs: x
    Relu,
    /// inputs: a, b
    Add,
    /// inputs: x
    Pool {
        max: bool,
        kernel: [i64; 2],
        stride: [i64; 2],
        pads: [i64; 4],
        ceil: bool,
        /// Average over the valid (unpadded) elements only.
        exclusive: bool,
        /// Global or adaptive-to-1x1 average pooling.
        global: bool,
        auto_pad: Option<String>,
    },
    /// inputs: x (the data; a reshape's shape input is dropped)
    Flatten,
    /// inputs: x, weight [, bias]; `transpose_b`: the weight is [classes, features].
    MatMul { transpose_b: bool },
    /// inputs: x
    Softmax,
    /// inputs: x; identity, inference-mode dropout, a scale by 1.
    PassThrough,
    /// Bookkeeping that computes no activation: feed/fetch, constants, shape arithmetic.
    Bookkeeping,
    /// Anything else, with a reason when the op is known but used in a way we do not run.
    Unsupported(String),
}

#[derive(Clone, Debug)]
pub struct Op {
    /// Position in the file (what errors cite).
    pub index: usize,
    /// The op's type as the file writes it (`conv2d`, `BatchNormalization`, ...).
    pub op_type: String,
    pub kind: OpKind,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// A parsed deployment program with its parameters loaded.
#[derive(Clone, Debug)]
pub struct Program {
    pub format: DeployFormat,
    /// The file, for messages.
    pub source: String,
    pub input_name: String,
    /// As declared, `-1` (or a symbolic ONNX dimension) for a dynamic size.
    pub input_shape: Vec<i64>,
    /// The value the program returns.
    pub output: String,
    pub ops: Vec<Op>,
    pub params: TensorMap,
}

impl Program {
    pub fn describe_op(&self, op: &Op) -> String {
        format!("op {} `{}`", op.index, op.op_type)
    }
}

/// Whether an op type name is a known non-ResNet op, for clearer errors.
pub fn foreign_op_reason(op_type: &str) -> String {
    let t = op_type.to_ascii_lowercase();
    let hint = if t.contains("depthwise") {
        " (a depthwise conv: MobileNet-like networks are not part of the ResNet family)"
    } else if t.contains("swish") || t.contains("sigmoid") || t.contains("gelu") {
        " (an activation no ResNet of PaddleClas uses)"
    } else {
        ""
    };
    format!("an op no ResNet of the family has{hint}")
}
