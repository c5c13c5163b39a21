/* cli/args.c: flag parsing (see args.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/args.h"

void args_help(const char *usage, const arg_spec *specs, int nspecs) {
  printf("%s\n", usage);
  if (nspecs) printf("\nflags:\n");
  for (int i = 0; i < nspecs; i++) {
    const char *kind = specs[i].type == ARG_INT ? " N" : specs[i].type == ARG_DOUBLE ? " X" : specs[i].type == ARG_STRING ? " S" : "";
    char left[64];
    snprintf(left, sizeof left, "%s%s", specs[i].name, kind);
    printf("  %-22s %s\n", left, specs[i].help);
  }
  printf("  %-22s %s\n", "--help", "show this help");
}

int args_parse(int argc, char **argv, int first, const arg_spec *specs, int nspecs, const char **positional,
               int max_positional, int *npositional, const char *usage) {
  int np = 0;
  for (int i = first; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      args_help(usage, specs, nspecs);
      return 1;
    }
    if (strncmp(a, "--", 2) != 0) {
      if (np >= max_positional) {
        fprintf(stderr, "nnc: unexpected argument '%s' (see --help)\n", a);
        return 2;
      }
      positional[np++] = a;
      continue;
    }
    const arg_spec *s = NULL;
    for (int k = 0; k < nspecs; k++)
      if (strcmp(specs[k].name, a) == 0) s = &specs[k];
    if (!s) {
      fprintf(stderr, "nnc: unknown flag '%s' (see --help)\n", a);
      return 2;
    }
    if (s->type == ARG_BOOL) {
      *(bool *)s->value = true;
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "nnc: flag %s needs a value\n", a);
      return 2;
    }
    const char *v = argv[++i];
    char *end;
    errno = 0;
    if (s->type == ARG_INT) {
      long long x = strtoll(v, &end, 10);
      if (*v == 0 || *end || errno || x < -2147483647LL || x > 2147483647LL) {
        fprintf(stderr, "nnc: %s expects an integer, got '%s'\n", a, v);
        return 2;
      }
      *(int *)s->value = (int)x;
    } else if (s->type == ARG_DOUBLE) {
      double x = strtod(v, &end);
      if (*v == 0 || *end || errno) {
        fprintf(stderr, "nnc: %s expects a number, got '%s'\n", a, v);
        return 2;
      }
      *(double *)s->value = x;
    } else {
      *(const char **)s->value = v;
    }
  }
  if (npositional) *npositional = np;
  return 0;
}
