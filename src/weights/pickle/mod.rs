//! A safe pickle machine for data: it runs the opcodes of a pickle (protocols 2 to 5) over a
//! stack, marks, a memo and an arena of objects, and knows nothing of what the file holds.
//!
//! It is not an unpickler: wherever a file names a Python callable (GLOBAL, STACK_GLOBAL) or
//! calls one (REDUCE, BUILD), the machine asks a [`Globals`] layer, which allows a few globals
//! by name and gives them meaning; any other global is the layer's error. Nothing in a file can
//! make it run code. Every length, index and count is checked against the file and the limits
//! below before it is used, so a damaged or hostile file gives an error, never a panic, a deep
//! recursion or an allocation beyond a small multiple of the file's size.

mod opcodes;
mod reader;
mod value;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

pub(crate) use opcodes::PROTO;
pub(crate) use value::{latin1_bytes, latin1_len, Arena, Entries, Kind, Object, Value};

use opcodes::*;
use reader::Reader;

/// A step's outcome; the error is a reason, which the caller places in the file's error.
pub(crate) type Step<T> = std::result::Result<T, String>;

/// Values on the stack; `paddle.save` batches SETITEMS by 1000 pairs, so real files stay near
/// 2000.
const MAX_STACK: usize = 1 << 16;
/// Nested MARKs; real files nest a handful.
const MAX_MARKS: usize = 1000;
/// Memo entries; real `.pdparams` files store about eight per array.
const MAX_MEMO: usize = 1 << 21;

/// What the globals a file names mean: the allow-list and the calls it permits.
pub(crate) trait Globals<'a> {
    /// What an allowed global resolves to (kept inline on the stack).
    type Global: Copy;
    /// The layer's own objects, made by `reduce` and changed by `build`.
    type Object: Kind;

    /// The global `module.name`, or an error naming it if it is not allowed.
    fn resolve(&self, module: &str, name: &str) -> Step<Self::Global>;

    /// REDUCE: `callable(*args)`.
    fn reduce(
        &mut self,
        objects: &mut Arena<'a, Self::Global, Self::Object>,
        callable: Self::Global,
        args: &[Value<'a, Self::Global>],
    ) -> Step<Value<'a, Self::Global>>;

    /// BUILD: `target.__setstate__(state)`, returning the object that replaces `target`.
    fn build(
        &mut self,
        objects: &Arena<'a, Self::Global, Self::Object>,
        target: &Self::Object,
        state: Value<'a, Self::Global>,
    ) -> Step<Self::Object>;
}

/// A pickle run to its STOP: the pickled value and the objects it may refer to.
pub(crate) struct Unpickled<'a, G, X> {
    pub(crate) top: Value<'a, G>,
    pub(crate) objects: Arena<'a, G, X>,
}

/// Runs the pickle in `data` to its STOP. The error says what went wrong and at which opcode
/// and offset.
pub(crate) fn run<'a, L: Globals<'a>>(
    data: &'a [u8],
    globals: &mut L,
) -> Step<Unpickled<'a, L::Global, L::Object>> {
    let mut machine = Machine {
        input: Reader::new(data),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        objects: Arena::new(),
        globals,
    };
    loop {
        let offset = machine.input.offset();
        let Some(op) = machine.input.opcode() else {
            return Err(format!(
                "truncated: the file ends at offset {offset} without a STOP opcode"
            ));
        };
        match machine.step(op) {
            Ok(Some(top)) => {
                return Ok(Unpickled {
                    top,
                    objects: machine.objects,
                })
            }
            Ok(None) => {}
            Err(reason) => {
                return Err(match opcodes::name(op) {
                    None => format!("{reason} at offset {offset}"),
                    Some(name) => format!("{reason} (opcode {name} at offset {offset})"),
                })
            }
        }
    }
}

struct Machine<'a, 'g, L: Globals<'a>> {
    input: Reader<'a>,
    stack: Vec<Value<'a, L::Global>>,
    /// Stack lengths at each open MARK.
    marks: Vec<usize>,
    memo: HashMap<u32, Value<'a, L::Global>>,
    objects: Arena<'a, L::Global, L::Object>,
    globals: &'g mut L,
}

impl<'a, L: Globals<'a>> Machine<'a, '_, L> {
    /// Executes one opcode; at STOP, returns the pickled object.
    fn step(&mut self, op: u8) -> Step<Option<Value<'a, L::Global>>> {
        match op {
            PROTO => {
                let version = self.input.u8()?;
                if !(2..=5).contains(&version) {
                    return Err(format!("unsupported pickle protocol {version}"));
                }
            }
            // Frames only group opcodes for buffered reading; we have the whole file.
            FRAME => {
                let len = self.input.u64()?;
                if len > self.input.remaining() as u64 {
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
                    SHORT_BINUNICODE => self.input.u8()? as u64,
                    BINUNICODE => self.input.u32()? as u64,
                    _ => self.input.u64()?,
                };
                let raw = self.input.bytes(len)?;
                let s = std::str::from_utf8(raw)
                    .map_err(|e| format!("string is not valid UTF-8: {e}"))?;
                self.push(Value::Str(s))?;
            }
            // Python 2 `str`: raw bytes (numpy under Python 2 pickled array data this way).
            BINSTRING | SHORT_BINSTRING | BINBYTES | SHORT_BINBYTES | BINBYTES8 => {
                let len = match op {
                    SHORT_BINSTRING | SHORT_BINBYTES => self.input.u8()? as u64,
                    BINSTRING => {
                        let len = self.input.i32()?;
                        u64::try_from(len).map_err(|_| format!("negative length {len}"))?
                    }
                    BINBYTES => self.input.u32()? as u64,
                    _ => self.input.u64()?,
                };
                let raw = self.input.bytes(len)?;
                self.push(Value::Bytes(raw))?;
            }
            GLOBAL => {
                let module = self.input.line()?;
                let name = self.input.line()?;
                self.push(Value::Global(self.globals.resolve(module, name)?))?;
            }
            STACK_GLOBAL => {
                let name = self.pop()?;
                let module = self.pop()?;
                let (Value::Str(module), Value::Str(name)) = (module, name) else {
                    return Err("STACK_GLOBAL needs two strings".into());
                };
                self.push(Value::Global(self.globals.resolve(module, name)?))?;
            }
            BINPUT | LONG_BINPUT | MEMOIZE => {
                let index = match op {
                    BINPUT => self.input.u8()? as u32,
                    LONG_BINPUT => self.input.u32()?,
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
                    BINGET => self.input.u8()? as u32,
                    _ => self.input.u32()?,
                };
                let value = *self
                    .memo
                    .get(&index)
                    .ok_or_else(|| format!("memo index {index} was never stored"))?;
                self.push(value)?;
            }
            BININT => {
                let v = self.input.i32()?;
                self.push(Value::Int(v.into()))?;
            }
            BININT1 => {
                let v = self.input.u8()?;
                self.push(Value::Int(v.into()))?;
            }
            BININT2 => {
                let v = self.input.u16()?;
                self.push(Value::Int(v.into()))?;
            }
            LONG1 => {
                let v = self.input.long1()?;
                self.push(Value::Int(v))?;
            }
            // Only the 8 bytes of a float are skipped.
            BINFLOAT => {
                self.input.array::<8>()?;
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

    // --- the stack ----------------------------------------------------------------------------

    /// The lowest stack index the current MARK frame may pop.
    fn frame_floor(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn push(&mut self, value: Value<'a, L::Global>) -> Step<()> {
        if self.stack.len() >= MAX_STACK {
            return Err(format!("more than {MAX_STACK} values on the stack"));
        }
        self.stack.push(value);
        Ok(())
    }

    fn push_object(&mut self, object: Object<'a, L::Global, L::Object>) -> Step<()> {
        let value = self.objects.add(object)?;
        self.push(value)
    }

    fn pop(&mut self) -> Step<Value<'a, L::Global>> {
        if self.stack.len() <= self.frame_floor() {
            return Err("stack underflow".into());
        }
        self.stack.pop().ok_or_else(|| "stack underflow".into())
    }

    fn peek(&self) -> Step<Value<'a, L::Global>> {
        if self.stack.len() <= self.frame_floor() {
            return Err("stack underflow".into());
        }
        self.stack
            .last()
            .copied()
            .ok_or_else(|| "stack underflow".into())
    }

    /// Pops everything above the innermost MARK, and the MARK.
    fn pop_mark(&mut self) -> Step<Vec<Value<'a, L::Global>>> {
        let mark = self.marks.pop().ok_or("no MARK to pop to")?;
        if mark > self.stack.len() {
            return Err("stack underflow".into());
        }
        Ok(self.stack.split_off(mark))
    }

    /// The entries of the dict on top of the stack.
    fn dict_mut(&mut self) -> Step<&mut Entries<'a, L::Global>> {
        let top = self.peek()?;
        match self.objects.get_mut(top) {
            Some(Object::Dict(entries)) => Ok(entries),
            Some(other) => Err(format!("setting items on {}, not a dict", other.kind())),
            None => Err(format!("setting items on {}, not a dict", top.kind())),
        }
    }

    /// The items of the list (or, with `set`, the set) on top of the stack.
    fn list_mut(&mut self, set: bool) -> Step<&mut Vec<Value<'a, L::Global>>> {
        let top = self.peek()?;
        match (self.objects.get_mut(top), set) {
            (Some(Object::List(items)), false) | (Some(Object::Set(items)), true) => Ok(items),
            (Some(other), _) => Err(format!("adding items to {}", other.kind())),
            (None, _) => Err(format!("adding items to {}", top.kind())),
        }
    }

    // --- calls, which the layer answers -------------------------------------------------------

    fn reduce(
        &mut self,
        callable: Value<'a, L::Global>,
        args: Value<'a, L::Global>,
    ) -> Step<Value<'a, L::Global>> {
        let Value::Global(global) = callable else {
            return Err(format!(
                "REDUCE calls {}, not an allowed global",
                callable.kind()
            ));
        };
        // Values are Copy; copying the (short) argument list frees the arena for new objects.
        let args = self
            .objects
            .tuple_items(args, "REDUCE's argument list")?
            .to_vec();
        self.globals.reduce(&mut self.objects, global, &args)
    }

    fn build(&mut self, target: Value<'a, L::Global>, state: Value<'a, L::Global>) -> Step<()> {
        let rebuilt = match self.objects.get(target) {
            Some(Object::Ext(object)) => self.globals.build(&self.objects, object, state)?,
            Some(other) => return Err(format!("BUILD on {} is not supported", other.kind())),
            None => return Err(format!("BUILD on {}", target.kind())),
        };
        if let Some(object) = self.objects.get_mut(target) {
            *object = Object::Ext(rebuilt);
        }
        Ok(())
    }
}
