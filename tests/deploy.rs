//! Deployment formats end to end: the shared example (../shared/golden/deploy: a ResNet18_vd
//! exported by PaddlePaddle 3.3.1 as PIR JSON and ProgramDesc, and by Paddle2ONNX) gives
//! PaddlePaddle's logits from each file with the architecture recognised (no hint), through the
//! normal Model/Plan path on the GPU; synthetic exports of other architectures, class counts,
//! input names and sizes (written by tests/deploy_writer) are recognised and agree with the CPU
//! reference; hostile files give errors.

mod common;
mod deploy_writer;

use common::*;
use deploy_writer::*;
use gpu_resnet::check::cases::random_activation;
use gpu_resnet::npy::read_npy_f32;
use gpu_resnet::weights::synthetic::Rng;
use gpu_resnet::weights::{self, LoadedWeights, Source, WeightsFormat};
use gpu_resnet::weights::{synthetic_weights, ModelWeights};
use gpu_resnet::{arch, reference, Error, Model, Storage};

fn run_golden(loaded: &LoadedWeights) {
    let input = read_npy_f32(&golden("deploy/ResNet18_vd.input.npy")).unwrap();
    let want = read_npy_f32(&golden("deploy/ResNet18_vd.logits.npy")).unwrap();
    assert_eq!(loaded.weights.arch.name, "ResNet18_vd");
    assert_eq!(loaded.weights.classes, 1000);
    assert_eq!(loaded.input_name.as_deref(), Some("x"));
    assert_eq!(loaded.input_hw, Some((224, 224)));
    assert!(loaded.ignored.is_empty(), "ignored: {:?}", loaded.ignored);
    let (n, h, w) = (input.shape[0], input.shape[2], input.shape[3]);
    let model = Model::new(ctx(), &loaded.weights, Storage::F32).unwrap();
    let got = model.plan(n, h, w).unwrap().run(&input.data).unwrap();
    let err = rel_err(&got, &want.data);
    let tol = tolerance(Storage::F32, Compared::Golden);
    assert!(
        err <= tol,
        "{:?}: max relative error {err:.2e} > {tol:.1e}",
        loaded.format
    );
    ranks_agree(Storage::F32, &got, &want.data, 1000).unwrap();
    eprintln!(
        "{}: recognised {}: max |ours - paddle| / max |paddle| = {err:.2e}",
        loaded.format.describe(),
        loaded.summary()
    );
}

#[test]
fn golden_pir_directory_matches_paddle() {
    let l = weights::load(&Source::Path(&golden("deploy/ResNet18_vd_pir")), None).unwrap();
    assert_eq!(
        l.format,
        WeightsFormat::Deploy(weights::deploy::DeployFormat::Pir)
    );
    run_golden(&l);
}

#[test]
fn golden_program_desc_file_matches_paddle() {
    let l = weights::load(
        &Source::Path(&golden("deploy/ResNet18_vd_legacy/inference.pdmodel")),
        None,
    )
    .unwrap();
    assert_eq!(
        l.format,
        WeightsFormat::Deploy(weights::deploy::DeployFormat::ProgramDesc)
    );
    run_golden(&l);
}

#[test]
fn golden_onnx_matches_paddle() {
    let l = weights::load(&Source::Path(&golden("deploy/ResNet18_vd.onnx")), None).unwrap();
    assert_eq!(
        l.format,
        WeightsFormat::Deploy(weights::deploy::DeployFormat::Onnx)
    );
    run_golden(&l);
}

/// The three program files of an export.
struct Files {
    pdmodel: Vec<u8>,
    pir: Vec<u8>,
    pdiparams: Vec<u8>,
    onnx: Vec<u8>,
}

fn export(w: &ModelWeights, input: &str, hw: (i64, i64), style: Style) -> Files {
    let e = build(w, input, hw, style);
    Files {
        pdmodel: to_pdmodel(&e),
        pir: to_pir(&e),
        pdiparams: to_pdiparams(&e),
        onnx: to_onnx(&e),
    }
}

fn load_paddle(
    program_name: &str,
    program: &[u8],
    params: &[u8],
) -> gpu_resnet::Result<LoadedWeights> {
    let files = [(program_name, program), ("inference.pdiparams", params)];
    weights::load(&Source::Files(&files), None)
}

fn load_onnx(bytes: &[u8]) -> gpu_resnet::Result<LoadedWeights> {
    weights::load(
        &Source::Bytes {
            name: "model.onnx",
            bytes,
        },
        None,
    )
}

/// GPU logits of `loaded` at `h` x `w` against the CPU reference of `want`'s weights.
fn agrees_with_reference(loaded: &LoadedWeights, want: &ModelWeights, h: usize, w: usize) {
    let mut rng = Rng::new(7);
    let x = random_activation(&mut rng, 1, 3, h, w);
    let model = Model::new(ctx(), &loaded.weights, Storage::F32).unwrap();
    let got = model.plan(1, h, w).unwrap().run(&x.data).unwrap();
    let reference = reference::run_model(want, &x.data, 1, h, w);
    let err = rel_err(&got, &reference);
    let tol = tolerance(Storage::F32, Compared::Model);
    assert!(err <= tol, "{}: {err:.2e} > {tol:.1e}", loaded.summary());
    ranks_agree(Storage::F32, &got, &reference, want.classes).unwrap();
}

#[test]
fn every_architecture_is_recognised_from_each_program_format() {
    for a in arch::ARCHS {
        let w = synthetic_weights(a, 10, 1);
        let f = export(&w, "x", (224, 224), Style::Paddle);
        for l in [
            load_paddle("inference.pdmodel", &f.pdmodel, &f.pdiparams).unwrap(),
            load_paddle("inference.json", &f.pir, &f.pdiparams).unwrap(),
            load_onnx(&f.onnx).unwrap(),
        ] {
            assert_eq!(l.weights.arch.name, a.name, "{:?}", l.format);
            assert_eq!(l.weights.classes, 10);
            assert_eq!(l.weights.fc_weight, w.fc_weight);
            assert!(l.ignored.is_empty());
        }
    }
}

#[test]
fn plain_basic_program_desc_with_102_classes_runs() {
    let a = arch::find_arch("ResNet18").unwrap();
    let w = synthetic_weights(&a, 102, 2);
    let f = export(&w, "x", (64, 64), Style::Paddle);
    let l = load_paddle("inference.pdmodel", &f.pdmodel, &f.pdiparams).unwrap();
    assert_eq!((l.weights.classes, l.input_hw), (102, Some((64, 64))));
    agrees_with_reference(&l, &w, 64, 64);
}

#[test]
fn vc_pir_with_input_named_inputs_runs() {
    let a = arch::find_arch("ResNet50_vc").unwrap();
    let w = synthetic_weights(&a, 10, 3);
    let f = export(&w, "inputs", (64, 64), Style::Paddle);
    let l = load_paddle("inference.json", &f.pir, &f.pdiparams).unwrap();
    assert_eq!(l.weights.arch.name, "ResNet50_vc");
    assert_eq!(l.input_name.as_deref(), Some("inputs"));
    assert!(
        l.summary().contains("input inputs [N,3,64,64]"),
        "{}",
        l.summary()
    );
    agrees_with_reference(&l, &w, 64, 64);
}

#[test]
fn vd_basic_onnx_declared_320_runs() {
    let a = arch::find_arch("ResNet34_vd").unwrap();
    let w = synthetic_weights(&a, 10, 4);
    let f = export(&w, "x", (320, 320), Style::Paddle);
    let l = load_onnx(&f.onnx).unwrap();
    assert_eq!(
        (l.weights.arch.name, l.input_hw),
        ("ResNet34_vd", Some((320, 320)))
    );
    // The declared size is reported; the run itself may use any size (small here for speed).
    agrees_with_reference(&l, &w, 64, 64);
}

#[test]
fn declared_320_input_runs_at_320() {
    let a = arch::find_arch("ResNet18_vd").unwrap();
    let w = synthetic_weights(&a, 10, 5);
    let f = export(&w, "x", (320, 320), Style::Paddle);
    let l = load_paddle("inference.json", &f.pir, &f.pdiparams).unwrap();
    let (h, wd) = l.input_hw.unwrap();
    assert_eq!((h, wd), (320, 320));
    agrees_with_reference(&l, &w, h, wd);
}

#[test]
fn torch_style_onnx_with_folded_bn_and_gemm_trans_b_runs() {
    let a = arch::find_arch("ResNet50_vd").unwrap();
    let w = synthetic_weights(&a, 10, 6);
    let e = build(&w, "input", (64, 64), Style::TorchFolded);
    let l = load_onnx(&to_onnx(&e)).unwrap();
    assert_eq!(l.weights.arch.name, "ResNet50_vd");
    assert!(l
        .weights
        .convs
        .iter()
        .all(|c| matches!(c, gpu_resnet::weights::ConvBn::Folded { .. })));
    agrees_with_reference(&l, &w, 64, 64);
}

#[test]
fn a_hint_that_contradicts_the_file_names_both() {
    let a = arch::find_arch("ResNet18").unwrap();
    let w = synthetic_weights(&a, 10, 1);
    let f = export(&w, "x", (224, 224), Style::Paddle);
    let hint = arch::find_arch("ResNet34").unwrap();
    let e = weights::load(
        &Source::Bytes {
            name: "m.onnx",
            bytes: &f.onnx,
        },
        Some(&hint),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("ResNet18") && e.contains("ResNet34"), "{e}");
    // A checkpoint too: structured names of a ResNet18 asked to be a ResNet34.
    let l = weights::load(
        &Source::Bytes {
            name: "m.onnx",
            bytes: &f.onnx,
        },
        Some(&a),
    )
    .unwrap();
    assert_eq!(l.weights.arch.name, "ResNet18");
}

// ---- hostile files -----------------------------------------------------------------------

fn small_export() -> (ModelWeights, Files) {
    let a = arch::find_arch("ResNet18").unwrap();
    let w = synthetic_weights(&a, 4, 9);
    let f = export(&w, "x", (224, 224), Style::Paddle);
    (w, f)
}

fn err_text(r: gpu_resnet::Result<LoadedWeights>) -> String {
    match r {
        Ok(l) => panic!("accepted: {}", l.summary()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn truncated_pdiparams_names_the_variable() {
    let (_, f) = small_export();
    for cut in [1, 100, f.pdiparams.len() / 2, f.pdiparams.len() - 1] {
        let e = err_text(load_paddle(
            "inference.pdmodel",
            &f.pdmodel,
            &f.pdiparams[..cut],
        ));
        assert!(e.contains("variable `") && e.contains("ends"), "{e}");
    }
    let mut long = f.pdiparams.clone();
    long.extend_from_slice(&[0; 9]);
    let e = err_text(load_paddle("inference.pdmodel", &f.pdmodel, &long));
    assert!(e.contains("9 bytes left after the last variable"), "{e}");
}

#[test]
fn pdiparams_of_another_model_names_the_variable() {
    let (_, f) = small_export();
    let other = synthetic_weights(&arch::find_arch("ResNet34").unwrap(), 4, 9);
    let g = export(&other, "x", (224, 224), Style::Paddle);
    let e = err_text(load_paddle("inference.json", &f.pir, &g.pdiparams));
    assert!(
        e.contains("where the program declares") || e.contains("bytes left"),
        "{e}"
    );
    assert!(e.contains("variable `"), "{e}");
}

#[test]
fn an_op_we_do_not_run_is_named() {
    let (w, _) = small_export();
    let e = build(&w, "x", (224, 224), Style::Paddle);
    let mut nodes = onnx_nodes(&e);
    // a MobileNet-like activation in the stem
    let relu = nodes
        .iter()
        .position(|n| n.op_type.as_deref() == Some("Relu"))
        .unwrap();
    nodes[relu].op_type = Some("HardSwish".into());
    let text = err_text(load_onnx(&onnx_model(&e, nodes.clone(), 13)));
    assert!(text.contains(&format!("op {relu} `HardSwish`")), "{text}");
    // a depthwise conv
    let mut nodes = onnx_nodes(&e);
    let conv = nodes
        .iter()
        .rposition(|n| n.op_type.as_deref() == Some("Conv"))
        .unwrap();
    for a in &mut nodes[conv].attribute {
        if a.name.as_deref() == Some("group") {
            a.i = Some(512);
        }
    }
    let text = err_text(load_onnx(&onnx_model(&e, nodes, 13)));
    assert!(
        text.contains(&format!("op {conv} `Conv`")) && text.contains("groups 512"),
        "{text}"
    );
    // the unsupported opset
    let text = err_text(load_onnx(&onnx_model(&e, onnx_nodes(&e), 99)));
    assert!(text.contains("opset 99"), "{text}");
}

#[test]
fn a_wrong_pool_is_named_with_what_the_architecture_has() {
    let a = arch::find_arch("ResNet18_vd").unwrap();
    let w = synthetic_weights(&a, 4, 9);
    let e = build(&w, "x", (224, 224), Style::Paddle);
    let mut nodes = onnx_nodes(&e);
    let pool = nodes
        .iter()
        .position(|n| n.op_type.as_deref() == Some("AveragePool"))
        .unwrap();
    nodes[pool].attribute[0].ints = vec![3, 3];
    let text = err_text(load_onnx(&onnx_model(&e, nodes, 13)));
    assert!(
        text.contains(&format!("op {pool} `AveragePool`"))
            && text.contains("ResNet18_vd has a 2x2/2 average pool"),
        "{text}"
    );
}

#[test]
fn damaged_protobuf_is_an_error_not_a_panic() {
    let (_, f) = small_export();
    for bytes in [
        &f.pdmodel[..f.pdmodel.len() / 3],
        &[
            0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ][..],
        &[0x0a, 0x7f, 0x01][..],
    ] {
        let _ = err_text(load_paddle("inference.pdmodel", bytes, &f.pdiparams));
    }
    for bytes in [
        &f.onnx[..f.onnx.len() - 7],
        &[0x08, 0x80][..],
        &[0x08, 0x07, 0x3a, 0x7f][..],
    ] {
        let _ = err_text(load_onnx(bytes));
    }
    let _ = err_text(load_paddle(
        "inference.json",
        br#"{"base_code": {"magic": "pir"}, "program": 3}"#,
        &f.pdiparams,
    ));
    let _ = err_text(load_paddle(
        "inference.json",
        &f.pir[..f.pir.len() / 2],
        &f.pdiparams,
    ));
}

#[test]
fn onnx_external_data_is_refused_with_a_message() {
    use gpu_resnet::weights::deploy::proto::{ModelProto, StringStringEntry};
    use prost::Message;
    let (_, f) = small_export();
    let mut m = ModelProto::decode(f.onnx.as_slice()).unwrap();
    let t = &mut m.graph.as_mut().unwrap().initializer[0];
    t.raw_data = None;
    t.data_location = Some(1);
    t.external_data = vec![StringStringEntry {
        key: Some("location".into()),
        value: Some("weights.bin".into()),
    }];
    let e = err_text(load_onnx(&m.encode_to_vec()));
    assert!(e.contains("external file (`weights.bin`)"), "{e}");
}

#[test]
fn checkpoints_are_recognised_without_a_hint() {
    let l = weights::load(&Source::Path(&golden("ResNet18_vd.pdparams")), None).unwrap();
    assert_eq!(l.weights.arch.name, "ResNet18_vd");
    assert_eq!(l.format, WeightsFormat::Pdparams);
    let _ = Error::Input(String::new());
}

/// Writes the fuzz seeds (`fuzz/corpus/deploy_*`): a ResNet18 program in each format without its
/// weight data, and a small `.pdiparams` matching the fuzz target's declarations.
#[test]
#[ignore = "run by hand to refresh fuzz/corpus"]
fn write_fuzz_seeds() {
    use gpu_resnet::tensor::{Tensor, TensorMap};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let a = arch::find_arch("ResNet18_vd").unwrap();
    let w = synthetic_weights(&a, 2, 1);
    let e = build(&w, "x", (224, 224), Style::Paddle);
    std::fs::write(
        dir.join("deploy_pdmodel/resnet18_vd.pdmodel"),
        to_pdmodel(&e),
    )
    .unwrap();
    std::fs::write(dir.join("deploy_pir/resnet18_vd.json"), to_pir(&e)).unwrap();
    let mut bare = build(&w, "x", (224, 224), Style::TorchFolded);
    bare.params.values_mut().for_each(|t| {
        t.shape = vec![t.data.len().min(1)];
        t.data.truncate(1);
    });
    std::fs::write(
        dir.join("deploy_onnx/resnet18_vd_tiny_weights.onnx"),
        to_onnx(&bare),
    )
    .unwrap();
    let mut m = TensorMap::new();
    m.insert("a".into(), Tensor::new(vec![2, 3], vec![1.0; 6]));
    m.insert("b".into(), Tensor::new(vec![4], vec![2.0; 4]));
    m.insert("c".into(), Tensor::new(vec![1, 2, 1, 1], vec![3.0; 2]));
    std::fs::write(
        dir.join("deploy_pdiparams/three.pdiparams"),
        gpu_resnet::weights::deploy::pdiparams::write_pdiparams(&m),
    )
    .unwrap();
}

#[test]
fn inference_yml_gives_preprocessing_and_labels() {
    use gpu_resnet::weights::inference_yml::parse_inference_yml;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/deploy/inference.yml"
    );
    let text = std::fs::read(path).unwrap();
    let c = parse_inference_yml(&text, path).unwrap();
    assert_eq!((c.preprocess.resize_short, c.preprocess.crop), (288, 256));
    assert_eq!((c.preprocess.mean, c.preprocess.std), ([0.5; 3], [0.25; 3]));
    assert_eq!(c.topk, Some(5));
    assert_eq!(c.model_name.as_deref(), Some("ResNet50_vd"));
    assert_eq!(
        c.labels.unwrap(),
        [
            "tench, Tinca tinca",
            "goldfish: Carassius auratus",
            "great white shark"
        ]
    );
    // PaddleClas writes the scale as a string
    let s = String::from_utf8(text.clone()).unwrap();
    let c2 = parse_inference_yml(
        s.replace("0.00392156862745098", "'1./255.'").as_bytes(),
        "y",
    )
    .unwrap();
    assert_eq!(c2.preprocess, c.preprocess);
    // an op we do not reproduce
    let bad = s.replace(
        "  - ToCHWImage: null",
        "  - RandFlipImage:\n      flip_code: 1",
    );
    let e = parse_inference_yml(bad.as_bytes(), "inference.yml")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`RandFlipImage`") && e.contains("inference.yml"),
        "{e}"
    );
    let bad = s.replace("scale: 0.00392156862745098", "scale: 1.0");
    assert!(parse_inference_yml(bad.as_bytes(), "y").is_err());
    assert!(parse_inference_yml(b"[[[[", "y").is_err());
    assert!(parse_inference_yml(&[b'['; 100], "y").is_err());
}

#[test]
fn an_inference_model_directory_brings_its_yml() {
    let dir = std::env::temp_dir().join(format!("gpu-resnet-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = arch::find_arch("ResNet18").unwrap();
    let w = synthetic_weights(&a, 3, 1);
    let f = export(&w, "x", (224, 224), Style::Paddle);
    std::fs::write(dir.join("inference.json"), &f.pir).unwrap();
    std::fs::write(dir.join("inference.pdiparams"), &f.pdiparams).unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/deploy/inference.yml"
        ),
        dir.join("inference.yml"),
    )
    .unwrap();
    let l = weights::load(&Source::Path(&dir), None).unwrap();
    let c = l.deploy_config.expect("inference.yml read");
    assert_eq!(c.labels.map(|l| l.len()), Some(3));
    // the program file alone finds its .pdiparams and the yml beside it
    let l = weights::load(&Source::Path(&dir.join("inference.json")), None).unwrap();
    assert!(l.deploy_config.is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_cyclic_program_is_an_error_not_a_hang() {
    let (w, _) = small_export();
    let e = build(&w, "x", (224, 224), Style::Paddle);
    let mut nodes = onnx_nodes(&e);
    // the first block's input becomes the output of its own residual ReLU
    let pool = nodes
        .iter()
        .position(|n| n.op_type.as_deref() == Some("MaxPool"))
        .unwrap();
    let pooled = nodes[pool].output[0].clone();
    let relu = nodes
        .iter()
        .enumerate()
        .skip(pool)
        .filter(|(_, n)| n.op_type.as_deref() == Some("Relu"))
        .nth(2)
        .unwrap()
        .0;
    nodes[relu].output[0] = pooled;
    let _ = err_text(load_onnx(&onnx_model(&e, nodes, 13)));
}

/// A checkpoint of `a` in `scheme`'s names, with neutral values (recognition reads names and
/// shapes; the values only have to be valid).
fn checkpoint(
    a: &arch::Arch,
    scheme: gpu_resnet::weights::Scheme,
    classes: usize,
) -> gpu_resnet::tensor::TensorMap {
    use gpu_resnet::tensor::{Tensor, TensorMap};
    use gpu_resnet::weights::names::{conv_keys, fc_keys};
    let mut m = TensorMap::new();
    for layer in a.conv_layers(scheme.stage1()) {
        let k = conv_keys(scheme, a, &layer);
        let n = layer.cout * layer.cin * layer.kernel * layer.kernel;
        m.insert(
            k.weight,
            Tensor::new(
                vec![layer.cout, layer.cin, layer.kernel, layer.kernel],
                vec![0.01; n],
            ),
        );
        for b in k.bn {
            m.insert(b, Tensor::new(vec![layer.cout], vec![1.0; layer.cout]));
        }
    }
    let (w, b) = fc_keys(scheme);
    let shape = if scheme == gpu_resnet::weights::Scheme::Torch {
        vec![classes, a.features()]
    } else {
        vec![a.features(), classes]
    };
    m.insert(
        w.into(),
        Tensor::new(shape, vec![0.0; a.features() * classes]),
    );
    m.insert(b.into(), Tensor::new(vec![classes], vec![0.0; classes]));
    m
}

#[test]
fn checkpoints_of_every_architecture_and_scheme_are_recognised() {
    use gpu_resnet::weights::{recognise::recognise_and_map, Scheme};
    for a in arch::ARCHS {
        for scheme in [
            Scheme::PaddleStructured,
            Scheme::PaddleParams,
            Scheme::PaddleZoo,
            Scheme::Torch,
        ] {
            let m = checkpoint(a, scheme, 102);
            // vc and vd share their tensors: zoo names mean vc, timm's tell them apart, the
            // other schemes are taken as vd (documented in weights/README.md)
            let want = match (a.name, scheme) {
                ("ResNet50_vc" | "ResNet50_vd", Scheme::PaddleZoo) => "ResNet50_vc",
                (
                    "ResNet50_vc" | "ResNet50_vd",
                    Scheme::PaddleStructured | Scheme::PaddleParams,
                ) => "ResNet50_vd",
                (name, _) => name,
            };
            let got = recognise_and_map(&m, None, "ckpt").unwrap();
            assert_eq!(
                (got.arch.name, got.classes),
                (want, 102),
                "{} in {scheme:?}",
                a.name
            );
            // the hint decides what the file cannot
            let hinted = recognise_and_map(&m, Some(a), "ckpt").unwrap();
            assert_eq!(hinted.arch.name, a.name);
        }
    }
    let m = checkpoint(
        &arch::find_arch("ResNet50").unwrap(),
        Scheme::PaddleStructured,
        10,
    );
    let e = recognise_and_map(&m, Some(&arch::find_arch("ResNet101").unwrap()), "ckpt")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("holds a ResNet50 but ResNet101 was asked for"),
        "{e}"
    );
}
