/* runtime/base/outfd.c and outbuf.c: output that never waits for its
 * reader, through a bounded buffer that drops and counts. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "runtime/base/outbuf.h"
#include "tests/unit/test_stall.h"

static void ignore_sigpipe(void)
{
	signal(SIGPIPE, SIG_IGN);
}

TestSuite(outbuf, .init = ignore_sigpipe, .timeout = 10);

static struct outbuf *make(size_t cap, int fd)
{
	struct outbuf *ob;
	struct outfd sink;
	cr_assert_eq(outbuf_create(&ob, cap), 0);
	cr_assert_eq(outfd_open_shared(&sink, fd), 0);
	outbuf_set_sink(ob, &sink);
	return ob;
}

Test(outbuf, writes_straight_through_while_the_reader_keeps_up)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	struct outbuf *ob = make(16, p[1]);
	cr_assert_eq(outbuf_put(ob, "hello\n", 6), 0);
	cr_assert_eq(outbuf_pending(ob), 0);
	char buf[16] = "";
	cr_assert_eq(read(p[0], buf, sizeof(buf)), 6);
	cr_assert_str_eq(buf, "hello\n");
	struct outbuf_stats st;
	outbuf_get_stats(ob, &st);
	cr_assert_eq(st.bytes_out, 6);
	cr_assert_eq(st.bytes_dropped, 0);
	outbuf_destroy(ob);
	close(p[0]);
	close(p[1]);
}

/* The bug this replaces: a blocking write() to a pipe nobody reads. */
Test(outbuf, full_blocking_pipe_queues_then_drops_without_waiting)
{
	int p[2];
	stall_pipe(p);
	int flags = fcntl(p[1], F_GETFL);
	struct outbuf *ob = make(100, p[1]);
	double t0 = stall_now();
	for (int i = 0; i < 10; i++)
		cr_assert_eq(outbuf_put(ob, "0123456789", 10), 0, "put %d", i);
	cr_assert_eq(outbuf_pending(ob), 100);
	cr_assert_eq(outbuf_put(ob, "x", 1), -ENOBUFS);
	cr_assert_eq(outbuf_put(ob, "yz", 2), -ENOBUFS);
	cr_assert_eq(outbuf_flush(ob), -EAGAIN);
	cr_assert_lt(stall_now() - t0, 0.5);
	struct outbuf_stats st;
	outbuf_get_stats(ob, &st);
	cr_assert_eq(st.puts_refused, 2);
	cr_assert_eq(st.bytes_dropped, 3);
	cr_assert_eq(st.bytes_out, 0);
	cr_assert_eq(fcntl(p[1], F_GETFL), flags, "the caller's fd keeps its flags");

	/* The reader comes back: the queue goes out, in order. */
	stall_pipe_empty(p[0]);
	cr_assert_eq(outbuf_flush(ob), 0);
	char buf[128];
	cr_assert_eq(read(p[0], buf, sizeof(buf)), 100);
	cr_assert_eq(memcmp(buf, "0123456789", 10), 0);
	cr_assert_eq(memcmp(buf + 90, "0123456789", 10), 0);
	outbuf_destroy(ob);
	close(p[0]);
	close(p[1]);
}

Test(outbuf, wake_fd_says_bytes_wait)
{
	int p[2];
	stall_pipe(p);
	struct outbuf *ob = make(64, p[1]);
	uint64_t v;
	cr_assert_eq(read(outbuf_wake_fd(ob), &v, sizeof(v)), 8, "set_sink wakes");
	cr_assert_eq(outbuf_put(ob, "abc", 3), 0);
	cr_assert_eq(read(outbuf_wake_fd(ob), &v, sizeof(v)), 8, "queued: wake the drainer");
	cr_assert_eq(outbuf_put(ob, "def", 3), 0);
	cr_assert_eq(read(outbuf_wake_fd(ob), &v, sizeof(v)), -1, "already queued: no new wake");
	bool pollable = false;
	cr_assert_geq(outbuf_fd(ob, &pollable), 0);
	cr_assert(pollable);
	outbuf_destroy(ob);
	close(p[0]);
	close(p[1]);
}

Test(outbuf, drain_gives_up_at_its_deadline)
{
	int p[2];
	stall_pipe(p);
	struct outbuf *ob = make(64, p[1]);
	cr_assert_eq(outbuf_put(ob, "abc", 3), 0);
	double t0 = stall_now();
	cr_assert_eq(outbuf_drain(ob, 100), -ETIMEDOUT);
	double took = stall_now() - t0;
	cr_assert_geq(took, 0.09);
	cr_assert_lt(took, 0.5);
	outbuf_destroy(ob);
	close(p[0]);
	close(p[1]);
}

Test(outbuf, reader_gone_drops_the_queue_as_a_write_error)
{
	int p[2];
	stall_pipe(p);
	struct outbuf *ob = make(64, p[1]);
	cr_assert_eq(outbuf_put(ob, "abc", 3), 0);
	close(p[0]);
	cr_assert_eq(outbuf_flush(ob), -EPIPE);
	cr_assert_eq(outbuf_pending(ob), 0);
	struct outbuf_stats st;
	outbuf_get_stats(ob, &st);
	cr_assert_eq(st.write_errors, 1);
	cr_assert_eq(st.bytes_dropped, 3);
	cr_assert_eq(outbuf_put(ob, "d", 1), -EPIPE);
	outbuf_destroy(ob);
	close(p[1]);
}

Test(outbuf, full_socket_does_not_block)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct outbuf *ob = make(1 << 20, sv[0]);
	static char chunk[65536];
	double t0 = stall_now();
	/* Far more than a socket buffer holds. */
	for (int i = 0; i < 16; i++)
		cr_assert_eq(outbuf_put(ob, chunk, sizeof(chunk)), 0);
	cr_assert_gt(outbuf_pending(ob), 0);
	cr_assert_lt(stall_now() - t0, 0.5);
	outbuf_destroy(ob);
	close(sv[0]);
	close(sv[1]);
}

Test(outbuf, regular_file_is_written_as_it_is)
{
	char path[] = "/tmp/ember-outbuf-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	struct outbuf *ob = make(8, fd);
	bool pollable = true;
	cr_assert_eq(outbuf_fd(ob, &pollable), fd, "no private reopen: the offset is shared");
	cr_assert_not(pollable);
	cr_assert_eq(outbuf_put(ob, "more than eight", 15), -ENOBUFS, "bigger than the buffer");
	cr_assert_eq(outbuf_put(ob, "12345678", 8), 0);
	cr_assert_eq(lseek(fd, 0, SEEK_CUR), 8);
	outbuf_destroy(ob);
	close(fd);
	unlink(path);
}
