//! The PaddleClas ResNet family as data: the twelve architectures, the seed document's released
//! model names, and the layer graph, FLOPs and parameter counts derived from them.

mod graph;
mod releases;
mod tables;

pub use graph::{
    ConvLayer, ConvRole, Graph, Op, Stage1Shortcut, TensorId, TensorShape, STAGE_FILTERS,
};
pub use releases::{model_names, resolve, ModelSpec, Release, RELEASES};
pub use tables::{find_arch, Arch, Block, Shortcut, Stem, ARCHS};
