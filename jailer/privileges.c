#include "jailer/privileges.h"

#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

static int set_limit(int resource, const char *name, rlim_t v, struct errbuf *err)
{
	struct rlimit r = { v, v };
	if (setrlimit(resource, &r) < 0)
		return err_set(err, -errno, "--resource-limit %s=%llu: %s", name,
			       (unsigned long long)v, strerror(errno));
	return 0;
}

int jail_set_rlimits(const struct jail_args *a, struct errbuf *err)
{
	int r = a->has_fsize ? set_limit(RLIMIT_FSIZE, "fsize", a->fsize, err) : 0;
	return r < 0 ? r : set_limit(RLIMIT_NOFILE, "no-file", a->no_file, err);
}

static int drop_caps(struct errbuf *err)
{
	int bits = cap_max_bits();
	for (cap_value_t c = 0; c < bits; c++)
		if (cap_drop_bound(c) < 0 && errno != EINVAL)
			return err_set(err, -errno, "dropping capability %d from the bounding set: %s",
				       c, strerror(errno));
	if (CAP_AMBIENT_SUPPORTED() && cap_reset_ambient() < 0)
		return err_set(err, -errno, "clearing the ambient capabilities: %s", strerror(errno));
	return 0;
}

static int clear_sets(struct errbuf *err)
{
	cap_t none = cap_init();
	if (!none)
		return err_set(err, -ENOMEM, "cap_init: out of memory");
	int r = cap_set_proc(none) < 0 ? -errno : 0;
	cap_free(none);
	return r < 0 ? err_set(err, r, "clearing the capabilities: %s", strerror(-r)) : 0;
}

/* What the VMM will inherit, checked rather than assumed. */
static int verify(uid_t uid, gid_t gid, struct errbuf *err)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != uid ||
	    eu != uid || su != uid || rg != gid || eg != gid || sg != gid || getgroups(0, NULL) != 0)
		return err_set(err, -EPERM, "the uid, gid or groups did not change as asked");
	cap_t now = cap_get_proc(), none = cap_init();
	int diff = now && none ? cap_compare(now, none) : -1;
	cap_free(now);
	cap_free(none);
	if (diff != 0)
		return err_set(err, -EPERM, "capabilities remain after dropping them");
	int bits = cap_max_bits();
	for (cap_value_t c = 0; c < bits; c++)
		if (cap_get_bound(c) > 0 || (CAP_AMBIENT_SUPPORTED() && cap_get_ambient(c) > 0))
			return err_set(err, -EPERM, "capability %d remains in the bounding or ambient set", c);
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return err_set(err, -EPERM, "no_new_privs is not set");
	return 0;
}

int jail_drop_privileges(uid_t uid, gid_t gid, struct errbuf *err)
{
	int r = drop_caps(err);
	if (r < 0)
		return r;
	if (setgroups(0, NULL) < 0)
		return err_set(err, -errno, "setgroups: %s", strerror(errno));
	if (setresgid(gid, gid, gid) < 0)
		return err_set(err, -errno, "setresgid %u: %s", (unsigned)gid, strerror(errno));
	if (setresuid(uid, uid, uid) < 0)
		return err_set(err, -errno, "setresuid %u: %s", (unsigned)uid, strerror(errno));
	if ((r = clear_sets(err)) < 0)
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_set(err, -errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	return verify(uid, gid, err);
}
