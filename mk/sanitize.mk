# Hardening entry points (docs/hardening.md). Included by the Makefile.
#
#   make sanitize [TESTS=...]    ASan+UBSan build in build-asan/, test suite
#   make fuzz [FUZZ_SECONDS=20]  every libFuzzer target, bounded, from seeds
#   make soak [SOAK_SECONDS=600] sustained load on each event tool (not CI)

FUZZ_SECONDS ?= 20
SOAK_SECONDS ?= 600

.PHONY: sanitize fuzz soak

sanitize:
	$(Q)scripts/setup.sh test
	$(Q)scripts/sanitize.sh $(TESTS)

fuzz:
	$(Q)scripts/setup.sh build
	$(Q)fuzz/run.sh -t $(FUZZ_SECONDS)

soak: all
	$(Q)SOAK_SECONDS=$(SOAK_SECONDS) BPFKIT_BUILD=$(abspath $(OUT)) \
		scripts/soak.sh
