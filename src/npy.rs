//! `.npy` files (numpy's single-array format): a float reader and a float32 writer.
//!
//! Also home of the numpy element-type helpers (`NumpyDtype`, Fortran re-layout) that the
//! `.pdparams` reader shares, since both formats store raw numpy array buffers.

use std::path::Path;

use crate::error::{Error, Result};
use crate::tensor::Tensor;

const MAGIC: &[u8] = b"\x93NUMPY";
const FORMAT: &str = "npy";
/// numpy aligns the start of the data to this many bytes.
const ARRAY_ALIGN: usize = 64;
/// numpy pads the header so the growth axis can reach this many digits when rewritten in place.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;
/// Bounds the recursion of the header literal parser; real headers nest two levels.
const MAX_LITERAL_DEPTH: usize = 16;

/// A numpy element type we can convert to f32: kind (`f`, `i`, `u`, `b`), size in bytes and
/// byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NumpyDtype {
    kind: u8,
    size: usize,
    big_endian: bool,
}

impl NumpyDtype {
    /// From a kind+size code as numpy pickles it (`f4`, `i8`, `b1`) and a byte-order character
    /// (`<`, `>`, `|` or `=`). `None` for anything we do not convert (complex, strings, objects...).
    pub(crate) fn new(code: &str, byteorder: char) -> Option<Self> {
        let kind = *code.as_bytes().first()?;
        let size: usize = code.get(1..)?.parse().ok()?;
        let supported = matches!(
            (kind, size),
            (b'f', 2 | 4 | 8) | (b'i' | b'u', 1 | 2 | 4 | 8) | (b'b', 1)
        );
        let big_endian = match byteorder {
            '<' | '|' => false,
            '>' => true,
            '=' => cfg!(target_endian = "big"),
            _ => return None,
        };
        supported.then_some(NumpyDtype {
            kind,
            size,
            big_endian,
        })
    }

    /// From a full descr string such as `<f4` or `|u1`.
    pub(crate) fn from_descr(descr: &str) -> Option<Self> {
        let mut chars = descr.chars();
        let order = chars.next()?;
        Self::new(chars.as_str(), order)
    }

    pub(crate) fn itemsize(self) -> usize {
        self.size
    }

    pub(crate) fn is_float(self) -> bool {
        self.kind == b'f'
    }

    /// The name recorded as `Tensor::stored_dtype`: `f4`, `i8`, or `>f4` when big-endian.
    pub(crate) fn name(self) -> String {
        let order = if self.big_endian && self.size > 1 {
            ">"
        } else {
            ""
        };
        format!("{order}{}{}", self.kind as char, self.size)
    }

    /// Converts a raw buffer to f32. The caller has checked that `bytes.len()` is a multiple of
    /// the item size; a trailing partial item would be ignored.
    pub(crate) fn decode(self, bytes: &[u8]) -> Vec<f32> {
        let be = self.big_endian;
        match (self.kind, self.size) {
            (b'f', 2) => convert(bytes, be, |a: [u8; 2]| half::f16::from_le_bytes(a).to_f32()),
            (b'f', 4) => convert(bytes, be, f32::from_le_bytes),
            (b'f', 8) => convert(bytes, be, |a| f64::from_le_bytes(a) as f32),
            (b'i', 1) => bytes.iter().map(|&b| b as i8 as f32).collect(),
            (b'i', 2) => convert(bytes, be, |a| i16::from_le_bytes(a) as f32),
            (b'i', 4) => convert(bytes, be, |a| i32::from_le_bytes(a) as f32),
            (b'i', 8) => convert(bytes, be, |a| i64::from_le_bytes(a) as f32),
            (b'u', 1) => bytes.iter().map(|&b| b as f32).collect(),
            (b'u', 2) => convert(bytes, be, |a| u16::from_le_bytes(a) as f32),
            (b'u', 4) => convert(bytes, be, |a| u32::from_le_bytes(a) as f32),
            (b'u', 8) => convert(bytes, be, |a| u64::from_le_bytes(a) as f32),
            // numpy bools are one byte, nonzero meaning true.
            _ => bytes.iter().map(|&b| f32::from(u8::from(b != 0))).collect(),
        }
    }
}

/// Decodes fixed-size little-endian items (reversing each first when the data is big-endian).
fn convert<const N: usize>(bytes: &[u8], big_endian: bool, f: impl Fn([u8; N]) -> f32) -> Vec<f32> {
    bytes
        .chunks_exact(N)
        .map(|chunk| {
            let mut item = [0u8; N];
            item.copy_from_slice(chunk);
            if big_endian {
                item.reverse();
            }
            f(item)
        })
        .collect()
}

/// The number of elements of `shape`, or `None` if it overflows `usize`.
pub(crate) fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// Re-lays a Fortran-ordered (column-major) buffer out in C order. `data.len()` must equal the
/// element count of `shape`.
pub(crate) fn fortran_to_c(data: &[f32], shape: &[usize]) -> Vec<f32> {
    if shape.len() < 2 || element_count(shape) != Some(data.len()) {
        return data.to_vec();
    }
    // Column-major strides: the first axis varies fastest.
    let mut strides = Vec::with_capacity(shape.len());
    let mut stride = 1usize;
    for &d in shape {
        strides.push(stride);
        stride *= d;
    }
    // Walk the C-order index like an odometer (last axis fastest), tracking the source offset.
    let mut index = vec![0usize; shape.len()];
    let mut offset = 0usize;
    let mut out = Vec::with_capacity(data.len());
    for _ in 0..data.len() {
        out.push(data[offset]);
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            offset += strides[axis];
            if index[axis] < shape[axis] {
                break;
            }
            offset -= strides[axis] * shape[axis];
            index[axis] = 0;
        }
    }
    out
}

/// Reads a `.npy` file holding a float array (`<f4`, or `f8`/`f2` converted) into a C-order tensor.
pub fn read_npy_f32(path: &Path) -> Result<Tensor> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_npy_f32(&bytes, path)
}

/// Parses the bytes of a `.npy` file; `path_for_messages` only names the file in errors.
pub fn parse_npy_f32(bytes: &[u8], path_for_messages: &Path) -> Result<Tensor> {
    let fail = |reason: String| Error::Format {
        path: path_for_messages.to_path_buf(),
        format: FORMAT,
        reason,
    };
    if !bytes.starts_with(MAGIC) {
        return Err(fail("missing the \\x93NUMPY magic at the start".into()));
    }
    let (major, minor) = match bytes.get(6..8) {
        Some(v) => (v[0], v[1]),
        None => return Err(fail("truncated before the format version".into())),
    };
    let (len_size, utf8) = match major {
        1 => (2, false),
        2 => (4, false),
        3 => (4, true),
        _ => return Err(fail(format!("unsupported format version {major}.{minor}"))),
    };
    let header_len = match bytes.get(8..8 + len_size) {
        Some(&[a, b]) => u16::from_le_bytes([a, b]) as usize,
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]) as usize,
        _ => return Err(fail("truncated inside the header length".into())),
    };
    let header_start = 8 + len_size;
    let data_start = header_start
        .checked_add(header_len)
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| {
            fail(format!(
                "header length {header_len} runs past the end of the file ({} bytes)",
                bytes.len()
            ))
        })?;
    let raw_header = &bytes[header_start..data_start];
    // Versions 1 and 2 are latin-1; every byte maps to the code point of the same value.
    let header: String = if utf8 {
        std::str::from_utf8(raw_header)
            .map_err(|_| fail("header is not valid UTF-8".into()))?
            .to_owned()
    } else {
        raw_header.iter().map(|&b| b as char).collect()
    };
    let header = parse_header(&header).map_err(|reason| fail(format!("bad header: {reason}")))?;

    let dtype = NumpyDtype::from_descr(&header.descr)
        .filter(|d| d.is_float())
        .ok_or_else(|| {
            fail(format!(
                "dtype {} is not supported; expected float32 '<f4' (float64 '<f8' and float16 '<f2' are converted)",
                header.descr_text
            ))
        })?;
    let data = &bytes[data_start..];
    let needed = element_count(&header.shape).and_then(|n| n.checked_mul(dtype.itemsize()));
    if needed != Some(data.len()) {
        let needed = needed.map_or("more than addressable".to_string(), |n| n.to_string());
        return Err(fail(format!(
            "shape {:?} of {} needs {needed} bytes of data but the file holds {}",
            header.shape,
            header.descr_text,
            data.len()
        )));
    }
    let mut values = dtype.decode(data);
    if header.fortran_order {
        values = fortran_to_c(&values, &header.shape);
    }
    Ok(Tensor {
        shape: header.shape,
        data: values,
        stored_dtype: dtype.name(),
    })
}

/// Writes a float32 array as a version 1.0 `.npy` file (`<f4`, C order), byte-identical to
/// what `numpy.save` writes for the same array.
pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let bytes = encode_npy_f32(shape, data)?;
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// The bytes `write_npy_f32` writes.
pub fn encode_npy_f32(shape: &[usize], data: &[f32]) -> Result<Vec<u8>> {
    if element_count(shape) != Some(data.len()) {
        return Err(Error::Input(format!(
            "cannot write npy: shape {shape:?} does not hold {} values",
            data.len()
        )));
    }
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    // Python's tuple repr: `()`, `(5,)`, `(2, 3)`.
    let shape_repr = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_repr}, }}");
    if let Some(first) = dims.first() {
        header.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(first.len())));
    }
    // Pad with spaces and a final newline so the data starts on a 64-byte boundary; numpy
    // falls back to version 2.0 (4-byte length) only for headers over 64 KiB.
    let mut prefix_len = MAGIC.len() + 2 + 2;
    let mut padded_len = header.len() + 1;
    padded_len += ARRAY_ALIGN - (prefix_len + padded_len) % ARRAY_ALIGN;
    let major = if padded_len > u16::MAX as usize {
        prefix_len += 2;
        padded_len = header.len() + 1;
        padded_len += ARRAY_ALIGN - (prefix_len + padded_len) % ARRAY_ALIGN;
        2u8
    } else {
        1u8
    };
    let mut out = Vec::with_capacity(prefix_len + padded_len + 4 * data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[major, 0]);
    if major == 1 {
        out.extend_from_slice(&(padded_len as u16).to_le_bytes());
    } else {
        let len = u32::try_from(padded_len).map_err(|_| {
            Error::Input(format!(
                "cannot write npy: shape {shape:?} gives a header too long"
            ))
        })?;
        out.extend_from_slice(&len.to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.resize(prefix_len + padded_len - 1, b' ');
    out.push(b'\n');
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

/// The three keys of a `.npy` header.
struct Header {
    descr: String,
    /// The descr as written in the file, for messages (it may be a list for structured dtypes).
    descr_text: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// A Python literal as it may appear in a `.npy` header.
enum Literal {
    Str(String),
    Bool(bool),
    Int(u64),
    Seq(Vec<Literal>),
    Dict(Vec<(Literal, Literal, String)>),
    None,
}

/// Parses the header dict, e.g. `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
fn parse_header(text: &str) -> std::result::Result<Header, String> {
    let mut p = LiteralParser {
        chars: text.chars().collect(),
        pos: 0,
    };
    let Literal::Dict(entries) = p.value(0)? else {
        return Err("not a dict".into());
    };
    p.skip_ws();
    if p.pos != p.chars.len() {
        return Err(format!(
            "unexpected text after the dict at character {}",
            p.pos
        ));
    }
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    for (key, value, value_text) in entries {
        match key {
            Literal::Str(k) if k == "descr" => descr = Some((value, value_text)),
            Literal::Str(k) if k == "fortran_order" => fortran = Some(value),
            Literal::Str(k) if k == "shape" => shape = Some(value),
            Literal::Str(k) => return Err(format!("unexpected key '{k}'")),
            _ => return Err("a key is not a string".into()),
        }
    }
    let (descr, descr_text) = descr.ok_or("no 'descr' key")?;
    let descr = match descr {
        Literal::Str(s) => s,
        _ => String::new(), // a structured dtype; rejected with its text by the caller
    };
    let fortran_order = match fortran.ok_or("no 'fortran_order' key")? {
        Literal::Bool(b) => b,
        _ => return Err("'fortran_order' is not True or False".into()),
    };
    let Literal::Seq(dims) = shape.ok_or("no 'shape' key")? else {
        return Err("'shape' is not a tuple".into());
    };
    let shape = dims
        .into_iter()
        .map(|d| match d {
            Literal::Int(n) => {
                usize::try_from(n).map_err(|_| format!("dimension {n} is too large"))
            }
            _ => Err("'shape' holds something other than non-negative integers".into()),
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Header {
        descr,
        descr_text,
        fortran_order,
        shape,
    })
}

struct LiteralParser {
    chars: Vec<char>,
    pos: usize,
}

impl LiteralParser {
    fn skip_ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.chars.get(self.pos).copied()
    }

    fn expect(&mut self, want: char) -> std::result::Result<(), String> {
        match self.peek() {
            Some(c) if c == want => {
                self.pos += 1;
                Ok(())
            }
            Some(c) => Err(format!(
                "expected '{want}' at character {}, found '{c}'",
                self.pos
            )),
            None => Err(format!("expected '{want}', found the end of the header")),
        }
    }

    fn value(&mut self, depth: usize) -> std::result::Result<Literal, String> {
        if depth > MAX_LITERAL_DEPTH {
            return Err("nested too deeply".into());
        }
        match self.peek() {
            Some('{') => {
                self.pos += 1;
                let mut entries = Vec::new();
                while self.peek() != Some('}') {
                    let key = self.value(depth + 1)?;
                    self.expect(':')?;
                    self.skip_ws();
                    let start = self.pos;
                    let value = self.value(depth + 1)?;
                    let text: String = self.chars[start..self.pos].iter().collect();
                    entries.push((key, value, text));
                    if self.peek() != Some('}') {
                        self.expect(',')?;
                    }
                }
                self.pos += 1;
                Ok(Literal::Dict(entries))
            }
            Some(open @ ('(' | '[')) => {
                let close = if open == '(' { ')' } else { ']' };
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek() != Some(close) {
                    items.push(self.value(depth + 1)?);
                    if self.peek() != Some(close) {
                        self.expect(',')?;
                    }
                }
                self.pos += 1;
                Ok(Literal::Seq(items))
            }
            Some(quote @ ('\'' | '"')) => {
                self.pos += 1;
                let mut s = String::new();
                loop {
                    match self.chars.get(self.pos) {
                        Some(&c) if c == quote => break,
                        Some('\\') => return Err("escapes in strings are not supported".into()),
                        Some(&c) => s.push(c),
                        None => return Err("unterminated string".into()),
                    }
                    self.pos += 1;
                }
                self.pos += 1;
                Ok(Literal::Str(s))
            }
            Some(c) if c.is_ascii_digit() => {
                let start = self.pos;
                while self.chars.get(self.pos).is_some_and(char::is_ascii_digit) {
                    self.pos += 1;
                }
                let digits: String = self.chars[start..self.pos].iter().collect();
                // Python 2 wrote long integers with an `L` suffix.
                if self.chars.get(self.pos) == Some(&'L') {
                    self.pos += 1;
                }
                digits
                    .parse()
                    .map(Literal::Int)
                    .map_err(|_| format!("integer {digits} is too large"))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self
                    .chars
                    .get(self.pos)
                    .is_some_and(char::is_ascii_alphanumeric)
                {
                    self.pos += 1;
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                match word.as_str() {
                    "True" => Ok(Literal::Bool(true)),
                    "False" => Ok(Literal::Bool(false)),
                    "None" => Ok(Literal::None),
                    _ => Err(format!("unexpected word '{word}'")),
                }
            }
            Some(c) => Err(format!(
                "unexpected character '{c}' at character {}",
                self.pos
            )),
            None => Err("unexpected end of the header".into()),
        }
    }
}
