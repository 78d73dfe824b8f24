#include "api/channel.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MSG_CLOSED "The microVM is shutting down: the request was not processed."

struct api_job {
	struct vmm_action action;
	struct vmm_reply reply;
	bool done;
	struct api_job *next;
};

int api_channel_init(struct api_channel *ch)
{
	memset(ch, 0, sizeof(*ch));
	ch->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ch->efd < 0)
		return -errno;
	pthread_mutex_init(&ch->lock, NULL);
	pthread_cond_init(&ch->done, NULL);
	return 0;
}

void api_channel_destroy(struct api_channel *ch)
{
	if (ch->efd < 0)
		return;
	close(ch->efd);
	ch->efd = -1;
	pthread_mutex_destroy(&ch->lock);
	pthread_cond_destroy(&ch->done);
}

void api_channel_call(struct api_channel *ch, struct vmm_action *a, struct vmm_reply *r)
{
	struct api_job job = { .action = *a };
	memset(a, 0, sizeof(*a));
	memset(r, 0, sizeof(*r));
	pthread_mutex_lock(&ch->lock);
	if (ch->closed) {
		pthread_mutex_unlock(&ch->lock);
		vmm_action_free(&job.action);
		vmm_reply_fault(r, 400, MSG_CLOSED);
		return;
	}
	if (ch->tail)
		ch->tail->next = &job;
	else
		ch->head = &job;
	ch->tail = &job;
	uint64_t one = 1;
	ssize_t w = write(ch->efd, &one, sizeof(one));
	(void)w; /* a full counter still reads as readable */
	while (!job.done)
		pthread_cond_wait(&ch->done, &ch->lock);
	pthread_mutex_unlock(&ch->lock);
	*r = job.reply;
}

/* Takes the first job off the queue, or NULL. Called with the lock held. */
static struct api_job *pop(struct api_channel *ch)
{
	struct api_job *j = ch->head;
	if (j) {
		ch->head = j->next;
		if (!ch->head)
			ch->tail = NULL;
		j->next = NULL;
	}
	return j;
}

void api_channel_serve(struct api_channel *ch, vmm_action_handler handler, void *ctx)
{
	uint64_t v;
	ssize_t n = read(ch->efd, &v, sizeof(v));
	(void)n;
	for (;;) {
		pthread_mutex_lock(&ch->lock);
		struct api_job *j = pop(ch);
		pthread_mutex_unlock(&ch->lock);
		if (!j)
			return;
		/* The job lives on the waiting thread's stack: it stays valid
		 * until done is set, and only this thread sets it. */
		handler(ctx, &j->action, &j->reply);
		pthread_mutex_lock(&ch->lock);
		j->done = true;
		pthread_cond_broadcast(&ch->done);
		pthread_mutex_unlock(&ch->lock);
	}
}

void api_channel_close(struct api_channel *ch)
{
	pthread_mutex_lock(&ch->lock);
	ch->closed = true;
	struct api_job *j;
	while ((j = pop(ch))) {
		vmm_action_free(&j->action);
		vmm_reply_fault(&j->reply, 400, MSG_CLOSED);
		j->done = true;
	}
	pthread_cond_broadcast(&ch->done);
	pthread_mutex_unlock(&ch->lock);
}
