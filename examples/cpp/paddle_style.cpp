// paddle_style.cpp: code written for Paddle Inference's C++ API (as PaddleClas's C++ demo
// calls it), built against gpu-resnet's paddle_inference_api.h instead.
//
//   paddle_style MODEL_DIR INPUT.npy
//
// MODEL_DIR holds inference.json (or inference.pdmodel) and inference.pdiparams; INPUT.npy is
// a normalised float32 [N,3,H,W] batch. Prints each image's top-5 logits.
#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <numeric>
#include <string>
#include <vector>

#include <paddle_inference_api.h>

namespace {

// The float32 values and shape of a C-order .npy file (the example's input only).
std::vector<float> read_npy(const std::string &path, std::vector<int> &shape) {
    std::ifstream in(path, std::ios::binary);
    const std::vector<char> b((std::istreambuf_iterator<char>(in)), {});
    if (b.size() < 10) throw std::runtime_error(path + ": not an .npy file");
    const std::size_t prefix = b[6] == 1 ? 10 : 12;
    std::size_t len = static_cast<unsigned char>(b[8]) | static_cast<unsigned char>(b[9]) << 8;
    if (prefix == 12)
        len |= std::size_t(static_cast<unsigned char>(b[10])) << 16 |
               std::size_t(static_cast<unsigned char>(b[11])) << 24;
    const std::string header(b.begin() + prefix, b.begin() + prefix + len);
    std::size_t at = header.find("'shape': (") + 10;
    while (header[at] != ')') {
        std::size_t used = 0;
        shape.push_back(std::stoi(header.substr(at), &used));
        at += used;
        while (header[at] == ',' || header[at] == ' ') ++at;
    }
    const std::size_t count =
        std::accumulate(shape.begin(), shape.end(), std::size_t(1), std::multiplies<>());
    if (b.size() != prefix + len + count * 4) throw std::runtime_error(path + ": bad size");
    std::vector<float> v(count);
    std::copy_n(b.data() + prefix + len, count * 4, reinterpret_cast<char *>(v.data()));
    return v;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 3) {
        std::cerr << "usage: paddle_style MODEL_DIR INPUT.npy\n";
        return 2;
    }
    const std::string dir = argv[1];
    try {
        std::vector<int> shape;
        const std::vector<float> input = read_npy(argv[2], shape);

        // From here on, what Paddle Inference code looks like.
        std::ifstream pir(dir + "/inference.json");
        const std::string program = dir + (pir ? "/inference.json" : "/inference.pdmodel");
        paddle_infer::Config config;
        config.SetModel(program, dir + "/inference.pdiparams");
        config.EnableUseGpu(100, 0);
        config.SwitchIrOptim(true);
        config.EnableMemoryOptim();
        auto predictor = paddle_infer::CreatePredictor(config);

        auto input_names = predictor->GetInputNames();
        auto input_t = predictor->GetInputHandle(input_names[0]);
        input_t->Reshape(shape);
        input_t->CopyFromCpu(input.data());
        predictor->Run();

        auto output_names = predictor->GetOutputNames();
        auto output_t = predictor->GetOutputHandle(output_names[0]);
        std::vector<int> output_shape = output_t->shape();
        const int out_num = std::accumulate(output_shape.begin(), output_shape.end(), 1,
                                            std::multiplies<int>());
        std::vector<float> out_data(out_num);
        output_t->CopyToCpu(out_data.data());

        const int classes = output_shape[1];
        for (int i = 0; i < output_shape[0]; ++i) {
            std::vector<int> ids(classes);
            std::iota(ids.begin(), ids.end(), 0);
            const float *l = out_data.data() + i * classes;
            std::partial_sort(ids.begin(), ids.begin() + 5, ids.end(),
                              [l](int a, int b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
            std::cout << argv[2] << '#' << i << ':';
            for (int r = 0; r < 5; ++r) std::cout << ' ' << ids[r] << ':' << l[ids[r]];
            std::cout << '\n';
        }
    } catch (const std::exception &e) {
        std::cerr << "paddle_style: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
