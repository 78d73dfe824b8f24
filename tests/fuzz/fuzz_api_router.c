/* libFuzzer target: the router and the JSON section parsers without HTTP.
 * Input: "METHOD\nPATH\nBODY" (missing parts are empty). Every accepted
 * action is also applied to a fresh controller, so the PATCH-onto-state
 * paths and the GET renderers run too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/router.h"
#include "runtime/base/evloop.h"
#include "runtime/base/log.h"
#include "runtime/control/controller.h"
#include "tests/fuzz/tame.h"

static struct evloop loop;
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_OFF);
	fuzz_tame_init();
	return evloop_init(&loop) < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1);
	if (!in)
		return 0;
	memcpy(in, data, size);
	in[size] = 0;
	char *method = in, *path = "", *body = "";
	size_t body_len = 0;
	char *nl = memchr(in, '\n', size);
	if (nl) {
		*nl = 0;
		path = nl + 1;
		char *nl2 = memchr(path, '\n', size - (size_t)(path - in));
		if (nl2) {
			*nl2 = 0;
			body = nl2 + 1;
			body_len = size - (size_t)(body - in);
		}
	}
	struct api_route r;
	if (api_route(method, path, body, body_len, &r) == 0) {
		struct controller c;
		struct controller_opts co = { .loop = &loop, .id = "fuzz", .vmm_version = "0",
					      .console_in = -1, .console_out = -1 };
		if (controller_init(&c, &co) < 0)
			abort();
		/* Logger and metrics change the process's own outputs and
		 * start boots: skip them. */
		if (r.action.kind == VMM_PUT_LOGGER || r.action.kind == VMM_PUT_METRICS ||
		    r.action.kind == VMM_INSTANCE_START) {
			vmm_action_free(&r.action);
		} else {
			fuzz_tame(&r.action);
			struct vmm_reply rep;
			controller_handle(&c, &r.action, &rep);
			if (rep.status < 200 || rep.status > 499)
				abort();
			vmm_reply_free(&rep);
		}
		controller_destroy(&c);
	} else if (r.status < 400 || r.status > 499 || !r.fault[0]) {
		abort();
	}
	free(in);
	return 0;
}
