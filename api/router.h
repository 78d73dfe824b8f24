/* The API's router: a pure function from (method, path, body) to either a
 * validated vmm_action for the VMM thread or a 4xx answer. No sockets, no
 * state: the unit tests and the fuzz target call it directly.
 *
 * Paths, methods, bodies and messages follow Firecracker's API
 * (src/api_server/swagger/firecracker.yaml, api_server/src/parsed_request.rs).
 * What depends on the VM's state (pre-boot only, post-boot only, PATCH onto
 * the current value) is decided by the controller, not here. */
#ifndef EMBER_API_ROUTER_H
#define EMBER_API_ROUTER_H

#include <stddef.h>

#include "runtime/control/action.h"

/* Firecracker's default --http-api-max-payload-size. */
#define API_MAX_BODY 51200

struct api_route {
	enum api_endpoint ep; /* for the metrics; API_EP_NONE if unknown */
	int status;           /* 0: action is valid; else the HTTP error status */
	char fault[512];      /* the fault_message when status != 0 */
	struct vmm_action action;
};

/* body may be NULL when body_len is 0. Returns 0 with out->action filled
 * (the caller owns it: hand it to controller_handle or vmm_action_free),
 * or -1 with out->status and out->fault. */
int api_route(const char *method, const char *path, const char *body, size_t body_len,
	      struct api_route *out);

#endif
