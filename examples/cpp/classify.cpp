// classify.cpp: the top-5 classes of image files through gpu-resnet's C++ wrapper.
//
//   classify_cpp WEIGHTS [--model NAME] FILE...
//
// Like examples/c/classify.c: a FILE ending in .npy is a normalised float32 NCHW batch whose
// logits are computed (the number printed is then the logit, else the softmax probability).
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <iterator>
#include <numeric>
#include <string>
#include <vector>

#include <gpu_resnet.hpp>

namespace {

std::vector<uint8_t> read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// A little-endian float32 C-order .npy file: its shape and values.
std::vector<float> read_npy(const std::string &path, std::vector<uint32_t> &shape) {
    const std::vector<uint8_t> bytes = read_file(path);
    if (bytes.size() < 10 || std::string(bytes.begin() + 1, bytes.begin() + 6) != "NUMPY")
        throw std::runtime_error(path + ": not an .npy file");
    const bool v1 = bytes[6] == 1;
    const std::size_t prefix = v1 ? 10 : 12;
    std::size_t header_len = bytes[8] | bytes[9] << 8;
    if (!v1) header_len |= std::size_t(bytes[10]) << 16 | std::size_t(bytes[11]) << 24;
    if (bytes.size() < prefix + header_len) throw std::runtime_error(path + ": truncated");
    const std::string header(bytes.begin() + prefix, bytes.begin() + prefix + header_len);
    if (header.find("'<f4'") == std::string::npos ||
        header.find("'fortran_order': False") == std::string::npos)
        throw std::runtime_error(path + ": not float32 in C order");
    std::size_t at = header.find("'shape': (");
    if (at == std::string::npos) throw std::runtime_error(path + ": no shape");
    at += 10;
    std::size_t count = 1;
    while (at < header.size() && header[at] != ')') {
        std::size_t used = 0;
        const unsigned long d = std::stoul(header.substr(at), &used);
        shape.push_back(static_cast<uint32_t>(d));
        count *= d;
        at += used;
        while (at < header.size() && (header[at] == ',' || header[at] == ' ')) ++at;
    }
    if (bytes.size() != prefix + header_len + count * sizeof(float))
        throw std::runtime_error(path + ": size does not match its shape");
    std::vector<float> values(count);
    std::copy_n(bytes.data() + prefix + header_len, count * sizeof(float),
                reinterpret_cast<uint8_t *>(values.data()));
    return values;
}

void classify_npy(const gpu_resnet::Model &model, const std::string &path) {
    std::vector<uint32_t> shape;
    const std::vector<float> input = read_npy(path, shape);
    if (shape.size() != 4 || shape[1] != 3) throw std::runtime_error(path + ": not [N,3,H,W]");
    const std::vector<float> logits = model.run(input, shape[0], shape[2], shape[3]);
    const std::size_t classes = model.classes();
    for (uint32_t i = 0; i < shape[0]; ++i) {
        const float *l = logits.data() + i * classes;
        std::vector<uint32_t> ids(classes);
        std::iota(ids.begin(), ids.end(), 0u);
        const std::size_t k = std::min<std::size_t>(5, classes);
        std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [l](uint32_t a, uint32_t b) {
            return l[a] > l[b] || (l[a] == l[b] && a < b);
        });
        std::cout << path << '#' << i << ':';
        for (std::size_t r = 0; r < k; ++r)
            std::cout << ' ' << ids[r] << ':' << l[ids[r]] << ':' << model.label(ids[r]);
        std::cout << '\n';
    }
}

void classify_image(const gpu_resnet::Model &model, const std::string &path) {
    std::cout << path << ':';
    for (const gpu_resnet::Prediction &p : model.classify(read_file(path), 5))
        std::cout << ' ' << p.class_id << ':' << p.score << ':' << model.label(p.class_id);
    std::cout << '\n';
}

}  // namespace

int main(int argc, char **argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() < 2) {
        std::cerr << "usage: classify_cpp WEIGHTS [--model NAME] FILE...\n";
        return 2;
    }
    try {
        gpu_resnet::Options options;
        std::size_t first = 1;
        if (args.size() > 3 && args[1] == "--model") {
            options.model_name = args[2];
            first = 3;
        }
        const gpu_resnet::Model model(args[0], options);
        std::cerr << "gpu-resnet " << gpu_resnet::version() << ": " << model.summary() << " on "
                  << model.adapter() << '\n';
        std::cout.precision(6);
        std::cout << std::fixed;
        for (std::size_t i = first; i < args.size(); ++i) {
            const std::string &f = args[i];
            if (f.size() > 4 && f.compare(f.size() - 4, 4, ".npy") == 0)
                classify_npy(model, f);
            else
                classify_image(model, f);
        }
    } catch (const gpu_resnet::Error &e) {
        std::cerr << "classify_cpp: " << e.what() << " (status " << e.status() << ")\n";
        return 1;
    } catch (const std::exception &e) {
        std::cerr << "classify_cpp: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
