// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Option parsing as the tools do it: kit_main() with an argv decoded from
 * the input (arguments separated by NUL bytes), for a stub tool with the
 * kinds of options real tools add (a flag, a bounded number, a port list)
 * and, by the first byte, [interval [count]] arguments. The stub's BPF
 * object never opens, so a run that gets past parsing and validation ends
 * there with status 1; nothing is ever loaded.
 *
 * Checked: the status is 0 (--help), 1 or 2; a usage error (2) prints
 * exactly one line, "NAME: ...", on stderr and nothing on stdout.
 *
 * kit_main() leaves by exit() on usage errors and --help (from our code
 * and from inside glibc's argp): an on_exit handler jumps back here, so
 * those paths run in-process with coverage. They leak what they had
 * allocated (the process was meant to end), hence no leak detection in
 * this target, and the fds they leave are closed here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "kit.h"
#include "kit_priv.h"
#include "parse.h"

void __sanitizer_set_report_fd(void *fd);

const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}

#define MAX_ARGS 16

static sigjmp_buf back;
static volatile sig_atomic_t armed;
static volatile int exit_status;
static bool handler_registered;
static int out_fd, err_fd, saved_out, saved_err;
static bool fd_at_start[1024];

static void *stub_open(const struct bpf_object_open_opts *opts)
{
	errno = ENOTSUP;
	return NULL;
}

static void stub_destroy(void *skel)
{
}

static const struct argp_option stub_options[] = {
	{ "extended", 'e', NULL, 0, "A flag" },
	{ "count", 'c', "N", 0, "A bounded number" },
	{ "port", 'P', "PORT[,PORT...]", 0, "A port list" },
	{ "milliseconds", 'm', NULL, 0, "Another flag" },
	{},
};

static error_t stub_parse(int key, char *arg, struct argp_state *state)
{
	uint64_t ports[16];
	size_t n = 0;
	const char *why;

	switch (key) {
	case 'e':
	case 'm':
		return 0;
	case 'c':
		kit_arg_u64("count", arg, 1, 1000000);
		return 0;
	case 'P':
		if (kit_parse_u64_list(arg, 1, 65535, ports, 16, &n, &why))
			kit_usage_error("invalid port list '%s': %s", arg, why);
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

static const struct kit_hook no_hooks[] = { {} };

static struct kit_tool stub = {
	.name = "fuzztool",
	.doc = "A stub tool for fuzzing option parsing.",
	.tracing = "Tracing nothing",
	.options = stub_options,
	.parse = stub_parse,
	.skel_open = stub_open,
	.skel_destroy = stub_destroy,
	.hooks = no_hooks,
};

static void jump_back(int status, void *arg)
{
	if (!armed)
		return;
	armed = 0;
	exit_status = status;
	siglongjmp(back, 1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct dirent *d;
	DIR *dir = opendir("/proc/self/fd");

	while (dir && (d = readdir(dir))) {
		int fd = atoi(d->d_name);

		if (fd >= 0 && fd < 1024)
			fd_at_start[fd] = true;
	}
	if (dir)
		closedir(dir);
	out_fd = memfd_create("stdout", MFD_CLOEXEC);
	err_fd = memfd_create("stderr", MFD_CLOEXEC);
	saved_out = fcntl(1, F_DUPFD_CLOEXEC, 3);
	saved_err = fcntl(2, F_DUPFD_CLOEXEC, 3);
	fd_at_start[out_fd] = fd_at_start[err_fd] = true;
	fd_at_start[saved_out] = fd_at_start[saved_err] = true;
	/* Sanitizer reports must not vanish into the captured stderr. */
	__sanitizer_set_report_fd((void *)(intptr_t)saved_err);
	return 0;
}

/*
 * Known issue (docs/hardening.md): messages quote the offending argument
 * as given, so a newline in it splits the line (and glibc's getopt does
 * the same for unknown options). Such arguments are left out unless
 * FUZZ_STRICT=1 is set.
 */
static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Close what an exit() path left open. */
static void close_new_fds(void)
{
	char path[64];
	int fd;

	for (fd = 3; fd < 1024; fd++) {
		if (fd_at_start[fd])
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (!access(path, F_OK))
			close(fd);
	}
}

static size_t slurp(int fd, char *buf, size_t cap)
{
	ssize_t n = pread(fd, buf, cap - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? n : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[65536], err[65536];
	char *argv[MAX_ARGS + 2], *buf;
	sigset_t mask;
	size_t i, nout, nerr, lines = 0;
	int argc = 1, status;
	bool jumped;

	if (size < 1 || size > 1024)
		return 0;
	buf = malloc(size);
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	argv[0] = "fuzztool";
	for (i = 0; i < size - 1 && argc <= MAX_ARGS; i++) {
		if (i == 0 || buf[i - 1] == '\0')
			argv[argc++] = buf + i;
	}
	argv[argc] = NULL;
	/* --metrics binds sockets and resolves names, --metrics-file
	 * creates files: both have their own fuzz target and tests. */
	for (i = 1; i < (size_t)argc; i++) {
		if (!strncmp(argv[i], "--metrics", 9) ||
		    (!getenv("FUZZ_STRICT") && has_control(argv[i]))) {
			free(buf);
			return 0;
		}
	}
	stub.interval_args = data[0] & 1;
	stub.no_common = data[0] & 2 ? KIT_OPT_COMMAND | KIT_OPT_CGROUP : 0;
	stub.long_only = data[0] & 4 ? KIT_OPT_TID | KIT_OPT_UID : 0;
	kit_verbosity = 0;

	ftruncate(out_fd, 0);
	ftruncate(err_fd, 0);
	fflush(stdout);
	fflush(stderr);
	dup2(out_fd, 1);
	dup2(err_fd, 2);
	lseek(1, 0, SEEK_SET);
	lseek(2, 0, SEEK_SET);
	sigprocmask(SIG_SETMASK, NULL, &mask);
	/* Registered here, after libFuzzer's own exit handler, so that ours
	 * runs first (they run in reverse order). */
	if (!handler_registered) {
		on_exit(jump_back, NULL);
		handler_registered = true;
	}
	armed = 1;
	if (sigsetjmp(back, 1)) {
		jumped = true;
		status = exit_status;
		/* The handler ran, and is off the list: register it again. */
		on_exit(jump_back, NULL);
	} else {
		jumped = false;
		status = kit_main(&stub, argc, argv);
		armed = 0;
	}
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	signal(SIGPIPE, SIG_DFL);
	close_new_fds();

	nout = slurp(out_fd, out, sizeof(out));
	nerr = slurp(err_fd, err, sizeof(err));
	for (i = 0; i < nerr; i++)
		lines += err[i] == '\n';
	FUZZ_CHECK(status == 0 || status == 1 || status == 2,
		   "status %d; stderr: %s", status, err);
	if (status == 0)
		FUZZ_CHECK(jumped && strstr(out, "Usage: fuzztool"),
			   "status 0 without --help; stdout: %s", out);
	if (status == 2) {
		FUZZ_CHECK(jumped, "usage error returned instead of exiting");
		FUZZ_CHECK(nout == 0, "usage error with stdout: %s", out);
		FUZZ_CHECK(nerr && err[nerr - 1] == '\n', "unterminated: %s",
			   err);
		FUZZ_CHECK(lines == 1 || kit_verbosity > 0,
			   "usage error in %zu lines: %s", lines, err);
		FUZZ_CHECK(!strncmp(err, "fuzztool: ", 10) ||
				   kit_verbosity > 0,
			   "usage error without the tool's name: %s", err);
	}
	if (status == 1)
		FUZZ_CHECK(nout == 0 && nerr > 0,
			   "run-time failure: stdout '%s', stderr '%s'", out,
			   err);
	free(buf);
	return 0;
}
