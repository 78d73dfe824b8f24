/* Test helpers: a pipe whose reader has stopped reading, and a clock. */
#ifndef EMBER_TEST_STALL_H
#define EMBER_TEST_STALL_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

static inline double stall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A pipe, both ends blocking, full: the next write() to p[1] would wait
 * for a reader that never comes. */
static inline void stall_pipe(int p[2])
{
	cr_assert_eq(pipe(p), 0);
	int fl = fcntl(p[1], F_GETFL);
	cr_assert_eq(fcntl(p[1], F_SETFL, fl | O_NONBLOCK), 0);
	static const char junk[4096];
	while (write(p[1], junk, sizeof(junk)) > 0)
		;
	while (write(p[1], junk, 1) > 0)
		;
	cr_assert_eq(fcntl(p[1], F_SETFL, fl), 0);
}

/* The reader wakes up and empties the pipe. */
static inline void stall_pipe_empty(int rfd)
{
	int fl = fcntl(rfd, F_GETFL);
	fcntl(rfd, F_SETFL, fl | O_NONBLOCK);
	char buf[4096];
	while (read(rfd, buf, sizeof(buf)) > 0)
		;
	fcntl(rfd, F_SETFL, fl);
}

#endif
