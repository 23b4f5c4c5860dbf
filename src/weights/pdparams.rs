//! PaddlePaddle `.pdparams` files: a pickle (protocol 2 to 5) of `dict[str, numpy.ndarray]`.
//!
//! The generic machine (`super::pickle`) runs the opcodes; this layer gives meaning to the few
//! globals `paddle.save` and numpy name (an allow-list: any other global is an error that
//! names it, nothing in a file can make it run code), rebuilds the arrays and takes the
//! top-level dict apart. Every shape and size is checked against the file before it is used,
//! so a damaged or hostile file gives an error, never a panic or an allocation beyond a small
//! multiple of the file's size (tests/hostile.rs measures it; fuzz/ fuzzes it).

use std::borrow::Cow;
use std::path::Path;

use super::pickle::{self, latin1_bytes, latin1_len, Kind, Object, Step, Unpickled};
use crate::error::{Error, Result};
use crate::npy::{element_count, fortran_to_c, NumpyDtype};
use crate::tensor::{Tensor, TensorMap};

const FORMAT: &str = "pdparams (pickle)";

/// Reads a `.pdparams` file: every numpy array of its top-level dict, converted to f32.
pub fn read_pdparams(path: &Path) -> Result<TensorMap> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_pdparams(&bytes, path)
}

/// Parses the bytes of a `.pdparams` file; `path_for_messages` only names the file in errors.
/// Entries whose value is not an array (e.g. `StructuredToParameterName@@`) are skipped.
pub fn parse_pdparams(bytes: &[u8], path_for_messages: &Path) -> Result<TensorMap> {
    let format_error = |reason: String| Error::Format {
        path: path_for_messages.to_path_buf(),
        format: FORMAT,
        reason,
    };
    if bytes.first() != Some(&pickle::PROTO) {
        let what = super::sniff(bytes).describe();
        return Err(format_error(format!(
            "not a pickle (it does not start with the PROTO opcode 0x80; it is {what})"
        )));
    }
    let mut numpy = Numpy {
        data_budget: bytes.len(),
    };
    let Unpickled { top, mut objects } = pickle::run(bytes, &mut numpy).map_err(format_error)?;
    numpy.into_tensors(top, &mut objects).map_err(|e| match e {
        Extract::Format(reason) => format_error(reason),
        Extract::Tensor(name, reason) => {
            Error::tensor(path_for_messages.display().to_string(), name, reason)
        }
    })
}

/// The only globals a file may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Global {
    /// `numpy.core.multiarray._reconstruct` (numpy 1) or `numpy._core.multiarray._reconstruct`.
    Reconstruct,
    NdArray,
    Dtype,
    /// `_codecs.encode`: how protocol 2 spells bytes.
    CodecsEncode,
    /// `bytes()`: how protocol 2 spells empty bytes (the data of a zero-size array).
    EmptyBytes,
    OrderedDict,
}

fn resolve_global(module: &str, name: &str) -> Step<Global> {
    match (module, name) {
        ("numpy.core.multiarray" | "numpy._core.multiarray", "_reconstruct") => {
            Ok(Global::Reconstruct)
        }
        ("numpy", "ndarray") => Ok(Global::NdArray),
        ("numpy", "dtype") => Ok(Global::Dtype),
        ("_codecs", "encode") => Ok(Global::CodecsEncode),
        ("__builtin__" | "builtins", "bytes") => Ok(Global::EmptyBytes),
        ("collections", "OrderedDict") => Ok(Global::OrderedDict),
        _ => Err(format!(
            "refusing global `{module}.{name}`: only numpy array globals are allowed \
             (this reader never runs code from a file)"
        )),
    }
}

type Value<'a> = pickle::Value<'a, Global>;
type Arena<'a> = pickle::Arena<'a, Global, NumpyObject<'a>>;

/// What numpy's globals make; they live in the machine's arena.
enum NumpyObject<'a> {
    /// `numpy.dtype(code, ...)`; the byte order arrives with its BUILD.
    Dtype {
        code: &'a str,
        byteorder: char,
    },
    Array(ArrayState),
}

impl Kind for NumpyObject<'_> {
    fn kind(&self) -> &'static str {
        match self {
            NumpyObject::Dtype { .. } => "a numpy dtype",
            NumpyObject::Array(_) => "a numpy array",
        }
    }
}

enum ArrayState {
    /// Made by `_reconstruct`, waiting for its BUILD.
    Empty,
    Built(Box<Tensor>),
    /// The BUILD state was well formed but unusable (unsupported dtype, size mismatch); kept
    /// until the array's name is known so the error can name the tensor.
    Bad(String),
    /// Already moved into the result under this name (an array shared by two keys).
    Taken(String),
}

/// Errors found while extracting the top-level dict.
enum Extract {
    Format(String),
    Tensor(String, String),
}

/// The layer's state: the numpy globals allowed, and how much array data may still be decoded.
struct Numpy {
    /// Bytes of array data still allowed to be decoded: the file's size. Arrays that share one
    /// buffer through the memo could otherwise make us scan and allocate without bound.
    data_budget: usize,
}

impl<'a> pickle::Globals<'a> for Numpy {
    type Global = Global;
    type Object = NumpyObject<'a>;

    fn resolve(&self, module: &str, name: &str) -> Step<Global> {
        resolve_global(module, name)
    }

    fn reduce(
        &mut self,
        objects: &mut Arena<'a>,
        callable: Global,
        args: &[Value<'a>],
    ) -> Step<Value<'a>> {
        match (callable, args) {
            // `_reconstruct(ndarray, (0,), b'b')` makes an empty array; BUILD fills it.
            (Global::Reconstruct, [Value::Global(Global::NdArray), ..]) => {
                objects.add(Object::Ext(NumpyObject::Array(ArrayState::Empty)))
            }
            (Global::Reconstruct, _) => {
                Err("_reconstruct of something other than numpy.ndarray".into())
            }
            (Global::Dtype, [Value::Str(code), ..]) => {
                objects.add(Object::Ext(NumpyObject::Dtype {
                    code,
                    byteorder: '=',
                }))
            }
            (Global::Dtype, _) => Err("numpy.dtype without a type code".into()),
            (Global::CodecsEncode, [Value::Str(text), Value::Str(encoding)]) => {
                match encoding
                    .to_ascii_lowercase()
                    .replace(['-', '_'], "")
                    .as_str()
                {
                    "latin1" | "iso88591" | "l1" => Ok(Value::Latin1(text)),
                    "utf8" => Ok(Value::Bytes(text.as_bytes())),
                    _ => Err(format!(
                        "_codecs.encode with unsupported encoding '{encoding}'"
                    )),
                }
            }
            (Global::CodecsEncode, [Value::Str(text)]) => Ok(Value::Bytes(text.as_bytes())),
            (Global::CodecsEncode, _) => Err("_codecs.encode of something other than a str".into()),
            (Global::EmptyBytes, []) => Ok(Value::Bytes(&[])),
            (Global::EmptyBytes, _) => Err("bytes() with arguments is not supported".into()),
            (Global::OrderedDict, []) => objects.add(Object::Dict(Vec::new())),
            (Global::OrderedDict, _) => Err("OrderedDict with arguments is not supported".into()),
            (Global::NdArray, _) => Err("calling numpy.ndarray directly is not supported".into()),
        }
    }

    fn build(
        &mut self,
        objects: &Arena<'a>,
        target: &NumpyObject<'a>,
        state: Value<'a>,
    ) -> Step<NumpyObject<'a>> {
        match target {
            // numpy dtype state: (version, byteorder, subarray, names, fields, elsize, alignment,
            // flags[, metadata]); only the byte order matters for plain types.
            // Structured and sub-array dtypes have code `V<n>`, which conversion rejects.
            NumpyObject::Dtype { code, .. } => {
                let state = objects.tuple_items(state, "dtype state")?;
                let mut order = match state {
                    [_, Value::Str(order), ..] => order.chars(),
                    _ => return Err("dtype state without a byte order".into()),
                };
                match (order.next(), order.next()) {
                    (Some(byteorder), None) => Ok(NumpyObject::Dtype { code, byteorder }),
                    _ => Err("dtype byte order is not one character".into()),
                }
            }
            NumpyObject::Array(ArrayState::Empty) => {
                Ok(NumpyObject::Array(self.build_array(objects, state)?))
            }
            other => Err(format!("BUILD on {} is not supported", other.kind())),
        }
    }
}

impl Numpy {
    /// Fills an array from numpy's `ndarray.__setstate__` state:
    /// `(version, shape, dtype, is_fortran, raw_bytes)` or the older form without `version`.
    fn build_array<'a>(&mut self, objects: &Arena<'a>, state: Value<'a>) -> Step<ArrayState> {
        let state = objects.tuple_items(state, "array state")?;
        let (shape, dtype, fortran, raw) = match *state {
            [Value::Int(_), shape, dtype, fortran, raw] | [shape, dtype, fortran, raw] => {
                (shape, dtype, fortran, raw)
            }
            _ => {
                return Err(format!(
                    "array state has {} items, expected 4 or 5",
                    state.len()
                ))
            }
        };
        let shape = objects
            .tuple_items(shape, "array shape")?
            .iter()
            .map(|d| match *d {
                Value::Int(n) => usize::try_from(n).map_err(|_| format!("negative dimension {n}")),
                other => Err(format!("array shape holds {}", other.kind())),
            })
            .collect::<Step<Vec<usize>>>()?;
        let Some(Object::Ext(NumpyObject::Dtype { code, byteorder })) = objects.get(dtype) else {
            return Err("array dtype is not a numpy dtype".into());
        };
        let fortran = match fortran {
            Value::Bool(b) => b,
            Value::Int(n) => n != 0,
            other => return Err(format!("array is_fortran flag is {}", other.kind())),
        };
        let Some(dtype) = NumpyDtype::new(code, *byteorder) else {
            return Ok(ArrayState::Bad(format!(
                "dtype '{byteorder}{code}' is not supported (float, int, uint and bool are)"
            )));
        };
        // Protocol 2 holds the data as a str whose code points are the bytes.
        let (cost, raw_bytes, latin1) = match raw {
            Value::Bytes(b) => (b.len(), b, None),
            Value::Latin1(s) => (s.len(), &[][..], Some(s)),
            other => {
                return Err(format!(
                    "array data is {}, not bytes (an object array?)",
                    other.kind()
                ))
            }
        };
        self.charge(cost)?;
        let raw_len = latin1.map_or(cost, latin1_len);
        // Compare sizes before allocating anything: the data already lies in the file.
        let needed = element_count(&shape).and_then(|n| n.checked_mul(dtype.itemsize()));
        if needed != Some(raw_len) {
            let needed = needed.map_or("more than addressable".to_string(), |n| n.to_string());
            return Ok(ArrayState::Bad(format!(
                "shape {shape:?} of '{}' needs {needed} bytes of data but the file holds {raw_len}",
                dtype.name()
            )));
        }
        let bytes: Cow<'a, [u8]> = match latin1 {
            Some(s) => Cow::Owned(latin1_bytes(s).map_err(|wide| {
                format!("array data holds U+{:04X}, not a latin-1 byte", wide as u32)
            })?),
            None => Cow::Borrowed(raw_bytes),
        };
        let mut data = dtype.decode(&bytes);
        if fortran {
            data = fortran_to_c(&data, &shape);
        }
        Ok(ArrayState::Built(Box::new(Tensor {
            shape,
            data,
            stored_dtype: dtype.name(),
        })))
    }

    fn charge(&mut self, bytes: usize) -> Step<()> {
        self.data_budget = self
            .data_budget
            .checked_sub(bytes)
            .ok_or("arrays hold more data than the file (one buffer shared by many arrays?)")?;
        Ok(())
    }

    // --- the result ---------------------------------------------------------------------------

    /// Moves every array of the top-level dict into a `TensorMap`.
    fn into_tensors<'a>(
        mut self,
        top: Value<'a>,
        objects: &mut Arena<'a>,
    ) -> std::result::Result<TensorMap, Extract> {
        let entries = match objects.get_mut(top) {
            Some(Object::Dict(entries)) => std::mem::take(entries),
            other => {
                let kind = other.map_or(top.kind(), |object| object.kind());
                return Err(Extract::Format(format!(
                    "the pickled object is {kind}, expected a dict of arrays"
                )));
            }
        };
        let mut tensors = TensorMap::new();
        for (key, value) in entries {
            let Some(Object::Ext(NumpyObject::Array(state))) = objects.get_mut(value) else {
                continue; // a non-array entry such as `StructuredToParameterName@@`
            };
            let Value::Str(name) = key else {
                return Err(Extract::Format(format!(
                    "an array is stored under {}, not a str key",
                    key.kind()
                )));
            };
            let tensor = match std::mem::replace(state, ArrayState::Taken(name.to_string())) {
                ArrayState::Built(tensor) => *tensor,
                ArrayState::Taken(first) => match tensors.get(&first) {
                    Some(t) => {
                        // The copy is f32s: charge its bytes, not its elements.
                        let bytes = t.len().saturating_mul(std::mem::size_of::<f32>());
                        self.charge(bytes).map_err(Extract::Format)?;
                        t.clone()
                    }
                    None => return Err(Extract::Format(format!("array of `{name}` lost"))),
                },
                ArrayState::Bad(reason) => return Err(Extract::Tensor(name.to_string(), reason)),
                ArrayState::Empty => {
                    return Err(Extract::Tensor(
                        name.to_string(),
                        "array was never filled (no BUILD)".into(),
                    ))
                }
            };
            tensors.insert(name.to_string(), tensor);
        }
        Ok(tensors)
    }
}
