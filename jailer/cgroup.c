#include "jailer/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Copies a /proc/mounts field, decoding \ooo escapes. */
static size_t mount_field(const char *s, const char *end, char *out, size_t len)
{
	size_t n = 0;
	while (s < end && n + 1 < len) {
		if (s[0] == '\\' && end - s >= 4 && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			out[n++] = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			out[n++] = *s++;
		}
	}
	out[n] = 0;
	return n;
}

int cg_mounts_parse(const char *text, struct cg_mounts *out, struct errbuf *err)
{
	out->n = 0;
	for (const char *line = text; *line;) {
		const char *eol = strchr(line, '\n');
		if (!eol)
			eol = line + strlen(line);
		/* device dir fstype options freq passno */
		const char *f[5];
		size_t flen[5], nf = 0;
		for (const char *p = line; p < eol && nf < 5;) {
			while (p < eol && *p == ' ')
				p++;
			if (p == eol)
				break;
			const char *e = memchr(p, ' ', (size_t)(eol - p));
			if (!e)
				e = eol;
			f[nf] = p;
			flen[nf++] = (size_t)(e - p);
			p = e;
		}
		int version = 0;
		if (nf >= 4 && flen[2] == 6 && !strncmp(f[2], "cgroup", 6))
			version = 1;
		else if (nf >= 4 && flen[2] == 7 && !strncmp(f[2], "cgroup2", 7))
			version = 2;
		if (version) {
			if (out->n == CG_MAX_MOUNTS)
				return err_set(err, -E2BIG, "/proc/mounts: more than %d cgroup mounts",
					       CG_MAX_MOUNTS);
			struct cg_mount *m = &out->m[out->n++];
			m->version = version;
			mount_field(f[1], f[1] + flen[1], m->dir, sizeof(m->dir));
			mount_field(f[3], f[3] + flen[3], m->opts, sizeof(m->opts));
		}
		line = *eol ? eol + 1 : eol;
	}
	return 0;
}

/* Whether the comma-separated list holds word. */
static bool list_has(const char *list, size_t len, const char *word)
{
	size_t wl = strlen(word);
	for (const char *p = list, *end = list + len; p < end;) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		size_t n = c ? (size_t)(c - p) : (size_t)(end - p);
		if (n == wl && !strncmp(p, word, n))
			return true;
		p += n + 1;
	}
	return false;
}

/* Words of a v1 mount's options that are not controllers. */
static bool mount_option(const char *w)
{
	static const char *const generic[] = {
		"rw",	       "ro",	  "relatime", "norelatime", "strictatime",    "noatime",
		"nodiratime", "nosuid", "nodev",    "noexec",	    "sync",	      "dirsync",
		"lazytime",   "xattr",  "noprefix", "all",	    "clone_children", "cpuset_v2_mode",
		"none",
	};
	for (size_t i = 0; i < sizeof(generic) / sizeof(generic[0]); i++)
		if (!strcmp(w, generic[i]))
			return true;
	return strchr(w, '=') != NULL; /* name=, release_agent= */
}

const struct cg_mount *cg_find_v1(const struct cg_mounts *m, const char *controller)
{
	if (mount_option(controller))
		return NULL;
	for (size_t i = 0; i < m->n; i++)
		if (m->m[i].version == 1 && list_has(m->m[i].opts, strlen(m->m[i].opts), controller))
			return &m->m[i];
	return NULL;
}

const struct cg_mount *cg_find_v2(const struct cg_mounts *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->m[i].version == 2)
			return &m->m[i];
	return NULL;
}

int cg_self_path(const char *text, int version, const char *controller, char *out, size_t len)
{
	for (const char *line = text; *line;) {
		const char *eol = strchr(line, '\n');
		if (!eol)
			eol = line + strlen(line);
		const char *c1 = memchr(line, ':', (size_t)(eol - line));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
		if (c2) {
			bool match = version == 2 ? c1 - line == 1 && line[0] == '0' && c2 == c1 + 1
						  : list_has(c1 + 1, (size_t)(c2 - c1 - 1), controller);
			size_t n = (size_t)(eol - c2 - 1);
			if (match && n < len) {
				memcpy(out, c2 + 1, n);
				out[n] = 0;
				return 0;
			}
		}
		line = *eol ? eol + 1 : eol;
	}
	return -ENOENT;
}

/* Reads a small file into buf (NUL-terminated, a trailing newline cut). */
static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	int r = n < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return r;
	buf[n] = 0;
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return 0;
}

/* Whether the space-separated list holds word. */
static bool words_have(const char *list, const char *word)
{
	size_t wl = strlen(word);
	for (const char *p = list; *p;) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (n == wl && !strncmp(p, word, n))
			return true;
		p += n;
	}
	return false;
}

static int path_join(char *out, size_t len, const char *a, const char *b, struct errbuf *err)
{
	int n = snprintf(out, len, "%s/%s", a, b);
	if (n < 0 || (size_t)n >= len)
		return err_set(err, -ENAMETOOLONG, "%s/%s: path too long", a, b);
	return 0;
}

/* The target for a mount, added on first use. */
static int target_for(struct cg_plan *p, const struct cg_mount *m, const char *parent,
		      const char *id, const char *self_cgroup, const char *controller,
		      size_t *idx, struct errbuf *err)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->t[i].mount, m->dir)) {
			*idx = i;
			return 0;
		}
	if (p->n == CG_MAX_TARGETS)
		return err_set(err, -E2BIG, "--cgroup: more than %d hierarchies", CG_MAX_TARGETS);
	struct cg_target *t = &p->t[p->n];
	memset(t, 0, sizeof(*t));
	snprintf(t->mount, sizeof(t->mount), "%s", m->dir);
	int n = id ? snprintf(t->dir, sizeof(t->dir), "%s/%s/%s", m->dir, parent, id)
		   : snprintf(t->dir, sizeof(t->dir), "%s/%s", m->dir, parent);
	if (n < 0 || (size_t)n >= sizeof(t->dir))
		return err_set(err, -ENAMETOOLONG, "%s/%s: path too long", m->dir, parent);
	char self[PATH_MAX] = "";
	if (cg_self_path(self_cgroup, m->version, controller, self, sizeof(self)) < 0)
		self[0] = 0; /* unknown: the hierarchy's root */
	n = snprintf(t->origin, sizeof(t->origin), "%s%s/cgroup.procs", m->dir,
		     strcmp(self, "/") ? self : "");
	if (n < 0 || (size_t)n >= sizeof(t->origin))
		return err_set(err, -ENAMETOOLONG, "%s%s: path too long", m->dir, self);
	t->cpuset = m->version == 1 && list_has(m->opts, strlen(m->opts), "cpuset");
	*idx = p->n++;
	return 0;
}

int cg_plan_make(const struct jail_args *a, const char *parent, const struct cg_mounts *m,
		 const char *self_cgroup, struct cg_plan *p, struct errbuf *err)
{
	memset(p, 0, sizeof(*p));
	p->version = a->cgroup_version;
	p->props = a->cgroups;
	p->nprops = a->ncgroups;
	const struct cg_mount *v2 = NULL;
	char offered[1024] = "";
	if (p->version == 2) {
		if (!(v2 = cg_find_v2(m)))
			return err_set(err, -ENOENT, "--cgroup-version 2: no cgroup2 mount in /proc/mounts");
		char path[PATH_MAX];
		int r = path_join(path, sizeof(path), v2->dir, "cgroup.controllers", err);
		if (r < 0)
			return r;
		if ((r = read_small(path, offered, sizeof(offered))) < 0)
			return err_set(err, r, "%s: %s", path, strerror(-r));
		if (!a->ncgroups) {
			size_t idx;
			r = target_for(p, v2, parent, NULL, self_cgroup, "", &idx, err);
			p->t[idx].move_only = true;
			return r;
		}
	}
	for (size_t i = 0; i < a->ncgroups; i++) {
		const struct jail_cgroup_arg *c = &a->cgroups[i];
		char e[80];
		if (!strcmp(c->file, "cgroup.procs") || !strcmp(c->file, "cgroup.threads"))
			return err_set(err, -EINVAL,
				       "--cgroup %s: the jailer itself places the VMM in its cgroup",
				       jail_echo(c->arg, e));
		const struct cg_mount *mnt = v2;
		if (p->version == 1 && !(mnt = cg_find_v1(m, c->controller)))
			return err_set(err, -ENOENT,
				       "--cgroup %s: no cgroup v1 hierarchy has the %s controller "
				       "(see /proc/mounts)",
				       jail_echo(c->arg, e), c->controller);
		bool core = p->version == 2 && !strcmp(c->controller, "cgroup");
		if (p->version == 2 && !core && !words_have(offered, c->controller))
			return err_set(err, -ENOENT,
				       "--cgroup %s: the cgroup v2 hierarchy at %s does not offer the %s "
				       "controller (it has: %s)",
				       jail_echo(c->arg, e), v2->dir, c->controller,
				       offered[0] ? offered : "none");
		size_t idx;
		int r = target_for(p, mnt, parent, a->id, self_cgroup, c->controller, &idx, err);
		if (r < 0)
			return r;
		p->prop_target[i] = idx;
		struct cg_target *t = &p->t[idx];
		if (p->version == 2 && !core && !words_have(t->controllers, c->controller)) {
			size_t used = strlen(t->controllers);
			if (used + strlen(c->controller) + 2 > sizeof(t->controllers))
				return err_set(err, -E2BIG, "--cgroup: too many controllers");
			snprintf(t->controllers + used, sizeof(t->controllers) - used, " %s",
				 c->controller);
		}
	}
	return 0;
}

/* Writes s (and a newline) into an existing file. */
static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t n = strlen(s);
	char *buf = malloc(n + 2);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	memcpy(buf, s, n);
	buf[n++] = '\n';
	ssize_t w = write(fd, buf, n);
	int r = w < 0 ? -errno : (size_t)w == n ? 0 : -EIO;
	free(buf);
	close(fd);
	return r;
}

/* A new v1 cpuset takes no process until it has CPUs and memory nodes:
 * it gets its parent's, as Firecracker's jailer does for the files named. */
static int cpuset_inherit(const char *from, const char *to, struct errbuf *err)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	for (size_t i = 0; i < 2; i++) {
		char src[PATH_MAX], dst[PATH_MAX], val[4096];
		int r = path_join(src, sizeof(src), from, files[i], err);
		if (r == 0)
			r = path_join(dst, sizeof(dst), to, files[i], err);
		if (r < 0)
			return r;
		if ((r = read_small(src, val, sizeof(val))) < 0)
			return err_set(err, r, "%s: %s", src, strerror(-r));
		if (val[0] && (r = write_file(dst, val)) < 0)
			return err_set(err, r, "%s: %s", dst, strerror(-r));
	}
	return 0;
}

static int enable_controllers(const char *dir, const char *controllers, struct errbuf *err)
{
	char path[PATH_MAX], word[40];
	int r = path_join(path, sizeof(path), dir, "cgroup.subtree_control", err);
	for (const char *p = controllers; r == 0 && *p;) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (!n)
			break;
		snprintf(word, sizeof(word), "+%.*s", (int)n, p);
		if ((r = write_file(path, word)) < 0)
			return err_set(err, r, "enabling the %s controller in %s: %s", word + 1, path,
				       strerror(-r));
		p += n;
	}
	return r;
}

/* mkdir -p from the mount down to t->dir, enabling controllers (v2) in
 * each directory above t->dir. */
static int make_dirs(const struct cg_target *t, struct undo *u, struct errbuf *err)
{
	char cur[PATH_MAX];
	snprintf(cur, sizeof(cur), "%s", t->mount);
	const char *rest = t->dir + strlen(t->mount);
	while (*rest == '/') {
		int r = t->controllers[0] ? enable_controllers(cur, t->controllers, err) : 0;
		if (r < 0)
			return r;
		size_t n = strcspn(rest + 1, "/");
		char parent[PATH_MAX];
		strcpy(parent, cur);
		size_t used = strlen(cur);
		snprintf(cur + used, sizeof(cur) - used, "/%.*s", (int)n, rest + 1);
		rest += 1 + n;
		if (mkdir(cur, 0755) == 0) {
			if ((r = undo_add(u, UNDO_RMDIR, cur)) < 0)
				return err_set(err, r, "out of memory");
			if (t->cpuset && (r = cpuset_inherit(parent, cur, err)) < 0)
				return r;
		} else if (errno != EEXIST) {
			return err_set(err, -errno, "creating the cgroup %s: %s", cur, strerror(errno));
		}
	}
	return 0;
}

static int attach(const struct cg_target *t, pid_t pid, struct undo *u, struct errbuf *err)
{
	char path[PATH_MAX], num[24];
	int r = path_join(path, sizeof(path), t->dir, "cgroup.procs", err);
	if (r < 0)
		return r;
	snprintf(num, sizeof(num), "%d", (int)pid);
	if ((r = write_file(path, num)) < 0)
		return err_set(err, r, "moving the process into %s: %s", path, strerror(-r));
	if ((r = undo_add(u, UNDO_MOVE, t->origin)) < 0)
		return err_set(err, r, "out of memory");
	return 0;
}

int cg_setup(const struct cg_plan *p, pid_t pid, struct undo *u, struct errbuf *err)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct cg_target *t = &p->t[i];
		struct stat st;
		if (t->move_only) /* Firecracker: no such cgroup, no move, no error */
			continue;
		int r = make_dirs(t, u, err);
		if (r < 0)
			return r;
		if (stat(t->dir, &st) < 0 || !S_ISDIR(st.st_mode))
			return err_set(err, -ENOTDIR, "%s: not a cgroup directory", t->dir);
	}
	for (size_t i = 0; i < p->nprops; i++) {
		const struct jail_cgroup_arg *c = &p->props[i];
		const struct cg_target *t = &p->t[p->prop_target[i]];
		char path[PATH_MAX], e[80];
		int r = path_join(path, sizeof(path), t->dir, c->file, err);
		if (r < 0)
			return r;
		if ((r = write_file(path, c->value)) == -ENOENT)
			return err_set(err, r, "--cgroup %s: the cgroup %s has no file %s",
				       jail_echo(c->arg, e), t->dir, c->file);
		if (r < 0)
			return err_set(err, r, "--cgroup %s: writing %s: %s", jail_echo(c->arg, e), path,
				       strerror(-r));
	}
	for (size_t i = 0; i < p->n; i++) {
		const struct cg_target *t = &p->t[i];
		struct stat st;
		if (t->move_only && (stat(t->dir, &st) < 0 || !S_ISDIR(st.st_mode)))
			continue;
		int r = attach(t, pid, u, err);
		if (r < 0)
			return r;
	}
	return 0;
}
