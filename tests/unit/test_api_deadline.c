/* api/deadline.c on a made-up clock, with socketpairs for connections. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/deadline.h"

#define MS 1000000LL
#define D (300 * MS)
#define IDLE (1000 * MS)

static struct api_deadlines dl;
static int sv[2];

static void setup(void)
{
	api_dl_init(&dl, D, IDLE);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
}

static void teardown(void)
{
	close(sv[0]);
	close(sv[1]);
}

TestSuite(api_deadline, .init = setup, .fini = teardown);

/* Whether the server end was shut down: the client end reads EOF. */
static bool cut(void)
{
	char b;
	return read(sv[0], &b, 1) == 0;
}

Test(api_deadline, counts_from_the_first_byte)
{
	int64_t next;
	struct api_conn *c = api_dl_open(&dl, sv[1], 1000 * MS);
	cr_assert_not_null(c);
	/* Silent: only the idle bound (MHD's own timeout comes first). */
	api_dl_peek(&dl, 1500 * MS);
	cr_assert_eq(api_dl_expire(&dl, 1500 * MS, &next), 0);
	cr_assert_eq(next, 1000 * MS + IDLE + D);
	/* A byte at 1.6 s: whole by 1.9 s, or cut. */
	cr_assert_eq(write(sv[0], "G", 1), 1);
	api_dl_peek(&dl, 1600 * MS);
	cr_assert_eq(api_dl_expire(&dl, 1899 * MS, &next), 0);
	cr_assert_eq(next, 1900 * MS);
	cr_assert_not(cut());
	cr_assert_eq(api_dl_expire(&dl, 1900 * MS, &next), 1);
	cr_assert_eq(next, -1);
	cr_assert(cut());
	/* Cut once: the next rounds leave it to MHD to close. */
	cr_assert_eq(api_dl_expire(&dl, 5000 * MS, &next), 0);
	api_dl_close(c);
	cr_assert_not_null(api_dl_open(&dl, sv[1], 0), "the slot is free again");
}

Test(api_deadline, a_whole_request_stops_the_clock_until_its_answer)
{
	int64_t next;
	struct api_conn *c = api_dl_open(&dl, sv[1], 0);
	cr_assert_eq(write(sv[0], "GET", 3), 3);
	api_dl_peek(&dl, 10 * MS);
	api_dl_answering(c); /* the dispatch took long */
	cr_assert_eq(api_dl_expire(&dl, 5000 * MS, &next), 0);
	cr_assert_eq(next, -1);
	/* Answered: the next request has a clock of its own. The byte still
	 * queued (MHD never read it here) starts it at the next peek. */
	api_dl_ready(c, 5000 * MS);
	api_dl_peek(&dl, 5100 * MS);
	cr_assert_eq(api_dl_expire(&dl, 5399 * MS, &next), 0);
	cr_assert_eq(next, 5400 * MS);
	cr_assert_eq(api_dl_expire(&dl, 5400 * MS, &next), 1);
	cr_assert(cut());
}

/* A first byte the peek missed (read by MHD in the same round) cannot
 * stretch the wait: the clock starts one idle timeout after ready. */
Test(api_deadline, bounded_without_a_seen_byte)
{
	int64_t next;
	api_dl_open(&dl, sv[1], 0);
	cr_assert_eq(api_dl_expire(&dl, IDLE + D - 1, &next), 0);
	cr_assert_eq(api_dl_expire(&dl, IDLE + D, &next), 1);
	/* A late first byte counts from the bound, not from itself. */
	struct api_deadlines d2;
	int p[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
	api_dl_init(&d2, D, IDLE);
	api_dl_open(&d2, p[1], 0);
	cr_assert_eq(write(p[0], "x", 1), 1);
	api_dl_peek(&d2, IDLE + 500 * MS);
	cr_assert_eq(api_dl_expire(&d2, IDLE + D, &next), 1);
	close(p[0]);
	close(p[1]);
}

Test(api_deadline, every_slot_then_none)
{
	for (int i = 0; i < API_DL_SLOTS; i++)
		cr_assert_not_null(api_dl_open(&dl, sv[1], 0));
	cr_assert_null(api_dl_open(&dl, sv[1], 0));
	/* A connection without a record is left to MHD's idle timeout. */
	api_dl_answering(NULL);
	api_dl_ready(NULL, 0);
	api_dl_close(NULL);
}
