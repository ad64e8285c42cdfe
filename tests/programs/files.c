// A WASI command for Kiln's test suite: checks its arguments and environment, reads a file
// from a preopened directory, and writes another there. Prints what it did; exits 0 only when
// every check held. Built by build.sh (Debian's clang-16 for wasm32-wasi).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "check failed: %s (errno %d: %s)\n", what, errno, strerror(errno));
        failures++;
    }
}

int main(int argc, char **argv) {
    // argv[0] is the program; then "in.txt" "out.txt".
    check(argc == 3, "three arguments");
    if (argc != 3) return 2;
    const char *greeting = getenv("GREETING");
    check(greeting != NULL && strcmp(greeting, "hello") == 0, "GREETING=hello");
    check(getenv("UNSET_BY_HOST") == NULL, "UNSET_BY_HOST is not set");

    FILE *in = fopen(argv[1], "r");
    check(in != NULL, "open the input");
    if (!in) return 1;
    char line[256] = {0};
    size_t n = fread(line, 1, sizeof line - 1, in);
    fclose(in);
    check(n > 0, "read the input");

    // Escapes must fail.
    check(fopen("../escape.txt", "w") == NULL, "no file above the preopen");
    check(fopen("/etc/passwd", "r") == NULL, "no absolute host path");

    FILE *out = fopen(argv[2], "w");
    check(out != NULL, "create the output");
    if (!out) return 1;
    for (size_t i = 0; i < n; i++) {
        char c = line[i];
        if (c >= 'a' && c <= 'z') c = c - 'a' + 'A';
        fputc(c, out);
    }
    check(fclose(out) == 0, "close the output");
    printf("%s: copied %zu bytes from %s to %s in upper case\n", argv[0], n, argv[1], argv[2]);
    return failures == 0 ? 0 : 1;
}
