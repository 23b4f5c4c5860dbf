//! PaddlePaddle `.pdparams` files: a pickle (protocol 2 to 4) of `dict[str, numpy.ndarray]`.
//!
//! This is a small pickle *interpreter* for data, not an unpickler: it knows the opcodes that
//! `paddle.save` and numpy emit and resolves only the few globals needed to rebuild arrays
//! (an allow-list). Nothing in a file can make it run code; any other global is an error that
//! names it. Every length, index and shape is checked against the file before it is used, so a
//! damaged or hostile file gives an error, never a panic or an allocation beyond a small
//! multiple of the file's size (tests/hostile.rs measures it; fuzz/ fuzzes it).
//!
//! Objects live in an arena and values refer to them by index, so no structure is ever dropped
//! or walked recursively (a deeply nested pickle cannot overflow the native stack), and BUILD
//! mutates the shared object as Python would (numpy's dtype is memoized before its BUILD).

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::npy::{element_count, fortran_to_c, NumpyDtype};
use crate::tensor::{Tensor, TensorMap};

const FORMAT: &str = "pdparams (pickle)";
/// Values on the stack; `paddle.save` batches SETITEMS by 1000 pairs, so real files stay near 2000.
const MAX_STACK: usize = 1 << 16;
/// Nested MARKs; real files nest a handful.
const MAX_MARKS: usize = 1000;
/// Containers, dtypes and arrays; real files create about eight per array.
const MAX_OBJECTS: usize = 1 << 20;
/// Memo entries; real files store about eight per array.
const MAX_MEMO: usize = 1 << 21;
/// Longest `module\nname\n` line of a GLOBAL opcode.
const MAX_GLOBAL_LINE: usize = 256;

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
    if bytes.first() != Some(&PROTO) {
        let what = super::sniff(bytes).describe();
        return Err(format_error(format!(
            "not a pickle (it does not start with the PROTO opcode 0x80; it is {what})"
        )));
    }
    let mut vm = Machine::new(bytes);
    let top = vm.run().map_err(format_error)?;
    vm.into_tensors(top).map_err(|e| match e {
        Extract::Format(reason) => format_error(reason),
        Extract::Tensor(name, reason) => {
            Error::tensor(path_for_messages.display().to_string(), name, reason)
        }
    })
}

// Opcodes (see CPython's Lib/pickletools.py for the authoritative list).
const PROTO: u8 = 0x80;
const FRAME: u8 = 0x95;
const STOP: u8 = b'.';
const MARK: u8 = b'(';
const POP: u8 = b'0';
const POP_MARK: u8 = b'1';
const EMPTY_DICT: u8 = b'}';
const EMPTY_LIST: u8 = b']';
const EMPTY_TUPLE: u8 = b')';
const EMPTY_SET: u8 = 0x8f;
const BINUNICODE: u8 = b'X';
const SHORT_BINUNICODE: u8 = 0x8c;
const BINUNICODE8: u8 = 0x8d;
const BINSTRING: u8 = b'T';
const SHORT_BINSTRING: u8 = b'U';
const BINBYTES: u8 = b'B';
const SHORT_BINBYTES: u8 = b'C';
const BINBYTES8: u8 = 0x8e;
const GLOBAL: u8 = b'c';
const STACK_GLOBAL: u8 = 0x93;
const BINPUT: u8 = b'q';
const LONG_BINPUT: u8 = b'r';
const MEMOIZE: u8 = 0x94;
const BINGET: u8 = b'h';
const LONG_BINGET: u8 = b'j';
const BININT: u8 = b'J';
const BININT1: u8 = b'K';
const BININT2: u8 = b'M';
const LONG1: u8 = 0x8a;
const BINFLOAT: u8 = b'G';
const NONE: u8 = b'N';
const NEWTRUE: u8 = 0x88;
const NEWFALSE: u8 = 0x89;
const TUPLE: u8 = b't';
const TUPLE1: u8 = 0x85;
const TUPLE2: u8 = 0x86;
const TUPLE3: u8 = 0x87;
const REDUCE: u8 = b'R';
const BUILD: u8 = b'b';
const SETITEM: u8 = b's';
const SETITEMS: u8 = b'u';
const APPEND: u8 = b'a';
const APPENDS: u8 = b'e';
const ADDITEMS: u8 = 0x90;

fn opcode_name(op: u8) -> &'static str {
    match op {
        PROTO => "PROTO",
        FRAME => "FRAME",
        STOP => "STOP",
        MARK => "MARK",
        POP => "POP",
        POP_MARK => "POP_MARK",
        EMPTY_DICT => "EMPTY_DICT",
        EMPTY_LIST => "EMPTY_LIST",
        EMPTY_TUPLE => "EMPTY_TUPLE",
        EMPTY_SET => "EMPTY_SET",
        BINUNICODE => "BINUNICODE",
        SHORT_BINUNICODE => "SHORT_BINUNICODE",
        BINUNICODE8 => "BINUNICODE8",
        BINSTRING => "BINSTRING",
        SHORT_BINSTRING => "SHORT_BINSTRING",
        BINBYTES => "BINBYTES",
        SHORT_BINBYTES => "SHORT_BINBYTES",
        BINBYTES8 => "BINBYTES8",
        GLOBAL => "GLOBAL",
        STACK_GLOBAL => "STACK_GLOBAL",
        BINPUT => "BINPUT",
        LONG_BINPUT => "LONG_BINPUT",
        MEMOIZE => "MEMOIZE",
        BINGET => "BINGET",
        LONG_BINGET => "LONG_BINGET",
        BININT => "BININT",
        BININT1 => "BININT1",
        BININT2 => "BININT2",
        LONG1 => "LONG1",
        BINFLOAT => "BINFLOAT",
        NONE => "NONE",
        NEWTRUE => "NEWTRUE",
        NEWFALSE => "NEWFALSE",
        TUPLE => "TUPLE",
        TUPLE1 => "TUPLE1",
        TUPLE2 => "TUPLE2",
        TUPLE3 => "TUPLE3",
        REDUCE => "REDUCE",
        BUILD => "BUILD",
        SETITEM => "SETITEM",
        SETITEMS => "SETITEMS",
        APPEND => "APPEND",
        APPENDS => "APPENDS",
        ADDITEMS => "ADDITEMS",
        _ => "unknown",
    }
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

fn resolve_global(module: &str, name: &str) -> std::result::Result<Global, String> {
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

/// A pickle value. Scalars and strings are inline (strings borrow from the file); containers
/// and other mutable objects live in the arena.
#[derive(Clone, Copy, Debug)]
enum Value<'a> {
    None,
    Bool(bool),
    Int(i64),
    Float,
    Str(&'a str),
    Bytes(&'a [u8]),
    /// `_codecs.encode(s, 'latin1')`: bytes whose values are the code points of `s`.
    Latin1(&'a str),
    Global(Global),
    Obj(usize),
}

impl Value<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "a bool",
            Value::Int(_) => "an int",
            Value::Float => "a float",
            Value::Str(_) => "a str",
            Value::Bytes(_) | Value::Latin1(_) => "bytes",
            Value::Global(_) => "a global",
            Value::Obj(_) => "an object",
        }
    }
}

enum Object<'a> {
    Tuple(Vec<Value<'a>>),
    List(Vec<Value<'a>>),
    Dict(Vec<(Value<'a>, Value<'a>)>),
    Set(Vec<Value<'a>>),
    /// `numpy.dtype(code, ...)`; the byte order arrives with its BUILD.
    Dtype {
        code: &'a str,
        byteorder: char,
    },
    Array(ArrayState),
}

impl Object<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Object::Tuple(_) => "a tuple",
            Object::List(_) => "a list",
            Object::Dict(_) => "a dict",
            Object::Set(_) => "a set",
            Object::Dtype { .. } => "a numpy dtype",
            Object::Array(_) => "a numpy array",
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

type Step<T> = std::result::Result<T, String>;

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value<'a>>,
    /// Stack lengths at each open MARK.
    marks: Vec<usize>,
    memo: HashMap<u32, Value<'a>>,
    objects: Vec<Object<'a>>,
    /// Bytes of array data still allowed to be decoded: the file's size. Arrays that share one
    /// buffer through the memo could otherwise make us scan and allocate without bound.
    data_budget: usize,
}

impl<'a> Machine<'a> {
    fn new(data: &'a [u8]) -> Self {
        Machine {
            data,
            pos: 0,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            objects: Vec::new(),
            data_budget: data.len(),
        }
    }

    /// Runs to STOP and returns the pickled object.
    fn run(&mut self) -> Step<Value<'a>> {
        loop {
            let offset = self.pos;
            let Some(&op) = self.data.get(offset) else {
                return Err(format!(
                    "truncated: the file ends at offset {offset} without a STOP opcode"
                ));
            };
            self.pos += 1;
            match self.step(op) {
                Ok(Some(top)) => return Ok(top),
                Ok(None) => {}
                Err(reason) => {
                    return Err(match opcode_name(op) {
                        "unknown" => format!("{reason} at offset {offset}"),
                        name => format!("{reason} (opcode {name} at offset {offset})"),
                    })
                }
            }
        }
    }

    /// Executes one opcode; at STOP, returns the pickled object.
    fn step(&mut self, op: u8) -> Step<Option<Value<'a>>> {
        match op {
            PROTO => {
                let version = self.read_u8()?;
                if !(2..=5).contains(&version) {
                    return Err(format!("unsupported pickle protocol {version}"));
                }
            }
            // Frames only group opcodes for buffered reading; we have the whole file.
            FRAME => {
                let len = self.read_u64()?;
                if len > (self.data.len() - self.pos) as u64 {
                    return Err(format!(
                        "frame of {len} bytes runs past the end of the file (truncated or damaged)"
                    ));
                }
            }
            STOP => return self.pop().map(Some),
            MARK => {
                if self.marks.len() >= MAX_MARKS {
                    return Err(format!("more than {MAX_MARKS} nested MARKs"));
                }
                self.marks.push(self.stack.len());
            }
            POP => {
                self.pop()?;
            }
            POP_MARK => {
                self.pop_mark()?;
            }
            EMPTY_DICT => self.push_object(Object::Dict(Vec::new()))?,
            EMPTY_LIST => self.push_object(Object::List(Vec::new()))?,
            EMPTY_TUPLE => self.push_object(Object::Tuple(Vec::new()))?,
            EMPTY_SET => self.push_object(Object::Set(Vec::new()))?,
            BINUNICODE | SHORT_BINUNICODE | BINUNICODE8 => {
                let len = match op {
                    SHORT_BINUNICODE => self.read_u8()? as u64,
                    BINUNICODE => self.read_u32()? as u64,
                    _ => self.read_u64()?,
                };
                let raw = self.read_bytes(len)?;
                let s = std::str::from_utf8(raw)
                    .map_err(|e| format!("string is not valid UTF-8: {e}"))?;
                self.push(Value::Str(s))?;
            }
            // Python 2 `str`: raw bytes (numpy under Python 2 pickled array data this way).
            BINSTRING | SHORT_BINSTRING | BINBYTES | SHORT_BINBYTES | BINBYTES8 => {
                let len = match op {
                    SHORT_BINSTRING | SHORT_BINBYTES => self.read_u8()? as u64,
                    BINSTRING => {
                        let len = self.read_i32()?;
                        u64::try_from(len).map_err(|_| format!("negative length {len}"))?
                    }
                    BINBYTES => self.read_u32()? as u64,
                    _ => self.read_u64()?,
                };
                let raw = self.read_bytes(len)?;
                self.push(Value::Bytes(raw))?;
            }
            GLOBAL => {
                let module = self.read_line()?;
                let name = self.read_line()?;
                self.push(Value::Global(resolve_global(module, name)?))?;
            }
            STACK_GLOBAL => {
                let name = self.pop()?;
                let module = self.pop()?;
                let (Value::Str(module), Value::Str(name)) = (module, name) else {
                    return Err("STACK_GLOBAL needs two strings".into());
                };
                self.push(Value::Global(resolve_global(module, name)?))?;
            }
            BINPUT | LONG_BINPUT | MEMOIZE => {
                let index = match op {
                    BINPUT => self.read_u8()? as u32,
                    LONG_BINPUT => self.read_u32()?,
                    _ => u32::try_from(self.memo.len()).map_err(|_| "memo is full".to_string())?,
                };
                let top = self.peek()?;
                if self.memo.len() >= MAX_MEMO && !self.memo.contains_key(&index) {
                    return Err(format!("more than {MAX_MEMO} memo entries"));
                }
                self.memo.insert(index, top);
            }
            BINGET | LONG_BINGET => {
                let index = match op {
                    BINGET => self.read_u8()? as u32,
                    _ => self.read_u32()?,
                };
                let value = *self
                    .memo
                    .get(&index)
                    .ok_or_else(|| format!("memo index {index} was never stored"))?;
                self.push(value)?;
            }
            BININT => {
                let v = self.read_i32()?;
                self.push(Value::Int(v.into()))?;
            }
            BININT1 => {
                let v = self.read_u8()?;
                self.push(Value::Int(v.into()))?;
            }
            BININT2 => {
                let v = self.read_u16()?;
                self.push(Value::Int(v.into()))?;
            }
            LONG1 => {
                let len = self.read_u8()?;
                let raw = self.read_bytes(len.into())?;
                self.push(Value::Int(long_to_i64(raw)?))?;
            }
            // Floats never matter for arrays; only their 8 bytes are skipped.
            BINFLOAT => {
                self.read_array::<8>()?;
                self.push(Value::Float)?;
            }
            NONE => self.push(Value::None)?,
            NEWTRUE => self.push(Value::Bool(true))?,
            NEWFALSE => self.push(Value::Bool(false))?,
            TUPLE => {
                let items = self.pop_mark()?;
                self.push_object(Object::Tuple(items))?;
            }
            TUPLE1 | TUPLE2 | TUPLE3 => {
                let n = usize::from(op - TUPLE1 + 1);
                let floor = self.frame_floor();
                if self.stack.len() < floor + n {
                    return Err("stack underflow".into());
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.push_object(Object::Tuple(items))?;
            }
            REDUCE => {
                let args = self.pop()?;
                let callable = self.pop()?;
                let value = self.reduce(callable, args)?;
                self.push(value)?;
            }
            BUILD => {
                let state = self.pop()?;
                let target = self.peek()?;
                self.build(target, state)?;
            }
            SETITEM => {
                let value = self.pop()?;
                let key = self.pop()?;
                self.dict_mut()?.push((key, value));
            }
            SETITEMS => {
                let items = self.pop_mark()?;
                if items.len() % 2 != 0 {
                    return Err("SETITEMS with an odd number of values".into());
                }
                let dict = self.dict_mut()?;
                dict.extend(items.chunks_exact(2).map(|kv| (kv[0], kv[1])));
            }
            APPEND => {
                let value = self.pop()?;
                self.list_mut(false)?.push(value);
            }
            APPENDS => {
                let items = self.pop_mark()?;
                self.list_mut(false)?.extend(items);
            }
            ADDITEMS => {
                let items = self.pop_mark()?;
                self.list_mut(true)?.extend(items);
            }
            _ => return Err(format!("unknown or unsupported opcode 0x{op:02x}")),
        }
        Ok(None)
    }

    // --- reading the file -------------------------------------------------------------------

    /// `len` bytes from the file, borrowed; checked against what remains before anything else.
    fn read_bytes(&mut self, len: u64) -> Step<&'a [u8]> {
        let remaining = self.data.len() - self.pos;
        match usize::try_from(len) {
            Ok(n) if n <= remaining => {
                let bytes = &self.data[self.pos..self.pos + n];
                self.pos += n;
                Ok(bytes)
            }
            _ => Err(format!(
                "needs {len} bytes but only {remaining} remain in the file (truncated or damaged)"
            )),
        }
    }

    fn read_array<const N: usize>(&mut self) -> Step<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.read_bytes(N as u64)?);
        Ok(out)
    }

    fn read_u8(&mut self) -> Step<u8> {
        Ok(self.read_array::<1>()?[0])
    }

    fn read_u16(&mut self) -> Step<u16> {
        Ok(u16::from_le_bytes(self.read_array()?))
    }

    fn read_u32(&mut self) -> Step<u32> {
        Ok(u32::from_le_bytes(self.read_array()?))
    }

    fn read_i32(&mut self) -> Step<i32> {
        Ok(i32::from_le_bytes(self.read_array()?))
    }

    fn read_u64(&mut self) -> Step<u64> {
        Ok(u64::from_le_bytes(self.read_array()?))
    }

    /// A newline-terminated ASCII line (GLOBAL's module and name).
    fn read_line(&mut self) -> Step<&'a str> {
        let rest = &self.data[self.pos..];
        let window = &rest[..rest.len().min(MAX_GLOBAL_LINE)];
        let len = window
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("GLOBAL name without a newline (truncated or damaged)")?;
        let line = std::str::from_utf8(&rest[..len])
            .ok()
            .filter(|s| s.is_ascii())
            .ok_or("GLOBAL name is not ASCII")?;
        self.pos += len + 1;
        Ok(line)
    }

    // --- the stack ----------------------------------------------------------------------------

    /// The lowest stack index the current MARK frame may pop.
    fn frame_floor(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn push(&mut self, value: Value<'a>) -> Step<()> {
        if self.stack.len() >= MAX_STACK {
            return Err(format!("more than {MAX_STACK} values on the stack"));
        }
        self.stack.push(value);
        Ok(())
    }

    /// Adds an object to the arena.
    fn new_object(&mut self, object: Object<'a>) -> Step<Value<'a>> {
        if self.objects.len() >= MAX_OBJECTS {
            return Err(format!("more than {MAX_OBJECTS} objects"));
        }
        self.objects.push(object);
        Ok(Value::Obj(self.objects.len() - 1))
    }

    fn push_object(&mut self, object: Object<'a>) -> Step<()> {
        let value = self.new_object(object)?;
        self.push(value)
    }

    fn pop(&mut self) -> Step<Value<'a>> {
        if self.stack.len() <= self.frame_floor() {
            return Err("stack underflow".into());
        }
        self.stack.pop().ok_or_else(|| "stack underflow".into())
    }

    fn peek(&self) -> Step<Value<'a>> {
        if self.stack.len() <= self.frame_floor() {
            return Err("stack underflow".into());
        }
        self.stack
            .last()
            .copied()
            .ok_or_else(|| "stack underflow".into())
    }

    /// Pops everything above the innermost MARK, and the MARK.
    fn pop_mark(&mut self) -> Step<Vec<Value<'a>>> {
        let mark = self.marks.pop().ok_or("no MARK to pop to")?;
        if mark > self.stack.len() {
            return Err("stack underflow".into());
        }
        Ok(self.stack.split_off(mark))
    }

    fn object(&self, value: Value<'a>) -> Option<&Object<'a>> {
        match value {
            Value::Obj(id) => self.objects.get(id),
            _ => None,
        }
    }

    fn dict_mut(&mut self) -> Step<&mut Vec<(Value<'a>, Value<'a>)>> {
        let top = self.peek()?;
        match top {
            Value::Obj(id) => match self.objects.get_mut(id) {
                Some(Object::Dict(entries)) => Ok(entries),
                Some(other) => Err(format!("setting items on {}, not a dict", other.kind())),
                None => Err("dangling object".into()),
            },
            other => Err(format!("setting items on {}, not a dict", other.kind())),
        }
    }

    fn list_mut(&mut self, set: bool) -> Step<&mut Vec<Value<'a>>> {
        let top = self.peek()?;
        match (top, set) {
            (Value::Obj(id), _) => match (self.objects.get_mut(id), set) {
                (Some(Object::List(items)), false) | (Some(Object::Set(items)), true) => Ok(items),
                (Some(other), _) => Err(format!("adding items to {}", other.kind())),
                (None, _) => Err("dangling object".into()),
            },
            (other, _) => Err(format!("adding items to {}", other.kind())),
        }
    }

    fn tuple_items(&self, value: Value<'a>, what: &str) -> Step<&[Value<'a>]> {
        match self.object(value) {
            Some(Object::Tuple(items)) => Ok(items),
            _ => Err(format!("{what} is not a tuple")),
        }
    }

    // --- the few calls a numpy pickle makes ---------------------------------------------------

    fn reduce(&mut self, callable: Value<'a>, args: Value<'a>) -> Step<Value<'a>> {
        let Value::Global(global) = callable else {
            return Err(format!(
                "REDUCE calls {}, not an allowed global",
                callable.kind()
            ));
        };
        // Values are Copy; copying the (short) argument list frees `self` for new objects.
        let args = self.tuple_items(args, "REDUCE's argument list")?.to_vec();
        match (global, args.as_slice()) {
            // `_reconstruct(ndarray, (0,), b'b')` makes an empty array; BUILD fills it.
            (Global::Reconstruct, [Value::Global(Global::NdArray), ..]) => {
                self.new_object(Object::Array(ArrayState::Empty))
            }
            (Global::Reconstruct, _) => {
                Err("_reconstruct of something other than numpy.ndarray".into())
            }
            (Global::Dtype, [Value::Str(code), ..]) => self.new_object(Object::Dtype {
                code,
                byteorder: '=',
            }),
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
            (Global::OrderedDict, []) => self.new_object(Object::Dict(Vec::new())),
            (Global::OrderedDict, _) => Err("OrderedDict with arguments is not supported".into()),
            (Global::NdArray, _) => Err("calling numpy.ndarray directly is not supported".into()),
        }
    }

    fn build(&mut self, target: Value<'a>, state: Value<'a>) -> Step<()> {
        let Value::Obj(id) = target else {
            return Err(format!("BUILD on {}", target.kind()));
        };
        let new_object = match self.objects.get(id) {
            // numpy dtype state: (version, byteorder, subarray, names, fields, elsize, alignment,
            // flags[, metadata]); only the byte order matters for plain types.
            // Structured and sub-array dtypes have code `V<n>`, which conversion rejects.
            Some(Object::Dtype { code, .. }) => {
                let code = *code;
                let state = self.tuple_items(state, "dtype state")?;
                let mut order = match state {
                    [_, Value::Str(order), ..] => order.chars(),
                    _ => return Err("dtype state without a byte order".into()),
                };
                match (order.next(), order.next()) {
                    (Some(byteorder), None) => Object::Dtype { code, byteorder },
                    _ => return Err("dtype byte order is not one character".into()),
                }
            }
            Some(Object::Array(ArrayState::Empty)) => Object::Array(self.build_array(state)?),
            Some(other) => return Err(format!("BUILD on {} is not supported", other.kind())),
            None => return Err("dangling object".into()),
        };
        self.objects[id] = new_object;
        Ok(())
    }

    /// Fills an array from numpy's `ndarray.__setstate__` state:
    /// `(version, shape, dtype, is_fortran, raw_bytes)` or the older form without `version`.
    fn build_array(&mut self, state: Value<'a>) -> Step<ArrayState> {
        let state = self.tuple_items(state, "array state")?;
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
        let shape = self
            .tuple_items(shape, "array shape")?
            .iter()
            .map(|d| match *d {
                Value::Int(n) => usize::try_from(n).map_err(|_| format!("negative dimension {n}")),
                other => Err(format!("array shape holds {}", other.kind())),
            })
            .collect::<Step<Vec<usize>>>()?;
        let Some(Object::Dtype { code, byteorder }) = self.object(dtype) else {
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
        let raw_len = latin1.map_or(cost, char_count);
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
            Some(s) => Cow::Owned(latin1_bytes(s)?),
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
    fn into_tensors(mut self, top: Value<'a>) -> std::result::Result<TensorMap, Extract> {
        let entries = match top {
            Value::Obj(id) => match self.objects.get_mut(id) {
                Some(Object::Dict(entries)) => std::mem::take(entries),
                Some(other) => {
                    return Err(Extract::Format(format!(
                        "the pickled object is {}, expected a dict of arrays",
                        other.kind()
                    )))
                }
                None => return Err(Extract::Format("dangling object".into())),
            },
            other => {
                return Err(Extract::Format(format!(
                    "the pickled object is {}, expected a dict of arrays",
                    other.kind()
                )))
            }
        };
        let mut tensors = TensorMap::new();
        for (key, value) in entries {
            let Value::Obj(id) = value else { continue };
            let Some(Object::Array(state)) = self.objects.get_mut(id) else {
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
                        self.charge(t.len()).map_err(Extract::Format)?;
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

/// The bytes of `_codecs.encode(s, 'latin1')`. Decoded from the UTF-8 directly (code points up
/// to U+00FF take one or two bytes), as protocol-2 files hold all their array data this way.
fn latin1_bytes(s: &str) -> Step<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.as_bytes().iter();
    while let Some(&b) = bytes.next() {
        match b {
            0..=0x7f => out.push(b),
            0xc2 | 0xc3 => {
                let next = bytes.next().copied().unwrap_or(0);
                out.push((b & 0x03) << 6 | (next & 0x3f));
            }
            _ => {
                let at = s.len() - bytes.as_slice().len() - 1;
                let c = s
                    .get(at..)
                    .and_then(|rest| rest.chars().next())
                    .unwrap_or('?');
                return Err(format!(
                    "array data holds U+{:04X}, not a latin-1 byte",
                    c as u32
                ));
            }
        }
    }
    Ok(out)
}

/// The number of code points of `s` (UTF-8 bytes that do not continue a sequence).
fn char_count(s: &str) -> usize {
    s.bytes().filter(|&b| (b as i8) >= -0x40).count()
}

/// LONG1's little-endian two's-complement integer, if it fits in an i64.
fn long_to_i64(raw: &[u8]) -> Step<i64> {
    if raw.len() > 8 {
        return Err(format!("integer of {} bytes is too large", raw.len()));
    }
    let negative = raw.last().is_some_and(|&b| b & 0x80 != 0);
    let mut bytes = [if negative { 0xff } else { 0 }; 8];
    bytes[..raw.len()].copy_from_slice(raw);
    Ok(i64::from_le_bytes(bytes))
}
