/* libFuzzer target: MMDS's guest side, frames in, frames out (mmds/stack.c
 * with mmds/http.c, store.c and token.c behind it). The input is a script:
 *
 *   0 LEN16 BYTES      a guest frame (Ethernet) for MMDS's TX hook
 *   1 N                the clock moves N * 100 ms
 *   2 N                the guest takes up to N + 1 frames
 *   3 FLAGS LEN16 DATA a TCP segment answering the last frame MMDS sent
 *                      (addresses swapped, seq/ack from it), FLAGS and
 *                      DATA from the script: how handshakes get through
 *   4 B                V1/V2 (bit 0), imds_compat (bit 1)
 *
 * Every frame out must be well formed (Ethernet + ARP, or IPv4 with good
 * checksums, at most MMDS_FRAME_MAX); the stack must not produce frames
 * without end; a run leaves no memory behind (ASan's leak check). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mmds/mmds.h"
#include "mmds/stack.h"

static uint64_t clock_ms;
static uint64_t fake_now(void *ctx)
{
	(void)ctx;
	return clock_ms;
}

static uint16_t g16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void p16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void p32(uint8_t *p, uint32_t v) { p16(p, (uint16_t)(v >> 16)); p16(p + 2, (uint16_t)v); }
static uint32_t g32(const uint8_t *p) { return (uint32_t)g16(p) << 16 | g16(p + 2); }

static uint32_t sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += g16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint16_t tcp_csum(const uint8_t *ip, const uint8_t *t, size_t tl)
{
	uint8_t ps[12];
	memcpy(ps, ip + 12, 8);
	ps[8] = 0;
	ps[9] = 6;
	p16(ps + 10, (uint16_t)tl);
	return fold(sum(t, tl, sum(ps, 12, 0)));
}

static void check_out(const uint8_t *f, size_t n)
{
	if (n < 42 || n > MMDS_FRAME_MAX)
		abort();
	uint16_t type = g16(f + 12);
	if (type == 0x0806) {
		if (n != 42 || g16(f + 20) != 2)
			abort();
		return;
	}
	if (type != 0x0800 || n < 54)
		abort();
	const uint8_t *ip = f + 14;
	if (g16(ip + 2) != n - 14 || fold(sum(ip, 20, 0)) != 0 || ip[9] != 6)
		abort();
	if (tcp_csum(ip, ip + 20, n - 34) != 0)
		abort();
}

static uint8_t last[MMDS_FRAME_MAX];
static size_t last_len;

static void drain(struct mmds_stack *s, unsigned max)
{
	uint8_t f[MMDS_FRAME_MAX];
	for (unsigned i = 0; i < max; i++) {
		size_t n = mmds_stack_output(s, f);
		if (!n)
			return;
		check_out(f, n);
		if (g16(f + 12) == 0x0800) {
			memcpy(last, f, n);
			last_len = n;
		}
	}
}

/* A segment answering `last` with the script's flags and data. */
static void answer(struct mmds_stack *s, uint8_t flags, const uint8_t *data, size_t dl)
{
	static uint8_t f[14 + 20 + 20 + 2048];
	if (last_len < 54 || dl > 2048)
		return;
	const uint8_t *ip = last + 14, *t = ip + 20;
	size_t seglen = last_len - 34 - (size_t)(t[12] >> 4) * 4;
	seglen += !!(t[13] & 0x02) + !!(t[13] & 0x01);
	memcpy(f, last + 6, 6);
	memcpy(f + 6, last, 6);
	p16(f + 12, 0x0800);
	uint8_t *nip = f + 14, *nt = nip + 20;
	memset(nip, 0, 40);
	nip[0] = 0x45;
	p16(nip + 2, (uint16_t)(40 + dl));
	nip[8] = 64;
	nip[9] = 6;
	memcpy(nip + 12, ip + 16, 4);
	memcpy(nip + 16, ip + 12, 4);
	p16(nip + 10, fold(sum(nip, 20, 0)));
	memcpy(nt, t + 2, 2);
	memcpy(nt + 2, t, 2);
	p32(nt + 4, g32(t + 8));
	p32(nt + 8, g32(t + 4) + (uint32_t)seglen);
	nt[12] = 5 << 4;
	nt[13] = flags;
	p16(nt + 14, 65535);
	memcpy(nt + 20, data, dl);
	p16(nt + 16, tcp_csum(nip, nt, 20 + dl));
	mmds_stack_input(s, f, 54 + dl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mmds m;
	static bool ready;
	if (!ready) {
		struct errbuf err;
		if (mmds_init(&m, 4096, "fuzz", &err) < 0)
			abort();
		m.now_ms = fake_now;
		memset(m.key, 0x42, sizeof(m.key)); /* the same ISNs every run */
		json_t *j = json_loads("{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"n\":3,"
				       "\"big\":\"" "0123456789012345678901234567890123456789"
				       "0123456789012345678901234567890123456789\"}}}",
				       0, NULL);
		if (!j || mmds_put(&m, j, &err) < 0)
			abort();
		json_decref(j);
		ready = true;
	}
	clock_ms = 1000000;
	mmds_configure(&m, MMDS_V1, MMDS_DEFAULT_IPV4, false);
	last_len = 0;
	struct mmds_stack s;
	if (mmds_stack_init(&s, &m) < 0)
		abort();
	size_t i = 0;
	while (i < size) {
		uint8_t op = data[i++] % 5;
		if (op == 0 || op == 3) {
			uint8_t flags = 0;
			if (op == 3) {
				if (i >= size)
					break;
				flags = data[i++];
			}
			if (i + 2 > size)
				break;
			size_t n = g16(data + i);
			i += 2;
			if (n > size - i)
				n = size - i;
			if (op == 0 && mmds_stack_wants(&s, data + i, n))
				mmds_stack_input(&s, data + i, n);
			else if (op == 3)
				answer(&s, flags, data + i, n);
			i += n;
		} else if (i < size) {
			uint8_t b = data[i++];
			if (op == 1)
				clock_ms += (uint64_t)b * 100;
			else if (op == 2)
				drain(&s, (unsigned)b + 1);
			else
				mmds_configure(&m, b & 1 ? MMDS_V2 : MMDS_V1, MMDS_DEFAULT_IPV4, b & 2);
		}
	}
	/* Whatever is left must run dry: no frames without end. */
	unsigned k = 0;
	uint8_t f[MMDS_FRAME_MAX];
	size_t n;
	while ((n = mmds_stack_output(&s, f)) > 0) {
		check_out(f, n);
		if (++k > 100000)
			abort();
	}
	mmds_stack_destroy(&s);
	return 0;
}
