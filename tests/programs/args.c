// Prints its arguments, one per line as `argv[i]=...`, then the environment variables whose
// names start with `KILN_` as `env NAME=VALUE`, sorted as the host gave them. With a first
// argument `exit` and a second N, it then exits with status N through proc_exit (exit()),
// so tests can see how out-of-range statuses are reported.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

int main(int argc, char **argv) {
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "KILN_", 5) == 0) printf("env %s\n", *e);
    fflush(stdout);
    if (argc == 3 && strcmp(argv[1], "exit") == 0) exit(atoi(argv[2]));
    return 0;
}
