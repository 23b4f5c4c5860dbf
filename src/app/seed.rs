//! The seed document's latency tables (`ResNet_and_vd.md`, 1.3.1 V100 and 1.3.2 T4), in ms.

/// A model's published latencies: V100 FP32 at batch 1/4/8; T4 FP16 and FP32 at batch 1/4/8.
#[derive(Clone, Copy, Debug)]
pub struct SeedLatency {
    pub name: &'static str,
    pub v100_fp32: Option<[f64; 3]>,
    pub t4_fp16: Option<[f64; 3]>,
    pub t4_fp32: Option<[f64; 3]>,
}

pub const SEED_LATENCY: &[SeedLatency] = &[
    SeedLatency {
        name: "ResNet18",
        v100_fp32: Some([1.22, 2.19, 3.63]),
        t4_fp16: Some([1.3568, 2.5225, 3.61904]),
        t4_fp32: Some([1.45606, 3.56305, 6.28798]),
    },
    SeedLatency {
        name: "ResNet18_vd",
        v100_fp32: Some([1.26, 2.28, 3.89]),
        t4_fp16: Some([1.39593, 2.69063, 3.88267]),
        t4_fp32: Some([1.54557, 3.85363, 6.88121]),
    },
    SeedLatency {
        name: "ResNet34",
        v100_fp32: Some([1.97, 3.25, 5.7]),
        t4_fp16: Some([2.23092, 4.10205, 5.54904]),
        t4_fp32: Some([2.34957, 5.89821, 10.73451]),
    },
    SeedLatency {
        name: "ResNet34_vd",
        v100_fp32: Some([2.0, 3.28, 5.84]),
        t4_fp16: Some([2.23992, 4.22246, 5.79534]),
        t4_fp32: Some([2.43427, 6.22257, 11.44906]),
    },
    SeedLatency {
        name: "ResNet34_vd_ssld",
        v100_fp32: Some([2.0, 3.26, 5.85]),
        t4_fp16: Some([2.23992, 4.22246, 5.79534]),
        t4_fp32: Some([2.43427, 6.22257, 11.44906]),
    },
    SeedLatency {
        name: "ResNet50",
        v100_fp32: Some([2.54, 4.79, 7.4]),
        t4_fp16: Some([2.63824, 4.63802, 7.02444]),
        t4_fp32: Some([3.47712, 7.84421, 13.90633]),
    },
    SeedLatency {
        name: "ResNet50_vc",
        v100_fp32: Some([2.57, 4.83, 7.52]),
        t4_fp16: Some([2.67064, 4.72372, 7.17204]),
        t4_fp32: Some([3.52346, 8.10725, 14.45577]),
    },
    SeedLatency {
        name: "ResNet50_vd",
        v100_fp32: Some([2.6, 4.86, 7.63]),
        t4_fp16: Some([2.65164, 4.84109, 7.46225]),
        t4_fp32: Some([3.53131, 8.09057, 14.45965]),
    },
    SeedLatency {
        name: "ResNet50_vd_v2",
        v100_fp32: Some([2.59, 4.86, 7.59]),
        t4_fp16: Some([2.65164, 4.84109, 7.46225]),
        t4_fp32: Some([3.53131, 8.09057, 14.45965]),
    },
    SeedLatency {
        name: "ResNet101",
        v100_fp32: Some([4.37, 8.18, 12.38]),
        t4_fp16: Some([5.04037, 7.73673, 10.8936]),
        t4_fp32: Some([6.07125, 13.40573, 24.3597]),
    },
    SeedLatency {
        name: "ResNet101_vd",
        v100_fp32: Some([4.43, 8.25, 12.6]),
        t4_fp16: Some([5.05972, 7.83685, 11.34235]),
        t4_fp32: Some([6.11704, 13.76222, 25.11071]),
    },
    SeedLatency {
        name: "ResNet152",
        v100_fp32: Some([6.05, 11.41, 17.33]),
        t4_fp16: Some([7.28665, 10.62001, 14.90317]),
        t4_fp32: Some([8.50198, 19.17073, 35.78384]),
    },
    SeedLatency {
        name: "ResNet152_vd",
        v100_fp32: Some([6.11, 11.51, 17.59]),
        t4_fp16: Some([7.29127, 10.86137, 15.32444]),
        t4_fp32: Some([8.54376, 19.52157, 36.64445]),
    },
    SeedLatency {
        name: "ResNet200_vd",
        v100_fp32: Some([7.7, 14.57, 22.16]),
        t4_fp16: Some([9.36026, 13.5474, 19.0725]),
        t4_fp32: Some([10.80619, 25.01731, 48.81399]),
    },
    SeedLatency {
        name: "ResNet50_vd_ssld",
        v100_fp32: Some([2.59, 4.87, 7.62]),
        t4_fp16: Some([2.65164, 4.84109, 7.46225]),
        t4_fp32: Some([3.53131, 8.09057, 14.45965]),
    },
    SeedLatency {
        name: "ResNet50_vd_ssld_v2",
        v100_fp32: None,
        t4_fp16: Some([2.65164, 4.84109, 7.46225]),
        t4_fp32: Some([3.53131, 8.09057, 14.45965]),
    },
    SeedLatency {
        name: "Fix_ResNet50_vd_ssld_v2",
        v100_fp32: None,
        t4_fp16: Some([3.42818, 7.51534, 13.1937]),
        t4_fp32: Some([5.07696, 14.64218, 27.01453]),
    },
    SeedLatency {
        name: "ResNet101_vd_ssld",
        v100_fp32: Some([4.43, 8.25, 12.58]),
        t4_fp16: Some([5.05972, 7.83685, 11.34235]),
        t4_fp32: Some([6.11704, 13.76222, 25.11071]),
    },
];

pub fn seed_latency(name: &str) -> Option<&'static SeedLatency> {
    SEED_LATENCY.iter().find(|s| s.name == name)
}
