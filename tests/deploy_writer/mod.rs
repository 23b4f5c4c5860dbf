//! Test-only writers: any architecture of the table with given weights as a ProgramDesc
//! `.pdmodel`, a PIR `inference.json`, a `.pdiparams` stream, or ONNX (Paddle2ONNX style with
//! BatchNormalization and MatMul + Add, or torch style with BN folded into conv biases and a
//! Gemm with transB=1). The op layout follows what PaddlePaddle 3.3.1 and Paddle2ONNX write for
//! the shared example; prost encodes the library's own message structs.

#![allow(dead_code)]

mod onnx;
mod paddle;

pub use onnx::*;
pub use paddle::*;

use gpu_resnet::arch::{self, Arch, Op as GOp, Stage1Shortcut};
use gpu_resnet::tensor::{Tensor, TensorMap};
use gpu_resnet::weights::{fold::fold_bn, ModelWeights};

/// One op of the abstract export, in forward order. Values are named strings.
#[derive(Clone, Debug)]
pub enum W {
    Conv {
        x: String,
        w: String,
        bias: Option<String>,
        out: String,
        k: usize,
        stride: usize,
    },
    Bn {
        x: String,
        p: String,
        out: String,
    },
    Relu {
        x: String,
        out: String,
    },
    Add {
        a: String,
        b: String,
        out: String,
    },
    MaxPool {
        x: String,
        out: String,
    },
    AvgPool {
        x: String,
        out: String,
    },
    Gap {
        x: String,
        out: String,
    },
    Flatten {
        x: String,
        out: String,
    },
    MatMul {
        x: String,
        w: String,
        out: String,
        trans_b: bool,
        bias: Option<String>,
    },
}

pub struct Export {
    pub ops: Vec<W>,
    pub params: TensorMap,
    pub input: String,
    pub output: String,
    pub hw: (i64, i64),
}

/// How BatchNorm and the classifier are written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// conv + batch_norm, MatMul [features, classes] + Add bias (Paddle, Paddle2ONNX).
    Paddle,
    /// conv with the BN folded into its bias, Gemm [classes, features] transB=1 (torch).
    TorchFolded,
}

pub fn build(w: &ModelWeights, input: &str, hw: (i64, i64), style: Style) -> Export {
    let g = w
        .arch
        .graph(hw.0 as usize, hw.1 as usize, w.classes, w.stage1);
    let t = |id: usize| {
        if id == g.input {
            input.to_string()
        } else {
            format!("t{id}")
        }
    };
    let mut ops = Vec::new();
    let mut params = TensorMap::new();
    let mut tmp = 0;
    let mut fresh = || {
        tmp += 1;
        format!("v{tmp}")
    };
    for op in &g.ops {
        match op {
            GOp::Conv {
                conv,
                input: i,
                residual,
                relu,
                output,
            } => {
                let layer = &g.convs[*conv];
                let mut x = t(*i);
                if layer.avg_pool_input {
                    let p = fresh();
                    ops.push(W::AvgPool { x, out: p.clone() });
                    x = p;
                }
                let wname = format!("conv2d_{conv}.w_0");
                let shape = vec![layer.cout, layer.cin, layer.kernel, layer.kernel];
                let c = fresh();
                let after_conv = match style {
                    Style::Paddle => {
                        params.insert(
                            wname.clone(),
                            Tensor::new(shape, w.convs[*conv].weight().to_vec()),
                        );
                        ops.push(W::Conv {
                            x,
                            w: wname,
                            bias: None,
                            out: c.clone(),
                            k: layer.kernel,
                            stride: layer.stride,
                        });
                        let gparams: [(&str, Vec<f32>); 4] = match &w.convs[*conv] {
                            gpu_resnet::weights::ConvBn::BatchNorm {
                                gamma,
                                beta,
                                mean,
                                var,
                                ..
                            } => [
                                ("w_0", gamma.clone()),
                                ("b_0", beta.clone()),
                                ("w_1", mean.clone()),
                                ("w_2", var.clone()),
                            ],
                            _ => panic!("Paddle style needs BatchNorm weights"),
                        };
                        let p = format!("batch_norm_{conv}");
                        for (suffix, v) in gparams {
                            params
                                .insert(format!("{p}.{suffix}"), Tensor::new(vec![layer.cout], v));
                        }
                        let b = fresh();
                        ops.push(W::Bn {
                            x: c,
                            p,
                            out: b.clone(),
                        });
                        b
                    }
                    Style::TorchFolded => {
                        let (fw, fb) = fold_bn(&w.convs[*conv]);
                        params.insert(wname.clone(), Tensor::new(shape, fw));
                        let bname = format!("conv2d_{conv}.b_0");
                        params.insert(bname.clone(), Tensor::new(vec![layer.cout], fb));
                        ops.push(W::Conv {
                            x,
                            w: wname,
                            bias: Some(bname),
                            out: c.clone(),
                            k: layer.kernel,
                            stride: layer.stride,
                        });
                        c
                    }
                };
                let summed = match residual {
                    Some(r) => {
                        let s = fresh();
                        ops.push(W::Add {
                            a: after_conv,
                            b: t(*r),
                            out: s.clone(),
                        });
                        s
                    }
                    None => after_conv,
                };
                if *relu {
                    ops.push(W::Relu {
                        x: summed,
                        out: t(*output),
                    });
                } else {
                    // no ReLU: name the output through a renaming relu-free path
                    let last = ops.last_mut().unwrap();
                    rename_out(last, t(*output));
                }
            }
            GOp::MaxPool { input: i, output } => ops.push(W::MaxPool {
                x: t(*i),
                out: t(*output),
            }),
            GOp::Head { input: i, .. } => {
                let (p, f, m) = (fresh(), fresh(), fresh());
                ops.push(W::Gap {
                    x: t(*i),
                    out: p.clone(),
                });
                ops.push(W::Flatten {
                    x: p,
                    out: f.clone(),
                });
                let features = g.features;
                params.insert(
                    "linear_0.b_0".into(),
                    Tensor::new(vec![w.classes], w.fc_bias.clone()),
                );
                match style {
                    Style::Paddle => {
                        params.insert(
                            "linear_0.w_0".into(),
                            Tensor::new(vec![features, w.classes], w.fc_weight.clone()),
                        );
                        ops.push(W::MatMul {
                            x: f,
                            w: "linear_0.w_0".into(),
                            out: m.clone(),
                            trans_b: false,
                            bias: None,
                        });
                        ops.push(W::Add {
                            a: m,
                            b: "linear_0.b_0".into(),
                            out: "logits".into(),
                        });
                    }
                    Style::TorchFolded => {
                        let mut tw = vec![0.0; features * w.classes];
                        for k in 0..features {
                            for c in 0..w.classes {
                                tw[c * features + k] = w.fc_weight[k * w.classes + c];
                            }
                        }
                        params.insert(
                            "linear_0.w_0".into(),
                            Tensor::new(vec![w.classes, features], tw),
                        );
                        ops.push(W::MatMul {
                            x: f,
                            w: "linear_0.w_0".into(),
                            out: "logits".into(),
                            trans_b: true,
                            bias: Some("linear_0.b_0".into()),
                        });
                    }
                }
            }
        }
    }
    Export {
        ops,
        params,
        input: input.to_string(),
        output: "logits".into(),
        hw,
    }
}

fn rename_out(op: &mut W, name: String) {
    match op {
        W::Conv { out, .. } | W::Bn { out, .. } | W::Add { out, .. } | W::Relu { out, .. } => {
            *out = name
        }
        _ => panic!("unexpected op before a ReLU-less output"),
    }
}

// ---- files and loading ---------------------------------------------------------------

use gpu_resnet::weights::{self, synthetic_weights, LoadedWeights, Source};

/// The three program files of an export.
pub struct Files {
    pub pdmodel: Vec<u8>,
    pub pir: Vec<u8>,
    pub pdiparams: Vec<u8>,
    pub onnx: Vec<u8>,
}

pub fn export(w: &ModelWeights, input: &str, hw: (i64, i64), style: Style) -> Files {
    let e = build(w, input, hw, style);
    Files {
        pdmodel: to_pdmodel(&e),
        pir: to_pir(&e),
        pdiparams: to_pdiparams(&e),
        onnx: to_onnx(&e),
    }
}

pub fn load_paddle(
    program_name: &str,
    program: &[u8],
    params: &[u8],
) -> gpu_resnet::Result<LoadedWeights> {
    let files = [(program_name, program), ("inference.pdiparams", params)];
    weights::load(&Source::Files(&files), None)
}

pub fn load_onnx(bytes: &[u8]) -> gpu_resnet::Result<LoadedWeights> {
    weights::load(
        &Source::Bytes {
            name: "model.onnx",
            bytes,
        },
        None,
    )
}

pub fn small_export() -> (ModelWeights, Files) {
    let a = arch::find_arch("ResNet18").unwrap();
    let w = synthetic_weights(&a, 4, 9);
    let f = export(&w, "x", (224, 224), Style::Paddle);
    (w, f)
}

pub fn err_text(r: gpu_resnet::Result<LoadedWeights>) -> String {
    match r {
        Ok(l) => panic!("accepted: {}", l.summary()),
        Err(e) => e.to_string(),
    }
}
