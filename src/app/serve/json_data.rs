//! A REST input's JSON `data` decoded straight from its text into the tensor's values: no
//! `serde_json::Value` tree in between (32 bytes and more per element, 16x a `[0,0,...]` body).
//! Arrays may nest to any depth (row-major); the values are counted as they arrive and refused
//! the moment they pass what the input's shape needs, so memory follows the data that came.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

use super::protocol::ApiError;

/// What the visitor found wrong, kept aside so the refusal names the input (serde's own error
/// only says where in the text).
struct Sink<'a, T> {
    out: &'a mut Vec<T>,
    count: usize,
    refusal: &'a mut Option<String>,
}

impl<T> Sink<'_, T> {
    fn push<E: de::Error>(&mut self, value: T) -> Result<(), E> {
        if self.out.len() == self.count {
            return self.refuse(format!(
                "more than the {} element(s) its shape needs",
                self.count
            ));
        }
        self.out.push(value);
        Ok(())
    }

    fn refuse<E: de::Error>(&mut self, why: String) -> Result<(), E> {
        *self.refusal = Some(why);
        Err(E::custom("refused"))
    }

    fn wrong<E: de::Error>(&mut self, kind: &str, want: &str) -> Result<(), E> {
        let at = self.out.len();
        self.refuse(format!("element {at} is {kind}, not {want}"))
    }
}

/// One JSON value of a numeric `data`: a number, a NaN/Inf string (JSON has no such literals;
/// Triton's clients write them as strings), or an array of them.
struct Numbers<'s, 'a>(&'s mut Sink<'a, f32>);

impl<'de> DeserializeSeed<'de> for Numbers<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Numbers<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("numbers")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.0.push(v as f32)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.0.push(v as f32)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.0.push(v as f32)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        match v {
            "NaN" | "nan" | "inf" | "-inf" => self.0.push(v.parse().unwrap_or(f32::NAN)),
            _ => self.0.wrong("a string", "a number"),
        }
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.0.wrong("a boolean", "a number")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.wrong("null", "a number")
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        self.0.wrong("an object", "a number")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Numbers(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// One JSON value of a BYTES `data`: a string (one encoded file) or an array of them.
struct Strings<'s, 'a>(&'s mut Sink<'a, Vec<u8>>);

impl<'de> DeserializeSeed<'de> for Strings<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strings<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("strings")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.push(v.as_bytes().to_vec())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.0.wrong("a number", "a string")
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.0.wrong("a number", "a string")
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.0.wrong("a number", "a string")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.0.wrong("a boolean", "a string")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.wrong("null", "a string")
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        self.0.wrong("an object", "a string")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Strings(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// Runs `visit` over `text`, naming input `name` in any refusal.
fn decode<T>(
    text: &str,
    name: &str,
    count: usize,
    reserve: usize,
    visit: impl FnOnce(
        &mut Sink<T>,
        &mut serde_json::Deserializer<serde_json::de::StrRead>,
    ) -> serde_json::Result<()>,
) -> Result<Vec<T>, ApiError> {
    // Reserved from what arrived, never from the client's shape alone.
    let mut out = Vec::with_capacity(count.min(reserve));
    let mut refusal = None;
    let mut sink = Sink {
        out: &mut out,
        count,
        refusal: &mut refusal,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let result = visit(&mut sink, &mut de).and_then(|()| de.end());
    match (result, refusal) {
        (_, Some(why)) => Err(ApiError::bad(format!("input `{name}`: {why}"))),
        (Err(e), None) => Err(ApiError::bad(format!("input `{name}`: `data`: {e}"))),
        (Ok(()), None) => Ok(out),
    }
}

/// The numbers of an FP32/FP16 input's `data`, at most `count` of them.
pub fn numbers(text: &str, name: &str, count: usize) -> Result<Vec<f32>, ApiError> {
    // Each number takes at least 2 bytes of text ("0,") but the last.
    decode(text, name, count, text.len().div_ceil(2), |sink, de| {
        Numbers(sink).deserialize(de)
    })
}

/// The strings of a BYTES input's `data` (one encoded file each), at most `count` of them.
pub fn strings(text: &str, name: &str, count: usize) -> Result<Vec<Vec<u8>>, ApiError> {
    decode(text, name, count, 0, |sink, de| {
        Strings(sink).deserialize(de)
    })
}

/// Whether `text` is one JSON value (for telling "not JSON" from "not what was expected").
pub fn is_json(text: &[u8]) -> bool {
    let mut de = serde_json::Deserializer::from_slice(text);
    de.deserialize_ignored_any(IgnoredAny).is_ok() && de.end().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_arrays_flatten_and_counts_are_enforced_as_they_arrive() {
        let v = numbers("[[1, 2.5], [-3, \"NaN\"], [\"inf\", 6]]", "x", 6).unwrap();
        assert_eq!(&v[..3], &[1.0, 2.5, -3.0]);
        assert!(v[3].is_nan() && v[4] == f32::INFINITY && v[5] == 6.0);
        assert_eq!(numbers("7", "x", 1).unwrap(), vec![7.0]);
        let m = numbers("[1,2,3]", "x", 2).unwrap_err().message;
        assert!(
            m.contains("input `x`") && m.contains("more than the 2"),
            "{m}"
        );
        for (text, kind) in [
            ("[1, true]", "element 1 is a boolean"),
            ("[1, null]", "element 1 is null"),
            ("[[1], {\"a\": 1}]", "element 1 is an object"),
            ("[1, \"one\"]", "element 1 is a string"),
        ] {
            let m = numbers(text, "x", 9).unwrap_err().message;
            assert!(m.contains(kind), "{text}: {m}");
        }
        let m = numbers("[1, 2", "x", 9).unwrap_err().message;
        assert!(m.contains("`data`"), "{m}");
        // A shape of 2^62 elements with 3 values: three values, no reservation from the shape.
        assert!(numbers("[0,0,0]", "x", 1 << 62).unwrap().capacity() <= 7);
    }

    #[test]
    fn strings_flatten_and_refuse_other_kinds() {
        let v = strings("[[\"ab\"], \"c\"]", "image", 2).unwrap();
        assert_eq!(v, vec![b"ab".to_vec(), b"c".to_vec()]);
        let m = strings("[\"a\", 1]", "image", 2).unwrap_err().message;
        assert!(m.contains("element 1 is a number, not a string"), "{m}");
        let m = strings("[\"a\", \"b\"]", "image", 1).unwrap_err().message;
        assert!(m.contains("more than the 1"), "{m}");
        assert!(is_json(b" [1, {\"a\": []}] ") && !is_json(b"[1,"));
    }
}
