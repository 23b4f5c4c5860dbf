/* test_capi.c: the C API from C, as a program outside the project uses it.
 *
 *   test_capi GOLDEN_DIR [--quick]
 *   test_capi GOLDEN_DIR --hostile CORPUS_DIR [GENERATED_DIR]
 *
 * GOLDEN_DIR is ../shared/golden (PaddlePaddle's logits, see its README). Checks:
 *  - every error path: NULL pointers, bad path, corrupt file, unknown model, invalid options,
 *    wrong sizes, too-small logits_len (nothing written), refused size, NaN input, bad
 *    images, out-of-range indices, free(NULL);
 *  - golden logits: max |ours - paddle| <= 1e-3 * max |paddle logit| (the golden README's
 *    tolerance) and the same top-5, for the .pdparams checkpoints and the deployment exports
 *    (ONNX, PIR directory, legacy directory; also from memory);
 *  - two pthreads on one model at once, each getting its own answer;
 *  - open/run/free in a loop with flat memory (RSS).
 * --quick (for AddressSanitizer) skips ResNet50_vd and shortens the loop.
 * --hostile runs only the hostile corpus (tests/data/hostile/cases.tsv; see hostile_corpus).
 * Exits 0 when every check passed; prints each failure. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gpu_resnet.h>

#include "../../../examples/c/npy.h"

static int checks, failures;

#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        ++checks;                                                        \
        if (!(cond)) {                                                   \
            ++failures;                                                  \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);         \
            fprintf(stderr, __VA_ARGS__);                                \
            fprintf(stderr, " (last error: %s)\n", gr_last_error());     \
        }                                                                \
    } while (0)

/* The status is `want` and the message mentions `word`. */
static void expect(gr_status got, gr_status want, const char *word, const char *what) {
    CHECK(got == want, "%s: status %d, want %d", what, (int)got, (int)want);
    if (got != GR_OK && word != NULL)
        CHECK(strstr(gr_last_error(), word) != NULL, "%s: message lacks \"%s\"", what, word);
}

static char golden[2048];

static const char *path_in(const char *name) {
    static char buf[16][4096];
    static int next;
    char *b = buf[next++ % 16];
    snprintf(b, sizeof buf[0], "%s/%s", golden, name);
    return b;
}

/* Indices of the 5 largest values of row[0..n), largest first (ties: lower index). */
static void top5(const float *row, size_t n, int out[5]) {
    size_t r, c;
    for (r = 0; r < 5; ++r) {
        int best = -1;
        for (c = 0; c < n; ++c) {
            int seen = 0;
            size_t t;
            for (t = 0; t < r; ++t) seen |= out[t] == (int)c;
            if (!seen && (best < 0 || row[c] > row[best])) best = (int)c;
        }
        out[r] = best;
    }
}

/* `got` against PaddlePaddle's logits `want` ([n, classes]): tolerance and top-5. */
static void compare_logits(const float *got, const npy_array *want, const char *what) {
    size_t classes = (size_t)want->shape[1], i, c;
    float max_abs = 0, max_diff = 0;
    for (i = 0; i < want->count; ++i) {
        float d = fabsf(got[i] - want->data[i]);
        if (fabsf(want->data[i]) > max_abs) max_abs = fabsf(want->data[i]);
        if (!(d <= max_diff)) max_diff = d;
    }
    CHECK(max_diff <= 1e-3f * max_abs, "%s: max |diff| %g > 1e-3 * %g", what, max_diff, max_abs);
    for (i = 0; i < (size_t)want->shape[0]; ++i) {
        int a[5], b[5];
        top5(got + i * classes, classes, a);
        top5(want->data + i * classes, classes, b);
        for (c = 0; c < 5; ++c)
            CHECK(a[c] == b[c], "%s: image %zu top-5[%zu] is %d, paddle's %d", what, i, c, a[c], b[c]);
    }
    printf("  %s: max |ours - paddle| = %.3g (max |logit| %.3g), top-5 equal\n", what, max_diff,
           max_abs);
}

/* Run the golden input of `model_file` (input/logits .npy in `dir`) on `m` and compare. */
static void golden_case(gr_model *m, const char *input_npy, const char *logits_npy,
                        const char *what) {
    npy_array x, want;
    float *got;
    size_t len;
    if (npy_read(input_npy, &x) != 0 || npy_read(logits_npy, &want) != 0) {
        CHECK(0, "%s: cannot read %s / %s", what, input_npy, logits_npy);
        return;
    }
    len = (size_t)x.shape[0] * gr_model_classes(m);
    CHECK(len == want.count, "%s: %zu logits, golden has %zu", what, len, want.count);
    got = malloc(len * sizeof(float));
    expect(gr_model_run(m, x.data, (uint32_t)x.shape[0], (uint32_t)x.shape[2],
                        (uint32_t)x.shape[3], got, len),
           GR_OK, NULL, what);
    if (len == want.count) compare_logits(got, &want, what);
    free(got);
    npy_free(&x);
    npy_free(&want);
}

static void errors_without_a_model(void) {
    gr_model *m = (gr_model *)&m; /* not NULL: a failed open must reset it */
    gr_options o = gr_options_default();
    char corrupt[64];
    FILE *f;
    uint32_t count = 0;
    const char *names[1] = {"inference.json"};
    const void *bytes[1] = {"{}"};
    size_t lens[1] = {2};

    CHECK(strcmp(gr_last_error(), "") == 0, "last error before any failure: \"%s\"", gr_last_error());
    CHECK(gr_version() != NULL && strlen(gr_version()) > 0, "gr_version");
    expect(gr_model_open(NULL, NULL, &m), GR_ERR_ARGUMENT, "weights_path", "open(NULL path)");
    CHECK(m == NULL, "open(NULL path) left *out non-NULL");
    expect(gr_model_open(path_in("ResNet18_vd.pdparams"), NULL, NULL), GR_ERR_ARGUMENT, "out",
           "open(NULL out)");
    expect(gr_model_open("/nonexistent/ResNet18_vd.pdparams", NULL, &m), GR_ERR_WEIGHTS,
           "/nonexistent/ResNet18_vd.pdparams", "open(missing file)");
    CHECK(m == NULL, "open(missing file) left *out non-NULL");

    snprintf(corrupt, sizeof corrupt, "/tmp/gr_corrupt_%ld.pdparams", (long)getpid());
    f = fopen(corrupt, "wb");
    if (f != NULL) {
        fputs("\x80\x02}q\x00(X\x05\x00\x00\x00this is not a checkpoint", f);
        fclose(f);
    }
    expect(gr_model_open(corrupt, NULL, &m), GR_ERR_WEIGHTS, "gr_corrupt_", "open(corrupt file)");
    unlink(corrupt);
    expect(gr_model_open(path_in("ResNet18_vd.pdparams"), "ResNet999_xx", &m), GR_ERR_INPUT,
           "ResNet999_xx", "open(unknown model name)");
    expect(gr_model_open(path_in("ResNet18_vd.pdparams"), "ResNet50_vd", &m), GR_ERR_WEIGHTS,
           NULL, "open(weights of another model)");
    o.precision = (gr_precision)7;
    expect(gr_model_open_with(path_in("ResNet18_vd.pdparams"), &o, &m), GR_ERR_ARGUMENT,
           "precision 7", "open_with(bad precision)");
    o = gr_options_default();
    o.backend = (gr_backend)9;
    expect(gr_model_open_with(path_in("ResNet18_vd.pdparams"), &o, &m), GR_ERR_ARGUMENT,
           "backend 9", "open_with(bad backend)");
    o = gr_options_default();
    o.adapter = 999;
    expect(gr_model_open_with(path_in("ResNet18_vd.pdparams"), &o, &m), GR_ERR_INPUT, "999",
           "open_with(adapter 999)");
    expect(gr_model_open_memory(NULL, 10, "x.onnx", NULL, &m), GR_ERR_ARGUMENT, "bytes",
           "open_memory(NULL)");
    expect(gr_model_open_memory("garbage", 7, "x.onnx", NULL, &m), GR_ERR_WEIGHTS, "x.onnx",
           "open_memory(garbage)");
    expect(gr_model_open_files(names, bytes, lens, 0, NULL, &m), GR_ERR_ARGUMENT, "count",
           "open_files(count 0)");
    expect(gr_model_open_files(NULL, bytes, lens, 1, NULL, &m), GR_ERR_ARGUMENT, "names",
           "open_files(NULL names)");
    expect(gr_model_open_files(names, bytes, lens, 1, NULL, &m), GR_ERR_INPUT, "inference.json",
           "open_files(not a model)");
    CHECK(m == NULL, "failed opens left *out non-NULL");

    gr_model_free(NULL);
    CHECK(gr_model_classes(NULL) == 0, "classes(NULL)");
    CHECK(gr_model_input_size(NULL) == 0, "input_size(NULL)");
    CHECK(gr_model_name(NULL) == NULL, "name(NULL)");
    CHECK(strstr(gr_last_error(), "model") != NULL, "name(NULL) message");
    CHECK(gr_model_label(NULL, 0) == NULL, "label(NULL)");
    expect(gr_model_run(NULL, NULL, 1, 1, 1, NULL, 0), GR_ERR_ARGUMENT, "model", "run(NULL model)");
    expect(gr_adapters(GR_BACKEND_AUTO, NULL), GR_ERR_ARGUMENT, "count", "adapters(NULL)");
    expect(gr_adapters((gr_backend)42, &count), GR_ERR_ARGUMENT, "backend 42", "adapters(42)");
    expect(gr_adapters(GR_BACKEND_VULKAN, &count), GR_OK, NULL, "adapters(vulkan)");
    CHECK(count >= 1, "no Vulkan adapter listed");
    CHECK(count == 0 || gr_adapter_name(0) != NULL, "adapter_name(0)");
    CHECK(gr_adapter_name(count) == NULL, "adapter_name(count) is not NULL");
    printf("  adapters: %u, [0] %s\n", count, count ? gr_adapter_name(0) : "-");
}

static void errors_with_a_model(gr_model *m) {
    const uint32_t classes = gr_model_classes(m);
    const size_t n1 = 3 * 32 * 32;
    float *x = calloc(2 * n1, sizeof(float));
    float *logits = malloc((2 * classes + 16) * sizeof(float));
    float *tall = calloc(3 * 8193, sizeof(float));
    gr_prediction top[8];
    size_t count = 99, i;
    int untouched = 1;
    unsigned char rgb[3 * 40 * 30];

    for (i = 0; i < 2 * classes + 16; ++i) logits[i] = -12345.0f;
    expect(gr_model_run(m, NULL, 1, 32, 32, logits, classes), GR_ERR_ARGUMENT, "input_nchw",
           "run(NULL input)");
    expect(gr_model_run(m, x, 1, 32, 32, NULL, classes), GR_ERR_ARGUMENT, "logits",
           "run(NULL logits)");
    expect(gr_model_run(m, x, 2, 32, 32, logits, 2 * classes - 1), GR_ERR_ARGUMENT, "logits_len",
           "run(logits_len one short)");
    for (i = 0; i < 2 * classes + 16; ++i) untouched &= logits[i] == -12345.0f;
    CHECK(untouched, "failed runs wrote to logits");
    expect(gr_model_run(m, x, 0, 32, 32, logits, classes), GR_ERR_INPUT, "batch", "run(n = 0)");
    expect(gr_model_run(m, x, 1, 0, 32, logits, classes), GR_ERR_INPUT, "height", "run(h = 0)");
    expect(gr_model_run(m, x, UINT32_MAX, UINT32_MAX, UINT32_MAX, logits, SIZE_MAX), GR_ERR_INPUT,
           "overflows", "run(n*3*h*w overflows)");
    expect(gr_model_run(m, tall, 1, 8193, 1, logits, classes), GR_ERR_INPUT, "8193",
           "run(refused size 8193x1)");
    x[n1 + 17] = NAN;
    expect(gr_model_run(m, x, 2, 32, 32, logits, 2 * classes), GR_ERR_NONFINITE, NULL,
           "run(NaN input)");
    x[n1 + 17] = INFINITY;
    expect(gr_model_run(m, x, 2, 32, 32, logits, 2 * classes), GR_ERR_NONFINITE, NULL,
           "run(Inf input)");
    x[n1 + 17] = 0;
    expect(gr_model_run(m, x, 2, 32, 32, logits, 2 * classes + 16), GR_OK, NULL,
           "run(larger logits buffer)");
    CHECK(logits[2 * classes] == -12345.0f, "run wrote past n*classes");

    CHECK(gr_model_label(m, classes) == NULL, "label(classes) is not NULL");
    CHECK(strstr(gr_last_error(), "out of range") != NULL, "label(classes) message");
    CHECK(gr_model_label(m, classes - 1) != NULL, "label(classes - 1)");

    expect(gr_model_classify(m, NULL, 10, top, 5, &count), GR_ERR_ARGUMENT, "bytes",
           "classify(NULL bytes)");
    CHECK(count == 0, "classify(NULL bytes) count %zu", count);
    expect(gr_model_classify(m, (const uint8_t *)"xx", 2, NULL, 5, &count), GR_ERR_ARGUMENT, "top",
           "classify(NULL top)");
    expect(gr_model_classify(m, (const uint8_t *)"xx", 2, top, 0, &count), GR_ERR_ARGUMENT, "k",
           "classify(k = 0)");
    expect(gr_model_classify(m, (const uint8_t *)"\xff\xd8\xff broken", 10, top, 5, &count),
           GR_ERR_INPUT, NULL, "classify(broken JPEG)");
    expect(gr_model_classify_rgb(m, rgb, 0, 30, top, 5, &count), GR_ERR_INPUT, NULL,
           "classify_rgb(height 0)");
    for (i = 0; i < sizeof rgb; ++i) rgb[i] = (unsigned char)(i * 7);
    expect(gr_model_classify_rgb(m, rgb, 40, 30, top, 8, &count), GR_OK, NULL, "classify_rgb");
    CHECK(count == 8, "classify_rgb count %zu", count);
    for (i = 0; i + 1 < count; ++i)
        CHECK(top[i].score >= top[i + 1].score, "classify_rgb not sorted");
    free(x);
    free(logits);
    free(tall);
}

/* Two threads on one model: each its own image (and batch size), several times. */
typedef struct job {
    gr_model *m;
    const float *input;
    uint32_t n;
    const float *want;
    float max_diff;
    int failed;
} job;

static void *thread_main(void *arg) {
    job *j = arg;
    uint32_t classes = gr_model_classes(j->m), r;
    size_t i, len = (size_t)j->n * classes;
    float *got = malloc(len * sizeof(float));
    for (r = 0; r < 3; ++r) {
        if (gr_model_run(j->m, j->input, j->n, 224, 224, got, len) != GR_OK) {
            fprintf(stderr, "thread run: %s\n", gr_last_error());
            j->failed = 1;
            break;
        }
        for (i = 0; i < len; ++i)
            if (fabsf(got[i] - j->want[i]) > j->max_diff) j->max_diff = fabsf(got[i] - j->want[i]);
    }
    free(got);
    return NULL;
}

static void two_threads(gr_model *m) {
    npy_array x, want;
    pthread_t t[2];
    job jobs[2];
    size_t classes = gr_model_classes(m), i;
    float bound = 0;
    if (npy_read(path_in("ResNet18_vd.input.npy"), &x) != 0 ||
        npy_read(path_in("ResNet18_vd.logits.npy"), &want) != 0) {
        CHECK(0, "cannot read the golden ResNet18_vd case");
        return;
    }
    for (i = 0; i < want.count; ++i)
        if (1e-3f * fabsf(want.data[i]) > bound) bound = 1e-3f * fabsf(want.data[i]);
    /* Thread 0: image 1 alone; thread 1: both images. */
    jobs[0] = (job){m, x.data + 3 * 224 * 224, 1, want.data + classes, 0, 0};
    jobs[1] = (job){m, x.data, 2, want.data, 0, 0};
    for (i = 0; i < 2; ++i) CHECK(pthread_create(&t[i], NULL, thread_main, &jobs[i]) == 0, "pthread_create");
    for (i = 0; i < 2; ++i) pthread_join(t[i], NULL);
    for (i = 0; i < 2; ++i) {
        CHECK(!jobs[i].failed, "thread %zu failed", i);
        CHECK(jobs[i].max_diff <= bound, "thread %zu: max |diff| %g > %g", i, jobs[i].max_diff,
              bound);
        printf("  thread %zu (batch %u, 3 runs): max |ours - paddle| = %.3g\n", i, jobs[i].n,
               jobs[i].max_diff);
    }
    npy_free(&x);
    npy_free(&want);
}

/* FP16 through gr_model_open_with: the project's FP16 golden tolerance (2e-2 x max |logit|,
 * tests/fp16.rs) and the same top-1 as PaddlePaddle. */
static void fp16_option(void) {
    gr_options o = gr_options_default();
    gr_model *m = NULL;
    npy_array x, want;
    float *got, max_abs = 0, max_diff = 0;
    size_t i, classes;
    o.precision = GR_PRECISION_FP16;
    o.backend = GR_BACKEND_VULKAN;
    o.model_name = "ResNet18_vd";
    expect(gr_model_open_with(path_in("ResNet18_vd.pdparams"), &o, &m), GR_OK, NULL, "open fp16");
    if (m == NULL) return;
    CHECK(strncmp(gr_model_precision(m), "fp16", 4) == 0, "precision %s", gr_model_precision(m));
    if (npy_read(path_in("ResNet18_vd.input.npy"), &x) != 0 ||
        npy_read(path_in("ResNet18_vd.logits.npy"), &want) != 0) {
        CHECK(0, "cannot read the golden ResNet18_vd case");
        gr_model_free(m);
        return;
    }
    classes = gr_model_classes(m);
    got = malloc(want.count * sizeof(float));
    expect(gr_model_run(m, x.data, 2, 224, 224, got, want.count), GR_OK, NULL, "run fp16");
    for (i = 0; i < want.count; ++i) {
        if (fabsf(want.data[i]) > max_abs) max_abs = fabsf(want.data[i]);
        if (!(fabsf(got[i] - want.data[i]) <= max_diff)) max_diff = fabsf(got[i] - want.data[i]);
    }
    CHECK(max_diff <= 2e-2f * max_abs, "fp16: max |diff| %g > 2e-2 * %g", max_diff, max_abs);
    for (i = 0; i < 2; ++i) {
        int a[5], b[5];
        top5(got + i * classes, classes, a);
        top5(want.data + i * classes, classes, b);
        CHECK(a[0] == b[0], "fp16 image %zu: top-1 %d, paddle's %d", i, a[0], b[0]);
    }
    printf("  %s (%s): max |ours - paddle| = %.3g (max |logit| %.3g), top-1 equal\n",
           gr_model_summary(m), gr_model_precision(m), max_diff, max_abs);
    free(got);
    npy_free(&x);
    npy_free(&want);
    gr_model_free(m);
}

static long rss_kib(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL) return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* open/run/free `rounds` times after a warm-up round: RSS may not grow by more than
 * `bound_kib`. */
static void open_run_free_loop(int rounds, long bound_kib) {
    float x[3 * 32 * 32];
    float *logits = malloc(1000 * sizeof(float));
    long before = 0, after;
    int r;
    for (r = 0; r < 3 * 32 * 32; ++r) x[r] = (float)((r * 37) % 100) / 50.0f - 1.0f;
    for (r = -2; r < rounds; ++r) {
        gr_model *m = NULL;
        if (r == 0) before = rss_kib();
        if (gr_model_open(path_in("ResNet18_vd.pdparams"), NULL, &m) != GR_OK ||
            gr_model_run(m, x, 1, 32, 32, logits, 1000) != GR_OK) {
            CHECK(0, "loop round %d", r);
            gr_model_free(m);
            break;
        }
        gr_model_free(m);
    }
    after = rss_kib();
    CHECK(after - before <= bound_kib, "RSS grew %ld KiB over %d open/run/free rounds", after - before,
          rounds);
    printf("  open/run/free x%d: RSS %ld -> %ld KiB (%+ld KiB)\n", rounds, before, after,
           after - before);
    free(logits);
}

static void deployment_exports(void) {
    static const char *const dirs[] = {"deploy/ResNet18_vd.onnx", "deploy/ResNet18_vd_pir",
                                       "deploy/ResNet18_vd_legacy"};
    const char *in = path_in("deploy/ResNet18_vd.input.npy");
    const char *out = path_in("deploy/ResNet18_vd.logits.npy");
    size_t i, lens[2];
    unsigned char *data[2];
    const char *names[2] = {"inference.json", "inference.pdiparams"};
    gr_model *m = NULL;
    for (i = 0; i < 3; ++i) {
        if (gr_model_open(path_in(dirs[i]), NULL, &m) != GR_OK) {
            CHECK(0, "open %s", dirs[i]);
            continue;
        }
        CHECK(strcmp(gr_model_name(m), "ResNet18_vd") == 0, "%s: name %s", dirs[i], gr_model_name(m));
        CHECK(strcmp(gr_model_input_name(m), "x") == 0, "%s: input %s", dirs[i], gr_model_input_name(m));
        golden_case(m, in, out, dirs[i]);
        gr_model_free(m);
    }
    /* The ONNX file and the PIR model from memory. */
    data[0] = read_file(path_in("deploy/ResNet18_vd.onnx"), &lens[0]);
    CHECK(data[0] != NULL, "read the ONNX file");
    if (data[0] != NULL) {
        expect(gr_model_open_memory(data[0], lens[0], "ResNet18_vd.onnx", NULL, &m), GR_OK, NULL,
               "open_memory(onnx)");
        free(data[0]);
        if (m != NULL) golden_case(m, in, out, "ONNX from memory");
        gr_model_free(m);
    }
    data[0] = read_file(path_in("deploy/ResNet18_vd_pir/inference.json"), &lens[0]);
    data[1] = read_file(path_in("deploy/ResNet18_vd_pir/inference.pdiparams"), &lens[1]);
    CHECK(data[0] != NULL && data[1] != NULL, "read the PIR files");
    if (data[0] != NULL && data[1] != NULL) {
        const void *bytes[2] = {data[0], data[1]};
        expect(gr_model_open_files(names, bytes, lens, 2, NULL, &m), GR_OK, NULL, "open_files(pir)");
        if (m != NULL) golden_case(m, in, out, "PIR from memory");
        gr_model_free(m);
    }
    free(data[0]);
    free(data[1]);
}

/* ---- The hostile corpus (tests/data/hostile/cases.tsv), as tests/hostile_corpus.rs runs it
 * through the CLI: run with --hostile, under `ulimit -v` (scripts/test-capi.sh gives 3 GiB).
 * use: weights -> gr_model_open(FILE, NULL); yml -> gr_model_open(DIR) where DIR holds the
 * golden ResNet18_vd ONNX and the case as inference.yml; input -> the examples' npy reader
 * (the C API takes arrays, not .npy files) must refuse it, or gr_model_run must; f16 ->
 * gr_model_open_with(FP16) and gr_model_classify_rgb of tests/hostile_corpus.rs's 37x23
 * image, which overflows to Inf: GR_ERR_NONFINITE. `ok`: the golden ResNet18_vd logits.
 * generated:NAME cases are read from GENERATED_DIR (`GPU_RESNET_WRITE_HOSTILE=DIR cargo test
 * --release --test hostile_corpus write_generated` writes them); without it they are
 * skipped, counted and printed. */

static int copy_file(const char *from, const char *to) {
    size_t len = 0;
    unsigned char *data = read_file(from, &len);
    FILE *f;
    int ok;
    if (data == NULL) return -1;
    f = fopen(to, "wb");
    ok = f != NULL && fwrite(data, 1, len, f) == len;
    if (f != NULL) ok = fclose(f) == 0 && ok;
    free(data);
    return ok ? 0 : -1;
}

static void hostile_case(const char *path, const char *use, const char *error, const char *what) {
    gr_model *m = NULL;
    /* A declared input size the engine refuses is an input-size error (src/open.rs), as in
     * Python (InputError). */
    gr_status want = error != NULL && strcmp(error, "declares an input") == 0 ? GR_ERR_INPUT
                                                                            : GR_ERR_WEIGHTS;
    gr_status got;
    if (strcmp(use, "weights") == 0 || strcmp(use, "yml") == 0) {
        got = gr_model_open(path, NULL, &m);
        if (error == NULL) {
            expect(got, GR_OK, NULL, what);
            if (m != NULL)
                golden_case(m, path_in("ResNet18_vd.input.npy"),
                            path_in("ResNet18_vd.logits.npy"), what);
        } else {
            expect(got, want, error, what);
            CHECK(m == NULL, "%s: a failed open left a model", what);
        }
    } else if (strcmp(use, "input") == 0) {
        npy_array x;
        if (npy_read(path, &x) != 0) {
            CHECK(error != NULL, "%s: the npy reader refused a valid batch", what);
        } else {
            /* Read: then the library must refuse it (or answer, for an `ok` case). */
            size_t len = (size_t)x.shape[0] * 1000;
            float *logits = malloc(len * sizeof(float));
            expect(gr_model_open(path_in("ResNet18_vd.pdparams"), NULL, &m), GR_OK, NULL, what);
            if (m != NULL && logits != NULL) {
                got = gr_model_run(m, x.data, (uint32_t)x.shape[0],
                                   (uint32_t)x.shape[x.ndim - 2], (uint32_t)x.shape[x.ndim - 1],
                                   logits, len);
                CHECK((got == GR_OK) == (error == NULL), "%s: status %d", what, (int)got);
            }
            free(logits);
            npy_free(&x);
        }
    } else if (strcmp(use, "f16") == 0) {
        gr_options o = gr_options_default();
        uint8_t rgb[23 * 37 * 3];
        gr_prediction top[5];
        size_t count = 0, i;
        uint32_t x, y;
        for (y = 0; y < 23; ++y)
            for (x = 0; x < 37; ++x) {
                uint8_t *p = rgb + (y * 37 + x) * 3;
                p[0] = (uint8_t)(x * 7), p[1] = (uint8_t)(y * 11), p[2] = 90;
            }
        o.precision = GR_PRECISION_FP16;
        expect(gr_model_open_with(path, &o, &m), GR_OK, NULL, what);
        if (m != NULL) {
            got = gr_model_classify_rgb(m, rgb, 23, 37, top, 5, &count);
            if (error == NULL) expect(got, GR_OK, NULL, what);
            else expect(got, GR_ERR_NONFINITE, error, what);
            for (i = 0; got == GR_OK && i < count; ++i)
                CHECK(top[i].score == top[i].score, "%s: a NaN score", what);
        }
    } else {
        CHECK(0, "%s: use `%s`?", what, use);
    }
    gr_model_free(m);
}

static int hostile_corpus(const char *corpus, const char *generated) {
    char tsv[4096], line[4096], path[4096], dir[1024];
    FILE *f;
    int cases = 0, skipped = 0;
    snprintf(tsv, sizeof tsv, "%s/cases.tsv", corpus);
    f = fopen(tsv, "r");
    if (f == NULL) {
        fprintf(stderr, "cannot read %s\n", tsv);
        return 1;
    }
    snprintf(dir, sizeof dir, "%s/gpu-resnet-capi-hostile-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "mkdtemp %s failed\n", dir);
        fclose(f);
        return 1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        char *file, *use, *expectation, *rest, *error;
        int before = failures;
        if (line[0] == '#' || line[0] == '\n') continue;
        file = strtok(line, "\t");
        use = strtok(NULL, "\t");
        expectation = strtok(NULL, "\t");
        rest = strtok(NULL, "\n");
        if (file == NULL || use == NULL || expectation == NULL || rest == NULL) {
            CHECK(0, "cases.tsv: a line without file, use, expect, what");
            continue;
        }
        if (strcmp(expectation, "ok") == 0) {
            error = NULL;
        } else if (strncmp(expectation, "error:", 6) == 0) {
            error = expectation + 6;
        } else {
            CHECK(0, "%s: expect `%s`", file, expectation);
            continue;
        }
        if (strncmp(file, "generated:", 10) == 0) {
            if (generated == NULL) {
                printf("  %-45s skipped: generated, and no GENERATED_DIR\n", file);
                ++skipped;
                continue;
            }
            snprintf(path, sizeof path, "%s/%s", generated, file + 10);
        } else {
            snprintf(path, sizeof path, "%s/%s", corpus, file);
        }
        /* Named before it runs: an abort or a signal shows which case it was. */
        printf("  %-45s ", file);
        fflush(stdout);
        if (strcmp(use, "yml") == 0) {
            char model[1100], onnx[1200], yml[1200];
            snprintf(model, sizeof model, "%s/model-%d", dir, cases);
            snprintf(onnx, sizeof onnx, "%s/model.onnx", model);
            snprintf(yml, sizeof yml, "%s/inference.yml", model);
            if (mkdir(model, 0700) != 0 || copy_file(path_in("deploy/ResNet18_vd.onnx"), onnx) != 0 ||
                copy_file(path, yml) != 0) {
                CHECK(0, "%s: cannot write the model directory %s", file, model);
                continue;
            }
            hostile_case(model, use, error, file);
            remove(onnx);
            remove(yml);
            rmdir(model);
        } else {
            hostile_case(path, use, error, file);
        }
        ++cases;
        printf("%s\n", failures == before ? "ok" : "FAILED");
    }
    fclose(f);
    rmdir(dir);
    printf("hostile corpus: %d cases run, %d skipped (generated), %d checks, %d failed\n", cases,
           skipped, checks, failures);
    return failures == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    gr_model *m = NULL;
    int quick = argc > 2 && strcmp(argv[2], "--quick") == 0;
    if (argc < 2 || (argc > 2 && strcmp(argv[2], "--hostile") == 0 && argc < 4)) {
        fprintf(stderr, "usage: %s GOLDEN_DIR [--quick | --hostile CORPUS_DIR [GENERATED_DIR]]\n",
                argv[0]);
        return 2;
    }
    snprintf(golden, sizeof golden, "%s", argv[1]);
    if (argc > 2 && strcmp(argv[2], "--hostile") == 0) {
        printf("gpu_resnet %s\nhostile corpus %s\n", gr_version(), argv[3]);
        return hostile_corpus(argv[3], argc > 4 ? argv[4] : NULL);
    }
    printf("gpu_resnet %s\nerrors without a model\n", gr_version());
    errors_without_a_model();

    printf("ResNet18_vd.pdparams\n");
    expect(gr_model_open(path_in("ResNet18_vd.pdparams"), NULL, &m), GR_OK, NULL, "open ResNet18_vd");
    if (m != NULL) {
        CHECK(strcmp(gr_model_name(m), "ResNet18_vd") == 0, "name %s", gr_model_name(m));
        CHECK(gr_model_classes(m) == 1000, "classes %u", gr_model_classes(m));
        CHECK(gr_model_input_size(m) == 224, "input size %u", gr_model_input_size(m));
        CHECK(strcmp(gr_model_precision(m), "fp32") == 0, "precision %s", gr_model_precision(m));
        CHECK(strncmp(gr_model_label(m, 0), "tench", 5) == 0, "label 0: %s", gr_model_label(m, 0));
        printf("  %s on %s\n", gr_model_summary(m), gr_model_adapter(m));
        errors_with_a_model(m);
        golden_case(m, path_in("ResNet18_vd.input.npy"), path_in("ResNet18_vd.logits.npy"),
                    "ResNet18_vd.pdparams");
        two_threads(m);
        gr_model_free(m);
        m = NULL;
    }
    if (!quick) {
        printf("ResNet50_vd.pdparams\n");
        expect(gr_model_open(path_in("ResNet50_vd.pdparams"), "ResNet50_vd", &m), GR_OK, NULL,
               "open ResNet50_vd");
        if (m != NULL)
            golden_case(m, path_in("ResNet50_vd.input.npy"), path_in("ResNet50_vd.logits.npy"),
                        "ResNet50_vd.pdparams");
        gr_model_free(m);
        printf("options: FP16 on Vulkan\n");
        fp16_option();
        printf("deployment exports\n");
        deployment_exports();
    }
    printf("open/run/free loop\n");
    open_run_free_loop(quick ? 3 : 10, quick ? 32 * 1024 : 16 * 1024);
    printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
