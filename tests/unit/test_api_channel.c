/* Unit tests for api/channel.c: an API thread's call is answered by the
 * VMM side's serve; close answers queued and later calls, so no API thread
 * waits for a loop that has stopped. */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "api/channel.h"

static struct api_channel ch;

static void setup(void)
{
	cr_assert_eq(api_channel_init(&ch), 0);
}

static void teardown(void)
{
	api_channel_destroy(&ch);
}

TestSuite(api_channel, .init = setup, .fini = teardown);

struct caller {
	pthread_t t;
	enum vmm_action_kind kind;
	struct vmm_reply reply;
};

static void *call_thread(void *arg)
{
	struct caller *c = arg;
	struct vmm_action a = { .kind = c->kind };
	api_channel_call(&ch, &a, &c->reply);
	return NULL;
}

/* Answers GET / with 200 and the kind's number; counts the calls. */
static int handled;
static void handler(void *ctx, struct vmm_action *a, struct vmm_reply *r)
{
	(void)ctx;
	handled++;
	r->status = 200;
	char buf[32];
	snprintf(buf, sizeof(buf), "{\"kind\":%d}", (int)a->kind);
	r->body = strdup(buf);
	vmm_action_free(a);
}

static bool efd_readable(int timeout_ms)
{
	struct pollfd p = { .fd = ch.efd, .events = POLLIN };
	return poll(&p, 1, timeout_ms) == 1;
}

Test(api_channel, call_is_served)
{
	struct caller c[3] = { { .kind = VMM_GET_VERSION }, { .kind = VMM_GET_VM_CONFIG },
			       { .kind = VMM_PAUSE } };
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pthread_create(&c[i].t, NULL, call_thread, &c[i]), 0);
	handled = 0;
	while (handled < 3) {
		cr_assert(efd_readable(5000), "no wake-up for the VMM thread");
		api_channel_serve(&ch, handler, NULL);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(c[i].t, NULL);
		char want[32];
		snprintf(want, sizeof(want), "{\"kind\":%d}", (int)c[i].kind);
		cr_assert_eq(c[i].reply.status, 200);
		cr_assert_str_eq(c[i].reply.body, want);
		vmm_reply_free(&c[i].reply);
	}
}

Test(api_channel, close_answers_waiting_and_later_calls)
{
	struct caller c = { .kind = VMM_GET_VERSION };
	cr_assert_eq(pthread_create(&c.t, NULL, call_thread, &c), 0);
	cr_assert(efd_readable(5000));
	api_channel_close(&ch); /* the loop is gone: nobody will serve it */
	pthread_join(c.t, NULL);
	cr_assert_eq(c.reply.status, 400);
	cr_assert(strstr(c.reply.body, "shutting down"), "%s", c.reply.body);
	vmm_reply_free(&c.reply);

	/* A call after close does not queue; its action is freed. */
	struct vmm_action a = { .kind = VMM_PUT_BOOT_SOURCE };
	a.u.boot.kernel_image_path = strdup("/k");
	struct vmm_reply r;
	api_channel_call(&ch, &a, &r);
	cr_assert_eq(r.status, 400);
	cr_assert_null(a.u.boot.kernel_image_path);
	vmm_reply_free(&r);
	handled = 0;
	api_channel_serve(&ch, handler, NULL);
	cr_assert_eq(handled, 0);
}
