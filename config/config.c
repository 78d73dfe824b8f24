/* The whole configuration: loading Firecracker's config file (--config-file)
 * section by section, the boot-time checks, and GET /vm/config output. */
#include "config/config.h"
#include "config/config_json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	config_machine_init(&cfg->machine);
}

void config_free(struct vm_config *cfg)
{
	config_boot_free(&cfg->boot);
	for (size_t i = 0; i < cfg->n_drives; i++)
		config_drive_free(&cfg->drives[i]);
	free(cfg->drives);
	for (size_t i = 0; i < cfg->n_nets; i++)
		config_net_free(&cfg->nets[i]);
	free(cfg->nets);
	config_vsock_free(&cfg->vsock);
	config_logger_free(&cfg->logger);
	config_metrics_free(&cfg->metrics);
	config_mmds_free(&cfg->mmds);
	cpu_template_free(cfg->cpu_config);
	if (cfg->snapshot_load)
		config_snapshot_load_free(cfg->snapshot_load);
	free(cfg->snapshot_load);
	config_init(cfg);
}

/* ---- loading ---- */

static int sec_boot(json_t *v, struct vm_config *cfg, struct errbuf *err)
{
	return config_parse_boot(v, &cfg->boot, err);
}

static int sec_machine(json_t *v, struct vm_config *cfg, struct errbuf *err)
{
	return config_parse_machine(v, &cfg->machine, false, err);
}

static int sec_vsock(json_t *v, struct vm_config *cfg, struct errbuf *err)
{
	return config_parse_vsock(v, &cfg->vsock, err);
}

static int sec_entropy(json_t *v, struct vm_config *cfg, struct errbuf *err)
{
	return config_parse_entropy(v, &cfg->entropy, err);
}

static int sec_logger(json_t *v, struct vm_config *cfg, struct errbuf *err)
{
	return config_parse_logger(v, &cfg->logger, err);
}

static int sec_metrics(json_t *v, struct vm_config *cfg, struct errbuf *err)
{
	return config_parse_metrics(v, &cfg->metrics, err);
}

static int sec_mmds(json_t *v, struct vm_config *cfg, struct errbuf *err)
{
	return config_parse_mmds(v, &cfg->mmds, err);
}

/* Firecracker's CustomCpuTemplateOrPath: the template inline, or the path
 * of a JSON file holding it. Which of the two template kinds wins is
 * settled once every section is read (config_load_json). */
static int read_file(const char *path, char **out, size_t *len, struct errbuf *err);

static int sec_cpu_config(json_t *v, struct vm_config *cfg, struct errbuf *err)
{
	struct cpu_template *t = NULL;
	int rc;
	if (json_is_string(v)) {
		char *text = NULL;
		size_t len = 0;
		json_error_t je;
		const char *path = json_string_value(v);
		if ((rc = read_file(path, &text, &len, err)) < 0)
			return rc;
		json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
		free(text);
		if (!j)
			return err_set(err, -EINVAL, "%s: invalid JSON at line %d, column %d: %s",
				       path, je.line, je.column, je.text);
		rc = config_parse_cpu_config(j, &t, err);
		json_decref(j);
		if (rc < 0)
			return err_wrap(err, rc, "%s", path);
	} else if ((rc = config_parse_cpu_config(v, &t, err)) < 0) {
		return rc;
	}
	cpu_template_free(cfg->cpu_config);
	cfg->cpu_config = t;
	return 0;
}

static int sec_snapshot_load(json_t *v, struct vm_config *cfg, struct errbuf *err)
{
	struct config_snapshot_load *l = calloc(1, sizeof(*l));
	if (!l)
		return err_set(err, -ENOMEM, "out of memory");
	int rc = config_parse_snapshot_load(v, l, err);
	if (rc < 0) {
		free(l);
		return rc;
	}
	cfg->snapshot_load = l;
	return 0;
}

/* A config file names each device once: duplicates are errors, not the
 * replacement a second API PUT would be. */
static int sec_drive(json_t *v, struct vm_config *cfg, struct errbuf *err)
{
	struct config_drive d;
	int rc = config_parse_drive(v, &d, err);
	if (!rc && (rc = config_drive_insert(cfg, &d, false, err)))
		config_drive_free(&d);
	return rc;
}

static int sec_net(json_t *v, struct vm_config *cfg, struct errbuf *err)
{
	struct config_net n;
	int rc = config_parse_net(v, &n, err);
	if (!rc && (rc = config_net_insert(cfg, &n, false, err)))
		config_net_free(&n);
	return rc;
}

/* Every top-level key of Firecracker's VmmConfig (resources.rs; its serial
 * configuration is API-only there, so "serial" is no key here). parse is
 * NULL for sections Ember does not implement yet; is_array sections hold a
 * list whose elements go to parse one by one. */
static const struct {
	const char *name;
	int (*parse)(json_t *v, struct vm_config *cfg, struct errbuf *err);
	bool is_array;
} sections[] = {
	{ "boot-source", sec_boot, false },
	{ "machine-config", sec_machine, false },
	{ "drives", sec_drive, true },
	{ "network-interfaces", sec_net, true },
	{ "vsock", sec_vsock, false },
	{ "entropy", sec_entropy, false },
	{ "logger", sec_logger, false },
	{ "metrics", sec_metrics, false },
	{ "balloon", NULL, false },
	{ "mmds-config", sec_mmds, false },
	{ "cpu-config", sec_cpu_config, false },
	{ "pmem", NULL, true },
	{ "memory-hotplug", NULL, false },
	/* Ember's own: the body of PUT /snapshot/load, restored at start-up. */
	{ "snapshot-load", sec_snapshot_load, false },
};

/* With "snapshot-load" the snapshot brings the machine and its devices. */
static int check_snapshot_load(json_t *root, struct errbuf *err)
{
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "snapshot-load") && strcmp(key, "logger") && strcmp(key, "metrics") &&
		    !json_is_null(v))
			return err_set(err, -EINVAL,
				       "\"%s\" cannot come with \"snapshot-load\" (only \"logger\" "
				       "and \"metrics\" can)",
				       key);
	}
	return 0;
}

static int load_section(const char *key, json_t *v, struct vm_config *cfg, struct errbuf *err)
{
	char e[CONFIG_ECHO_MAX];
	size_t s = 0;
	while (s < sizeof(sections) / sizeof(sections[0]) && strcmp(sections[s].name, key))
		s++;
	if (s == sizeof(sections) / sizeof(sections[0]))
		return err_set(err, -EINVAL, "unknown section \"%s\"",
			       config_echo(key, SIZE_MAX, e));
	/* serde reads null as an absent Option; GET /vm/config prints them. */
	if (json_is_null(v))
		return 0;
	if (!sections[s].parse)
		return err_set(err, -ENOTSUP, "%s: not supported yet", key);
	if (!sections[s].is_array) {
		int rc = sections[s].parse(v, cfg, err);
		return rc ? err_wrap(err, rc, "%s", key) : 0;
	}
	if (!json_is_array(v))
		return err_set(err, -EINVAL, "%s: must be an array (got %s)", key,
			       config_json_type(v));
	size_t i;
	json_t *elem;
	json_array_foreach(v, i, elem) {
		int rc = sections[s].parse(elem, cfg, err);
		if (rc)
			return err_wrap(err, rc, "%s[%zu]", key, i);
	}
	return 0;
}

int config_load_json(json_t *root, struct vm_config *cfg, struct errbuf *err)
{
	const char *key;
	json_t *v;
	int rc;

	config_init(cfg);
	if (!json_is_object(root))
		return err_set(err, -EINVAL, "top level must be a JSON object (got %s)",
			       config_json_type(root));
	/* jansson keeps insertion order, so errors come in document order. */
	json_object_foreach(root, key, v) {
		if ((rc = load_section(key, v, cfg, err)))
			goto fail;
	}
	/* Firecracker applies cpu-config after machine-config, whatever
	 * their order in the file: the custom template wins. */
	if (cfg->cpu_config)
		cfg->machine.cpu_template = CONFIG_CPU_TEMPLATE_CUSTOM;
	if (cfg->snapshot_load)
		rc = check_snapshot_load(root, err);
	else if (!json_is_object(json_object_get(root, "boot-source")))
		rc = err_set(err, -EINVAL, "missing section \"boot-source\"");
	else
		rc = config_validate(cfg, err);
	if (rc)
		goto fail;
	return 0;
fail:
	config_free(cfg);
	return rc;
}

/* Whitespace as JSON defines it (RFC 8259 section 2). */
static bool all_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\n", s[i]) || !s[i])
			return false;
	return true;
}

int config_load_string(const char *text, size_t len, struct vm_config *cfg, struct errbuf *err)
{
	json_error_t jerr;

	config_init(cfg);
	if (all_blank(text, len))
		return err_set(err, -EINVAL, "empty configuration");
	/* Duplicate keys are refused, as serde does, rather than last-wins. */
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return err_set(err, -EINVAL, "invalid JSON at line %d, column %d: %s", jerr.line,
			       jerr.column, jerr.text);
	int rc = config_load_json(root, cfg, err);
	json_decref(root);
	return rc;
}

/* Reads a whole file, refusing anything over CONFIG_FILE_MAX bytes. Works
 * on pipes too (--config-file /dev/stdin), so no reliance on st_size. */
static int read_file(const char *path, char **out, size_t *len, struct errbuf *err)
{
	struct stat st;
	size_t cap = 0, n = 0;
	char *buf = NULL;
	int rc = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		rc = -errno;
	else if (S_ISDIR(st.st_mode))
		rc = -EISDIR;
	if (rc) {
		err_set(err, rc, "%s: %s", path, strerror(-rc));
		goto out;
	}
	for (;;) {
		if (n > CONFIG_FILE_MAX) {
			rc = err_set(err, -EFBIG, "%s: larger than %d bytes", path,
				     CONFIG_FILE_MAX);
			goto out;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			char *nb = realloc(buf, cap);
			if (!nb) {
				rc = err_set(err, -ENOMEM, "%s: out of memory", path);
				goto out;
			}
			buf = nb;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = err_set(err, -errno, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

int config_load_file(const char *path, struct vm_config *cfg, struct errbuf *err)
{
	char *text = NULL;
	size_t len = 0;

	config_init(cfg);
	int rc = read_file(path, &text, &len, err);
	if (rc)
		return rc;
	rc = config_load_string(text, len, cfg, err);
	free(text);
	return rc ? err_wrap(err, rc, "%s", path) : 0;
}

int config_validate(const struct vm_config *cfg, struct errbuf *err)
{
	if (config_mmds_check(cfg, err) < 0)
		return -EINVAL;
	if (!cfg->boot.kernel_image_path)
		return err_set(err, -EINVAL, "boot-source: kernel_image_path is not set");
	/* Firecracker refuses this pair (VmConfigError::InitrdAndHugePages):
	 * the initrd is loaded through memory it expects to be 4K-backed. */
	if (cfg->boot.initrd_path && cfg->machine.huge_pages != CONFIG_HUGE_PAGES_NONE)
		return err_set(err, -EINVAL,
			       "machine-config: huge_pages \"%s\" cannot be used with an initrd",
			       config_huge_pages_name(cfg->machine.huge_pages));
	return 0;
}

/* ---- GET /vm/config ---- */

/* Leaves out every null member, at any depth: Firecracker's swagger
 * (Swagger 2.0) has no null type, so an absent optional value or section
 * is shown by its absence, and the answer stays valid against it. */
static void drop_nulls(json_t *j)
{
	if (json_is_array(j)) {
		size_t i;
		json_t *v;
		json_array_foreach(j, i, v)
			drop_nulls(v);
		return;
	}
	if (!json_is_object(j))
		return;
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(j, tmp, k, v) {
		if (json_is_null(v))
			json_object_del(j, k);
		else
			drop_nulls(v);
	}
}

json_t *config_to_json(const struct vm_config *cfg)
{
	json_t *root = json_object(), *drives = json_array(), *nets = json_array();
	int bad = !root || !drives || !nets;

	for (size_t i = 0; !bad && i < cfg->n_drives; i++)
		bad |= json_array_append_new(drives, config_drive_to_json(&cfg->drives[i]));
	for (size_t i = 0; !bad && i < cfg->n_nets; i++)
		bad |= json_array_append_new(nets, config_net_to_json(&cfg->nets[i]));
	if (bad) {
		json_decref(root);
		json_decref(drives);
		json_decref(nets);
		return NULL;
	}
	/* Firecracker's key order (VmmConfig); set_new steals even on error. */
	bad |= json_object_set_new(root, "balloon", json_null());
	bad |= json_object_set_new(root, "drives", drives);
	bad |= json_object_set_new(root, "boot-source", config_boot_to_json(&cfg->boot));
	/* Firecracker always shows null here; Ember shows the custom
	 * template, so that this output (and a snapshot's copy of it) loads
	 * back into the same configuration. */
	bad |= json_object_set_new(root, "cpu-config",
				   cfg->cpu_config ? config_cpu_config_to_json(cfg->cpu_config)
						   : json_null());
	bad |= json_object_set_new(root, "logger", config_logger_to_json(&cfg->logger));
	bad |= json_object_set_new(root, "machine-config",
				   config_machine_to_json(&cfg->machine));
	bad |= json_object_set_new(root, "metrics", config_metrics_to_json(&cfg->metrics));
	bad |= json_object_set_new(root, "mmds-config", config_mmds_to_json(&cfg->mmds));
	bad |= json_object_set_new(root, "network-interfaces", nets);
	bad |= json_object_set_new(root, "vsock", config_vsock_to_json(&cfg->vsock));
	bad |= json_object_set_new(root, "entropy", config_entropy_to_json(&cfg->entropy));
	if (bad) {
		json_decref(root);
		return NULL;
	}
	drop_nulls(root);
	return root;
}
