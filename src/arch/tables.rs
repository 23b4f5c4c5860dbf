//! The twelve architectures as data (stem, block, depths, shortcut). The parameter and FLOP
//! counts derived from their graphs are in `graph.rs`.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stem {
    /// One 7x7/2 conv, 3 -> 64 ("vb").
    Plain,
    /// Three 3x3 convs 3 -> 32 (/2) -> 32 -> 64 ("vc"/"vd").
    Deep,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shortcut {
    /// Projection: a 1x1 conv carrying the block's stride.
    Strided,
    /// vd: a 2x2/2 average pool (ceil mode, padding excluded) then a stride-1 1x1 conv.
    AvgPool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    /// Two 3x3 convs (ResNet18/34).
    Basic,
    /// 1x1 -> 3x3 -> 1x1 with 4x expansion (ResNet50+); the stride sits on the 3x3.
    Bottleneck,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arch {
    pub name: &'static str,
    pub block: Block,
    pub stage_depths: [usize; 4],
    pub stem: Stem,
    pub shortcut: Shortcut,
}

const fn arch(
    name: &'static str,
    block: Block,
    stage_depths: [usize; 4],
    stem: Stem,
    shortcut: Shortcut,
) -> Arch {
    Arch {
        name,
        block,
        stage_depths,
        stem,
        shortcut,
    }
}

use Block::{Basic, Bottleneck};
use Shortcut::{AvgPool, Strided};
use Stem::{Deep, Plain};

/// Every architecture the engine runs.
pub const ARCHS: &[Arch] = &[
    arch("ResNet18", Basic, [2, 2, 2, 2], Plain, Strided),
    arch("ResNet34", Basic, [3, 4, 6, 3], Plain, Strided),
    arch("ResNet50", Bottleneck, [3, 4, 6, 3], Plain, Strided),
    arch("ResNet101", Bottleneck, [3, 4, 23, 3], Plain, Strided),
    arch("ResNet152", Bottleneck, [3, 8, 36, 3], Plain, Strided),
    arch("ResNet50_vc", Bottleneck, [3, 4, 6, 3], Deep, Strided),
    arch("ResNet18_vd", Basic, [2, 2, 2, 2], Deep, AvgPool),
    arch("ResNet34_vd", Basic, [3, 4, 6, 3], Deep, AvgPool),
    arch("ResNet50_vd", Bottleneck, [3, 4, 6, 3], Deep, AvgPool),
    arch("ResNet101_vd", Bottleneck, [3, 4, 23, 3], Deep, AvgPool),
    arch("ResNet152_vd", Bottleneck, [3, 8, 36, 3], Deep, AvgPool),
    arch("ResNet200_vd", Bottleneck, [3, 12, 48, 3], Deep, AvgPool),
];

pub fn find_arch(name: &str) -> Option<Arch> {
    ARCHS
        .iter()
        .copied()
        .find(|a| a.name.eq_ignore_ascii_case(name))
}

impl Arch {
    pub fn expansion(&self) -> usize {
        match self.block {
            Block::Basic => 1,
            Block::Bottleneck => 4,
        }
    }

    /// Channels entering the head.
    pub fn features(&self) -> usize {
        512 * self.expansion()
    }
}
