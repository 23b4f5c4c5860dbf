//! The layer graph of an architecture for one input size: conv layers with their roles, the
//! ops in run order, and the tensors between them.

use super::{Arch, Block, Shortcut, Stem};

/// Which conv of the network a layer is: what the weight-name schemes key on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvRole {
    /// The i-th stem conv (0 for the plain 7x7 stem).
    Stem(usize),
    /// The `conv`-th conv of a block's main branch.
    Branch {
        block: usize,
        stage: usize,
        index: usize,
        conv: usize,
    },
    /// A block's projection shortcut.
    Short {
        block: usize,
        stage: usize,
        index: usize,
    },
}

/// One conv+BN layer: its shape and place. Padding is (kernel - 1) / 2 everywhere in ResNet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvLayer {
    /// PaddleClas's structured name without the `.conv.weight` tail, e.g. `blocks.3.conv1`.
    pub name: String,
    pub role: ConvRole,
    pub cin: usize,
    pub cout: usize,
    pub kernel: usize,
    pub stride: usize,
    /// The vd shortcut: the conv reads a 2x2/2 average of its input (ceil mode).
    pub avg_pool_input: bool,
}

impl ConvLayer {
    pub fn pad(&self) -> usize {
        (self.kernel - 1) / 2
    }

    /// Output size along one axis for an input of `size` (the pooled size for the vd shortcut).
    pub fn out_size(&self, size: usize) -> usize {
        if self.avg_pool_input {
            size.div_ceil(2)
        } else {
            (size + 2 * self.pad() - self.kernel) / self.stride + 1
        }
    }

    /// Output pixels of `batch` images of `in_hw`: the M of the conv's GEMM.
    pub fn out_pixels(&self, batch: usize, in_hw: (usize, usize)) -> usize {
        batch * self.out_size(in_hw.0) * self.out_size(in_hw.1)
    }

    pub fn params(&self) -> u64 {
        // weights + BN scale and shift
        (self.cout * self.cin * self.kernel * self.kernel + 2 * self.cout) as u64
    }
}

/// How the first block of stage 1 forms its shortcut when its shape does not change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage1Shortcut {
    /// PaddleClas: every stage's first block has a projection, stage 1 of ResNet18/34 included.
    Projection,
    /// torchvision/timm: identity where channels and size are unchanged.
    IdentityWhenSameShape,
}

pub type TensorId = usize;

/// A tensor of the graph, per image (the batch is the plan's), channels-last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorShape {
    pub h: usize,
    pub w: usize,
    pub c: usize,
}

impl TensorShape {
    pub fn elements(&self) -> usize {
        self.h * self.w * self.c
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// conv (+ folded BN) [+ residual] [+ ReLU]
    Conv {
        conv: usize,
        input: TensorId,
        residual: Option<TensorId>,
        relu: bool,
        output: TensorId,
    },
    /// 3x3 / 2 max pool, padding 1.
    MaxPool { input: TensorId, output: TensorId },
    /// Global average pool, then the FC layer.
    Head { input: TensorId, output: TensorId },
}

/// A network for one input size: the conv layers (weights index), and the ops in run order.
#[derive(Clone, Debug)]
pub struct Graph {
    pub arch: Arch,
    pub convs: Vec<ConvLayer>,
    pub ops: Vec<Op>,
    pub tensors: Vec<TensorShape>,
    pub input: TensorId,
    pub output: TensorId,
    pub features: usize,
    pub classes: usize,
}

pub const STAGE_FILTERS: [usize; 4] = [64, 128, 256, 512];

// The counts derived from an architecture's graph (here, beside the graph: the tables only
// describe the architectures).
impl Arch {
    /// Parameters as PaddlePaddle counts them: conv weights, BN scale/shift, FC weight and bias
    /// (BN running statistics excluded).
    pub fn params(&self, classes: usize) -> u64 {
        let convs: u64 = self
            .conv_layers(Stage1Shortcut::Projection)
            .iter()
            .map(ConvLayer::params)
            .sum();
        convs + (self.features() * classes + classes) as u64
    }

    /// FLOPs = 2 x multiply-accumulates of every conv and the FC, for an `size` x `size` input.
    pub fn flops(&self, size: usize, classes: usize) -> u64 {
        self.graph(size, size, classes, Stage1Shortcut::Projection)
            .flops_per_image()
    }

    /// FLOPs as the seed counts them (`Graph::seed_convention_flops`).
    pub fn seed_convention_flops(&self, size: usize, classes: usize) -> u64 {
        self.graph(size, size, classes, Stage1Shortcut::Projection)
            .seed_convention_flops()
    }
}

impl Arch {
    /// The conv layers in run order (independent of input size).
    pub fn conv_layers(&self, stage1: Stage1Shortcut) -> Vec<ConvLayer> {
        self.graph(64, 64, 1, stage1).convs
    }

    /// Build the layer graph for an `h` x `w` input and `classes` outputs.
    pub fn graph(&self, h: usize, w: usize, classes: usize, stage1: Stage1Shortcut) -> Graph {
        let mut g = GraphBuilder {
            convs: Vec::new(),
            ops: Vec::new(),
            tensors: vec![TensorShape { h, w, c: 3 }],
        };
        let mut x: TensorId = 0;
        let stem: &[(usize, usize, usize, usize)] = match self.stem {
            Stem::Plain => &[(3, 64, 7, 2)],
            Stem::Deep => &[(3, 32, 3, 2), (32, 32, 3, 1), (32, 64, 3, 1)],
        };
        for (i, &(cin, cout, kernel, stride)) in stem.iter().enumerate() {
            let layer = ConvLayer {
                name: format!("stem.{i}"),
                role: ConvRole::Stem(i),
                cin,
                cout,
                kernel,
                stride,
                avg_pool_input: false,
            };
            x = g.conv(layer, x, None, true);
        }
        let s = g.tensors[x];
        let pooled = (s.h + 2 - 3) / 2 + 1;
        let pooled_w = (s.w + 2 - 3) / 2 + 1;
        let y = g.tensor(pooled, pooled_w, s.c);
        g.ops.push(Op::MaxPool {
            input: x,
            output: y,
        });
        x = y;

        let mut block = 0;
        let e = self.expansion();
        for (stage, &depth) in self.stage_depths.iter().enumerate() {
            let filters = STAGE_FILTERS[stage];
            for index in 0..depth {
                let stride = if index == 0 && stage != 0 { 2 } else { 1 };
                let cin = g.tensors[x].c;
                let cout = filters * e;
                let branch = |conv, cin, cout, kernel, stride| ConvLayer {
                    name: format!("blocks.{block}.conv{conv}"),
                    role: ConvRole::Branch {
                        block,
                        stage,
                        index,
                        conv,
                    },
                    cin,
                    cout,
                    kernel,
                    stride,
                    avg_pool_input: false,
                };
                let main: Vec<ConvLayer> = match self.block {
                    Block::Basic => vec![
                        branch(0, cin, filters, 3, stride),
                        branch(1, filters, filters, 3, 1),
                    ],
                    Block::Bottleneck => vec![
                        branch(0, cin, filters, 1, 1),
                        branch(1, filters, filters, 3, stride),
                        branch(2, filters, cout, 1, 1),
                    ],
                };
                let needs_projection = index == 0
                    && (stage1 == Stage1Shortcut::Projection || cin != cout || stride != 1);
                let mut y = x;
                let last = main.len() - 1;
                let mut main = main.into_iter();
                for layer in main.by_ref().take(last) {
                    y = g.conv(layer, y, None, true);
                }
                let shortcut = if needs_projection {
                    let avg = self.shortcut == Shortcut::AvgPool && stride == 2;
                    let layer = ConvLayer {
                        name: format!("blocks.{block}.short"),
                        role: ConvRole::Short {
                            block,
                            stage,
                            index,
                        },
                        cin,
                        cout,
                        kernel: 1,
                        stride: if avg { 1 } else { stride },
                        avg_pool_input: avg,
                    };
                    g.conv(layer, x, None, false)
                } else {
                    x
                };
                let final_layer = main.next().expect("a block has at least two convs");
                x = g.conv(final_layer, y, Some(shortcut), true);
                block += 1;
            }
        }
        let features = g.tensors[x].c;
        let out = g.tensor(1, 1, classes);
        g.ops.push(Op::Head {
            input: x,
            output: out,
        });
        Graph {
            arch: *self,
            convs: g.convs,
            ops: g.ops,
            tensors: g.tensors,
            input: 0,
            output: out,
            features,
            classes,
        }
    }
}

struct GraphBuilder {
    convs: Vec<ConvLayer>,
    ops: Vec<Op>,
    tensors: Vec<TensorShape>,
}

impl GraphBuilder {
    fn tensor(&mut self, h: usize, w: usize, c: usize) -> TensorId {
        self.tensors.push(TensorShape { h, w, c });
        self.tensors.len() - 1
    }

    fn conv(
        &mut self,
        layer: ConvLayer,
        input: TensorId,
        residual: Option<TensorId>,
        relu: bool,
    ) -> TensorId {
        let s = self.tensors[input];
        let output = self.tensor(layer.out_size(s.h), layer.out_size(s.w), layer.cout);
        self.convs.push(layer);
        self.ops.push(Op::Conv {
            conv: self.convs.len() - 1,
            input,
            residual,
            relu,
            output,
        });
        output
    }
}

impl Graph {
    /// Multiply-accumulates of one op, per image (0 for pooling).
    pub fn op_macs(&self, op: &Op) -> u64 {
        match *op {
            Op::Conv { conv, output, .. } => {
                let l = &self.convs[conv];
                let o = self.tensors[output];
                (o.h * o.w * l.cout * l.cin * l.kernel * l.kernel) as u64
            }
            Op::MaxPool { .. } => 0,
            Op::Head { .. } => (self.features * self.classes) as u64,
        }
    }

    pub fn flops_per_image(&self) -> u64 {
        2 * self.ops.iter().map(|op| self.op_macs(op)).sum::<u64>()
    }

    /// FLOPs as the seed document counts them: 2 x MACs plus one operation per conv output
    /// element (the BatchNorm's add). This reproduces its table to the last digit for every
    /// row but two (ResNet34_vd, ResNet101; see `gpu-resnet models`).
    pub fn seed_convention_flops(&self) -> u64 {
        let outputs: u64 = self
            .ops
            .iter()
            .filter_map(|op| match *op {
                Op::Conv { output, .. } => Some(self.tensors[output].elements() as u64),
                _ => None,
            })
            .sum();
        self.flops_per_image() + outputs
    }

    /// The smallest input side the network accepts (every layer keeps at least one pixel).
    pub fn valid_input(h: usize, w: usize) -> bool {
        h >= 1 && w >= 1 && h <= 8192 && w <= 8192
    }
}
