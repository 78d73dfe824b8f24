/* libFuzzer target: raw bytes as an HTTP connection to the API server
 * (libmicrohttpd, then api_route, the config/ JSON parsers and the
 * controller's pre-boot actions). Each input is one connection: written
 * to a socketpair the server reads, then half-closed; the server is run
 * until it lets the connection go. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/server.h"
#include "runtime/control/controller.h"
#include "tests/fuzz/tame.h"

static struct evloop loop;
static struct api_server *server;
static struct api_counters counters;
static struct controller *ctl;

/* Actions whose effects leave the process (the global logger and
 * metrics, a VM) are answered without running them; serial and network
 * interfaces are tamed (tame.h); the rest go to a real controller. */
static void dispatch(void *ctx, struct vmm_action *a, struct vmm_reply *r)
{
	(void)ctx;
	switch (a->kind) {
	case VMM_PUT_LOGGER:
	case VMM_PUT_METRICS:
	case VMM_INSTANCE_START:
		vmm_action_free(a);
		memset(r, 0, sizeof(*r));
		r->status = 204;
		return;
	default:
		fuzz_tame(a);
		controller_handle(ctl, a, r);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_OFF);
	fuzz_tame_init();
	if (evloop_init(&loop) < 0)
		abort();
	struct api_server_opts o = { .dispatch = dispatch, .counters = &counters };
	struct errbuf err;
	if (api_server_start(&server, &o, &err) < 0)
		abort();
	return 0;
}

static void drain(int fd)
{
	char buf[4096];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct controller c;
	struct controller_opts co = { .loop = &loop, .id = "fuzz", .vmm_version = "0",
				      .console_in = -1, .console_out = -1, .api = &counters };
	if (controller_init(&c, &co) < 0)
		abort();
	ctl = &c;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	if (api_server_add_connection(server, sv[1]) < 0)
		abort();
	size_t off = 0;
	/* Bounded: each round either writes, or lets the server read. */
	for (int round = 0; round < 10000 && off < size; round++) {
		ssize_t n = write(sv[0], data + off, size - off);
		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno != EAGAIN)
			break; /* the server closed the connection early */
		api_server_run(server);
		drain(sv[0]);
	}
	shutdown(sv[0], SHUT_WR);
	for (int round = 0; round < 100 && api_server_connections(server); round++) {
		api_server_run(server);
		drain(sv[0]);
	}
	close(sv[0]);
	/* Let the server notice the close. */
	for (int round = 0; round < 10 && api_server_connections(server); round++)
		api_server_run(server);
	controller_destroy(&c);
	ctl = NULL;
	return 0;
}
