/* npy.h: a tiny reader of little-endian float32 C-order .npy files (format 1.0-3.0), enough
 * for the golden cases, and of whole files (encoded images). Header-only; npy_read returns 0 on
 * success. */
#ifndef GPU_RESNET_EXAMPLE_NPY_H
#define GPU_RESNET_EXAMPLE_NPY_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct npy_array {
    int ndim;
    long shape[8];
    size_t count;
    float *data;
} npy_array;

/* The whole file at `path` (malloc'd, free it), its size in *len; NULL if it cannot be read. */
static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *data = NULL;
    long size;
    if (f == NULL) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        data = malloc((size_t)size + 1);
        if (data != NULL && fread(data, 1, (size_t)size, f) != (size_t)size) {
            free(data);
            data = NULL;
        }
        *len = (size_t)size;
    }
    fclose(f);
    return data;
}

static void npy_free(npy_array *a) {
    free(a->data);
    a->data = NULL;
}

static int npy_read(const char *path, npy_array *a) {
    unsigned char pre[12];
    char *header = NULL, *p;
    size_t header_len, prefix;
    int ok = 0;
    FILE *f = fopen(path, "rb");
    memset(a, 0, sizeof *a);
    if (f == NULL) return -1;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) goto done;
    if (pre[6] == 1) {
        header_len = (size_t)pre[8] | (size_t)pre[9] << 8;
        prefix = 10;
    } else {
        if (fread(pre + 10, 1, 2, f) != 2) goto done;
        header_len = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 |
                     (size_t)pre[11] << 24;
        prefix = 12;
    }
    (void)prefix;
    header = malloc(header_len + 1);
    if (header == NULL || fread(header, 1, header_len, f) != header_len) goto done;
    header[header_len] = '\0';
    if (strstr(header, "'<f4'") == NULL || strstr(header, "'fortran_order': False") == NULL)
        goto done;
    p = strstr(header, "'shape': (");
    if (p == NULL) goto done;
    p += strlen("'shape': (");
    a->count = 1;
    while (*p != ')' && a->ndim < 8) {
        char *end;
        long d = strtol(p, &end, 10);
        if (end == p || d < 0) goto done;
        a->shape[a->ndim++] = d;
        a->count *= (size_t)d;
        p = end;
        while (*p == ',' || *p == ' ') ++p;
    }
    a->data = malloc(a->count * sizeof(float) + 1);
    if (a->data == NULL || fread(a->data, sizeof(float), a->count, f) != a->count) goto done;
    ok = 1;
done:
    free(header);
    fclose(f);
    if (!ok) npy_free(a);
    return ok ? 0 : -1;
}

#endif
