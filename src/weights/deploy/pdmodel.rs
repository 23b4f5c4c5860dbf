//! `inference.pdmodel`: a `ProgramDesc` protobuf. Block 0 holds the variables (name, persistable,
//! dims) and the ops with their named slots (`Input`, `Filter`, `X`, ...) and attributes.

use prost::Message;

use super::paddle_attrs::{self, auto_pad, paddle_pads, pair};
use super::pdiparams::ParamDecl;
use super::program::{foreign_op_reason, DeployFormat, Op, OpKind};
use super::proto::{var_type, OpDesc, ProgramDesc};
use crate::error::{Error, Result};

const FORMAT: &str = "Paddle inference program (.pdmodel)";

/// The program without its parameters, and the persistable variables to read, sorted by name.
pub struct ParsedProgram {
    pub format: DeployFormat,
    pub input_name: String,
    pub input_shape: Vec<i64>,
    pub output: String,
    pub ops: Vec<Op>,
    pub params: Vec<ParamDecl>,
}

pub fn format_error(path: &str, format: &'static str, reason: impl Into<String>) -> Error {
    Error::Format {
        path: path.into(),
        format,
        reason: reason.into(),
    }
}

pub fn parse_pdmodel(bytes: &[u8], path: &str) -> Result<ParsedProgram> {
    super::budget::check_protobuf(bytes, &super::budget::PROGRAM_DESC)
        .map_err(|reason| format_error(path, FORMAT, reason))?;
    let program = ProgramDesc::decode(bytes)
        .map_err(|e| format_error(path, FORMAT, format!("not a ProgramDesc protobuf: {e}")))?;
    let block = program
        .blocks
        .first()
        .ok_or_else(|| format_error(path, FORMAT, "the program has no block"))?;
    // Each variable's shape by name (the first declaration wins, as a scan would find it):
    // one map rather than a scan per variable, which was quadratic in the variables.
    let mut shapes: std::collections::HashMap<&str, &[i64]> = Default::default();
    for v in &block.vars {
        let dims = v
            .r#type
            .as_ref()
            .and_then(|t| t.lod_tensor.as_ref())
            .and_then(|t| t.tensor.as_ref())
            .map(|t| t.dims.as_slice());
        if let (Some(name), Some(dims)) = (v.name.as_deref(), dims) {
            shapes.entry(name).or_insert(dims);
        }
    }
    let dims_of = |name: &str| shapes.get(name).map(|d| d.to_vec());
    let mut params: Vec<ParamDecl> = Vec::new();
    for v in &block.vars {
        let kind = v.r#type.as_ref().and_then(|t| t.r#type).unwrap_or(-1);
        if !v.persistable.unwrap_or(false)
            || kind == var_type::FEED_MINIBATCH
            || kind == var_type::FETCH_LIST
        {
            continue;
        }
        let name = v.name.clone().unwrap_or_default();
        let dims = dims_of(&name).ok_or_else(|| {
            format_error(
                path,
                FORMAT,
                format!("persistable variable `{name}` has no tensor shape"),
            )
        })?;
        params.push(ParamDecl { name, dims });
    }
    params.sort_by(|a, b| a.name.cmp(&b.name));
    let mut ops = Vec::with_capacity(block.ops.len());
    let (mut input_name, mut output) = (None, None);
    for (index, desc) in block.ops.iter().enumerate() {
        let op = convert(index, desc);
        match op.op_type.as_str() {
            "feed" if input_name.is_none() => input_name = op.outputs.first().cloned(),
            "fetch" if output.is_none() => output = op.inputs.first().cloned(),
            _ => {}
        }
        ops.push(op);
    }
    let input_name = input_name
        .ok_or_else(|| format_error(path, FORMAT, "the program has no `feed` op (no input)"))?;
    let output = output
        .ok_or_else(|| format_error(path, FORMAT, "the program has no `fetch` op (no output)"))?;
    let input_shape = dims_of(&input_name).ok_or_else(|| {
        format_error(
            path,
            FORMAT,
            format!("the input `{input_name}` has no declared shape"),
        )
    })?;
    Ok(ParsedProgram {
        format: DeployFormat::ProgramDesc,
        input_name,
        input_shape,
        output,
        ops,
        params,
    })
}

struct Attrs<'a>(&'a OpDesc);

impl paddle_attrs::PaddleAttrs for Attrs<'_> {
    fn ints(&self, name: &str) -> Vec<i64> {
        Attrs::ints(self, name)
    }
    fn bool(&self, name: &str) -> Option<bool> {
        self.find(name).and_then(|a| a.b)
    }
    fn float(&self, name: &str) -> Option<f64> {
        self.find(name)
            .and_then(|a| a.float64.or(a.f.map(f64::from)))
    }
    fn str(&self, name: &str) -> Option<String> {
        Attrs::str(self, name)
    }
}

impl Attrs<'_> {
    fn find(&self, name: &str) -> Option<&super::proto::OpAttr> {
        self.0
            .attrs
            .iter()
            .find(|a| a.name.as_deref() == Some(name))
    }
    fn ints(&self, name: &str) -> Vec<i64> {
        match self.find(name) {
            Some(a) if !a.longs.is_empty() => a.longs.clone(),
            Some(a) => a.ints.iter().map(|&v| v as i64).collect(),
            None => Vec::new(),
        }
    }
    fn int(&self, name: &str, default: i64) -> i64 {
        self.find(name)
            .and_then(|a| a.l.or(a.i.map(i64::from)))
            .unwrap_or(default)
    }
    fn float(&self, name: &str, default: f32) -> f32 {
        self.find(name)
            .and_then(|a| a.f.or(a.float64.map(|v| v as f32)))
            .unwrap_or(default)
    }
    fn bool(&self, name: &str) -> bool {
        self.find(name).and_then(|a| a.b).unwrap_or(false)
    }
    fn str(&self, name: &str) -> Option<String> {
        self.find(name).and_then(|a| a.s.clone())
    }
}

fn convert(index: usize, desc: &OpDesc) -> Op {
    let op_type = desc.r#type.clone().unwrap_or_default();
    let slot = |name: &str| -> Option<String> {
        desc.inputs
            .iter()
            .find(|v| v.parameter.as_deref() == Some(name))
            .and_then(|v| v.arguments.first().cloned())
    };
    let slots = |names: &[&str]| -> Vec<String> { names.iter().filter_map(|n| slot(n)).collect() };
    let a = Attrs(desc);
    let (kind, inputs) = match op_type.as_str() {
        "feed" | "fetch" => (OpKind::Bookkeeping, slots(&["X"])),
        "conv2d" => (
            OpKind::Conv {
                kernel: None,
                stride: pair(&a.ints("strides"), 1),
                pads: paddle_pads(&a.ints("paddings")),
                dilation: pair(&a.ints("dilations"), 1),
                groups: a.int("groups", 1),
                auto_pad: auto_pad(a.str("padding_algorithm")),
            },
            slots(&["Input", "Filter", "Bias"]),
        ),
        "batch_norm" => (
            OpKind::BatchNorm {
                epsilon: a.float("epsilon", 1e-5),
            },
            slots(&["X", "Scale", "Bias", "Mean", "Variance"]),
        ),
        "relu" => (OpKind::Relu, slots(&["X"])),
        "elementwise_add" => (OpKind::Add, slots(&["X", "Y"])),
        "pool2d" => (
            paddle_attrs::pool2d(&a, pair(&a.ints("ksize"), 1)),
            slots(&["X"]),
        ),
        "flatten_contiguous_range"
        | "flatten2"
        | "flatten"
        | "reshape2"
        | "reshape"
        | "squeeze2"
        | "squeeze" => (OpKind::Flatten, slots(&["X"])),
        "matmul_v2" => (
            OpKind::MatMul {
                transpose_b: a.bool("trans_y"),
            },
            slots(&["X", "Y"]),
        ),
        "matmul" => (
            OpKind::MatMul {
                transpose_b: a.bool("transpose_Y"),
            },
            slots(&["X", "Y"]),
        ),
        "mul" => (OpKind::MatMul { transpose_b: false }, slots(&["X", "Y"])),
        "softmax" => (OpKind::Softmax, slots(&["X"])),
        "dropout" | "assign" => (OpKind::PassThrough, slots(&["X"])),
        "scale" if a.float("scale", 1.0) == 1.0 && a.float("bias", 0.0) == 0.0 => {
            (OpKind::PassThrough, slots(&["X"]))
        }
        other => (
            OpKind::Unsupported(foreign_op_reason(other)),
            desc.inputs
                .iter()
                .flat_map(|v| v.arguments.iter().cloned())
                .collect(),
        ),
    };
    let kind = match paddle_attrs::unhonoured(&op_type, &a) {
        Some(reason) => OpKind::Unsupported(reason),
        None => kind,
    };
    let first_out = |name: &str| {
        desc.outputs
            .iter()
            .find(|v| v.parameter.as_deref() == Some(name))
            .and_then(|v| v.arguments.first().cloned())
    };
    // The op's result: `Out`, or `Y` for batch_norm, `Output` for conv2d.
    let outputs: Vec<String> = ["Out", "Y", "Output"]
        .iter()
        .filter_map(|n| first_out(n))
        .take(1)
        .chain(
            desc.outputs
                .iter()
                .flat_map(|v| v.arguments.iter().cloned())
                .take(1),
        )
        .take(1)
        .collect();
    Op {
        index,
        op_type,
        kind,
        inputs,
        outputs,
    }
}
