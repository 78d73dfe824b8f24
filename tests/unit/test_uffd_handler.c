/* snapshots/uffd/: the reference page-fault handler. The test plays the
 * VMM as runtime/vm/restore.c does (gm_alloc + vm_uffd_attach) against the
 * handler running in a child process (uffd_handler_run, what the binary's
 * main calls), then reads guest memory: every page must be the file's.
 * The binary itself is driven by tests/integration/t_uffd_handler.sh. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/vm/uffd.h"
#include "snapshots/uffd/handler.h"

#define MIB (1024ull * 1024)

static char dir[64], sock_path[128], mem_path[128];

static void setup(void)
{
	strcpy(dir, "/tmp/ember-uffd.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/uffd.sock", dir);
	snprintf(mem_path, sizeof(mem_path), "%s/mem", dir);
}

static void teardown(void)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* ---- the message ---- */

static struct uffd_layout L;

static void parse_ok(const char *msg, uint64_t file_size)
{
	struct errbuf err = { "" };
	int r = uffd_parse_message(msg, strlen(msg), file_size, &L, &err);
	cr_assert_eq(r, 0, "refused %s: %s", msg, err.msg);
}

static void parse_bad(const char *msg, uint64_t file_size, const char *frag)
{
	struct errbuf err = { "" };
	struct uffd_layout l = { .n = 99 };
	int r = uffd_parse_message(msg, strlen(msg), file_size, &l, &err);
	cr_assert_eq(r, -EBADMSG, "accepted %s", msg);
	cr_assert(strstr(err.msg, frag), "\"%s\" lacks \"%s\" (for %s)", err.msg, frag, msg);
	cr_assert_null(strchr(err.msg, '\n'), "one line: %s", err.msg);
	cr_assert_eq(l.n, 99, "output touched on failure");
}

#define REGION(base, size, off) \
	"{\"base_host_virt_addr\":" #base ",\"size\":" #size ",\"offset\":" #off ",\"page_size\":4096}"

Test(uffd_message, accepts_what_vmms_send)
{
	/* Ember's two regions around the MMIO hole, as vm_uffd_attach writes them. */
	parse_ok("[" REGION(140000000000000, 3221225472, 0) "," REGION(140003221225472, 1073741824,
								   3221225472) "]",
		 4ull << 30);
	cr_assert_eq(L.n, 2);
	cr_assert_eq(L.r[1].base, 140003221225472ull);
	cr_assert_eq(L.r[1].size, 1ull << 30);
	cr_assert_eq(L.r[1].offset, 3ull << 30);
	cr_assert_null(L.r[0].removed);
	/* Firecracker's, with its deprecated page_size_kib (in bytes), spaced out. */
	parse_ok(" [ {\"base_host_virt_addr\": 139637976727552, \"size\": 134217728, \"offset\": 0,"
		 " \"page_size\": 4096, \"page_size_kib\": 4096} ]\n",
		 128 * MIB);
	cr_assert_eq(L.n, 1);
	cr_assert_eq(L.r[0].size, 128 * MIB);
	/* Up to the file's last byte; eight regions. */
	parse_ok("[" REGION(4096, 4096, 0) "," REGION(8192, 4096, 4096) "," REGION(12288, 4096, 0) ","
		 REGION(16384, 4096, 0) "," REGION(20480, 4096, 0) "," REGION(24576, 4096, 0) ","
		 REGION(28672, 4096, 0) "," REGION(32768, 4096, 4096) "]",
		 8192);
	cr_assert_eq(L.n, 8);
}

Test(uffd_message, refuses_hostile_messages)
{
	const uint64_t f = 16 * MIB;
	parse_bad("", f, "empty message");
	parse_bad("[", f, "not JSON");
	parse_bad("[" REGION(4096, 4096, 0) "] x", f, "not JSON");
	parse_bad("{\"base_host_virt_addr\":4096}", f, "not a JSON array");
	parse_bad("\"regions\"", f, "not JSON"); /* jansson wants an array or object */
	parse_bad("[]", f, "0 regions; 1 to 8");
	parse_bad("[" REGION(4096, 4096, 0) "," REGION(8192, 4096, 0) "," REGION(12288, 4096, 0) ","
		  REGION(16384, 4096, 0) "," REGION(20480, 4096, 0) "," REGION(24576, 4096, 0) ","
		  REGION(28672, 4096, 0) "," REGION(32768, 4096, 0) "," REGION(36864, 4096, 0) "]",
		  f, "9 regions");
	parse_bad("[1]", f, "region 0: not an object");
	parse_bad("[" REGION(4096, 4096, 0) ",[]]", f, "region 1: not an object");
	parse_bad("[{\"size\":4096,\"offset\":0,\"page_size\":4096}]", f,
		  "region 0: missing field \"base_host_virt_addr\"");
	parse_bad("[{\"base_host_virt_addr\":4096,\"offset\":0,\"page_size\":4096}]", f,
		  "missing field \"size\"");
	parse_bad("[{\"base_host_virt_addr\":4096,\"size\":4096,\"page_size\":4096}]", f,
		  "missing field \"offset\"");
	parse_bad("[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":0}]", f,
		  "missing field \"page_size\"");
	parse_bad("[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":0,\"page_size\":4096,"
		  "\"prot\":3}]",
		  f, "region 0: unknown field \"prot\"");
	parse_bad("[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":0,\"page_size\":4096,"
		  "\"\\u001b[2J\":3}]",
		  f, "unknown field \"?[2J\"");
	parse_bad("[{\"base_host_virt_addr\":4096,\"size\":4096,\"size\":8192,\"offset\":0,"
		  "\"page_size\":4096}]",
		  f, "not JSON: duplicate");
	parse_bad("[{\"base_host_virt_addr\":\"4096\",\"size\":4096,\"offset\":0,\"page_size\":4096}]",
		  f, "field \"base_host_virt_addr\" must be a non-negative integer");
	parse_bad("[" REGION(4096, 4096.0, 0) "]", f, "\"size\" must be a non-negative integer");
	parse_bad("[" REGION(4096, 4096, -4096) "]", f, "\"offset\" must be a non-negative integer");
	parse_bad("[" REGION(4096, 4096, null) "]", f, "\"offset\" must be a non-negative integer");
	parse_bad("[" REGION(4096, 4096, 18446744073709551616) "]", f, "not JSON");
	parse_bad("[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":0,\"page_size\":2097152}]",
		  f, "page_size 2097152: only 4096 is served");
	parse_bad("[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":0,\"page_size\":4096,"
		  "\"page_size_kib\":4}]",
		  f, "page_size_kib differs from page_size");
	parse_bad("[" REGION(4096, 0, 0) "]", f, "region 0: size 0");
	parse_bad("[" REGION(4096, 4095, 0) "]", f, "size 0xfff is not a multiple of 4096");
	parse_bad("[" REGION(4096, 4096, 512) "]", f, "offset 0x200 is not a multiple");
	parse_bad("[" REGION(4097, 4096, 0) "]", f, "base_host_virt_addr 0x1001 is not a multiple");
	parse_bad("[" REGION(4096, 16781312, 0) "]", f, "past the end of the memory file");
	parse_bad("[" REGION(4096, 4096, 16777216) "]", f,
		  "offset 16777216 + size 4096 is past the end of the memory file (16777216 bytes)");
	parse_bad("[" REGION(4096, 4096, 9223372036854771712) "]", f, "past the end");
	parse_bad("[" REGION(65536, 65536, 0) "," REGION(126976, 8192, 0) "]", f,
		  "regions 0 and 1 overlap");
	parse_bad("[" REGION(65536, 8192, 0) "," REGION(4096, 1048576, 0) "]", f,
		  "regions 0 and 1 overlap");
}

Test(uffd_message, length_is_bounded)
{
	char *big = malloc(UFFD_MSG_MAX + 2);
	cr_assert_not_null(big);
	memset(big, ' ', UFFD_MSG_MAX + 1);
	const char *r = "[" REGION(4096, 4096, 0) "]";
	memcpy(big, r, strlen(r));
	big[UFFD_MSG_MAX + 1] = 0;
	parse_bad(big, MIB, "message longer than 4096 bytes");
	big[UFFD_MSG_MAX] = 0; /* exactly the cap: fine */
	parse_ok(big, MIB);
	free(big);
	const char nul[] = "[" REGION(4096, 4096, 0) "]\0";
	struct errbuf err;
	cr_assert_eq(uffd_parse_message(nul, sizeof(nul), MIB, &L, &err), -EBADMSG);
}

/* ---- serving a VMM ---- */

/* Every 8-byte word holds its own offset xor seed: a page served from the
 * wrong place, or a zero page, shows. */
static void make_file(const char *path, size_t size, uint64_t seed)
{
	uint64_t *buf = malloc(size);
	cr_assert_not_null(buf);
	for (size_t i = 0; i < size / 8; i++)
		buf[i] = (i * 8) ^ seed;
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(buf, 1, size, f), size);
	cr_assert_eq(fclose(f), 0);
	free(buf);
}

/* The handler in a child process, as the binary runs it: its exit status
 * and its one line of error. */
struct handler {
	pid_t pid;
	int errfd;
};

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static void start_handler(struct handler *h, const char *sock, const char *mem, bool wait_sock)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	h->pid = fork();
	cr_assert_geq(h->pid, 0);
	if (h->pid == 0) {
		close(p[0]);
		struct errbuf err = { "" };
		int r = uffd_handler_run(sock, mem, &err);
		if (r < 0 && write(p[1], err.msg, strlen(err.msg)) < 0)
			_exit(3);
		_exit(r < 0 ? 1 : 0);
	}
	close(p[1]);
	h->errfd = p[0];
	/* The path appears once the handler listens. */
	for (int i = 0; wait_sock && !exists(sock); i++) {
		cr_assert_lt(i, 500, "no socket at %s after 5 s", sock);
		usleep(10000);
	}
}

/* Exit status (-1 if killed); msg gets what it printed. */
static int wait_handler(struct handler *h, char *msg, size_t cap)
{
	int status = 0;
	for (int i = 0;; i++) {
		pid_t r = waitpid(h->pid, &status, WNOHANG);
		if (r == h->pid)
			break;
		if (i == 1000) {
			kill(h->pid, SIGKILL);
			waitpid(h->pid, &status, 0);
			cr_assert_fail("the handler did not exit within 10 s");
		}
		usleep(10000);
	}
	ssize_t n = read(h->errfd, msg, cap - 1);
	msg[n > 0 ? n : 0] = 0;
	close(h->errfd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void expect_exit(struct handler *h, int want, const char *frag)
{
	char msg[600];
	int st = wait_handler(h, msg, sizeof(msg));
	cr_assert_eq(st, want, "handler exit %d, want %d (%s)", st, want, msg);
	if (frag)
		cr_assert(strstr(msg, frag), "\"%s\" lacks \"%s\"", msg, frag);
}

static const uint8_t *map_file(const char *path, size_t size)
{
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	cr_assert_neq(m, MAP_FAILED);
	close(fd);
	return m;
}

/* Guest pages [first, first+n) of region ri against the file at off. */
static void expect_pages(const struct guest_mem *mem, unsigned ri, size_t first, size_t n,
			 const uint8_t *file, uint64_t off)
{
	const uint8_t *host = mem->regions[ri].host;
	for (size_t p = first; p < first + n; p++)
		cr_assert(memcmp(host + p * UFFD_PAGE, file + off + p * UFFD_PAGE, UFFD_PAGE) == 0,
			  "region %u page %zu differs from the file", ri, p);
}

static void expect_zero_pages(const struct guest_mem *mem, unsigned ri, size_t first, size_t n)
{
	static const uint8_t zero[UFFD_PAGE];
	for (size_t p = first; p < first + n; p++)
		cr_assert(memcmp(mem->regions[ri].host + p * UFFD_PAGE, zero, UFFD_PAGE) == 0,
			  "region %u page %zu is not zeros", ri, p);
}

static void attach(struct guest_mem *mem, const char *sock, int *uffd, int *conn)
{
	struct errbuf err = { "" };
	int r = vm_uffd_attach(mem, sock, uffd, conn, &err);
	cr_assert_eq(r, 0, "vm_uffd_attach: %s", err.msg);
	cr_assert_not(mem->untouched_is_zero);
}

TestSuite(uffd_handler, .init = setup, .fini = teardown, .timeout = 60);

Test(uffd_handler, serves_every_page_then_exits_when_the_vmm_closes)
{
	const size_t size = 4 * MIB;
	make_file(mem_path, size, 0x5eed);
	const uint8_t *file = map_file(mem_path, size);
	struct handler h;
	start_handler(&h, sock_path, mem_path, true);
	struct guest_mem mem;
	cr_assert_eq(gm_alloc(&mem, size), 0);
	int uffd, conn;
	attach(&mem, sock_path, &uffd, &conn);
	/* Backwards, so that no read-ahead of the kernel's could help. */
	for (size_t p = size / UFFD_PAGE; p-- > 0;)
		expect_pages(&mem, 0, p, 1, file, 0);
	cr_assert_not(exists(sock_path), "the socket path stays once the VMM is served");
	/* Written pages stay the VMM's own. */
	memset(mem.regions[0].host, 0xab, UFFD_PAGE);
	cr_assert_eq(mem.regions[0].host[UFFD_PAGE - 1], 0xab);
	close(uffd);
	close(conn);
	expect_exit(&h, 0, NULL);
	gm_free(&mem);
	munmap((void *)file, size);
}

struct reader {
	const struct guest_mem *mem;
	const uint8_t *file;
	size_t bad;
};

static void *read_all(void *arg)
{
	struct reader *r = arg;
	uint64_t off = 0;
	for (unsigned ri = 0; ri < r->mem->nr_regions; ri++) {
		const struct gm_region *g = &r->mem->regions[ri];
		for (size_t p = 0; p < g->size / UFFD_PAGE; p++)
			r->bad += memcmp(g->host + p * UFFD_PAGE, r->file + off + p * UFFD_PAGE,
					 UFFD_PAGE) != 0;
		off += g->size;
	}
	return NULL;
}

/* Two regions, as Ember's memory above 3 GiB has: the second comes from
 * the file after the first. Four threads fault the same pages at once. */
Test(uffd_handler, two_regions_and_concurrent_faults)
{
	const size_t lo = 1 * MIB, hi = 2 * MIB;
	make_file(mem_path, lo + hi, 0x1234);
	const uint8_t *file = map_file(mem_path, lo + hi);
	struct guest_mem mem = { .nr_regions = 2, .total = lo + hi, .untouched_is_zero = true };
	uint8_t *a = mmap(NULL, lo, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *b = mmap(NULL, hi, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(a != MAP_FAILED && b != MAP_FAILED);
	mem.regions[0] = (struct gm_region){ .gpa = 0, .size = lo, .host = a };
	mem.regions[1] = (struct gm_region){ .gpa = GM_MMIO_HOLE_END, .size = hi, .host = b };
	struct handler h;
	start_handler(&h, sock_path, mem_path, true);
	int uffd, conn;
	attach(&mem, sock_path, &uffd, &conn);
	pthread_t t[4];
	struct reader rd[4];
	for (int i = 0; i < 4; i++) {
		rd[i] = (struct reader){ .mem = &mem, .file = file };
		cr_assert_eq(pthread_create(&t[i], NULL, read_all, &rd[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(rd[i].bad, 0, "thread %d: %zu pages differ", i, rd[i].bad);
	}
	expect_pages(&mem, 1, 0, hi / UFFD_PAGE, file, lo);
	close(conn);
	close(uffd);
	expect_exit(&h, 0, NULL);
	munmap(a, lo);
	munmap(b, hi);
	munmap((void *)file, lo + hi);
}

/* What the VMM discards (a balloon would) comes back as zeros, whether it
 * had been served before or not; the rest keeps the file's bytes. */
Test(uffd_handler, removed_pages_come_back_as_zeros)
{
	const size_t size = 2 * MIB, pages = size / UFFD_PAGE;
	make_file(mem_path, size, 0xfeed);
	const uint8_t *file = map_file(mem_path, size);
	struct handler h;
	start_handler(&h, sock_path, mem_path, true);
	struct guest_mem mem;
	cr_assert_eq(gm_alloc(&mem, size), 0);
	int uffd, conn;
	attach(&mem, sock_path, &uffd, &conn);
	uint8_t *host = mem.regions[0].host;
	expect_pages(&mem, 0, 0, 64, file, 0);
	/* Pages 16..47 served, then discarded; 300..315 never touched. */
	cr_assert_eq(madvise(host + 16 * UFFD_PAGE, 32 * UFFD_PAGE, MADV_DONTNEED), 0);
	cr_assert_eq(madvise(host + 300 * UFFD_PAGE, 16 * UFFD_PAGE, MADV_DONTNEED), 0);
	expect_pages(&mem, 0, 0, 16, file, 0);
	expect_zero_pages(&mem, 0, 16, 32);
	expect_pages(&mem, 0, 48, 300 - 48, file, 0);
	expect_zero_pages(&mem, 0, 300, 16);
	expect_pages(&mem, 0, 316, pages - 316, file, 0);
	/* Discarded again after being written: zeros again. */
	memset(host + 20 * UFFD_PAGE, 0x77, UFFD_PAGE);
	cr_assert_eq(madvise(host + 20 * UFFD_PAGE, UFFD_PAGE, MADV_DONTNEED), 0);
	expect_zero_pages(&mem, 0, 20, 1);
	close(uffd);
	close(conn);
	expect_exit(&h, 0, NULL);
	gm_free(&mem);
	munmap((void *)file, size);
}

/* Clones: one handler (and socket) per VMM, all from one memory file. */
Test(uffd_handler, several_vmms_from_one_file)
{
	const size_t size = 2 * MIB;
	enum { N = 3 };
	make_file(mem_path, size, 0xc10e);
	const uint8_t *file = map_file(mem_path, size);
	struct handler h[N];
	struct guest_mem mem[N];
	int uffd[N], conn[N];
	char socks[N][160];
	for (int i = 0; i < N; i++) {
		snprintf(socks[i], sizeof(socks[i]), "%s/vmm%d.sock", dir, i);
		start_handler(&h[i], socks[i], mem_path, true);
	}
	for (int i = 0; i < N; i++) {
		cr_assert_eq(gm_alloc(&mem[i], size), 0);
		attach(&mem[i], socks[i], &uffd[i], &conn[i]);
	}
	/* Interleaved, and each clone's writes are its own. */
	for (size_t p = 0; p < size / UFFD_PAGE; p++)
		for (int i = 0; i < N; i++) {
			expect_pages(&mem[i], 0, p, 1, file, 0);
			mem[i].regions[0].host[p * UFFD_PAGE] = (uint8_t)i;
		}
	for (int i = 0; i < N; i++)
		cr_assert_eq(mem[i].regions[0].host[UFFD_PAGE], i);
	for (int i = 0; i < N; i++) {
		close(uffd[i]);
		close(conn[i]);
		expect_exit(&h[i], 0, NULL);
		gm_free(&mem[i]);
	}
	munmap((void *)file, size);
}

/* A VMM that dies (here: a process that exits without closing anything)
 * ends its handler too. */
Test(uffd_handler, exits_when_the_vmm_process_exits)
{
	make_file(mem_path, MIB, 7);
	struct handler h;
	start_handler(&h, sock_path, mem_path, true);
	pid_t vmm = fork();
	cr_assert_geq(vmm, 0);
	if (vmm == 0) {
		struct guest_mem mem;
		int uffd, conn;
		if (gm_alloc(&mem, MIB) < 0 || vm_uffd_attach(&mem, sock_path, &uffd, &conn, NULL) < 0)
			_exit(1);
		_exit(mem.regions[0].host[8] == (8 ^ 7) ? 0 : 2);
	}
	int st;
	cr_assert_eq(waitpid(vmm, &st, 0), vmm);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "VMM status %#x", st);
	expect_exit(&h, 0, NULL);
}

/* One handler, one VMM: a second is refused at once, not left to hang. */
Test(uffd_handler, a_second_vmm_is_refused)
{
	make_file(mem_path, MIB, 1);
	struct handler h;
	start_handler(&h, sock_path, mem_path, true);
	struct guest_mem m1, m2;
	int uffd, conn, u2 = -1, c2 = -1;
	cr_assert_eq(gm_alloc(&m1, MIB), 0);
	cr_assert_eq(gm_alloc(&m2, MIB), 0);
	attach(&m1, sock_path, &uffd, &conn);
	/* Served: the handler has taken the first VMM and closed its door. A
	 * VMM that connects in the same instant may still be lost: one
	 * handler per VMM is the caller's rule (docs/snapshots.md). */
	cr_assert_eq(m1.regions[0].host[0], 0 ^ 1);
	struct errbuf err = { "" };
	int r = vm_uffd_attach(&m2, sock_path, &u2, &c2, &err);
	cr_assert(r == -ENOENT || r == -ECONNREFUSED, "second VMM: %d %s", r, err.msg);
	cr_assert(m2.untouched_is_zero);
	close(uffd);
	close(conn);
	expect_exit(&h, 0, NULL);
	gm_free(&m1);
	gm_free(&m2);
}

/* ---- malformed handshakes: exit 1, saying why ---- */

static int new_uffd(void)
{
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	cr_assert_geq(dev, 0, "/dev/userfaultfd: %s", strerror(errno));
	int fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	cr_assert_geq(fd, 0);
	close(dev);
	struct uffdio_api api = { .api = UFFD_API };
	cr_assert_eq(ioctl(fd, UFFDIO_API, &api), 0);
	return fd;
}

/* Connects and sends msg (len bytes) with nfds copies of fd; returns the
 * connection, left open. */
static int send_raw(const char *sock, const void *msg, size_t len, int fd, int nfds)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	strcpy(addr.sun_path, sock);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(s, 0);
	cr_assert_eq(connect(s, (struct sockaddr *)&addr, sizeof(addr)), 0, "%s", strerror(errno));
	if (!len)
		return s;
	union {
		char buf[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct iovec iov = { (void *)msg, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		for (int i = 0; i < nfds; i++)
			memcpy(CMSG_DATA(cm) + i * sizeof(int), &fd, sizeof(int));
	}
	cr_assert_eq(sendmsg(s, &mh, MSG_NOSIGNAL), (ssize_t)len);
	return s;
}

/* The handler must refuse msg sent with nfds copies of fd: exit 1 and frag. */
static void refuses(const char *msg, int fd, int nfds, const char *frag)
{
	struct handler h;
	start_handler(&h, sock_path, mem_path, true);
	int s = send_raw(sock_path, msg, strlen(msg), fd, nfds);
	expect_exit(&h, 1, frag);
	close(s);
}

Test(uffd_handler, malformed_messages)
{
	make_file(mem_path, MIB, 0);
	int uffd = new_uffd();
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	cr_assert_geq(null, 0);
	refuses("not json", uffd, 1, "message: not JSON");
	refuses("[]", uffd, 1, "message: 0 regions");
	refuses("[" REGION(4096, 2097152, 0) "]", uffd, 1,
		"message: region 0: offset 0 + size 2097152 is past the end of the memory file "
		"(1048576 bytes)");
	refuses("[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":0,\"page_size\":65536}]",
		uffd, 1, "page_size 65536");
	refuses("[" REGION(4096, 4096, 0) "]", -1, 0,
		"message: 0 file descriptors with the message, want the userfaultfd");
	refuses("[" REGION(4096, 4096, 0) "]", uffd, 2, "2 file descriptors");
	refuses("[" REGION(4096, 4096, 0) "]", uffd, 9, "more than 8 file descriptors");
	refuses("[" REGION(4096, 4096, 0) "]", null, 1, "not a userfaultfd");
	close(null);
	close(uffd);
}

Test(uffd_handler, vmm_hangs_up_before_its_message)
{
	make_file(mem_path, MIB, 0);
	struct handler h;
	start_handler(&h, sock_path, mem_path, true);
	close(send_raw(sock_path, "", 0, -1, 0));
	expect_exit(&h, 1, "message: the VMM hung up without sending its message");
}

/* The message is all the VMM ever sends. */
Test(uffd_handler, bytes_after_the_message)
{
	make_file(mem_path, MIB, 0);
	struct handler h;
	start_handler(&h, sock_path, mem_path, true);
	struct guest_mem mem;
	int uffd, conn;
	cr_assert_eq(gm_alloc(&mem, MIB), 0);
	attach(&mem, sock_path, &uffd, &conn);
	cr_assert_eq(mem.regions[0].host[4096 + 16], (uint8_t)(4096 + 16));
	cr_assert_eq(send(conn, "x", 1, MSG_NOSIGNAL), 1);
	expect_exit(&h, 1, "the VMM sent more after its message");
	close(uffd);
	close(conn);
	gm_free(&mem);
}

Test(uffd_handler, bad_memory_file_or_socket)
{
	struct handler h;
	start_handler(&h, sock_path, mem_path, false);
	expect_exit(&h, 1, "memory file");
	cr_assert_not(exists(sock_path), "socket made for a missing memory file");
	start_handler(&h, sock_path, dir, false);
	expect_exit(&h, 1, "not a regular file");
	make_file(mem_path, 100, 0);
	start_handler(&h, sock_path, mem_path, false);
	expect_exit(&h, 1, "shorter than a page");

	make_file(mem_path, MIB, 0);
	FILE *f = fopen(sock_path, "w");
	cr_assert_not_null(f);
	fclose(f);
	start_handler(&h, sock_path, mem_path, false);
	expect_exit(&h, 1, "already exists");
	cr_assert(exists(sock_path), "someone else's file removed");

	char long_path[200];
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = 0;
	start_handler(&h, long_path, mem_path, false);
	expect_exit(&h, 1, "socket path longer than 107 bytes");
}
