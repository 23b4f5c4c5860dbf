//! The opcodes the machine knows: the binary ones that plain data (containers, strings,
//! numbers, globals and their calls) pickles to under protocols 2 to 5. Protocol 0/1 text
//! opcodes and those that make class instances or reach outside the file (INST, OBJ, NEWOBJ,
//! PERSID, EXT*, out-of-band buffers) are unknown here, so a file using them is an error.
//! CPython's `Lib/pickletools.py` is the authoritative list.

pub(crate) const PROTO: u8 = 0x80;
pub(crate) const FRAME: u8 = 0x95;
pub(crate) const STOP: u8 = b'.';
pub(crate) const MARK: u8 = b'(';
pub(crate) const POP: u8 = b'0';
pub(crate) const POP_MARK: u8 = b'1';
pub(crate) const EMPTY_DICT: u8 = b'}';
pub(crate) const EMPTY_LIST: u8 = b']';
pub(crate) const EMPTY_TUPLE: u8 = b')';
pub(crate) const EMPTY_SET: u8 = 0x8f;
pub(crate) const BINUNICODE: u8 = b'X';
pub(crate) const SHORT_BINUNICODE: u8 = 0x8c;
pub(crate) const BINUNICODE8: u8 = 0x8d;
pub(crate) const BINSTRING: u8 = b'T';
pub(crate) const SHORT_BINSTRING: u8 = b'U';
pub(crate) const BINBYTES: u8 = b'B';
pub(crate) const SHORT_BINBYTES: u8 = b'C';
pub(crate) const BINBYTES8: u8 = 0x8e;
pub(crate) const GLOBAL: u8 = b'c';
pub(crate) const STACK_GLOBAL: u8 = 0x93;
pub(crate) const BINPUT: u8 = b'q';
pub(crate) const LONG_BINPUT: u8 = b'r';
pub(crate) const MEMOIZE: u8 = 0x94;
pub(crate) const BINGET: u8 = b'h';
pub(crate) const LONG_BINGET: u8 = b'j';
pub(crate) const BININT: u8 = b'J';
pub(crate) const BININT1: u8 = b'K';
pub(crate) const BININT2: u8 = b'M';
pub(crate) const LONG1: u8 = 0x8a;
pub(crate) const BINFLOAT: u8 = b'G';
pub(crate) const NONE: u8 = b'N';
pub(crate) const NEWTRUE: u8 = 0x88;
pub(crate) const NEWFALSE: u8 = 0x89;
pub(crate) const TUPLE: u8 = b't';
pub(crate) const TUPLE1: u8 = 0x85;
pub(crate) const TUPLE2: u8 = 0x86;
pub(crate) const TUPLE3: u8 = 0x87;
pub(crate) const REDUCE: u8 = b'R';
pub(crate) const BUILD: u8 = b'b';
pub(crate) const SETITEM: u8 = b's';
pub(crate) const SETITEMS: u8 = b'u';
pub(crate) const APPEND: u8 = b'a';
pub(crate) const APPENDS: u8 = b'e';
pub(crate) const ADDITEMS: u8 = 0x90;

/// The opcode's name for error messages; `None` for a byte that is no opcode we know.
pub(crate) fn name(op: u8) -> Option<&'static str> {
    Some(match op {
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
        _ => return None,
    })
}
