// gpu_resnet.hpp: a header-only C++17 wrapper over gpu_resnet.h.
//
// gpu_resnet::Model owns a gr_model (RAII, movable, not copyable); every failure throws
// gpu_resnet::Error, which carries the gr_status and the library's message. Thread safety is
// the C API's: one Model may be used by several threads at once (run, classify, getters);
// destroying it must not overlap any other use.
#ifndef GPU_RESNET_HPP
#define GPU_RESNET_HPP

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "gpu_resnet.h"

namespace gpu_resnet {

// A failed call: status() is its gr_status, what() the library's message.
class Error : public std::runtime_error {
public:
    Error(gr_status status, const std::string &message)
        : std::runtime_error(message), status_(status) {}
    gr_status status() const noexcept { return status_; }

private:
    gr_status status_;
};

namespace detail {
inline void check(gr_status status) {
    if (status != GR_OK) throw Error(status, gr_last_error());
}
inline std::string checked_string(const char *s) {
    if (s == nullptr) throw Error(GR_ERR_ARGUMENT, gr_last_error());
    return std::string(s);
}
}  // namespace detail

// gr_options with C++ types; the defaults are gr_options_default()'s.
struct Options {
    std::string model_name;  // empty: recognised from the weights
    gr_precision precision = GR_PRECISION_FP32;
    gr_backend backend = GR_BACKEND_AUTO;
    int32_t adapter = -1;  // negative: the preferred adapter

    gr_options to_c() const {
        gr_options o = gr_options_default();
        o.model_name = model_name.empty() ? nullptr : model_name.c_str();
        o.precision = precision;
        o.backend = backend;
        o.adapter = adapter;
        return o;
    }
};

struct Prediction {
    uint32_t class_id;
    float score;  // softmax probability
};

// One file of a model held in memory (for Model::from_files).
struct File {
    std::string name;
    std::vector<uint8_t> bytes;
};

inline std::string version() { return gr_version(); }

// Descriptions of the adapters of `backend`; the index is Options::adapter.
inline std::vector<std::string> adapters(gr_backend backend = GR_BACKEND_AUTO) {
    uint32_t count = 0;
    detail::check(gr_adapters(backend, &count));
    std::vector<std::string> names;
    for (uint32_t i = 0; i < count; ++i) names.push_back(detail::checked_string(gr_adapter_name(i)));
    return names;
}

class Model {
public:
    // Open a weights file or Paddle inference model directory.
    explicit Model(const std::string &weights_path, const Options &options = Options()) {
        gr_options o = options.to_c();
        detail::check(gr_model_open_with(weights_path.c_str(), &o, &model_));
    }

    // Open one file held in memory; `name` is its file name (format hint, messages).
    static Model from_memory(const void *bytes, std::size_t len, const std::string &name,
                             const Options &options = Options()) {
        gr_options o = options.to_c();
        gr_model *m = nullptr;
        detail::check(gr_model_open_memory(bytes, len, name.c_str(), &o, &m));
        return Model(m);
    }
    static Model from_memory(const std::vector<uint8_t> &bytes, const std::string &name,
                             const Options &options = Options()) {
        return from_memory(bytes.data(), bytes.size(), name, options);
    }

    // Open a model made of several files held in memory (e.g. inference.json + .pdiparams).
    static Model from_files(const std::vector<File> &files, const Options &options = Options()) {
        std::vector<const char *> names;
        std::vector<const void *> data;
        std::vector<std::size_t> lens;
        for (const File &f : files) {
            names.push_back(f.name.c_str());
            data.push_back(f.bytes.data());
            lens.push_back(f.bytes.size());
        }
        gr_options o = options.to_c();
        gr_model *m = nullptr;
        detail::check(gr_model_open_files(names.data(), data.data(), lens.data(), files.size(),
                                          &o, &m));
        return Model(m);
    }

    Model(Model &&other) noexcept : model_(std::exchange(other.model_, nullptr)) {}
    Model &operator=(Model &&other) noexcept {
        if (this != &other) {
            gr_model_free(model_);
            model_ = std::exchange(other.model_, nullptr);
        }
        return *this;
    }
    Model(const Model &) = delete;
    Model &operator=(const Model &) = delete;
    ~Model() { gr_model_free(model_); }

    uint32_t classes() const { return gr_model_classes(get()); }
    std::string name() const { return detail::checked_string(gr_model_name(get())); }
    std::string input_name() const { return detail::checked_string(gr_model_input_name(get())); }
    uint32_t input_size() const { return gr_model_input_size(get()); }
    std::string precision() const { return detail::checked_string(gr_model_precision(get())); }
    std::string adapter() const { return detail::checked_string(gr_model_adapter(get())); }
    std::string summary() const { return detail::checked_string(gr_model_summary(get())); }
    std::string label(uint32_t class_id) const {
        return detail::checked_string(gr_model_label(get(), class_id));
    }

    // Logits of a normalised NCHW batch [n, 3, h, w] into `logits` (room for `logits_len`).
    void run(const float *input_nchw, uint32_t n, uint32_t h, uint32_t w, float *logits,
             std::size_t logits_len) const {
        detail::check(gr_model_run(get(), input_nchw, n, h, w, logits, logits_len));
    }

    // The same, returning n * classes() logits. The input's size must be n*3*h*w.
    std::vector<float> run(const std::vector<float> &input_nchw, uint32_t n, uint32_t h,
                           uint32_t w) const {
        // Checked here too: the C call can only see the pointer.
        const std::size_t want = static_cast<std::size_t>(n) * 3 * h * w;
        if (input_nchw.size() != want)
            throw Error(GR_ERR_ARGUMENT, "input has " + std::to_string(input_nchw.size()) +
                                             " floats; [" + std::to_string(n) + ", 3, " +
                                             std::to_string(h) + ", " + std::to_string(w) +
                                             "] needs " + std::to_string(want));
        std::vector<float> logits(static_cast<std::size_t>(n) * classes());
        run(input_nchw.data(), n, h, w, logits.data(), logits.size());
        return logits;
    }

    // Top-k classes of an encoded image (JPEG, PNG, ...), most probable first.
    std::vector<Prediction> classify(const uint8_t *bytes, std::size_t len, std::size_t k = 5) const {
        std::vector<gr_prediction> top(k);
        std::size_t count = 0;
        detail::check(gr_model_classify(get(), bytes, len, top.data(), k, &count));
        return convert(top, count);
    }
    std::vector<Prediction> classify(const std::vector<uint8_t> &bytes, std::size_t k = 5) const {
        return classify(bytes.data(), bytes.size(), k);
    }

    // Top-k classes of raw RGB pixels (height*width*3 bytes).
    std::vector<Prediction> classify_rgb(const uint8_t *rgb, uint32_t height, uint32_t width,
                                         std::size_t k = 5) const {
        std::vector<gr_prediction> top(k);
        std::size_t count = 0;
        detail::check(gr_model_classify_rgb(get(), rgb, height, width, top.data(), k, &count));
        return convert(top, count);
    }

    // The C handle, still owned by this Model.
    gr_model *get() const {
        if (model_ == nullptr) throw Error(GR_ERR_ARGUMENT, "gpu_resnet::Model was moved from");
        return model_;
    }

private:
    explicit Model(gr_model *m) : model_(m) {}
    static std::vector<Prediction> convert(const std::vector<gr_prediction> &top,
                                           std::size_t count) {
        std::vector<Prediction> out;
        for (std::size_t i = 0; i < count && i < top.size(); ++i)
            out.push_back(Prediction{top[i].class_id, top[i].score});
        return out;
    }

    gr_model *model_ = nullptr;
};

}  // namespace gpu_resnet

#endif  // GPU_RESNET_HPP
