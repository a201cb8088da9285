// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libmicrohttpd, loaded only when a tool serves --metrics.
 *
 * Linking it pulls GnuTLS and half a dozen other libraries into every tool
 * at start-up (about 2.5 MB of resident memory and a few ms), for a feature
 * most runs do not use. These definitions stand in for the few libmicrohttpd
 * functions lib/metrics.c calls: the first call dlopen()s the library and
 * every call forwards to it. Without the library, MHD_start_daemon fails
 * (with a message saying which package to install) and nothing else is
 * reached.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>

#include <microhttpd.h>

#define MHD_SONAME "libmicrohttpd.so.12"

static void *mhd_sym(const char *name)
{
	static void *lib;
	static int tried;

	if (!tried) {
		tried = 1;
		lib = dlopen(MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
		if (!lib)
			fprintf(stderr,
				"cannot load %s (Debian package libmicrohttpd12)"
				": %s\n", MHD_SONAME, dlerror());
	}
	return lib ? dlsym(lib, name) : NULL;
}

/* Look the function up once; the caller's arguments follow. */
#define FORWARD(ret, name, fail, ...)                                        \
	static ret (*fn)() = NULL;                                           \
	if (!fn)                                                             \
		fn = (ret(*)())mhd_sym(#name);                               \
	if (!fn)                                                             \
		return fail;                                                 \
	return fn(__VA_ARGS__)

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port,
				    MHD_AcceptPolicyCallback apc,
				    void *apc_cls,
				    MHD_AccessHandlerCallback dh,
				    void *dh_cls, ...)
{
	static struct MHD_Daemon *(*fn)(unsigned int, uint16_t,
					MHD_AcceptPolicyCallback, void *,
					MHD_AccessHandlerCallback, void *,
					va_list);
	struct MHD_Daemon *d;
	va_list ap;

	if (!fn)
		fn = (struct MHD_Daemon * (*)(unsigned int, uint16_t,
					      MHD_AcceptPolicyCallback, void *,
					      MHD_AccessHandlerCallback, void *,
					      va_list))mhd_sym("MHD_start_daemon_va");
	if (!fn)
		return NULL;
	va_start(ap, dh_cls);
	d = fn(flags, port, apc, apc_cls, dh, dh_cls, ap);
	va_end(ap);
	return d;
}

void MHD_stop_daemon(struct MHD_Daemon *daemon)
{
	static void (*fn)(struct MHD_Daemon *);

	if (!fn)
		fn = (void (*)(struct MHD_Daemon *))mhd_sym("MHD_stop_daemon");
	if (fn)
		fn(daemon);
}

/* Only info types without further arguments are forwarded. */
const union MHD_DaemonInfo *MHD_get_daemon_info(struct MHD_Daemon *daemon,
						enum MHD_DaemonInfoType type,
						...)
{
	FORWARD(const union MHD_DaemonInfo *, MHD_get_daemon_info, NULL,
		daemon, type);
}

enum MHD_Result MHD_run(struct MHD_Daemon *daemon)
{
	FORWARD(enum MHD_Result, MHD_run, MHD_NO, daemon);
}

enum MHD_Result MHD_get_timeout(struct MHD_Daemon *daemon,
				MHD_UNSIGNED_LONG_LONG *timeout)
{
	FORWARD(enum MHD_Result, MHD_get_timeout, MHD_NO, daemon, timeout);
}

const char *MHD_lookup_connection_value(struct MHD_Connection *connection,
					enum MHD_ValueKind kind,
					const char *key)
{
	FORWARD(const char *, MHD_lookup_connection_value, NULL, connection,
		kind, key);
}

struct MHD_Response *
MHD_create_response_from_buffer(size_t size, void *buffer,
				enum MHD_ResponseMemoryMode mode)
{
	FORWARD(struct MHD_Response *, MHD_create_response_from_buffer, NULL,
		size, buffer, mode);
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *response,
					const char *header,
					const char *content)
{
	FORWARD(enum MHD_Result, MHD_add_response_header, MHD_NO, response,
		header, content);
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *connection,
				   unsigned int status_code,
				   struct MHD_Response *response)
{
	FORWARD(enum MHD_Result, MHD_queue_response, MHD_NO, connection,
		status_code, response);
}

void MHD_destroy_response(struct MHD_Response *response)
{
	static void (*fn)(struct MHD_Response *);

	if (!fn)
		fn = (void (*)(struct MHD_Response *))mhd_sym(
			"MHD_destroy_response");
	if (fn)
		fn(response);
}
