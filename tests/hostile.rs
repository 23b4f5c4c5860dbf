//! Hostile files against every reader, measured: each gives a clear error, runs nothing the file
//! names, and allocates nothing large. A counting global allocator records the largest single
//! allocation made while a file is parsed (this binary holds only these tests, run one at a
//! time through a lock, so no other test's allocations are counted).
//!
//! tests/weights.rs has the wider set of damaged files (truncations, flipped bytes, fixtures);
//! these are the issue's list, with the allocation bound checked.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;

mod hostile_files;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use gpu_resnet::error::Error;
use gpu_resnet::npy::parse_npy_f32;
use gpu_resnet::weights::pdparams::parse_pdparams;
use gpu_resnet::weights::{parse_tensors, safetensors::parse_safetensors};

struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);
/// Bytes allocated and not yet freed, and the most of them at once since the last reset.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grow(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        grow(layout.size());
        // SAFETY: forwards the caller's layout unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        grow(new_size);
        // SAFETY: as for `dealloc`; `new_size` is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The largest single allocation a reader may make for a file of `len` bytes: 1 MiB, or a small
/// multiple of the file for larger ones (a pickle's object arena holds one ~32-byte entry per
/// opcode at most). What a file claims (shapes, lengths, offsets) never enters it.
fn allowed_allocation(len: usize) -> usize {
    (1 << 20usize).max(64 * len)
}

/// Parse `bytes` with `parse`, expecting an error that mentions every one of `needles`, and
/// allocating at most `allowed_allocation` bytes at once.
fn refused<T: std::fmt::Debug>(
    what: &str,
    bytes: &[u8],
    parse: impl Fn(&[u8]) -> Result<T, Error>,
    needles: &[&str],
) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    LARGEST.store(0, Ordering::SeqCst);
    let result = parse(bytes);
    let largest = LARGEST.load(Ordering::SeqCst);
    let msg = match result {
        Ok(v) => panic!("{what}: expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    };
    for n in needles {
        assert!(msg.contains(n), "{what}: error `{msg}` lacks `{n}`");
    }
    assert!(
        largest <= allowed_allocation(bytes.len()),
        "{what}: allocated {largest} bytes at once for a {}-byte file",
        bytes.len()
    );
}

fn pd(bytes: &[u8]) -> Result<gpu_resnet::tensor::TensorMap, Error> {
    parse_pdparams(bytes, Path::new("hostile.pdparams"))
}

fn st(bytes: &[u8]) -> Result<gpu_resnet::tensor::TensorMap, Error> {
    parse_safetensors(bytes, Path::new("hostile.safetensors"))
}

fn short_str(out: &mut Vec<u8>, s: &str) {
    out.push(0x8c);
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

/// `{name: array}` pickled with protocol 4, the array's shape and raw data given.
fn one_array(name: &str, shape: &[u64], raw: &[u8]) -> Vec<u8> {
    let mut out = hostile_files::pickle_one_array(name, shape, raw, false);
    out.extend_from_slice(b"u.");
    out
}

#[test]
fn code_running_globals_are_refused_and_nothing_runs() {
    let marker = std::env::temp_dir().join(format!("gpu-resnet-pwned-{}", std::process::id()));
    let command = format!("touch {}", marker.display());
    for (module, name) in [
        ("os", "system"),
        ("posix", "system"),
        ("builtins", "eval"),
        ("builtins", "exec"),
        ("__builtin__", "eval"),
        ("subprocess", "Popen"),
        ("subprocess", "check_output"),
        ("nt", "system"),
        ("builtins", "getattr"),
        ("torch._utils", "_rebuild_tensor_v2"),
    ] {
        // GLOBAL (protocol 2): `module.name(command)` as the file's top object.
        let mut p2 = vec![0x80, 2, b'c'];
        p2.extend_from_slice(format!("{module}\n{name}\n").as_bytes());
        p2.push(b'X');
        p2.extend_from_slice(&(command.len() as u32).to_le_bytes());
        p2.extend_from_slice(command.as_bytes());
        p2.extend_from_slice(b"\x85R.");
        let qualified = format!("{module}.{name}");
        refused(&qualified, &p2, pd, &[&qualified, "refusing"]);
        // STACK_GLOBAL (protocol 4), the call buried in a dict value.
        let mut p4 = vec![0x80, 4, b'}', b'('];
        short_str(&mut p4, "w");
        short_str(&mut p4, module);
        short_str(&mut p4, name);
        p4.push(0x93);
        short_str(&mut p4, &command);
        p4.extend_from_slice(b"\x85Ru.");
        refused(&qualified, &p4, pd, &[&qualified, "refusing"]);
    }
    assert!(!marker.exists(), "a file's command ran");
}

#[test]
fn a_2_pow_40_element_array_in_a_1_kb_file_allocates_nothing_large() {
    let file = one_array("big", &[1 << 40], &[0; 850]);
    assert!(file.len() <= 1024, "{} bytes", file.len());
    refused(
        "2^40 elements",
        &file,
        pd,
        &["big", "4398046511104", "holds 850"],
    );
    let file = one_array("wide", &[1 << 40, 1 << 40], &[0; 850]);
    refused(
        "2^80 elements",
        &file,
        pd,
        &["wide", "more than addressable"],
    );
    // The same claims in a .npy header and in a safetensors header.
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }\n";
    npy.extend_from_slice(&(header.len() as u16).to_le_bytes());
    npy.extend_from_slice(header.as_bytes());
    npy.extend_from_slice(&[0; 800]);
    refused(
        "npy 2^40",
        &npy,
        |b| parse_npy_f32(b, Path::new("x.npy")),
        &["4398046511104"],
    );
    let st_file = raw_safetensors(
        r#"{"w":{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,800]}}"#,
        &[0; 800],
    );
    refused("safetensors 2^40", &st_file, st, &["safetensors"]);
}

#[test]
fn deeply_nested_tuples_are_an_error_not_a_stack_overflow() {
    // A million TUPLE1s wrapping one another: no recursion anywhere, no huge stack.
    let mut deep = vec![0x80, 2, b')'];
    deep.extend(std::iter::repeat_n(0x85, 1_000_000));
    deep.push(b'.');
    refused("nested TUPLE1", &deep, pd, &["expected a dict"]);
    // A million MARKs, each opening a tuple that never closes.
    let mut marks = vec![0x80, 2];
    marks.extend(std::iter::repeat_n(b'(', 1_000_000));
    refused("nested MARK", &marks, pd, &["nested MARKs"]);
    // Nested lists appended into each other (each list one object in the arena).
    let mut lists = vec![0x80, 2, b']'];
    for _ in 0..100_000 {
        lists.extend_from_slice(b"]a");
    }
    lists.push(b'.');
    refused("nested lists", &lists, pd, &["expected a dict"]);
}

#[test]
fn lengths_past_the_end_of_the_file_are_errors() {
    for (what, bytes, needles) in [
        (
            "BINUNICODE",
            &b"\x80\x02X\xff\xff\xff\x7fabc"[..],
            &["BINUNICODE", "2147483647"][..],
        ),
        (
            "BINUNICODE8",
            b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xff",
            &["BINUNICODE8"],
        ),
        (
            "SHORT_BINUNICODE",
            b"\x80\x04\x8c\xffab",
            &["SHORT_BINUNICODE"],
        ),
        ("BINBYTES", b"\x80\x04B\xff\xff\xff\xffab", &["BINBYTES"]),
        (
            "BINBYTES8",
            b"\x80\x04\x8e\x00\x00\x00\x00\x00\x00\x01\x00x",
            &["BINBYTES8"],
        ),
        (
            "BINSTRING negative",
            b"\x80\x02T\xff\xff\xff\xffab",
            &["negative length"],
        ),
        (
            "FRAME",
            b"\x80\x04\x95\x00\x10\x00\x00\x00\x00\x00\x00}.",
            &["frame"],
        ),
    ] {
        refused(what, bytes, pd, needles);
    }
}

#[test]
fn memo_indices_out_of_range_are_errors() {
    refused(
        "BINGET",
        b"\x80\x02}h\x07.",
        pd,
        &["memo index 7 was never stored"],
    );
    refused(
        "LONG_BINGET",
        b"\x80\x02}j\xff\xff\xff\xff.",
        pd,
        &["memo index 4294967295"],
    );
    // A far memo index stored, then a near one fetched: no memo table sized by the index.
    refused(
        "sparse memo",
        b"\x80\x02}r\xff\xff\xff\xffh\x00.",
        pd,
        &["memo index 0 was never stored"],
    );
}

fn raw_safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn safetensors_offsets_outside_the_file_are_errors() {
    let cases: &[(&str, &str, usize)] = &[
        (
            "past the end",
            r#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
            8,
        ),
        (
            "far past the end",
            r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[1099511627776,1099511627784]}}"#,
            8,
        ),
        (
            "end before begin",
            r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#,
            8,
        ),
        (
            "u64 overflow",
            r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551615,7]}}"#,
            8,
        ),
        (
            "overlapping",
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
            12,
        ),
    ];
    for &(what, header, data) in cases {
        let file = raw_safetensors(header, &vec![0; data]);
        refused(what, &file, st, &["safetensors"]);
        // The format-sniffing path gives the same refusal.
        refused(
            what,
            &file,
            |b| parse_tensors(b, Path::new("w.pdparams")),
            &["safetensors"],
        );
    }
    // A header length beyond the file, and one of 2^64 - 1.
    let mut long = raw_safetensors(
        r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
        &[0; 4],
    );
    long[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    refused("header length 2^40", &long, st, &["safetensors"]);
    long[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    refused("header length 2^64-1", &long, st, &["safetensors"]);
}

/// Parse `bytes`, expecting an error that mentions every one of `needles`, with at most
/// `8 x len + 1 MiB` allocated at once in all (live bytes, not one allocation): what a reader
/// that counts before it decodes needs.
fn refused_within_memory<T: std::fmt::Debug>(
    what: &str,
    bytes: &[u8],
    parse: impl Fn(&[u8]) -> Result<T, Error>,
    needles: &[&str],
) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    PEAK.store(LIVE.load(Ordering::SeqCst), Ordering::SeqCst);
    let before = LIVE.load(Ordering::SeqCst);
    let result = parse(bytes);
    let peak = PEAK.load(Ordering::SeqCst).saturating_sub(before);
    let msg = match result {
        Ok(v) => panic!("{what}: expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    };
    for n in needles {
        assert!(msg.contains(n), "{what}: error `{msg}` lacks `{n}`");
    }
    let allowed = 8 * bytes.len() + (1 << 20);
    assert!(
        peak <= allowed,
        "{what}: {peak} bytes live at once for a {}-byte file (allowed {allowed})",
        bytes.len()
    );
}

#[test]
fn program_files_of_empty_messages_are_refused_before_they_are_decoded() {
    use gpu_resnet::weights::deploy::{onnx::parse_onnx, pdmodel::parse_pdmodel, pir::parse_pir};
    // 4 MB each (the JSON 16 MB): decoded, the ONNX file would take ~0.5 GB, the ProgramDesc
    // ~0.2 GB, the JSON ~0.3 GB; a 40 MB file ten times that.
    let n = 1 << 21;
    refused_within_memory(
        "ONNX of empty initializers",
        &hostile_files::onnx_empty_initializers(n),
        |b| parse_onnx(b, "empty.onnx").map(|p| p.ops.len()),
        &["empty.onnx", "TensorProto", "refused before decoding"],
    );
    refused_within_memory(
        "ProgramDesc of empty variables",
        &hostile_files::pdmodel_empty_vars(n),
        |b| parse_pdmodel(b, "empty.pdmodel").map(|p| p.ops.len()),
        &["empty.pdmodel", "VarDesc", "refused before decoding"],
    );
    refused_within_memory(
        "PIR JSON of many values",
        &hostile_files::pir_many_values(4 * n),
        |b| parse_pir(b, "values.json").map(|p| p.ops.len()),
        &["values.json", "JSON values", "refused before parsing"],
    );
}
