/* Linked into sanitizer builds of ember only (Makefile, SAN_JAIL_OBJ).
 * Inside ember-jailer's jail there is no /proc: LeakSanitizer's exit-time
 * check cannot list the threads and fails the process ("LeakSanitizer has
 * encountered a fatal error", exit 1) whatever the VMM did, and the
 * runtime reads ASAN_OPTIONS from /proc/self/environ, so no environment
 * variable can turn it off there. Leak checking stays on wherever /proc
 * is mounted. */
#include <unistd.h>

const char *__asan_default_options(void);

__attribute__((used, visibility("default"))) const char *__asan_default_options(void)
{
	return access("/proc/self/task", R_OK) == 0 ? "" : "detect_leaks=0";
}
