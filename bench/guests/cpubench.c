/* In-guest half of bench/tcg_bench.py: CPU-bound microbenchmarks timed
 * with CLOCK_MONOTONIC inside the guest. Static, so it runs from the
 * initramfs without a libc there.
 *
 *   cpubench loop|call|icall|memcpy|fork N   one kernel, N iterations
 *   cpubench cmd NAME OUT ARGV...            times ARGV (stdout to OUT)
 *   cpubench text FILE MIB                   writes MIB MiB of text to FILE
 *   cpubench true                            exits 0 (fork's exec target)
 *
 * Each timed run prints "CPUBENCH NAME ns=N". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static volatile uint64_t sink;

/* The timer's interrupts from /proc/interrupts, or -1: IRQ 0 (the PIT,
 * Ember's software CPU) plus LOC (the local APIC timer, QEMU's microvm). */
static long long timer_irqs(void)
{
	char line[512];
	long long n = -1;
	FILE *f = fopen("/proc/interrupts", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = line;
		while (*p == ' ')
			p++;
		if (!strncmp(p, "0:", 2) || !strncmp(p, "LOC:", 4))
			n = (n < 0 ? 0 : n) + strtoll(strchr(p, ':') + 1, NULL, 10);
	}
	fclose(f);
	return n;
}

/* Integer work a compiler cannot fold: the barrier keeps x in a register
 * but opaque. */
static void k_loop(long n)
{
	uint64_t x = 1;
	for (long i = 0; i < n; i++) {
		x = x * 3 + (uint64_t)i;
		__asm__ volatile("" : "+r"(x));
	}
	sink = x;
}

__attribute__((noinline)) static uint64_t leaf(uint64_t x)
{
	__asm__ volatile("" : "+r"(x));
	return x + 1;
}

static void k_call(long n)
{
	uint64_t x = 0;
	for (long i = 0; i < n; i++)
		x = leaf(x);
	sink = x;
}

__attribute__((noinline)) static uint64_t leaf2(uint64_t x)
{
	__asm__ volatile("" : "+r"(x));
	return x ^ 5;
}

static void k_icall(long n)
{
	/* Two targets alternating: the indirect jump's target changes. */
	uint64_t (*volatile tab[2])(uint64_t) = { leaf, leaf2 };
	uint64_t x = 0;
	for (long i = 0; i < n; i++)
		x = tab[i & 1](x);
	sink = x;
}

static void k_memcpy(long n)
{
	size_t len = 1u << 20;
	char *a = malloc(len), *b = malloc(len);
	if (!a || !b)
		exit(1);
	memset(a, 1, len);
	memset(b, 2, len);
	for (long i = 0; i < n; i++) {
		memcpy(i & 1 ? a : b, i & 1 ? b : a, len);
		__asm__ volatile("" ::: "memory");
	}
	sink = (uint64_t)a[7] + (uint64_t)b[9];
	free(a);
	free(b);
}

static void k_fork(long n)
{
	for (long i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0) {
			execl("/proc/self/exe", "cpubench", "true", (char *)NULL);
			_exit(127);
		}
		int st;
		if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "cpubench: fork+exec failed\n");
			exit(1);
		}
	}
}

static int run_cmd(const char *name, const char *out, char **argv)
{
	uint64_t t0 = now_ns();
	pid_t p = fork();
	if (p == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st)) {
		printf("CPUBENCH %s error=exit\n", name);
		return 1;
	}
	printf("CPUBENCH %s ns=%llu\n", name, (unsigned long long)(now_ns() - t0));
	return 0;
}

/* Text gzip can compress, from a fixed LCG: the same bytes in both VMs. */
static int write_text(const char *path, long mib)
{
	static const char *const words[] = { "ember", "virtio", "guest", "kernel", "block",
		"chain", "vcpu", "timer", "page", "the", "of", "and", "queue", "snapshot" };
	FILE *f = fopen(path, "w");
	if (!f)
		return 1;
	uint32_t s = 12345;
	long left = mib << 20;
	while (left > 0) {
		s = s * 1103515245u + 12345u;
		const char *w = words[(s >> 16) % (sizeof(words) / sizeof(words[0]))];
		int k = fprintf(f, "%s%c", w, (s >> 8) % 11 ? ' ' : '\n');
		left -= k;
	}
	return fclose(f) ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(long);
	} kernels[] = { { "loop", k_loop }, { "call", k_call }, { "icall", k_icall },
			{ "memcpy", k_memcpy }, { "fork", k_fork } };
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "true"))
		return 0;
	if (argc >= 4 && !strcmp(argv[1], "text"))
		return write_text(argv[2], atol(argv[3]));
	if (argc >= 5 && !strcmp(argv[1], "cmd"))
		return run_cmd(argv[2], argv[3], argv + 4);
	for (size_t i = 0; argc == 3 && i < sizeof(kernels) / sizeof(kernels[0]); i++) {
		if (strcmp(argv[1], kernels[i].name))
			continue;
		long n = atol(argv[2]);
		long long irq0 = timer_irqs();
		uint64_t t0 = now_ns();
		kernels[i].fn(n);
		uint64_t ns = now_ns() - t0;
		long long irq1 = timer_irqs();
		printf("CPUBENCH %s ns=%llu\n", argv[1], (unsigned long long)ns);
		/* Timer interrupts taken while the loop ran, per second: a
		 * chained loop must not hold them off. */
		if (i == 0 && irq0 >= 0 && irq1 >= irq0 && ns)
			printf("CPUBENCH loop-timer-hz hz=%llu\n",
			       (unsigned long long)((irq1 - irq0) * 1000000000ull / ns));
		return 0;
	}
	fprintf(stderr, "usage: cpubench loop|call|icall|memcpy|fork N | cmd NAME OUT ARGV... | "
			"text FILE MIB | true\n");
	return 2;
}
