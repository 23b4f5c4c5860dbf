//! What the machine's stack holds: inline values, and the arena of objects they refer to.
//!
//! Objects live in an arena and values refer to them by an opaque id, so no structure is ever
//! dropped or walked recursively (a deeply nested pickle cannot overflow the native stack), and
//! BUILD can change a shared object as Python would (every memo copy sees it).

use super::Step;

/// Containers, strings and the layer's objects; real `.pdparams` files create about eight per
/// array.
const MAX_OBJECTS: usize = 1 << 20;

/// A short description of what something is, for error messages ("a tuple", "an int").
pub(crate) trait Kind {
    fn kind(&self) -> &'static str;
}

/// Where an object lives in its arena; only the arena makes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ObjectId(usize);

/// A pickle value. Scalars and strings are inline (strings borrow from the file); containers
/// and the layer's objects (`X` of the arena) live in the arena. `G` is what the layer resolved
/// a global to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Value<'a, G> {
    None,
    Bool(bool),
    Int(i64),
    /// Floats are skipped, not kept: no data a layer reads so far is one.
    Float,
    Str(&'a str),
    Bytes(&'a [u8]),
    /// Bytes spelled as text whose code points are the bytes: protocol 2 pickles Python 3
    /// `bytes` as `_codecs.encode(text, 'latin1')`, which a layer may resolve to this.
    Latin1(&'a str),
    Global(G),
    Obj(ObjectId),
}

impl<G> Kind for Value<'_, G> {
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

/// A dict's (key, value) pairs.
pub(crate) type Entries<'a, G> = Vec<(Value<'a, G>, Value<'a, G>)>;

/// A mutable object: Python's containers, or one the layer made (`Ext`) with REDUCE.
pub(crate) enum Object<'a, G, X> {
    Tuple(Vec<Value<'a, G>>),
    List(Vec<Value<'a, G>>),
    /// Entries in insertion order, duplicates kept (the layer decides what a repeated key means).
    Dict(Entries<'a, G>),
    Set(Vec<Value<'a, G>>),
    Ext(X),
}

impl<G, X: Kind> Kind for Object<'_, G, X> {
    fn kind(&self) -> &'static str {
        match self {
            Object::Tuple(_) => "a tuple",
            Object::List(_) => "a list",
            Object::Dict(_) => "a dict",
            Object::Set(_) => "a set",
            Object::Ext(x) => x.kind(),
        }
    }
}

/// Every object a pickle made, at most `MAX_OBJECTS`.
pub(crate) struct Arena<'a, G, X> {
    objects: Vec<Object<'a, G, X>>,
}

impl<'a, G: Copy, X> Arena<'a, G, X> {
    pub(crate) fn new() -> Self {
        Arena {
            objects: Vec::new(),
        }
    }

    /// Stores an object and returns the value that refers to it.
    pub(crate) fn add(&mut self, object: Object<'a, G, X>) -> Step<Value<'a, G>> {
        if self.objects.len() >= MAX_OBJECTS {
            return Err(format!("more than {MAX_OBJECTS} objects"));
        }
        self.objects.push(object);
        Ok(Value::Obj(ObjectId(self.objects.len() - 1)))
    }

    /// The object `value` refers to; `None` for an inline value.
    pub(crate) fn get(&self, value: Value<'a, G>) -> Option<&Object<'a, G, X>> {
        match value {
            Value::Obj(ObjectId(id)) => self.objects.get(id),
            _ => None,
        }
    }

    pub(crate) fn get_mut(&mut self, value: Value<'a, G>) -> Option<&mut Object<'a, G, X>> {
        match value {
            Value::Obj(ObjectId(id)) => self.objects.get_mut(id),
            _ => None,
        }
    }

    /// The items of a tuple; `what` names it in the error otherwise.
    pub(crate) fn tuple_items(&self, value: Value<'a, G>, what: &str) -> Step<&[Value<'a, G>]> {
        match self.get(value) {
            Some(Object::Tuple(items)) => Ok(items),
            _ => Err(format!("{what} is not a tuple")),
        }
    }
}

/// The bytes of a `Value::Latin1`, or the first character that is not a latin-1 byte. Decoded
/// from the UTF-8 directly (code points up to U+00FF take one or two bytes), as protocol-2
/// files can hold all their data this way.
pub(crate) fn latin1_bytes(s: &str) -> Result<Vec<u8>, char> {
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
                let wide = s.get(at..).and_then(|rest| rest.chars().next());
                return Err(wide.unwrap_or('?'));
            }
        }
    }
    Ok(out)
}

/// The length in bytes of a `Value::Latin1` (its code points: UTF-8 bytes that do not continue
/// a sequence), known without decoding it.
pub(crate) fn latin1_len(s: &str) -> usize {
    s.bytes().filter(|&b| (b as i8) >= -0x40).count()
}
