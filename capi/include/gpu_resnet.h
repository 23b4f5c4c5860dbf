/*
 * gpu_resnet.h: the C API of gpu-resnet, ResNet inference (the PaddleClas family) on the GPU
 * through wgpu (Vulkan, Metal, DX12, GL).
 *
 * C99; usable from C++ as is. Link with -lgpu_resnet (pkg-config gpu_resnet, or CMake's
 * find_package(gpu_resnet) and the target gpu_resnet::gpu_resnet).
 *
 * Conventions, for every function below:
 *  - Errors: a function returning gr_status returns GR_OK on success; otherwise it wrote
 *    nothing to its output buffers (pointer outputs are set to NULL / 0 where said) and
 *    gr_last_error() describes the failure. Functions returning a pointer return NULL on
 *    failure, and those returning a count return 0; gr_last_error() then says why.
 *  - Pointers: every pointer is checked for NULL (GR_ERR_ARGUMENT naming it). A buffer's size
 *    is what its length argument says; the library never reads or writes past it.
 *  - Strings: in and out, NUL-terminated UTF-8.
 *  - Ownership: a gr_model belongs to the caller from gr_model_open* until gr_model_free.
 *    Strings returned by gr_model_* functions belong to the model and stay valid until
 *    gr_model_free; gr_version's string is static; gr_last_error's and gr_adapter_name's
 *    belong to the calling thread (see each). The library keeps no pointer the caller passed
 *    in after the call returns (weights in memory are copied).
 *  - Threads: every function may be called from any thread. One gr_model may be used by
 *    several threads at once (gr_model_run, gr_model_classify*, the getters): runs of the
 *    same batch shape take turns, runs of different shapes proceed side by side. Only
 *    gr_model_free must not overlap any other use of that model.
 *  - No C++ exception or Rust panic crosses this API: an internal failure returns
 *    GR_ERR_INTERNAL with its message.
 *  - A process that fork()s after opening a model cannot use it in the child (the GPU device
 *    does not survive fork): calls there return GR_ERR_DEVICE. Open models in the child.
 */
#ifndef GPU_RESNET_H
#define GPU_RESNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI's major version: the shared library is libgpu_resnet.so.0. */
#define GPU_RESNET_ABI_VERSION 0

/* An opened model (opaque). */
typedef struct gr_model gr_model;

/* What a call ended with. The values are fixed; new kinds may be added at the end. */
typedef enum gr_status {
    GR_OK = 0,
    /* A NULL pointer, a too-small buffer, an out-of-range index, an invalid enum value or
     * a string that is not UTF-8: the caller's mistake. */
    GR_ERR_ARGUMENT = 1,
    /* A weights file or model directory that cannot be read or used (missing, corrupt,
     * not a ResNet, a tensor of the wrong shape). */
    GR_ERR_WEIGHTS = 2,
    /* An input the model refuses: a batch or size outside its limits, an image that cannot
     * be decoded, an unknown model name. */
    GR_ERR_INPUT = 3,
    /* No GPU adapter, a missing feature, a GPU error, a lost device. */
    GR_ERR_DEVICE = 4,
    /* NaN or Inf in the input or in the logits. */
    GR_ERR_NONFINITE = 5,
    /* A bug of the library, caught at the boundary. */
    GR_ERR_INTERNAL = 6
} gr_status;

/* The storage the weights and activations run in. */
typedef enum gr_precision {
    GR_PRECISION_FP32 = 0,
    /* FP16, native where the adapter has SHADER_F16, packed in u32 otherwise. */
    GR_PRECISION_FP16 = 1
} gr_precision;

/* The GPU API to run on. AUTO: Vulkan, Metal or DX12 when present, else GL. */
typedef enum gr_backend {
    GR_BACKEND_AUTO = 0,
    GR_BACKEND_VULKAN = 1,
    GR_BACKEND_GL = 2,
    GR_BACKEND_METAL = 3,
    GR_BACKEND_DX12 = 4
} gr_backend;

/* How to open a model. Start from gr_options_default() and change what you need. */
typedef struct gr_options {
    /* A model name such as "ResNet50_vd" (as `gpu-resnet models` lists them), or NULL to
     * recognise the architecture from the weights. When given, the weights must agree.
     * Only read during the open call. */
    const char *model_name;
    gr_precision precision;
    gr_backend backend;
    /* Index into gr_adapters' list for `backend`; negative: the backend's preferred
     * adapter. */
    int32_t adapter;
} gr_options;

/* One class of a classification: its id and softmax probability. */
typedef struct gr_prediction {
    uint32_t class_id;
    float score;
} gr_prediction;

/* ---- Errors and version ---------------------------------------------------------------- */

/* This thread's last error message (UTF-8; "" if no call on this thread has failed yet).
 * Owned by the library; valid until the next failing call on this thread replaces it
 * (successful calls leave it as it is). Never NULL. */
const char *gr_last_error(void);

/* The library's version, e.g. "0.1.0". A static string; never NULL. */
const char *gr_version(void);

/* ---- Opening and freeing --------------------------------------------------------------- */

/* gr_options with the defaults: model recognised from the weights, FP32, backend AUTO, the
 * preferred adapter. */
gr_options gr_options_default(void);

/* Open a model from a file or directory: a PaddleClas checkpoint (.pdparams), safetensors,
 * ONNX, a Paddle inference model (directory, or its inference.json / inference.pdmodel
 * program next to inference.pdiparams). `model_name` as gr_options.model_name (NULL:
 * recognised). On success *out holds the new model (free it with gr_model_free); on failure
 * *out is set to NULL. Compiles the GPU kernels: expect it to take a while. */
gr_status gr_model_open(const char *weights_path, const char *model_name, gr_model **out);

/* gr_model_open with options; `opts` NULL means gr_options_default(). */
gr_status gr_model_open_with(const char *weights_path, const gr_options *opts, gr_model **out);

/* Open a model from one file held in memory (`len` bytes at `bytes`; copied, so the caller
 * may free them on return). `name` is the file's name (its extension helps recognise the
 * format, and errors name it); NULL names it "weights in memory". `opts` NULL: defaults. */
gr_status gr_model_open_memory(const void *bytes, size_t len, const char *name,
                               const gr_options *opts, gr_model **out);

/* Open a model made of several files held in memory, e.g. a Paddle inference model's
 * "inference.json" (or "inference.pdmodel") and "inference.pdiparams" (plus optionally
 * "inference.yml"): `count` files, file i named names[i] with lens[i] bytes at bytes[i].
 * Everything is copied. `opts` NULL: defaults. */
gr_status gr_model_open_files(const char *const *names, const void *const *bytes,
                              const size_t *lens, size_t count, const gr_options *opts,
                              gr_model **out);

/* Free a model and everything it owns (its strings included). NULL is fine. No other thread
 * may be using the model during or after this call. */
void gr_model_free(gr_model *model);

/* ---- What a model is ------------------------------------------------------------------- */

/* The number of classes (the length of one image's logits); 0 for NULL. */
uint32_t gr_model_classes(const gr_model *model);

/* The model's name, e.g. "ResNet50_vd". Owned by the model; NULL for a NULL model. */
const char *gr_model_name(const gr_model *model);

/* The input tensor's name in the model file ("x" for PaddleClas exports). Owned by the
 * model; NULL for a NULL model. */
const char *gr_model_input_name(const gr_model *model);

/* The side images are cropped to (224, or what the model's files declare); 0 for NULL. */
uint32_t gr_model_input_size(const gr_model *model);

/* The storage it runs in: "fp32", or for GR_PRECISION_FP16 "fp16-native", "fp16-native-f32math"
 * or "fp16-packed" (what the adapter supports). Owned by the model. */
const char *gr_model_precision(const gr_model *model);

/* The adapter it runs on, as gr_adapter_name describes it. Owned by the model. */
const char *gr_model_adapter(const gr_model *model);

/* One line on what was recognised, e.g. "ResNet50_vd (1000 classes, input x [N,3,H,W])".
 * Owned by the model. */
const char *gr_model_summary(const gr_model *model);

/* The name of class `class_id`: the model's inference.yml label list when it has one,
 * ImageNet's names for 1000 classes, else "class_<id>". Owned by the model; NULL (the
 * reason in gr_last_error()) when class_id >= gr_model_classes(model) or model is NULL. */
const char *gr_model_label(const gr_model *model, uint32_t class_id);

/* ---- Running --------------------------------------------------------------------------- */

/* The logits of a batch: `input_nchw` holds n*3*h*w floats, already normalised (the model's
 * mean and std applied), in NCHW order; `logits` has room for `logits_len` floats, of which
 * n*gr_model_classes(model) are written, image after image. The same computation as
 * `gpu-resnet infer`. Errors: GR_ERR_ARGUMENT for NULL pointers or logits_len too small
 * (nothing written); GR_ERR_INPUT for a zero or overflowing shape or a batch/size the model
 * or device refuses (the message names the limit); GR_ERR_NONFINITE for NaN/Inf in the input
 * (or the logits). The first call for a new (n, h, w) compiles a plan for it (the 8 most
 * recent shapes are kept). Thread-safe, see the conventions above. */
gr_status gr_model_run(gr_model *model, const float *input_nchw, uint32_t n, uint32_t h,
                       uint32_t w, float *logits, size_t logits_len);

/* Classify one encoded image (JPEG, PNG, BMP, WebP, GIF, TIFF: `len` bytes at `bytes`):
 * decoded on the CPU, resized, cropped and normalised on the GPU as `gpu-resnet predict`
 * does, then the `k` most probable classes, most probable first, written to top[0..]. `top`
 * must have room for `k` entries; *count (if `count` is not NULL) receives how many were
 * written: min(k, classes). Errors: GR_ERR_ARGUMENT (NULL, k == 0), GR_ERR_INPUT (an image
 * that cannot be decoded or is too large). */
gr_status gr_model_classify(gr_model *model, const uint8_t *bytes, size_t len,
                            gr_prediction *top, size_t k, size_t *count);

/* gr_model_classify for raw pixels: `rgb` holds height*width*3 bytes, row after row, R G B
 * per pixel (e.g. a frame read back from a renderer). */
gr_status gr_model_classify_rgb(gr_model *model, const uint8_t *rgb, uint32_t height,
                                uint32_t width, gr_prediction *top, size_t k, size_t *count);

/* ---- Adapters -------------------------------------------------------------------------- */

/* List the adapters of `backend` (a gr_backend value): *count receives their number, and
 * gr_adapter_name(i) describes adapter i; i is what gr_options.adapter takes. The list is
 * kept per thread until this thread's next gr_adapters call. */
gr_status gr_adapters(gr_backend backend, uint32_t *count);

/* Adapter `index` of this thread's last gr_adapters list, e.g. "llvmpipe (LLVM 15.0.7, 256
 * bits) (Vulkan, Cpu, ...)". Owned by the library; valid until this thread's next
 * gr_adapters call. NULL when index is out of range. */
const char *gr_adapter_name(uint32_t index);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GPU_RESNET_H */
