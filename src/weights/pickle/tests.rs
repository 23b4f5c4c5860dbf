//! The machine without numpy: a layer that allows one global shows what any layer gets.

use super::*;

/// Allows `_codecs.encode(text, 'latin1')` and nothing else; makes no objects of its own.
struct Codecs;

enum NoObject {}

impl Kind for NoObject {
    fn kind(&self) -> &'static str {
        match *self {}
    }
}

impl<'a> Globals<'a> for Codecs {
    type Global = ();
    type Object = NoObject;

    fn resolve(&self, module: &str, name: &str) -> Step<()> {
        match (module, name) {
            ("_codecs", "encode") => Ok(()),
            _ => Err(format!("refusing `{module}.{name}`")),
        }
    }

    fn reduce(
        &mut self,
        _: &mut Arena<'a, (), NoObject>,
        _: (),
        args: &[Value<'a, ()>],
    ) -> Step<Value<'a, ()>> {
        match args {
            [Value::Str(text), Value::Str("latin1")] => Ok(Value::Latin1(text)),
            _ => Err("not latin-1".into()),
        }
    }

    fn build(
        &mut self,
        _: &Arena<'a, (), NoObject>,
        target: &NoObject,
        _: Value<'a, ()>,
    ) -> Step<NoObject> {
        match *target {}
    }
}

fn unpickle(data: &[u8]) -> Step<Unpickled<'_, (), NoObject>> {
    run(data, &mut Codecs)
}

#[test]
fn containers_and_scalars_of_protocol_4() {
    // pickle.dumps({'a': [1, True, None, 'x', 2**40, -5], 'b': (2, 3), 'c': b'\x00\xff',
    //               's': {7}}, protocol=4): FRAME, MEMOIZE, every container opcode.
    let data = b"\x80\x04\x95?\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94]\x94(K\x01\x88N\
                 \x8c\x01x\x94\x8a\x06\x00\x00\x00\x00\x00\x01J\xfb\xff\xff\xffe\x8c\x01b\x94K\x02\
                 K\x03\x86\x94\x8c\x01c\x94C\x02\x00\xff\x94\x8c\x01s\x94\x8f\x94(K\x07\x90u.";
    let Unpickled { top, objects } = unpickle(data).unwrap();
    let Some(Object::Dict(entries)) = objects.get(top) else {
        panic!("not a dict");
    };
    let keys: Vec<_> = entries.iter().map(|(k, _)| k.kind()).collect();
    assert_eq!(keys, ["a str"; 4]);
    let items = |i: usize| match objects.get(entries[i].1) {
        Some(Object::List(v) | Object::Tuple(v) | Object::Set(v)) => v.clone(),
        _ => panic!("entry {i} is not a sequence"),
    };
    assert!(matches!(
        items(0)[..],
        [
            Value::Int(1),
            Value::Bool(true),
            Value::None,
            Value::Str("x"),
            Value::Int(1_099_511_627_776),
            Value::Int(-5)
        ]
    ));
    assert!(matches!(items(1)[..], [Value::Int(2), Value::Int(3)]));
    assert!(matches!(entries[2].1, Value::Bytes([0, 255])));
    assert!(matches!(items(3)[..], [Value::Int(7)]));
}

#[test]
fn the_layer_answers_globals_and_calls() {
    // pickle.dumps([b'\x00\xff'], protocol=2): bytes spelled `_codecs.encode('\x00ÿ', 'latin1')`.
    let data = b"\x80\x02]q\x00c_codecs\nencode\nq\x01X\x03\x00\x00\x00\x00\xc3\xbfq\x02\
                 X\x06\x00\x00\x00latin1q\x03\x86q\x04Rq\x05a.";
    let Unpickled { top, objects } = unpickle(data).unwrap();
    let Some(Object::List(items)) = objects.get(top) else {
        panic!("not a list");
    };
    let [Value::Latin1(text)] = items[..] else {
        panic!("not one latin-1 value");
    };
    assert_eq!(
        (latin1_len(text), latin1_bytes(text)),
        (2, Ok(vec![0, 255]))
    );
    assert_eq!(latin1_bytes("\u{100}"), Err('\u{100}'));

    // What the layer refuses, the machine places at its opcode.
    let refused = unpickle(b"\x80\x02cos\nsystem\n)R.").err().unwrap();
    assert_eq!(refused, "refusing `os.system` (opcode GLOBAL at offset 2)");
    // BUILD on the machine's own objects is never the layer's.
    let build = unpickle(b"\x80\x02}}b.").err().unwrap();
    assert_eq!(
        build,
        "BUILD on a dict is not supported (opcode BUILD at offset 4)"
    );
}
