/* runtime/base/log.c and log_out.c: module filtering by folder or file, the
 * origin, the rate limiter, the size cap, and a sink that stops reading. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime/base/log.h"
#include "tests/unit/test_stall.h"

static char path[64];

static void setup(void)
{
	snprintf(path, sizeof(path), "/tmp/ember-log-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(log_set_path(path), 0);
	log_set_level(LOG_INFO);
	log_set_options(false, true);
}

static void teardown(void)
{
	log_set_module(NULL);
	log_set_options(false, false);
	log_set_level(LOG_WARN);
	log_close();
	unlink(path);
}

TestSuite(log, .init = setup, .fini = teardown);

/* Logs one line from each file and returns which got through, in order. */
static void which_pass(const char *module, char *out, size_t len)
{
	static const char *const files[] = {
		"runtime/vm/build.c", "runtime/backend/tcg/hooks.c", "runtime/backend/kvm/vm.c",
		"runtime/vmx.c", "virtio/blk.c",
	};
	log_set_module(module);
	cr_assert_eq(truncate(path, 0), 0);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		log_msg(LOG_INFO, files[i], 1, "from %zu", i);
	log_set_module(NULL);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	char line[256];
	out[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "from ");
		cr_assert_not_null(p);
		strncat(out, p + 5, 1);
		cr_assert_lt(strlen(out), len);
	}
	fclose(f);
}

Test(log, module_is_a_folder_at_any_depth_or_a_file)
{
	char got[16];
	which_pass("runtime", got, sizeof(got));
	cr_expect_str_eq(got, "0123");
	which_pass("runtime/backend", got, sizeof(got));
	cr_expect_str_eq(got, "12");
	which_pass("runtime/backend/tcg/", got, sizeof(got));
	cr_expect_str_eq(got, "1");
	which_pass("runtime/vm", got, sizeof(got)); /* not runtime/vmx.c */
	cr_expect_str_eq(got, "0");
	which_pass("runtime/vm/build.c", got, sizeof(got));
	cr_expect_str_eq(got, "0");
	which_pass("virtio/blk", got, sizeof(got));
	cr_expect_str_eq(got, "", "a part of a file name is no module");
	which_pass(NULL, got, sizeof(got));
	cr_expect_str_eq(got, "01234");
}

Test(log, origin_is_the_whole_path)
{
	log_msg(LOG_INFO, "runtime/backend/kvm/vm.c", 42, "hello");
	FILE *f = fopen(path, "r");
	char line[256] = "";
	cr_assert_not_null(fgets(line, sizeof(line), f));
	fclose(f);
	cr_expect(strstr(line, ":runtime/backend/kvm/vm.c:42] hello"), "%s", line);
}

Test(log, module_known_names_sources_only)
{
	cr_expect(log_module_known("runtime"));
	cr_expect(log_module_known("runtime/backend/tcg"));
	cr_expect(log_module_known("runtime/backend/tcg/"));
	cr_expect(log_module_known("virtio"));
	cr_expect(log_module_known("api"));
	cr_expect(log_module_known("runtime/vm/build.c"));
	cr_expect(log_module_known("runtime/base/log.h"));
	cr_expect_not(log_module_known("runtime/nosuch"));
	cr_expect_not(log_module_known("runtime/vm/build"), "a part of a file name is no module");
	cr_expect_not(log_module_known("virtio/blk"));
	cr_expect_not(log_module_known("vir"));
	cr_expect_not(log_module_known(""));
	cr_expect_not(log_module_known("/"));
	cr_expect_not(log_module_known("tests"), "the tests are not part of Ember's binary");
}

Test(log, file_stops_at_its_size_cap)
{
	log_set_max_bytes(4096);
	cr_assert_eq(log_set_path(path), 0);
	log_set_max_bytes(LOG_DEFAULT_MAX_BYTES);
	struct log_stats before, after;
	log_get_stats(&before);
	for (int i = 0; i < 200; i++)
		log_info("line %03d of a log that grows past its cap", i);
	cr_assert_eq(log_flush(1000), 0);
	log_get_stats(&after);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_leq(st.st_size, 4096 + 256, "the cap plus the one line saying so: %lld",
		      (long long)st.st_size);
	cr_assert_gt(st.st_size, 3000);
	cr_assert_gt(after.missed - before.missed, 100);
	FILE *f = fopen(path, "r");
	char line[512];
	int notes = 0, lines = 0;
	while (fgets(line, sizeof(line), f)) {
		lines++;
		notes += strstr(line, "reached its size cap of 4096 bytes") != NULL;
	}
	fclose(f);
	cr_assert_eq(notes, 1);
	cr_assert_eq(after.missed - before.missed, 200 - (uint64_t)(lines - 1));
}

Test(log, ratelimit_is_per_site_and_per_second)
{
	_Atomic uint64_t a = 0, b = 0;
	int ok = 0;
	for (int i = 0; i < 25; i++)
		ok += log_ratelimit_allow(&a, 10);
	/* At most one second boundary can fall inside the loop. */
	cr_assert(ok == 10 || ok == 20, "%d", ok);
	cr_assert(log_ratelimit_allow(&b, 10), "another site has its own budget");
	cr_assert_not(log_ratelimit_allow(&b, 0));
}

struct rl_worker {
	_Atomic uint64_t *state;
	int allowed;
};

static void *rl_hammer(void *arg)
{
	struct rl_worker *w = arg;
	for (int i = 0; i < 20000; i++)
		w->allowed += log_ratelimit_allow(w->state, 10);
	return NULL;
}

/* Many threads on one site: the budget holds exactly, without a lock. */
Test(log, ratelimit_holds_under_contention)
{
	_Atomic uint64_t state = 0;
	struct rl_worker w[4];
	pthread_t t[4];
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &a);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct rl_worker){ &state, 0 };
		cr_assert_eq(pthread_create(&t[i], NULL, rl_hammer, &w[i]), 0);
	}
	int total = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		total += w[i].allowed;
	}
	clock_gettime(CLOCK_MONOTONIC_COARSE, &b);
	long seconds = b.tv_sec - a.tv_sec + 1;
	cr_assert_geq(total, 10);
	cr_assert_leq(total, 10 * seconds, "%d lines in %ld second(s)", total, seconds);
}

/* ---- a sink that stops reading ---- */

static void quiet_setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_INFO);
	log_set_options(false, false);
}

TestSuite(log_stall, .init = quiet_setup, .timeout = 20);

/* Runs fn on a thread; fails unless it returns within `secs`. A thread
 * stuck in the logger is left behind (the test process ends). */
static void within(double secs, void *(*fn)(void *), void *arg)
{
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, fn, arg), 0);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += (time_t)secs;
	dl.tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	cr_assert_eq(pthread_timedjoin_np(t, NULL, &dl), 0, "still blocked after %.1f s", secs);
}

static void *open_fifo_log(void *arg)
{
	*(int *)((void **)arg)[1] = log_set_path(((void **)arg)[0]);
	return NULL;
}

/* PUT /logger naming a FIFO nobody reads once hung the VMM thread in open(). */
Test(log_stall, fifo_without_reader_opens_at_once)
{
	char dir[] = "/tmp/ember-logfifo-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char fifo[64];
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	int r = -1;
	void *args[2] = { fifo, &r };
	within(1.0, open_fifo_log, args);
	cr_assert_eq(r, 0);
	log_info("into the fifo");
	int rfd = open(fifo, O_RDONLY | O_NONBLOCK);
	cr_assert_geq(rfd, 0);
	char buf[256] = "";
	cr_assert_gt(read(rfd, buf, sizeof(buf) - 1), 0);
	cr_assert(strstr(buf, "into the fifo"), "%s", buf);
	close(rfd);
	log_close();
	unlink(fifo);
	rmdir(dir);
}

static void *log_many(void *arg)
{
	int n = *(int *)arg;
	for (int i = 0; i < n; i++)
		log_info("line %05d: some words so that the line is about a hundred bytes long....", i);
	return NULL;
}

/* Nobody reads: the pipe fills, then the buffer; further lines are dropped
 * and counted, and once a reader drains it, the log says how many. */
Test(log_stall, full_buffer_drops_counts_and_reports)
{
	char dir[] = "/tmp/ember-logfifo-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char fifo[64];
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert_eq(log_set_path(fifo), 0);
	struct log_stats before, after;
	log_get_stats(&before);
	int n = 5000; /* ~500 KB: more than a pipe and the buffer hold */
	within(2.0, log_many, &n);
	log_get_stats(&after);
	cr_assert_gt(after.missed - before.missed, 1000);
	cr_assert_eq(after.fails, before.fails);

	int rfd = open(fifo, O_RDONLY | O_NONBLOCK);
	cr_assert_geq(rfd, 0);
	static char all[1 << 20];
	size_t got = 0;
	double t0 = stall_now();
	while (!memmem(all, got, "log lines dropped", 17) && stall_now() - t0 < 5) {
		ssize_t r = read(rfd, all + got, sizeof(all) - got);
		if (r <= 0)
			usleep(1000);
		else
			got += (size_t)r;
	}
	cr_assert(memmem(all, got, "log lines dropped", 17), "no report in %zu bytes", got);
	cr_assert(memmem(all, got, "line 00000:", 11), "the first lines got through");
	close(rfd);
	log_close();
	unlink(fifo);
	rmdir(dir);
}

static void *log_suppressed(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++)
		log_ratelimited(LOG_DEBUG, "suppressed by its level %d", i);
	for (int i = 0; i < 1000; i++)
		log_ratelimited(LOG_WARN, "rate-limited %d", i);
	return NULL;
}

/* stderr is a pipe whose reader stopped (the frozen VMM): neither a
 * thread that logs nor one whose lines are suppressed waits for it, and
 * stderr's own flags are left alone. */
Test(log_stall, stalled_stderr_blocks_no_thread)
{
	int p[2];
	stall_pipe(p);
	int saved = dup(STDERR_FILENO);
	cr_assert_geq(saved, 0);
	cr_assert_eq(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
	int flags = fcntl(STDERR_FILENO, F_GETFL);
	int n = 2000;
	within(2.0, log_many, &n);
	within(1.0, log_suppressed, NULL);
	struct log_stats st;
	log_get_stats(&st);
	cr_assert_gt(st.missed, 0);
	cr_assert_eq(fcntl(STDERR_FILENO, F_GETFL), flags);
	double t0 = stall_now();
	log_close();
	cr_assert_lt(stall_now() - t0, 1.0, "log_close waits on a stalled stderr");
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[0]);
	close(p[1]);
}

/* The vCPU frozen in a rate-limited call: one thread's line is
 * stuck on a stalled stderr (the old logger then held its lock), and
 * lines suppressed by level or by the limiter must not wait for it. */
Test(log_stall, suppressed_lines_wait_for_no_writer)
{
	int p[2];
	stall_pipe(p);
	cr_assert_eq(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
	pthread_t writer;
	int n = 100;
	cr_assert_eq(pthread_create(&writer, NULL, log_many, &n), 0);
	pthread_detach(writer);
	usleep(50 * 1000);
	within(1.0, log_suppressed, NULL);
}
