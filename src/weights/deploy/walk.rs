//! Reads a ResNet's structure out of a program by walking its dataflow backwards from the
//! output: head (FC <- flatten <- global pool), then residual blocks (ReLU <- Add of a main
//! branch and a shortcut) until the stem's max pool, then the stem convs back to the input.
//! Nothing is executed; every op met must be one a ResNet has, in the place a ResNet has it.

use std::collections::HashMap;

use super::program::{Op, OpKind, Program};
use crate::error::{Error, Result};

/// A conv with what follows it before any ReLU: a BatchNorm, or a bias (folded exports).
#[derive(Clone, Debug)]
pub struct ConvUnit {
    pub conv: usize,
    pub bn: Option<usize>,
    /// A bias added by a separate `Add` with a parameter (the conv's own bias input is on `conv`).
    pub bias_add: Option<(usize, String)>,
}

#[derive(Clone, Debug)]
pub struct FoundBlock {
    pub branch: Vec<ConvUnit>,
    /// The projection shortcut and the average pool before it (vd), if any.
    pub shortcut: Option<(ConvUnit, Option<usize>)>,
    pub add: usize,
}

#[derive(Clone, Debug)]
pub struct FoundHead {
    pub matmul: usize,
    pub weight: String,
    pub transpose_b: bool,
    pub bias: String,
    pub softmax: bool,
}

#[derive(Clone, Debug)]
pub struct Found {
    pub stem: Vec<ConvUnit>,
    pub max_pool: usize,
    /// In forward order.
    pub blocks: Vec<FoundBlock>,
    pub global_pool: usize,
    pub head: FoundHead,
}

pub struct Walker<'a> {
    pub p: &'a Program,
    producer: HashMap<&'a str, usize>,
}

impl<'a> Walker<'a> {
    pub fn new(p: &'a Program) -> Self {
        let mut producer = HashMap::new();
        for (i, op) in p.ops.iter().enumerate() {
            for o in &op.outputs {
                producer.insert(o.as_str(), i);
            }
        }
        Walker { p, producer }
    }

    pub fn op(&self, i: usize) -> &'a Op {
        &self.p.ops[i]
    }

    pub fn err(&self, op: &Op, reason: impl std::fmt::Display) -> Error {
        Error::tensor(
            &self.p.source,
            format!("op {} `{}`", op.index, op.op_type),
            reason.to_string(),
        )
    }

    fn is_param(&self, v: &str) -> bool {
        self.p.params.contains_key(v)
    }

    /// The op producing `v`, looking through pass-through ops; `None` for the input/params.
    fn producer(&self, v: &str) -> Result<Option<usize>> {
        let mut v = v;
        for _ in 0..self.p.ops.len() + 1 {
            match self.producer.get(v) {
                Some(&i) if self.op(i).kind == OpKind::PassThrough => {
                    v = self.input(i, 0)?;
                }
                Some(&i) => {
                    if let OpKind::Unsupported(why) = &self.op(i).kind {
                        return Err(self.err(
                            self.op(i),
                            format!("{why}: not part of a ResNet the engine runs"),
                        ));
                    }
                    return Ok(Some(i));
                }
                None => return Ok(None),
            }
        }
        Err(Error::tensor(
            &self.p.source,
            v,
            "a cycle of pass-through ops",
        ))
    }

    /// The value `v` stands for once pass-through ops are skipped.
    fn resolve(&self, v: &'a str) -> Result<&'a str> {
        let mut v = v;
        for _ in 0..self.p.ops.len() + 1 {
            match self.producer.get(v) {
                Some(&i) if self.op(i).kind == OpKind::PassThrough => v = self.input(i, 0)?,
                _ => return Ok(v),
            }
        }
        Err(Error::tensor(
            &self.p.source,
            v,
            "a cycle of pass-through ops",
        ))
    }

    pub fn input(&self, i: usize, k: usize) -> Result<&'a str> {
        let op = self.op(i);
        op.inputs
            .get(k)
            .map(String::as_str)
            .ok_or_else(|| self.err(op, format!("has no input {k}")))
    }

    fn describe_producer(&self, v: &str) -> Result<String> {
        Ok(match self.producer(v)? {
            Some(i) => format!("op {} `{}`", self.op(i).index, self.op(i).op_type),
            None if self.is_param(v) => format!("the parameter `{v}`"),
            None => format!("`{v}` (the input or an undefined value)"),
        })
    }

    /// `v` as the output of a conv unit (conv [+ BN | + bias add]), or `None`.
    fn conv_unit(&self, v: &str) -> Result<Option<ConvUnit>> {
        let Some(i) = self.producer(v)? else {
            return Ok(None);
        };
        let conv_of = |x: &str| -> Result<Option<usize>> {
            Ok(self
                .producer(x)?
                .filter(|&c| matches!(self.op(c).kind, OpKind::Conv { .. })))
        };
        Ok(match &self.op(i).kind {
            OpKind::Conv { .. } => Some(ConvUnit {
                conv: i,
                bn: None,
                bias_add: None,
            }),
            OpKind::BatchNorm { .. } => match conv_of(self.input(i, 0)?)? {
                Some(conv) => Some(ConvUnit {
                    conv,
                    bn: Some(i),
                    bias_add: None,
                }),
                None => {
                    return Err(self.err(
                        self.op(i),
                        format!(
                            "a BatchNorm of {}, where a ResNet normalises a conv",
                            self.describe_producer(self.input(i, 0)?)?
                        ),
                    ))
                }
            },
            OpKind::Add => {
                let (a, b) = (self.input(i, 0)?, self.input(i, 1)?);
                let (x, bias) = match (self.is_param(a), self.is_param(b)) {
                    (false, true) => (a, b),
                    (true, false) => (b, a),
                    _ => return Ok(None),
                };
                conv_of(x)?.map(|conv| ConvUnit {
                    conv,
                    bn: None,
                    bias_add: Some((i, bias.to_string())),
                })
            }
            _ => None,
        })
    }

    /// Conv units joined by ReLUs ending at `v` (forward order), and the value the first reads.
    fn chain(&self, v: &'a str) -> Result<(Vec<ConvUnit>, &'a str)> {
        let mut units = Vec::new();
        let mut cur = self.resolve(v)?;
        while let Some(unit) = self.conv_unit(cur)? {
            // a hostile file can name values in a cycle: no chain is longer than the op list
            if units.len() > self.p.ops.len() {
                return Err(Error::tensor(&self.p.source, cur, "the ops form a cycle"));
            }
            let x = self.resolve(self.input(unit.conv, 0)?)?;
            units.push(unit);
            match self.producer(x)? {
                Some(r) if self.op(r).kind == OpKind::Relu => {
                    let before = self.resolve(self.input(r, 0)?)?;
                    if self.conv_unit(before)?.is_some() {
                        cur = before;
                        continue;
                    }
                }
                _ => {}
            }
            cur = x;
            break;
        }
        units.reverse();
        Ok((units, cur))
    }

    fn expect_relu(&self, v: &'a str, what: &str) -> Result<&'a str> {
        match self.producer(v)? {
            Some(i) if self.op(i).kind == OpKind::Relu => self.resolve(self.input(i, 0)?),
            _ => Err(Error::tensor(
                &self.p.source,
                v,
                format!(
                    "{what} should be a ReLU, found {}",
                    self.describe_producer(v)?
                ),
            )),
        }
    }

    fn head(&self) -> Result<(FoundHead, &'a str, usize)> {
        let mut v = self.resolve(&self.p.output)?;
        let mut softmax = false;
        if let Some(i) = self.producer(v)? {
            if self.op(i).kind == OpKind::Softmax {
                softmax = true;
                v = self.resolve(self.input(i, 0)?)?;
            }
        }
        let fc_err = |v: &str| -> Result<Error> {
            Ok(Error::tensor(
                &self.p.source,
                v,
                format!(
                    "the program's output should come from the classifier (a MatMul/Gemm plus bias), found {}",
                    self.describe_producer(v)?
                ),
            ))
        };
        let Some(last) = self.producer(v)? else {
            return Err(fc_err(v)?);
        };
        let (matmul, bias) = match &self.op(last).kind {
            OpKind::MatMul { .. } if self.op(last).inputs.len() == 3 => {
                (last, self.input(last, 2)?.to_string())
            }
            OpKind::Add => {
                let (a, b) = (self.input(last, 0)?, self.input(last, 1)?);
                let (x, bias) = if self.is_param(b) { (a, b) } else { (b, a) };
                match self.producer(x)? {
                    Some(m)
                        if matches!(self.op(m).kind, OpKind::MatMul { .. })
                            && self.is_param(bias) =>
                    {
                        (m, bias.to_string())
                    }
                    _ => return Err(fc_err(v)?),
                }
            }
            _ => return Err(fc_err(v)?),
        };
        let OpKind::MatMul { transpose_b } = self.op(matmul).kind else {
            unreachable!("matched above")
        };
        let weight = self.input(matmul, 1)?.to_string();
        let mut x = self.resolve(self.input(matmul, 0)?)?;
        if let Some(f) = self.producer(x)? {
            if self.op(f).kind == OpKind::Flatten {
                x = self.resolve(self.input(f, 0)?)?;
            }
        }
        let pool = match self.producer(x)? {
            Some(g) if matches!(self.op(g).kind, OpKind::Pool { global: true, .. }) => g,
            _ => {
                return Err(Error::tensor(
                    &self.p.source,
                    x,
                    format!(
                        "the classifier should read a global average pool (through a flatten), found {}",
                        self.describe_producer(x)?
                    ),
                ))
            }
        };
        let features = self.resolve(self.input(pool, 0)?)?;
        Ok((
            FoundHead {
                matmul,
                weight,
                transpose_b,
                bias,
                softmax,
            },
            features,
            pool,
        ))
    }

    pub fn walk(&self) -> Result<Found> {
        let (head, mut v, global_pool) = self.head()?;
        let mut blocks = Vec::new();
        let max_pool = loop {
            if blocks.len() > self.p.ops.len() {
                return Err(Error::tensor(&self.p.source, v, "the ops form a cycle"));
            }
            let p = self.producer(v)?;
            match p.map(|i| &self.op(i).kind) {
                Some(OpKind::Pool { max: true, .. }) => break p.expect("matched"),
                Some(OpKind::Relu) => {}
                _ => {
                    return Err(Error::tensor(
                        &self.p.source,
                        v,
                        format!(
                            "expected a residual block's ReLU or the stem's max pool, found {}",
                            self.describe_producer(v)?
                        ),
                    ))
                }
            }
            let sum = self.resolve(self.input(p.expect("matched"), 0)?)?;
            let add = match self.producer(sum)? {
                Some(a) if self.op(a).kind == OpKind::Add => a,
                _ => {
                    return Err(Error::tensor(
                        &self.p.source,
                        sum,
                        format!(
                        "a residual block ends in ReLU(Add(branch, shortcut)), found a ReLU of {}",
                        self.describe_producer(sum)?
                    ),
                    ))
                }
            };
            let a = self.chain(self.input(add, 0)?)?;
            let b = self.chain(self.input(add, 1)?)?;
            let ((branch, block_in), (short, short_in)) = match (a.0.len() >= 2, b.0.len() >= 2) {
                (true, false) => (a, b),
                (false, true) => (b, a),
                _ => {
                    return Err(self.err(
                        self.op(add),
                        format!(
                            "a residual add of two chains of {} and {} convs, where a ResNet block adds a main branch of 2 or 3 convs to a shortcut of at most one",
                            a.0.len(),
                            b.0.len()
                        ),
                    ))
                }
            };
            let shortcut = match short.as_slice() {
                [] if short_in == block_in => None,
                [unit] if short_in == block_in => Some((unit.clone(), None)),
                [unit] => match self.producer(short_in)? {
                    Some(pool)
                        if matches!(self.op(pool).kind, OpKind::Pool { max: false, global: false, .. })
                            && self.resolve(self.input(pool, 0)?)? == block_in =>
                    {
                        Some((unit.clone(), Some(pool)))
                    }
                    _ => {
                        return Err(self.err(
                            self.op(unit.conv),
                            format!(
                                "a shortcut conv reading {}, where a ResNet's reads the block input (or its 2x2 average pool)",
                                self.describe_producer(short_in)?
                            ),
                        ))
                    }
                },
                _ => {
                    return Err(self.err(
                        self.op(add),
                        format!("a shortcut of {} convs (a ResNet has at most one)", short.len()),
                    ))
                }
            };
            blocks.push(FoundBlock {
                branch,
                shortcut,
                add,
            });
            v = block_in;
        };
        blocks.reverse();
        let stem_out = self.expect_relu(
            self.resolve(self.input(max_pool, 0)?)?,
            "the stem's last op",
        )?;
        let (stem, start) = self.chain(stem_out)?;
        if stem.is_empty() || start != self.p.input_name {
            return Err(Error::tensor(
                &self.p.source,
                start,
                format!(
                    "the stem convs should read the program input `{}`, found {}",
                    self.p.input_name,
                    self.describe_producer(start)?
                ),
            ));
        }
        Ok(Found {
            stem,
            max_pool,
            blocks,
            global_pool,
            head,
        })
    }
}
