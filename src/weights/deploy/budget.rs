//! What decoding a program file will allocate, counted on its bytes before anything is decoded.
//! `prost` turns every 2-byte empty sub-message into a whole struct (an empty ONNX `TensorProto`
//! is ~230 bytes: 120x), every 1-byte packed varint into an 8-byte `i64`, and serde_json every
//! `0,` into a 32-byte `Value`; a 40 MB file could ask for gigabytes. The scan walks the wire
//! format (or the JSON tokens) once, prices each field as the decoder will store it, and refuses
//! the file when the total exceeds [`allowed`]: real programs decode to about their own size.

use std::mem::size_of;

use super::proto::*;

/// What decoding a file of `len` bytes may allocate: twice the file (the tensors' bytes are
/// copied once more as f32) plus 64 MiB for the structure of any real program.
pub fn allowed(len: usize) -> u64 {
    (64u64 << 20).saturating_add(2u64.saturating_mul(len as u64))
}

/// How a declared field of a message decodes; undeclared fields are skipped by `prost` and
/// cost nothing.
#[derive(Clone, Copy)]
pub enum Field {
    /// A sub-message: one struct per occurrence.
    Message(&'static Schema),
    /// A repeated varint scalar stored in `width` bytes (packed: one per byte without the
    /// continuation bit).
    Varints(u64),
    /// A repeated fixed-width scalar (f32, f64) stored as itself.
    Fixed(u64),
    /// A string or bytes field: its bytes and the `String`/`Vec` header.
    Bytes,
}

/// A message type as `proto.rs` declares it: its struct size and the fields that allocate.
pub struct Schema {
    pub name: &'static str,
    pub size: u64,
    pub fields: &'static [(u64, Field)],
}

const VEC: u64 = size_of::<Vec<u8>>() as u64;

macro_rules! schema {
    ($name:ident, $ty:ty, [$($field:expr),* $(,)?]) => {
        pub static $name: Schema = Schema {
            name: stringify!($ty),
            size: size_of::<$ty>() as u64,
            fields: &[$($field),*],
        };
    };
}

use Field::{Bytes, Fixed, Message as Msg, Varints};

// framework.proto
schema!(PROGRAM_DESC, ProgramDesc, [(1, Msg(&BLOCK_DESC))]);
schema!(
    BLOCK_DESC,
    BlockDesc,
    [(3, Msg(&VAR_DESC)), (4, Msg(&OP_DESC))]
);
schema!(VAR_DESC, VarDesc, [(1, Bytes), (2, Msg(&VAR_TYPE))]);
schema!(VAR_TYPE, VarType, [(3, Msg(&LOD_TENSOR_DESC))]);
schema!(LOD_TENSOR_DESC, LoDTensorDesc, [(1, Msg(&TENSOR_DESC))]);
schema!(TENSOR_DESC, TensorDesc, [(2, Varints(8))]);
schema!(
    OP_DESC,
    OpDesc,
    [
        (1, Msg(&OP_VAR)),
        (2, Msg(&OP_VAR)),
        (3, Bytes),
        (4, Msg(&OP_ATTR))
    ]
);
schema!(OP_VAR, OpVar, [(1, Bytes), (2, Bytes)]);
schema!(
    OP_ATTR,
    OpAttr,
    [
        (1, Bytes),
        (5, Bytes),
        (6, Varints(4)),
        (7, Fixed(4)),
        (15, Varints(8))
    ]
);

// onnx.proto
schema!(
    MODEL_PROTO,
    ModelProto,
    [
        (2, Bytes),
        (3, Bytes),
        (7, Msg(&GRAPH_PROTO)),
        (8, Msg(&OPSET_ID))
    ]
);
schema!(OPSET_ID, OperatorSetId, [(1, Bytes)]);
schema!(
    GRAPH_PROTO,
    GraphProto,
    [
        (1, Msg(&NODE_PROTO)),
        (2, Bytes),
        (5, Msg(&TENSOR_PROTO)),
        (11, Msg(&VALUE_INFO)),
        (12, Msg(&VALUE_INFO)),
    ]
);
schema!(
    NODE_PROTO,
    NodeProto,
    [
        (1, Bytes),
        (2, Bytes),
        (3, Bytes),
        (4, Bytes),
        (5, Msg(&ATTRIBUTE_PROTO)),
        (7, Bytes)
    ]
);
schema!(
    ATTRIBUTE_PROTO,
    AttributeProto,
    [
        (1, Bytes),
        (4, Bytes),
        (5, Msg(&TENSOR_PROTO)),
        (7, Fixed(4)),
        (8, Varints(8))
    ]
);
schema!(
    TENSOR_PROTO,
    TensorProto,
    [
        (1, Varints(8)),
        (4, Fixed(4)),
        (5, Varints(4)),
        (7, Varints(8)),
        (8, Bytes),
        (9, Bytes),
        (10, Fixed(8)),
        (13, Msg(&STRING_ENTRY)),
    ]
);
schema!(STRING_ENTRY, StringStringEntry, [(1, Bytes), (2, Bytes)]);
schema!(
    VALUE_INFO,
    ValueInfoProto,
    [(1, Bytes), (2, Msg(&TYPE_PROTO))]
);
schema!(TYPE_PROTO, TypeProto, [(1, Msg(&TYPE_TENSOR))]);
schema!(TYPE_TENSOR, TypeTensor, [(2, Msg(&SHAPE_PROTO))]);
schema!(SHAPE_PROTO, TensorShapeProto, [(1, Msg(&DIMENSION))]);
schema!(DIMENSION, Dimension, [(2, Bytes)]);

/// What the costliest message type of a file adds up to, for the error message.
#[derive(Default)]
pub struct Cost {
    pub total: u64,
    /// Per message type: occurrences and bytes.
    by_type: Vec<(&'static str, u64, u64)>,
}

impl Cost {
    fn add(&mut self, name: &'static str, bytes: u64) {
        self.total = self.total.saturating_add(bytes);
        match self.by_type.iter_mut().find(|(n, _, _)| *n == name) {
            Some((_, count, b)) => {
                *count += 1;
                *b = b.saturating_add(bytes);
            }
            None => self.by_type.push((name, 1, bytes)),
        }
    }

    /// `"20000000 TensorProto messages (4.3 GiB)"` for the costliest type.
    pub fn largest(&self) -> String {
        match self.by_type.iter().max_by_key(|(_, _, b)| *b) {
            Some((name, count, bytes)) => format!(
                "{count} {name} messages ({:.1} MiB)",
                *bytes as f64 / (1 << 20) as f64
            ),
            None => "nothing".into(),
        }
    }
}

fn varint(buf: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Prices the message `buf` of type `schema` (its own struct counted by the caller). Malformed
/// wire data stops the scan: `prost` refuses it before allocating past what was counted.
fn scan(buf: &[u8], schema: &Schema, cost: &mut Cost, limit: u64) {
    let mut at = 0;
    while at < buf.len() && cost.total <= limit {
        let Some(key) = varint(buf, &mut at) else {
            return;
        };
        let (number, wire) = (key >> 3, key & 7);
        let field = schema
            .fields
            .iter()
            .find(|(n, _)| *n == number)
            .map(|f| f.1);
        let len = match wire {
            0 => {
                if varint(buf, &mut at).is_none() {
                    return;
                }
                if let Some(Varints(w)) = field {
                    cost.add(schema.name, w);
                }
                continue;
            }
            1 => 8,
            5 => 4,
            2 => match varint(buf, &mut at).and_then(|l| usize::try_from(l).ok()) {
                Some(l) if l <= buf.len() - at => l,
                _ => return,
            },
            // Group markers: what a group holds is scanned as fields of this message, which
            // can only over-count.
            3 | 4 => continue,
            _ => return,
        };
        let Some(body) = buf.get(at..at + len) else {
            return;
        };
        at += len;
        match (field, wire) {
            (Some(Msg(child)), 2) => {
                cost.add(child.name, child.size);
                scan(body, child, cost, limit);
            }
            (Some(Bytes), 2) => cost.add(schema.name, VEC + len as u64),
            (Some(Varints(w)), 2) => {
                let count = body.iter().filter(|b| **b & 0x80 == 0).count() as u64;
                cost.add(schema.name, count * w);
            }
            (Some(Fixed(_)), 2) => cost.add(schema.name, len as u64),
            (Some(Fixed(w)), _) => cost.add(schema.name, w),
            _ => {}
        }
    }
}

/// The bytes decoding `buf` as a `schema` message would allocate (an estimate that never falls
/// short of what `prost` stores, growth slack aside); the scan stops once past `limit`.
pub fn protobuf_cost(buf: &[u8], schema: &Schema, limit: u64) -> Cost {
    let mut cost = Cost::default();
    cost.add(schema.name, schema.size);
    scan(buf, schema, &mut cost, limit);
    cost
}

/// `Err(reason)` when decoding `buf` as `schema` would allocate more than [`allowed`].
pub fn check_protobuf(buf: &[u8], schema: &Schema) -> Result<(), String> {
    let limit = allowed(buf.len());
    let cost = protobuf_cost(buf, schema, limit);
    if cost.total <= limit {
        return Ok(());
    }
    Err(format!(
        "decoding it would take more than {} MiB for a {}-byte file ({} so far; a real program \
         decodes to about its own size): refused before decoding",
        limit >> 20,
        buf.len(),
        cost.largest()
    ))
}

/// `Err(reason)` when serde_json's tree of `text` would take more than [`allowed`].
pub fn check_json(text: &[u8]) -> Result<(), String> {
    let (limit, cost) = (allowed(text.len()), json_cost(text));
    if cost <= limit {
        return Ok(());
    }
    Err(format!(
        "its JSON values would take about {} MiB in memory for a {}-byte file (more than {} MiB; \
         a real program holds far fewer values): refused before parsing",
        cost >> 20,
        text.len(),
        limit >> 20
    ))
}

/// The bytes serde_json's `Value` tree of `text` would take: every value a 32-byte `Value` plus
/// its map entry or vector slot, every string its bytes. Counted on the tokens: each `,` `:` `[`
/// `{` outside a string starts at most one value, each string holds at most its bytes.
pub fn json_cost(text: &[u8]) -> u64 {
    const VALUE: u64 = size_of::<serde_json::Value>() as u64;
    // A map entry holds its key `String` beside the value (and tree nodes around it).
    const ENTRY: u64 = VALUE + VEC + 16;
    let (mut values, mut in_string, mut escaped) = (1u64, false, false);
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b',' | b':' | b'[' | b'{' => values += 1,
            _ => {}
        }
    }
    values
        .saturating_mul(ENTRY)
        .saturating_add(text.len() as u64)
}
