/* The channel between the API thread and the VMM thread: a queue of
 * vmm_actions plus an eventfd the VMM thread's loop watches. The API thread
 * waits for its reply; the VMM thread never waits for the API thread. */
#ifndef EMBER_API_CHANNEL_H
#define EMBER_API_CHANNEL_H

#include <pthread.h>
#include <stdbool.h>

#include "runtime/control/action.h"

struct api_job;

struct api_channel {
	pthread_mutex_t lock;
	pthread_cond_t done; /* a job got its reply, or the channel closed */
	int efd;             /* readable while jobs wait for the VMM thread */
	struct api_job *head, *tail;
	bool closed;
};

int api_channel_init(struct api_channel *ch);
/* After api_channel_close and once no thread calls in any more. */
void api_channel_destroy(struct api_channel *ch);
/* Any thread but the VMM one: queues *a (consumed), wakes the VMM thread
 * and waits for the reply. A closed channel answers 400 at once. */
void api_channel_call(struct api_channel *ch, struct vmm_action *a, struct vmm_reply *r);
/* VMM thread, when efd is readable: runs handler on every queued job. */
void api_channel_serve(struct api_channel *ch, vmm_action_handler handler, void *ctx);
/* VMM thread: jobs still queued and every later call get a 400 "shutting
 * down" reply, so no API thread waits for a loop that no longer runs. */
void api_channel_close(struct api_channel *ch);

#endif
