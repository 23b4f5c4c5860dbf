// paddle_inference_api.h (gpu-resnet): the part of Paddle Inference's C++ API that PaddleClas's
// C++ demo uses, mapped onto gpu_resnet.hpp, so code written for Paddle Inference builds
// against gpu-resnet unchanged for a ResNet classifier:
//
//   paddle_infer::Config config;
//   config.SetModel(dir + "/inference.json", dir + "/inference.pdiparams");  // or .pdmodel
//   config.EnableUseGpu(100, 0);                 // 0: the preferred adapter
//   auto predictor = paddle_infer::CreatePredictor(config);
//   auto input = predictor->GetInputHandle(predictor->GetInputNames()[0]);
//   input->Reshape({1, 3, 224, 224});
//   input->CopyFromCpu(data);                    // normalised float32 NCHW
//   predictor->Run();
//   auto output = predictor->GetOutputHandle(predictor->GetOutputNames()[0]);
//   std::vector<float> logits(output->shape()[0] * output->shape()[1]);
//   output->CopyToCpu(logits.data());
//
// Installed as <prefix>/include/gpu_resnet/paddle_inference_api.h: add that directory to the
// include path in place of Paddle's. Only float32 tensors; CPU-only settings (MKLDNN, threads,
// IR passes, TensorRT) are accepted and ignored. Failures throw gpu_resnet::Error (Paddle
// would abort or return false). Header-only C++17.
#ifndef GPU_RESNET_PADDLE_INFERENCE_API_H
#define GPU_RESNET_PADDLE_INFERENCE_API_H

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "gpu_resnet.hpp"

namespace paddle_infer {

enum class PrecisionType { kFloat32 = 0, kInt8, kHalf, kBf16 };

class Config {
public:
    Config() = default;
    explicit Config(const std::string &model_dir) { SetModel(model_dir); }
    Config(const std::string &prog_file, const std::string &params_file) {
        SetModel(prog_file, params_file);
    }

    // A Paddle inference model directory (inference.json or .pdmodel + .pdiparams).
    void SetModel(const std::string &model_dir) {
        model_dir_ = model_dir;
        prog_file_.clear();
        params_file_.clear();
    }
    // The program and parameters files, wherever they are and whatever their names.
    void SetModel(const std::string &prog_file, const std::string &params_file) {
        model_dir_.clear();
        prog_file_ = prog_file;
        params_file_ = params_file;
    }
    void SetProgFile(const std::string &f) { prog_file_ = f; }
    void SetParamsFile(const std::string &f) { params_file_ = f; }
    const std::string &model_dir() const { return model_dir_; }
    const std::string &prog_file() const { return prog_file_; }
    const std::string &params_file() const { return params_file_; }

    // The GPU: device_id 0 (Paddle's default) is the preferred adapter, n > 0 adapter n of
    // gpu_resnet::adapters(); kHalf runs FP16.
    void EnableUseGpu(uint64_t /*memory_pool_init_size_mb*/, int device_id = 0,
                      PrecisionType precision = PrecisionType::kFloat32) {
        options_.adapter = device_id > 0 ? device_id : -1;
        options_.precision =
            precision == PrecisionType::kHalf ? GR_PRECISION_FP16 : GR_PRECISION_FP32;
    }
    // gpu-resnet always runs on a GPU adapter (a CPU one such as lavapipe when that is all
    // there is): the backend's preferred adapter.
    void DisableGpu() { options_.adapter = -1; }
    bool use_gpu() const { return true; }
    int gpu_device_id() const { return options_.adapter < 0 ? 0 : options_.adapter; }

    // Accepted for source compatibility; they tune Paddle's CPU or TensorRT paths.
    void EnableMKLDNN() {}
    void SetMkldnnCacheCapacity(int) {}
    void SetCpuMathLibraryNumThreads(int) {}
    void SwitchIrOptim(bool = true) {}
    void SwitchUseFeedFetchOps(bool = true) {}
    void SwitchSpecifyInputNames(bool = true) {}
    void EnableMemoryOptim(bool = true) {}
    void DisableGlogInfo() {}
    void EnableTensorRtEngine(int64_t = 1 << 30, int = 1, int = 3,
                              PrecisionType = PrecisionType::kFloat32, bool = false,
                              bool = false) {}

    // gpu-resnet's own options (model name, backend, precision, adapter).
    gpu_resnet::Options &gpu_resnet_options() { return options_; }
    const gpu_resnet::Options &gpu_resnet_options() const { return options_; }

private:
    std::string model_dir_, prog_file_, params_file_;
    gpu_resnet::Options options_;
};

namespace detail {
// What a predictor's tensors share with it: the input batch and the logits.
struct State {
    explicit State(gpu_resnet::Model m) : model(std::move(m)) {}
    gpu_resnet::Model model;
    std::vector<int> input_shape;
    std::vector<float> input;
    std::vector<float> output;
    int output_batch = 0;
};

inline std::vector<uint8_t> read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw gpu_resnet::Error(GR_ERR_WEIGHTS, "cannot read " + path);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline std::string base_name(const std::string &path) {
    const std::size_t slash = path.find_last_of("/\\");
    return slash == std::string::npos ? path : path.substr(slash + 1);
}
}  // namespace detail

class Tensor {
public:
    Tensor(std::shared_ptr<detail::State> state, std::string name, bool input)
        : state_(std::move(state)), name_(std::move(name)), input_(input) {}

    const std::string &name() const { return name_; }

    // The input's shape, [N, 3, H, W].
    void Reshape(const std::vector<int> &shape) {
        if (!input_) throw gpu_resnet::Error(GR_ERR_ARGUMENT, name_ + " is an output");
        if (shape.size() != 4 || shape[1] != 3)
            throw gpu_resnet::Error(GR_ERR_ARGUMENT, name_ + ": the input is [N, 3, H, W]");
        for (int d : shape)
            if (d <= 0) throw gpu_resnet::Error(GR_ERR_ARGUMENT, name_ + ": a dimension <= 0");
        state_->input_shape = shape;
    }

    // Copies element_count() floats from `data` (after Reshape).
    template <typename T>
    void CopyFromCpu(const T *data) {
        static_assert(std::is_same<T, float>::value, "gpu-resnet takes float32 input");
        if (!input_) throw gpu_resnet::Error(GR_ERR_ARGUMENT, name_ + " is an output");
        if (state_->input_shape.empty())
            throw gpu_resnet::Error(GR_ERR_ARGUMENT, name_ + ": call Reshape before CopyFromCpu");
        state_->input.assign(data, data + element_count());
    }

    // Copies element_count() floats to `data` (after Run).
    template <typename T>
    void CopyToCpu(T *data) const {
        static_assert(std::is_same<T, float>::value, "gpu-resnet's logits are float32");
        const std::vector<float> &from = input_ ? state_->input : state_->output;
        std::copy(from.begin(), from.end(), data);
    }

    // Input: what Reshape set; output: [N, classes] of the last Run.
    std::vector<int> shape() const {
        if (input_) return state_->input_shape;
        return {state_->output_batch, static_cast<int>(state_->model.classes())};
    }

    std::size_t element_count() const {
        std::size_t n = 1;
        for (int d : shape()) n *= static_cast<std::size_t>(d);
        return n;
    }

private:
    std::shared_ptr<detail::State> state_;
    std::string name_;
    bool input_;
};

class Predictor {
public:
    explicit Predictor(const Config &config) : state_(open(config)) {}

    std::vector<std::string> GetInputNames() const { return {state_->model.input_name()}; }
    std::vector<std::string> GetOutputNames() const { return {"logits"}; }

    std::unique_ptr<Tensor> GetInputHandle(const std::string &name) {
        if (name != state_->model.input_name())
            throw gpu_resnet::Error(GR_ERR_ARGUMENT, "no input named " + name);
        return std::make_unique<Tensor>(state_, name, true);
    }
    std::unique_ptr<Tensor> GetOutputHandle(const std::string &name) {
        if (name != "logits") throw gpu_resnet::Error(GR_ERR_ARGUMENT, "no output named " + name);
        return std::make_unique<Tensor>(state_, name, false);
    }

    // The logits of the input set by Reshape + CopyFromCpu; throws gpu_resnet::Error.
    bool Run() {
        const std::vector<int> &s = state_->input_shape;
        if (s.empty() || state_->input.empty())
            throw gpu_resnet::Error(GR_ERR_ARGUMENT, "Run before the input was set");
        state_->output = state_->model.run(state_->input, static_cast<uint32_t>(s[0]),
                                           static_cast<uint32_t>(s[2]),
                                           static_cast<uint32_t>(s[3]));
        state_->output_batch = s[0];
        return true;
    }

    // The underlying model (names, labels, classify).
    const gpu_resnet::Model &model() const { return state_->model; }

private:
    static std::shared_ptr<detail::State> open(const Config &c) {
        const gpu_resnet::Options &o = c.gpu_resnet_options();
        if (!c.model_dir().empty())
            return std::make_shared<detail::State>(gpu_resnet::Model(c.model_dir(), o));
        if (c.prog_file().empty() || c.params_file().empty())
            throw gpu_resnet::Error(GR_ERR_ARGUMENT, "Config has no model (SetModel)");
        std::vector<gpu_resnet::File> files = {
            {detail::base_name(c.prog_file()), detail::read_file(c.prog_file())},
            {detail::base_name(c.params_file()), detail::read_file(c.params_file())}};
        return std::make_shared<detail::State>(gpu_resnet::Model::from_files(files, o));
    }

    std::shared_ptr<detail::State> state_;
};

inline std::shared_ptr<Predictor> CreatePredictor(const Config &config) {
    return std::make_shared<Predictor>(config);
}

}  // namespace paddle_infer

#endif  // GPU_RESNET_PADDLE_INFERENCE_API_H
