/* cli/args.h: command-line flags.  A command lists its flags in a table; parsing fills the
 * variables, rejects unknown flags and bad values with a message, and prints --help. */
#ifndef NNC_CLI_ARGS_H
#define NNC_CLI_ARGS_H
#include <stdbool.h>

typedef enum { ARG_INT, ARG_DOUBLE, ARG_STRING, ARG_BOOL } arg_type;

typedef struct {
  const char *name; /* "--epochs" */
  arg_type type;
  void *value;      /* int*, double*, const char**, bool* */
  const char *help;
} arg_spec;

/* parses argv[first..argc) against specs; positional arguments (not starting with --) go to
 * positional[] (up to max_positional).  Returns 0 on success, 1 after printing help, 2 on
 * an error (message printed). */
int args_parse(int argc, char **argv, int first, const arg_spec *specs, int nspecs, const char **positional,
               int max_positional, int *npositional, const char *usage);
void args_help(const char *usage, const arg_spec *specs, int nspecs);

#endif
