/* cli/main.c: `nnc <command> [flags]`: the command table and dispatch. */
#include <stdio.h>
#include <string.h>
#include "cli/commands.h"
#include "nnc.h"

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
    {"train", cmd_train, "train a model on Fashion-MNIST (fashion-mlp, ...)"},
    {"eval", cmd_eval, "evaluate a model's weights on the Fashion-MNIST test set"},
    {"run", cmd_run, "run a paper's experiment (nnc run --list shows them)"},
    {"inspect", cmd_inspect, "list the tensors and metadata of a safetensors file"},
    {"gradcheck", cmd_gradcheck, "check every op's backward against central differences"},
    {"bench", cmd_bench, "time a training step of a reference model (transformer)"},
    {"export", cmd_export, "export a trained binary or int8 model to a compact inference file"},
    {"infer", cmd_infer, "run an exported inference model on the Fashion-MNIST test set"},
};
static const int ncommands = sizeof commands / sizeof commands[0];

static void usage(FILE *f) {
  fprintf(f, "nnc: a small deep-learning library and tool in C\n\nusage: nnc <command> [flags]\n\ncommands:\n");
  for (int i = 0; i < ncommands; i++) fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\n`nnc <command> --help` documents each command's flags.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  nnc_init();
  for (int i = 0; i < ncommands; i++)
    if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "nnc: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
