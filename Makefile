# nnc build: `make` builds build/libnnc.a and build/nnc; `make test` installs what is
# missing, builds and runs every test; `make sanitize` runs the suite under ASan+UBSan;
# `make demo` trains the Fashion-MNIST MLP.  Every .c under src/ goes into the library,
# except src/cli/ which makes the command-line tool.
CC      ?= gcc
BUILD   ?= build
OPT     ?= -O3 -march=native
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -fopenmp -Wall -Wextra -Isrc -I. -MMD -MP
LDLIBS  += -ldnnl -lcjson -lpng -lz -lm
LDFLAGS += -fopenmp -rdynamic

LIB_SRC  := $(sort $(wildcard src/*/*.c) $(wildcard papers/*.c) $(wildcard papers/*/*.c))
LIB_SRC  := $(filter-out src/cli/%,$(LIB_SRC))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
BENCH_SRC:= $(sort $(wildcard bench/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
# whole-archive: op definitions, gradient-check rows and papers register themselves in linker
# sections, so every object of the library must be linked, referenced or not
LIBLINK   = -Wl,--whole-archive $(BUILD)/libnnc.a -Wl,--no-whole-archive
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN:= $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all tests test sanitize demo setup clean bench papers
all: $(BUILD)/libnnc.a $(BUILD)/nnc

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libnnc.a: $(LIB_OBJ)
	@rm -f $@
	@echo "  AR    $@"
	@ar rcs $@ $^

$(BUILD)/nnc: $(CLI_OBJ) $(BUILD)/libnnc.a
	$(CC) $(LDFLAGS) $(CLI_OBJ) $(LIBLINK) $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/%.c tests/test.h $(BUILD)/libnnc.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIBLINK) $(LDLIBS) -o $@

$(BUILD)/bench/%: bench/%.c $(BUILD)/libnnc.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIBLINK) $(LDLIBS) -o $@

tests: $(TEST_BIN)

setup:
	@scripts/setup.sh

test: setup
	@$(MAKE) --no-print-directory all tests
	@scripts/run_tests.sh $(BUILD)

sanitize: setup
	@$(MAKE) --no-print-directory BUILD=build/sanitize OPT="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fopenmp -rdynamic -fsanitize=address,undefined" all tests
	@NNC_SANITIZE=1 ASAN_OPTIONS=detect_leaks=0 scripts/run_tests.sh build/sanitize

demo: setup
	@$(MAKE) --no-print-directory all
	$(BUILD)/nnc train fashion-mlp --out runs/fashion-mlp

bench: all $(BENCH_BIN)

papers: setup
	@$(MAKE) --no-print-directory all
	@scripts/papers.sh

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_BIN:=.d)
