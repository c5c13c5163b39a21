/* cli/cmd_inspect.c: `nnc inspect FILE`: the tensors (name, dtype, shape) and metadata of a
 * safetensors file. */
#include <inttypes.h>
#include <stdio.h>
#include "cli/args.h"
#include "cli/commands.h"
#include "io/safetensors.h"
#include "nnc.h"

int cmd_inspect(int argc, char **argv) {
  const char *pos[1];
  int np = 0;
  int rc = args_parse(argc, argv, 1, NULL, 0, pos, 1, &np,
                      "usage: nnc inspect FILE\n\nLists the tensors of a safetensors file (name, dtype, shape, "
                      "elements) and its metadata.");
  if (rc) return rc == 1 ? 0 : 2;
  if (np < 1) {
    fprintf(stderr, "nnc inspect: name a .safetensors file\n");
    return 2;
  }
  nnc_st_file *f;
  if (nnc_st_read(pos[0], &f)) {
    fprintf(stderr, "nnc: %s\n", nnc_last_error());
    return 1;
  }
  int64_t total = 0;
  printf("%s: %d tensors\n", pos[0], nnc_st_count(f));
  for (int i = 0; i < nnc_st_count(f); i++) {
    const nnc_st_entry *e = nnc_st_entry_at(f, i);
    char shape[128];
    int n = snprintf(shape, sizeof shape, "[");
    for (int d = 0; d < e->ndim && n < (int)sizeof shape; d++)
      n += snprintf(shape + n, sizeof shape - (size_t)n, d ? ", %" PRId64 : "%" PRId64, e->shape[d]);
    if (n < (int)sizeof shape) snprintf(shape + n, sizeof shape - (size_t)n, "]");
    printf("  %-40s %-5s %-20s %" PRId64 "\n", e->name, nnc_st_dtype_name(e->dtype), shape, e->numel);
    total += e->numel;
  }
  printf("  %" PRId64 " elements in all\n", total);
  if (nnc_st_metadata_count(f)) printf("metadata:\n");
  for (int i = 0; i < nnc_st_metadata_count(f); i++) {
    const char *k, *v;
    nnc_st_metadata_at(f, i, &k, &v);
    printf("  %s: %s\n", k, v);
  }
  nnc_st_free(f);
  return 0;
}
