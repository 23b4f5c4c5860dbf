//! `gpu-resnet tune`'s engine: every candidate tile timed on a model's conv shapes (it compiles
//! and runs plans, so it sits above [`crate::plan`] and [`crate::model`]). The table it fills,
//! its cache file and the candidates live in [`crate::tuning`], below the model and the plan
//! that read them; re-exported here, their first home.

mod measure;

pub use crate::tuning::{
    accumulators, cache_dir, cache_file, candidates, fits, load, load_from, BuildBudget, ConvShape,
    TuneStamp, TuneStatus, TuneTable, TunedTile,
};
pub use measure::{
    describe, describe_choice, tune_model, CandidateReport, Choice, ShapeTiming, TuneOptions,
};
