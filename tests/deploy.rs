//! Deployment formats end to end: the shared example (../shared/golden/deploy: a ResNet18_vd
//! exported by PaddlePaddle 3.3.1 as PIR JSON and ProgramDesc, and by Paddle2ONNX) gives
//! PaddlePaddle's logits from each file with the architecture recognised (no hint), through the
//! normal Model/Plan path on the GPU; synthetic exports of other architectures, class counts,
//! input names and sizes (written by tests/deploy_writer) are recognised and agree with the CPU
//! reference; inference.yml. Hostile files: tests/deploy_hostile.rs; checkpoints: tests/recognise.rs.

mod common;
mod deploy_writer;

use common::*;
use deploy_writer::*;
use gpu_resnet::check::cases::random_activation;
use gpu_resnet::npy::read_npy_f32;
use gpu_resnet::weights::synthetic::Rng;
use gpu_resnet::weights::{self, LoadedWeights, Source, WeightsFormat};
use gpu_resnet::weights::{synthetic_weights, ModelWeights};
use gpu_resnet::{arch, reference, Model, Storage};

fn run_golden(loaded: &LoadedWeights) {
    let input = read_npy_f32(&golden("deploy/ResNet18_vd.input.npy")).unwrap();
    let want = read_npy_f32(&golden("deploy/ResNet18_vd.logits.npy")).unwrap();
    assert_eq!(loaded.weights.arch.name, "ResNet18_vd");
    assert_eq!(loaded.weights.classes, 1000);
    assert_eq!(loaded.info.input_name.as_deref(), Some("x"));
    assert_eq!(loaded.info.input_hw, Some((224, 224)));
    assert!(
        loaded.info.ignored.is_empty(),
        "ignored: {:?}",
        loaded.info.ignored
    );
    let (n, h, w) = (input.shape[0], input.shape[2], input.shape[3]);
    let model = Model::new(ctx(), &loaded.weights, Storage::F32).unwrap();
    let got = model.plan(n, h, w).unwrap().run(&input.data).unwrap();
    let err = rel_err(&got, &want.data);
    let tol = tolerance(Storage::F32, Compared::Golden);
    assert!(
        err <= tol,
        "{:?}: max relative error {err:.2e} > {tol:.1e}",
        loaded.info.format
    );
    ranks_agree(Storage::F32, &got, &want.data, 1000).unwrap();
    eprintln!(
        "{}: recognised {}: max |ours - paddle| / max |paddle| = {err:.2e}",
        loaded.info.format.describe(),
        loaded.summary()
    );
}

#[test]
fn golden_pir_directory_matches_paddle() {
    let l = weights::load(&Source::Path(&golden("deploy/ResNet18_vd_pir")), None).unwrap();
    assert_eq!(
        l.info.format,
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
        l.info.format,
        WeightsFormat::Deploy(weights::deploy::DeployFormat::ProgramDesc)
    );
    run_golden(&l);
}

#[test]
fn golden_onnx_matches_paddle() {
    let l = weights::load(&Source::Path(&golden("deploy/ResNet18_vd.onnx")), None).unwrap();
    assert_eq!(
        l.info.format,
        WeightsFormat::Deploy(weights::deploy::DeployFormat::Onnx)
    );
    run_golden(&l);
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
            assert_eq!(l.weights.arch.name, a.name, "{:?}", l.info.format);
            assert_eq!(l.weights.classes, 10);
            assert_eq!(l.weights.fc_weight, w.fc_weight);
            assert!(l.info.ignored.is_empty());
        }
    }
}

#[test]
fn plain_basic_program_desc_with_102_classes_runs() {
    let a = arch::find_arch("ResNet18").unwrap();
    let w = synthetic_weights(&a, 102, 2);
    let f = export(&w, "x", (64, 64), Style::Paddle);
    let l = load_paddle("inference.pdmodel", &f.pdmodel, &f.pdiparams).unwrap();
    assert_eq!((l.weights.classes, l.info.input_hw), (102, Some((64, 64))));
    agrees_with_reference(&l, &w, 64, 64);
}

#[test]
fn vc_pir_with_input_named_inputs_runs() {
    let a = arch::find_arch("ResNet50_vc").unwrap();
    let w = synthetic_weights(&a, 10, 3);
    let f = export(&w, "inputs", (64, 64), Style::Paddle);
    let l = load_paddle("inference.json", &f.pir, &f.pdiparams).unwrap();
    assert_eq!(l.weights.arch.name, "ResNet50_vc");
    assert_eq!(l.info.input_name.as_deref(), Some("inputs"));
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
        (l.weights.arch.name, l.info.input_hw),
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
    let (h, wd) = l.info.input_hw.unwrap();
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

/// The fuzz seeds (`fuzz/corpus/deploy_*`): a ResNet18 program in each format without its
/// weight data, and a small `.pdiparams` matching the fuzz target's declarations, as the writer
/// makes them (file path under fuzz/corpus, bytes).
fn fuzz_seeds() -> Vec<(&'static str, Vec<u8>)> {
    use gpu_resnet::tensor::{Tensor, TensorMap};
    let a = arch::find_arch("ResNet18_vd").unwrap();
    let w = synthetic_weights(&a, 2, 1);
    let e = build(&w, "x", (224, 224), Style::Paddle);
    let mut bare = build(&w, "x", (224, 224), Style::TorchFolded);
    bare.params.values_mut().for_each(|t| {
        t.shape = vec![t.data.len().min(1)];
        t.data.truncate(1);
    });
    let mut m = TensorMap::new();
    m.insert("a".into(), Tensor::new(vec![2, 3], vec![1.0; 6]));
    m.insert("b".into(), Tensor::new(vec![4], vec![2.0; 4]));
    m.insert("c".into(), Tensor::new(vec![1, 2, 1, 1], vec![3.0; 2]));
    vec![
        ("deploy_pdmodel/resnet18_vd.pdmodel", to_pdmodel(&e)),
        ("deploy_pir/resnet18_vd.json", to_pir(&e)),
        ("deploy_onnx/resnet18_vd_tiny_weights.onnx", to_onnx(&bare)),
        (
            "deploy_pdiparams/three.pdiparams",
            gpu_resnet::weights::deploy::pdiparams::write_pdiparams(&m),
        ),
    ]
}

/// The committed fuzz seeds are inputs each reader takes whole (a seed that no longer parses
/// would leave its fuzz target exploring error paths only). `GPU_RESNET_WRITE_FUZZ_SEEDS=1`
/// rewrites them from the writer first.
#[test]
fn fuzz_seeds_are_valid_inputs() {
    use gpu_resnet::weights::deploy::pdiparams::{read_pdiparams, ParamDecl};
    use gpu_resnet::weights::deploy::{onnx, pdmodel, pir};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    if std::env::var_os("GPU_RESNET_WRITE_FUZZ_SEEDS").is_some_and(|v| v == "1") {
        for (file, bytes) in fuzz_seeds() {
            std::fs::write(dir.join(file), bytes).unwrap();
        }
    }
    let seed = |file: &str| std::fs::read(dir.join(file)).unwrap();
    pdmodel::parse_pdmodel(&seed("deploy_pdmodel/resnet18_vd.pdmodel"), "seed").unwrap();
    pir::parse_pir(&seed("deploy_pir/resnet18_vd.json"), "seed").unwrap();
    onnx::parse_onnx(&seed("deploy_onnx/resnet18_vd_tiny_weights.onnx"), "seed").unwrap();
    let params = seed("deploy_pdiparams/three.pdiparams");
    let decls = [
        ParamDecl {
            name: "a".into(),
            dims: vec![2, 3],
        },
        ParamDecl {
            name: "b".into(),
            dims: vec![4],
        },
        ParamDecl {
            name: "c".into(),
            dims: vec![1, 2, 1, 1],
        },
    ];
    let read = read_pdiparams(&params[..], params.len() as u64, &decls, "seed").unwrap();
    assert_eq!(read.len(), 3);
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
    let c = l.info.deploy_config.expect("inference.yml read");
    assert_eq!(c.labels.map(|l| l.len()), Some(3));
    // the program file alone finds its .pdiparams and the yml beside it
    let l = weights::load(&Source::Path(&dir.join("inference.json")), None).unwrap();
    assert!(l.info.deploy_config.is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_inspect_report_says_what_was_recognised() {
    let l = weights::load(&Source::Path(&golden("deploy/ResNet18_vd.onnx")), None).unwrap();
    let r = l.report();
    for want in [
        "format: ONNX",
        "architecture: ResNet18_vd",
        "classes: 1000",
        "input: x [N,3,224,224]",
        "parameters: 11",
        "ignored tensors: none",
    ] {
        assert!(r.contains(want), "{want} missing from\n{r}");
    }
}
