/* replay_main.c - a main() for fuzz targets built without libFuzzer (the CTest build).
 *
 * Usage: fuzz_NAME DIR_OR_FILE...
 *
 * Every regular file in each directory (in name order) and every file named is passed to
 * LLVMFuzzerTestOneInput() once. Then FERRY_FUZZ_RUNS (default 2000) pseudo-random mutations
 * of those inputs are run: bit flips, byte inserts, deletes and overwrites, tokens that matter
 * to CSV and YAML, chunk duplication and splices of two inputs. The generator is seeded with
 * FERRY_FUZZ_SEED (default fixed), so a run is reproducible, and the mutation phase stops
 * early after FERRY_FUZZ_SECONDS (default 15) so CTest stays bounded.
 *
 * Every input is copied into a buffer of exactly its size, so AddressSanitizer catches a read
 * one byte past the end. With FERRY_FUZZ_DUMP=FILE, each mutated input is written to FILE
 * before it runs: after a crash, FILE holds the input that caused it (replay it by passing the
 * file as the only argument). A crash or failed invariant aborts the program, which fails the
 * test. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT_BYTES (1024 * 1024) /* larger corpus files are cut */
#define MAX_MUTANT_BYTES (64 * 1024)

typedef struct {
    uint8_t *data;
    size_t size;
} input;

static input *inputs;
static size_t ninputs, capinputs;
static uint64_t rng = 0x2545F4914F6CDD1Dull;

static uint64_t next_rand(void)
{
    /* xorshift64* */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

static size_t below(size_t n)
{
    return n > 0 ? (size_t)(next_rand() % n) : 0;
}

static void add_input(uint8_t *data, size_t size)
{
    if (ninputs == capinputs) {
        size_t cap = capinputs ? capinputs * 2 : 64;
        input *grown = realloc(inputs, cap * sizeof(*inputs));
        if (grown == NULL) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        inputs = grown;
        capinputs = cap;
    }
    inputs[ninputs].data = data;
    inputs[ninputs].size = size;
    ninputs++;
}

static int read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;

    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    buf = malloc(MAX_INPUT_BYTES);
    if (buf == NULL) {
        fclose(f);
        return -1;
    }
    n = fread(buf, 1, MAX_INPUT_BYTES, f);
    fclose(f);
    /* Exactly sized, so ASan sees a read past the end. */
    uint8_t *exact = malloc(n > 0 ? n : 1);
    if (exact == NULL) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, n);
    free(buf);
    add_input(exact, n);
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds every regular file in dir (sorted by name), or the file itself. */
static int load(const char *path)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    struct stat st;
    int rc = 0;
    DIR *dir;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return read_file(path);
    dir = opendir(path);
    if (dir == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **grown = realloc(names, cap * sizeof(*names));
            if (grown == NULL) {
                rc = -1;
                break;
            }
            names = grown;
        }
        size_t len = strlen(path) + strlen(de->d_name) + 2;
        names[n] = malloc(len);
        if (names[n] == NULL) {
            rc = -1;
            break;
        }
        snprintf(names[n], len, "%s/%s", path, de->d_name);
        n++;
    }
    closedir(dir);
    if (names != NULL)
        qsort(names, n, sizeof(*names), compare_names);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            rc = read_file(names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* Bytes and byte strings that mean something to a CSV or YAML parser. */
/* clang-format off */
static const char *const tokens[] = {
    "\"", ",", ";", "\t", "\r", "\n", "\r\n", "\"\"", "\xEF\xBB\xBF", "\0", ":", ": ", "- ",
    "-", "[", "]", "{", "}", "&a ", "*a", "<<: ", "---\n", "...\n", "#", "'", "|\n", ">\n",
    "!!", "%", "?", "~", "null", "yes", "1MiB", "every ", "  ", "\xC3", "\xA9",
    "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xFF", "@", "\\", "..",
};
/* clang-format on */

static void run_one(const uint8_t *data, size_t size, const char *dump)
{
    uint8_t *exact = malloc(size > 0 ? size : 1);

    if (exact == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    memcpy(exact, data, size);
    if (dump != NULL) {
        FILE *f = fopen(dump, "wb");
        if (f != NULL) {
            fwrite(exact, 1, size, f);
            fclose(f);
        }
    }
    LLVMFuzzerTestOneInput(exact, size);
    free(exact);
}

/* Inserts n bytes at pos in buf (of *len, capacity cap); false when it would not fit. */
static int insert_bytes(uint8_t *buf, size_t *len, size_t cap, size_t pos, const void *p, size_t n)
{
    if (*len + n > cap || pos > *len)
        return 0;
    memmove(buf + pos + n, buf + pos, *len - pos);
    memcpy(buf + pos, p, n);
    *len += n;
    return 1;
}

/* Applies 1 to 6 random mutations to buf (len bytes, capacity cap). */
static void mutate(uint8_t *buf, size_t *len, size_t cap)
{
    int rounds = 1 + (int)below(6);

    for (int r = 0; r < rounds; r++) {
        switch (below(8)) {
        case 0: /* flip a bit */
            if (*len > 0)
                buf[below(*len)] ^= (uint8_t)(1u << below(8));
            break;
        case 1: { /* insert a random byte */
            uint8_t b = (uint8_t)next_rand();
            insert_bytes(buf, len, cap, below(*len + 1), &b, 1);
            break;
        }
        case 2: { /* delete a run of bytes */
            if (*len == 0)
                break;
            size_t pos = below(*len), n = 1 + below(8);
            if (n > *len - pos)
                n = *len - pos;
            memmove(buf + pos, buf + pos + n, *len - pos - n);
            *len -= n;
            break;
        }
        case 3: { /* overwrite a byte with one from a token */
            const char *t = tokens[below(sizeof(tokens) / sizeof(tokens[0]))];
            if (*len > 0)
                buf[below(*len)] = (uint8_t)t[0];
            break;
        }
        case 4:
        case 5: { /* insert a token */
            size_t i = below(sizeof(tokens) / sizeof(tokens[0]));
            size_t n = tokens[i][0] == '\0' ? 1 : strlen(tokens[i]);
            insert_bytes(buf, len, cap, below(*len + 1), tokens[i], n);
            break;
        }
        case 6: { /* duplicate a chunk somewhere else */
            if (*len == 0)
                break;
            size_t from = below(*len), n = 1 + below(64);
            uint8_t chunk[64];
            if (n > *len - from)
                n = *len - from;
            memcpy(chunk, buf + from, n);
            insert_bytes(buf, len, cap, below(*len + 1), chunk, n);
            break;
        }
        case 7: { /* splice: keep a prefix, append the tail of another input */
            const input *other = &inputs[below(ninputs)];
            size_t keep = below(*len + 1), from = below(other->size + 1);
            size_t n = other->size - from;
            if (keep + n > cap)
                n = cap - keep;
            memcpy(buf + keep, other->data + from, n);
            *len = keep + n;
            break;
        }
        }
    }
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    char *end;
    long n;

    if (v == NULL || *v == '\0')
        return dflt;
    n = strtol(v, &end, 10);
    return *end == '\0' && n >= 0 ? n : dflt;
}

int main(int argc, char **argv)
{
    long runs = env_long("FERRY_FUZZ_RUNS", 2000);
    long seconds = env_long("FERRY_FUZZ_SECONDS", 15);
    const char *dump = getenv("FERRY_FUZZ_DUMP");
    double start = now_s();
    uint8_t *buf;
    long done = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    rng ^= (uint64_t)env_long("FERRY_FUZZ_SEED", 0) * 0x9E3779B97F4A7C15ull;
    if (rng == 0)
        rng = 1;
    for (int i = 1; i < argc; i++) {
        if (load(argv[i]) != 0)
            return 2;
    }
    if (ninputs == 0) {
        fprintf(stderr, "%s: no inputs found\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < ninputs; i++)
        run_one(inputs[i].data, inputs[i].size, NULL);

    buf = malloc(MAX_MUTANT_BYTES);
    if (buf == NULL)
        return 2;
    for (; done < runs; done++) {
        const input *base = &inputs[below(ninputs)];
        size_t len = base->size < MAX_MUTANT_BYTES ? base->size : MAX_MUTANT_BYTES;

        if ((done & 63) == 0 && now_s() - start > (double)seconds) {
            fprintf(stderr, "%s: time limit of %ld s reached\n", argv[0], seconds);
            break;
        }
        memcpy(buf, base->data, len);
        mutate(buf, &len, MAX_MUTANT_BYTES);
        run_one(buf, len, dump);
    }
    printf("%s: %zu inputs replayed, %ld mutations run in %.2f s\n", argv[0], ninputs, done,
           now_s() - start);
    free(buf);
    for (size_t i = 0; i < ninputs; i++)
        free(inputs[i].data);
    free(inputs);
    return 0;
}
