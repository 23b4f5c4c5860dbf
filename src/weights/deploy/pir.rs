//! `inference.json`: PaddlePaddle 3's PIR program in its short-key JSON form. The ops of
//! `program.regions[0].blocks[0].ops` are objects whose `"#"` is the op name (`"p"` for a
//! parameter, `"1.conv2d"`, `"1.data"`, ...), `"A"` the attributes (for a parameter: a list whose
//! last entry is the variable's name), `"I"` / `"O"` the input / output values (ids under
//! `"%"`, older files `"#"`, with a type `"TT": {"#": "0.t_dtensor", "D": [dtype, dims, ...]}`).
//! Attributes are `{"N": name, "AT": {"#": "0.a_i32" | "0.a_array" | ..., "D": data}}`.

use std::collections::HashMap;

use serde_json::Value;

use super::paddle_attrs::{self, auto_pad, paddle_pads, pair};
use super::pdiparams::ParamDecl;
use super::pdmodel::{format_error, ParsedProgram};
use super::program::{foreign_op_reason, DeployFormat, Op, OpKind};
use crate::error::Result;

const FORMAT: &str = "Paddle PIR program (inference.json)";

pub fn parse_pir(bytes: &[u8], path: &str) -> Result<ParsedProgram> {
    let err = |reason: String| format_error(path, FORMAT, reason);
    super::budget::check_json(bytes).map_err(err)?;
    let root: Value = serde_json::from_slice(bytes).map_err(|e| err(format!("not JSON: {e}")))?;
    if root.pointer("/base_code/magic").and_then(Value::as_str) != Some("pir") {
        return Err(err(
            "no `base_code.magic = \"pir\"` (not a PIR program)".into()
        ));
    }
    let ops_json = root
        .pointer("/program/regions/0/blocks/0/ops")
        .and_then(Value::as_array)
        .ok_or_else(|| err("no `program.regions[0].blocks[0].ops` list".into()))?;

    // First pass: names for values (parameters by their variable, the input by its name).
    let mut names: HashMap<i64, String> = HashMap::new();
    let mut params = Vec::new();
    let mut consts: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut input = None;
    for (index, op) in ops_json.iter().enumerate() {
        let ty = op_name(op);
        match ty {
            "p" => {
                let name = op
                    .get("A")
                    .and_then(Value::as_array)
                    .and_then(|a| a.last())
                    .and_then(Value::as_str)
                    .ok_or_else(|| err(format!("op {index} `p`: no parameter name last in `A`")))?;
                let out = op
                    .get("O")
                    .ok_or_else(|| err(format!("op {index} `p`: no output")))?;
                let id = value_id(out)
                    .ok_or_else(|| err(format!("op {index} `p` (`{name}`): no value id")))?;
                let dims = value_dims(out).ok_or_else(|| {
                    err(format!(
                        "op {index} `p` (`{name}`): no tensor type with dims"
                    ))
                })?;
                names.insert(id, name.to_string());
                params.push(ParamDecl {
                    name: name.to_string(),
                    dims,
                });
            }
            "data" => {
                let name = attr(op, "name")
                    .and_then(|v| v.as_str().map(str::to_string))
                    .ok_or_else(|| err(format!("op {index} `data`: no `name` attribute")))?;
                let shape = attr(op, "shape").map(|v| ints(&v)).unwrap_or_default();
                let out = outputs(op).first().copied();
                let id = out.ok_or_else(|| err(format!("op {index} `data`: no output value")))?;
                names.insert(id, name.clone());
                if input.is_none() {
                    input = Some((name, shape));
                }
            }
            "full_int_array" => {
                if let (Some(id), Some(v)) = (outputs(op).first(), attr(op, "value")) {
                    consts.insert(*id, ints(&v));
                }
            }
            _ => {}
        }
    }
    params.sort_by(|a, b| a.name.cmp(&b.name));
    let name_of = |id: i64| names.get(&id).cloned().unwrap_or_else(|| format!("%{id}"));

    let mut ops = Vec::new();
    let mut output = None;
    for (index, op) in ops_json.iter().enumerate() {
        let ty = op_name(op);
        if ty == "p" {
            continue;
        }
        let in_ids = inputs(op);
        let ins: Vec<String> = in_ids.iter().map(|&i| name_of(i)).collect();
        let first = |n: usize| ins.iter().take(n).cloned().collect::<Vec<_>>();
        let a = |n: &str| attr(op, n);
        let attrs = OpAttrs(op);
        let a_ints = |n: &str| a(n).map(|v| ints(&v)).unwrap_or_default();
        let a_bool = |n: &str| a(n).and_then(|v| v.as_bool()).unwrap_or(false);
        let (kind, canon) = match ty.trim_end_matches('_') {
            "data" | "full_int_array" | "full" | "shape" | "shape64" => {
                (OpKind::Bookkeeping, Vec::new())
            }
            "fetch" => {
                output = ins.first().cloned();
                (OpKind::Bookkeeping, first(1))
            }
            "conv2d" => (
                OpKind::Conv {
                    kernel: None,
                    stride: pair(&a_ints("strides"), 1),
                    pads: paddle_pads(&a_ints("paddings")),
                    dilation: pair(&a_ints("dilations"), 1),
                    groups: a("groups").and_then(|v| v.as_i64()).unwrap_or(1),
                    auto_pad: auto_pad(
                        a("padding_algorithm").and_then(|v| v.as_str().map(str::to_string)),
                    ),
                },
                first(2),
            ),
            // PIR's batch_norm: x, mean, variance, scale, bias -> ours: x, scale, bias, mean, var.
            "batch_norm" => match ins.as_slice() {
                [x, mean, var, scale, bias, ..] => (
                    OpKind::BatchNorm {
                        epsilon: a("epsilon").and_then(|v| v.as_f64()).unwrap_or(1e-5) as f32,
                    },
                    vec![
                        x.clone(),
                        scale.clone(),
                        bias.clone(),
                        mean.clone(),
                        var.clone(),
                    ],
                ),
                _ => (
                    OpKind::Unsupported("a batch_norm without its five inputs".into()),
                    ins.clone(),
                ),
            },
            "relu" => (OpKind::Relu, first(1)),
            "add" => (OpKind::Add, first(2)),
            "pool2d" => {
                let kernel = in_ids
                    .get(1)
                    .and_then(|id| consts.get(id))
                    .map(|v| pair(v, 1));
                match kernel {
                    None => (
                        OpKind::Unsupported("a pool2d whose kernel size is not a constant".into()),
                        first(1),
                    ),
                    Some(kernel) => (paddle_attrs::pool2d(&attrs, kernel), first(1)),
                }
            }
            "flatten" | "reshape" | "squeeze" => (OpKind::Flatten, first(1)),
            "matmul" => (
                OpKind::MatMul {
                    transpose_b: a_bool("transpose_y"),
                },
                first(2),
            ),
            "softmax" => (OpKind::Softmax, first(1)),
            "dropout" | "assign" => (OpKind::PassThrough, first(1)),
            other => (OpKind::Unsupported(foreign_op_reason(other)), ins.clone()),
        };
        let kind = match paddle_attrs::unhonoured(ty.trim_end_matches('_'), &attrs) {
            Some(reason) => OpKind::Unsupported(reason),
            None => kind,
        };
        ops.push(Op {
            index,
            op_type: ty.to_string(),
            kind,
            inputs: canon,
            outputs: outputs(op).into_iter().map(name_of).take(1).collect(),
        });
    }
    let (input_name, input_shape) =
        input.ok_or_else(|| err("the program has no `data` op (no input)".into()))?;
    let output = output.ok_or_else(|| err("the program has no `fetch` op (no output)".into()))?;
    Ok(ParsedProgram {
        format: DeployFormat::Pir,
        input_name,
        input_shape,
        output,
        ops,
        params,
    })
}

/// One PIR op's attributes for the checks shared with ProgramDesc.
struct OpAttrs<'a>(&'a Value);

impl paddle_attrs::PaddleAttrs for OpAttrs<'_> {
    fn ints(&self, name: &str) -> Vec<i64> {
        attr(self.0, name).map(|v| ints(&v)).unwrap_or_default()
    }
    fn bool(&self, name: &str) -> Option<bool> {
        attr(self.0, name).and_then(|v| v.as_bool())
    }
    fn float(&self, name: &str) -> Option<f64> {
        attr(self.0, name).and_then(|v| v.as_f64())
    }
    fn str(&self, name: &str) -> Option<String> {
        attr(self.0, name).and_then(|v| v.as_str().map(str::to_string))
    }
}

/// `"1.conv2d"` -> `conv2d`; `"p"` stays.
fn op_name(op: &Value) -> &str {
    let full = op.get("#").and_then(Value::as_str).unwrap_or("");
    full.split_once('.').map(|(_, n)| n).unwrap_or(full)
}

fn value_id(v: &Value) -> Option<i64> {
    v.get("%").or_else(|| v.get("#")).and_then(Value::as_i64)
}

fn value_dims(v: &Value) -> Option<Vec<i64>> {
    v.pointer("/TT/D/1")?
        .as_array()?
        .iter()
        .map(Value::as_i64)
        .collect()
}

fn inputs(op: &Value) -> Vec<i64> {
    list_ids(op.get("I"))
}

fn outputs(op: &Value) -> Vec<i64> {
    list_ids(op.get("O"))
}

fn list_ids(v: Option<&Value>) -> Vec<i64> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(value_id).collect(),
        Some(one @ Value::Object(_)) => value_id(one).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// The data (`"D"`) of attribute `name`, unwrapped from its type tag.
fn attr(op: &Value, name: &str) -> Option<Value> {
    op.get("A")?
        .as_array()?
        .iter()
        .find(|a| a.get("N").and_then(Value::as_str) == Some(name))
        .and_then(|a| a.pointer("/AT/D"))
        .cloned()
}

/// Integers of an attribute: a plain list, or a list of typed scalars `{"#": "0.a_i64", "D": 2}`.
fn ints(v: &Value) -> Vec<i64> {
    match v {
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_i64().or_else(|| i.get("D").and_then(Value::as_i64)))
            .collect(),
        other => other.as_i64().into_iter().collect(),
    }
}
