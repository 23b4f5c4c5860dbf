/* classify.c: the top-5 classes of image files (JPEG, PNG, ...) through gpu-resnet's C API.
 *
 *   classify WEIGHTS [--model NAME] FILE...
 *
 * WEIGHTS: a .pdparams / safetensors / ONNX file or a Paddle inference model directory.
 * A FILE ending in .npy is taken as an already normalised float32 NCHW batch [N,3,H,W] (the
 * golden cases' inputs): its logits are computed and each image's top-5 printed.
 * Prints one line per image: "FILE[#i]: id:score:label ..." (for .npy inputs the number is
 * the logit, for images the softmax probability). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gpu_resnet.h>

#include "npy.h"

static int fail(const char *what) {
    fprintf(stderr, "classify: %s: %s\n", what, gr_last_error());
    return 1;
}

/* Top-5 of each image of an .npy batch, by logits. */
static int classify_npy(gr_model *model, const char *path) {
    npy_array a;
    uint32_t classes = gr_model_classes(model);
    float *logits;
    uint32_t i, r, c;
    if (npy_read(path, &a) != 0 || a.ndim != 4 || a.shape[1] != 3) {
        fprintf(stderr, "classify: %s: not a float32 [N,3,H,W] .npy file\n", path);
        return 1;
    }
    logits = malloc((size_t)a.shape[0] * classes * sizeof(float));
    if (logits == NULL) return 1;
    if (gr_model_run(model, a.data, (uint32_t)a.shape[0], (uint32_t)a.shape[2],
                     (uint32_t)a.shape[3], logits, (size_t)a.shape[0] * classes) != GR_OK) {
        free(logits);
        npy_free(&a);
        return fail(path);
    }
    for (i = 0; i < (uint32_t)a.shape[0]; ++i) {
        const float *l = logits + (size_t)i * classes;
        int taken[5] = {-1, -1, -1, -1, -1};
        printf("%s#%u:", path, i);
        for (r = 0; r < 5 && r < classes; ++r) {
            int best = -1;
            for (c = 0; c < classes; ++c) {
                int seen = 0, t;
                for (t = 0; t < (int)r; ++t) seen |= taken[t] == (int)c;
                if (!seen && (best < 0 || l[c] > l[best])) best = (int)c;
            }
            taken[r] = best;
            printf(" %d:%.6f:%s", best, l[best], gr_model_label(model, (uint32_t)best));
        }
        printf("\n");
    }
    free(logits);
    npy_free(&a);
    return 0;
}

static int classify_image(gr_model *model, const char *path) {
    gr_prediction top[5];
    size_t count = 0, len = 0, i;
    unsigned char *bytes = read_file(path, &len);
    gr_status status;
    if (bytes == NULL) {
        fprintf(stderr, "classify: cannot read %s\n", path);
        return 1;
    }
    status = gr_model_classify(model, bytes, len, top, 5, &count);
    free(bytes);
    if (status != GR_OK) return fail(path);
    printf("%s:", path);
    for (i = 0; i < count; ++i)
        printf(" %u:%.6f:%s", top[i].class_id, top[i].score, gr_model_label(model, top[i].class_id));
    printf("\n");
    return 0;
}

int main(int argc, char **argv) {
    gr_model *model = NULL;
    const char *name = NULL;
    int first = 2, i, failed = 0;
    if (argc > 3 && strcmp(argv[2], "--model") == 0) {
        name = argv[3];
        first = 4;
    }
    if (argc <= first) {
        fprintf(stderr, "usage: %s WEIGHTS [--model NAME] FILE...\n", argv[0]);
        return 2;
    }
    if (gr_model_open(argv[1], name, &model) != GR_OK) return fail(argv[1]);
    fprintf(stderr, "gpu-resnet %s: %s on %s\n", gr_version(), gr_model_summary(model),
            gr_model_adapter(model));
    for (i = first; i < argc; ++i) {
        size_t n = strlen(argv[i]);
        if (n > 4 && strcmp(argv[i] + n - 4, ".npy") == 0)
            failed |= classify_npy(model, argv[i]);
        else
            failed |= classify_image(model, argv[i]);
    }
    gr_model_free(model);
    return failed;
}
