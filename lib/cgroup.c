// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * --cgroup PATH: the filter compares the kernfs id of the task's cgroup (and
 * its ancestors) with the id of PATH, which is the inode number of the
 * cgroup's directory. On cgroup v2 the kernel tests membership itself
 * (bpf_current_task_under_cgroup). On v1 the BPF side keeps the set of
 * processes in the cgroup's subtree (see bpf/kit.bpf.h), which we seed here
 * from cgroup.procs; it needs the hierarchy's id, from /proc/cgroups.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <bpf/bpf.h>

#include "kit_priv.h"

#define CGROUP_MAGIC	0x27e0eb
#define CGROUP2_MAGIC	0x63677270

/* The controllers of the v1 hierarchy mounted at the longest prefix of
 * path, from /proc/self/mountinfo. */
static int v1_controllers(const char *path, char *opts, size_t optlen)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[1024];
	size_t best = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char mnt[PATH_MAX], fstype[64], super[512];
		size_t len;
		char *sep;

		/* id parent maj:min root mount-point opts ... - fs src super */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		sep = strstr(line, " - ");
		if (!sep || sscanf(sep, " - %63s %*s %511s", fstype, super) != 2)
			continue;
		if (strcmp(fstype, "cgroup"))
			continue;
		len = strlen(mnt);
		if (strncmp(path, mnt, len) ||
		    (path[len] != '/' && path[len] != '\0'))
			continue;
		if (len > best) {
			best = len;
			snprintf(opts, optlen, "%s", super);
		}
	}
	fclose(f);
	return best ? 0 : -1;
}

/* The hierarchy id a v1 controller is mounted in, from /proc/cgroups. */
static int controller_hierarchy(const char *name)
{
	FILE *f = fopen("/proc/cgroups", "re");
	char line[256], sub[64];
	int hier, found = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' ||
		    sscanf(line, "%63s %d", sub, &hier) != 2)
			continue;
		if (!strcmp(sub, name) && hier > 0) {
			found = hier;
			break;
		}
	}
	fclose(f);
	return found;
}

int kit_cgroup_resolve(const char *path, struct kit_cgroup *cg, char *err,
		       size_t errlen)
{
	char real[PATH_MAX], opts[512], *tok, *save = NULL;
	struct statfs sfs;
	struct stat st;

	memset(cg, 0, sizeof(*cg));
	if (!realpath(path, real) || stat(real, &st)) {
		snprintf(err, errlen, "cgroup '%s': %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || statfs(real, &sfs)) {
		snprintf(err, errlen, "cgroup '%s': not a directory", path);
		return -1;
	}
	cg->id = st.st_ino;
	if (sfs.f_type == CGROUP2_MAGIC) {
		cg->v2 = true;
		return 0;
	}
	if (sfs.f_type != CGROUP_MAGIC) {
		snprintf(err, errlen, "'%s' is not in a cgroup file system",
			 path);
		return -1;
	}
	if (v1_controllers(real, opts, sizeof(opts))) {
		snprintf(err, errlen, "cgroup '%s': mount not found", path);
		return -1;
	}
	for (tok = strtok_r(opts, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		int hier = controller_hierarchy(tok);

		if (hier > 0) {
			cg->hierarchy = hier;
			snprintf(cg->controller, sizeof(cg->controller), "%s",
				 tok);
			return 0;
		}
	}
	snprintf(err, errlen,
		 "cgroup '%s': a v1 hierarchy without a controller cannot be "
		 "filtered on; use a controller's, e.g. /sys/fs/cgroup/memory",
		 path);
	return -1;
}

static int seed_dir(const char *dir, int map_fd, int depth)
{
	char path[PATH_MAX];
	struct dirent *de;
	unsigned int pid;
	uint8_t one = 1;
	FILE *f;
	DIR *d;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fscanf(f, "%u", &pid) == 1)
		bpf_map_update_elem(map_fd, &pid, &one, BPF_ANY);
	fclose(f);
	if (depth >= 64 || !(d = opendir(dir)))
		return 0;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		seed_dir(path, map_fd, depth + 1);
	}
	closedir(d);
	return 0;
}

int kit_cgroup_seed(const char *path, int map_fd)
{
	return seed_dir(path, map_fd, 0);
}
