/* Per-connection request deadlines for the API server. libmicrohttpd's
 * timeout counts only inactivity, so a client sending a byte every few
 * seconds held its connection slot forever, and 32 of them every slot.
 * Here each request must arrive whole within a deadline of its first
 * byte; a connection past it is shut down (the server thread's MHD_run
 * then closes it).
 *
 * The first byte is seen by peeking at each waiting connection's socket
 * before every MHD_run (MHD reads only there): a byte that comes and is
 * read in the same round goes unseen, so the clock starts at the latest
 * one idle timeout after the connection was ready (MHD closes a
 * connection that stays silent that long). Hence the bound: no
 * connection waits for a request longer than idle + deadline. */
#ifndef EMBER_API_DEADLINE_H
#define EMBER_API_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>

#define API_DL_SLOTS 33 /* API_MAX_CONNS + 1: libmicrohttpd's connection limit */

struct api_conn {
	int fd;           /* -1: the slot is free */
	int64_t ready_ns; /* accepted, or its previous answer sent */
	int64_t first_ns; /* a byte of the next request seen; 0: none yet */
	bool answering;   /* the whole request is in: no deadline */
	bool cut;         /* shut down: MHD will close it */
};

struct api_deadlines {
	struct api_conn conn[API_DL_SLOTS];
	int64_t deadline_ns, idle_ns;
};

void api_dl_init(struct api_deadlines *d, int64_t deadline_ns, int64_t idle_ns);
/* A new connection on fd, waiting for its first request; NULL if every
 * slot is taken (the connection then has no deadline but its idle one). */
struct api_conn *api_dl_open(struct api_deadlines *d, int fd, int64_t now);
void api_dl_close(struct api_conn *c);
/* The whole request is in: its answer is under way. */
void api_dl_answering(struct api_conn *c);
/* The answer is sent: the connection waits for its next request. */
void api_dl_ready(struct api_conn *c, int64_t now);
/* Starts the clock of each waiting connection whose socket holds bytes. */
void api_dl_peek(struct api_deadlines *d, int64_t now);
/* Shuts down every waiting connection past its deadline; returns how many
 * and sets *next to the earliest deadline still to come (-1: none). */
unsigned api_dl_expire(struct api_deadlines *d, int64_t now, int64_t *next);

#endif
