/* cli/commands.h: the subcommands of `nnc`.  Each returns the process exit status
 * (0 ok, 1 failure or bad data, 2 bad usage).  argv[0] is the command's own name. */
#ifndef NNC_CLI_COMMANDS_H
#define NNC_CLI_COMMANDS_H
int cmd_gradcheck(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_infer(int argc, char **argv);
#endif
