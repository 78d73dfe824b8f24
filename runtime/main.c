/* ember: runs one microVM, driven through the API socket (Firecracker's
 * REST API) or booted straight from a config file (--no-api). */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "api/channel.h"
#include "api/server.h"
#include "config/cli.h"
#include "config/config.h"
#include "runtime/backend/accel.h"
#include "runtime/control/controller.h"
#include "runtime/base/fdlimit.h"
#include "runtime/base/log.h"
#include "runtime/base/seccomp.h"
#include "runtime/seccomp/filters.h"

#define EMBER_VERSION "0.1.0"

/* The controller the signal handlers end; set once before they are
 * installed. Only this (the VMM) thread takes these signals: the API and
 * vCPU threads block them. */
static struct controller *signal_ctl;

static void on_terminate(int sig)
{
	if (signal_ctl)
		controller_request_exit(signal_ctl, 128 + sig);
}

static void install_signals(struct controller *ctl)
{
	signal_ctl = ctl;
	struct sigaction sa = { .sa_handler = on_terminate };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Raw-ish terminal so keystrokes reach the guest one by one; ISIG stays on
 * so Ctrl-C still ends ember. */
static bool term_raw(struct termios *saved)
{
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, saved) < 0)
		return false;
	struct termios t = *saved;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ECHONL | IEXTEN);
	t.c_iflag &= ~(tcflag_t)(ICRNL | IXON);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	return tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
}

/* The command line's logger settings; a config file's or PUT /logger's
 * are layered over them by the controller, as Firecracker does. */
static int setup_logging(const struct cli_opts *cli, struct errbuf *err)
{
	log_set_level(cli->has_level ? cli->level : LOG_WARN);
	log_set_options(cli->show_level, cli->show_log_origin);
	log_set_id(cli->id);
	if (cli->module && !log_module_known(cli->module))
		return err_set(err, -EINVAL, "--module %s: no source folder or file of Ember has this name",
			       cli->module);
	log_set_module(cli->module);
	if (cli->log_path) {
		int r = log_set_path(cli->log_path);
		if (r < 0)
			return err_set(err, r, "log path %s: %s", cli->log_path, strerror(-r));
	}
	return 0;
}

/* Once the log is set up: how many fds this VM may hold (the budget
 * docs/architecture.md divides up). */
static void log_fdlimit(const struct fdlimit *l, int r)
{
	if (r < 0)
		log_warn("host fd budget: %llu (raising the soft limit to the hard one, %llu, "
			 "failed: %s)",
			 (unsigned long long)l->soft, (unsigned long long)l->hard, strerror(-r));
	else
		log_info("host fd budget: %llu (soft limit was %llu, hard limit %llu)",
			 (unsigned long long)l->soft, (unsigned long long)l->before,
			 (unsigned long long)l->hard);
}

struct api_link {
	struct api_channel *ch;
	struct controller *ctl;
};

static void on_api_action(void *ctx, struct vmm_action *a, struct vmm_reply *r)
{
	controller_handle(ctx, a, r);
}

/* The channel's eventfd: API requests waiting for the VMM thread. */
static void on_api_channel(void *opaque, uint32_t events)
{
	(void)events;
	struct api_link *l = opaque;
	api_channel_serve(l->ch, on_api_action, l->ctl);
}

static void dispatch_to_vmm(void *ctx, struct vmm_action *a, struct vmm_reply *r)
{
	api_channel_call(ctx, a, r);
}

/* The VMM thread's life, with or without the API: the loop runs until the
 * guest ends (or a signal or a failed start ends the process). */
static int run(const struct cli_opts *cli, const struct timespec *start_wall,
	       const struct timespec *start_cpu, const struct fdlimit *fds, int fds_r)
{
	struct vm_config cfg;
	struct errbuf err = { "" };
	struct evloop loop;
	struct controller ctl;
	struct api_counters counters;
	struct api_channel ch = { .efd = -1 };
	struct api_link link = { &ch, &ctl };
	struct api_server *server = NULL;
	struct accel_warm warm = { .n = 0 };
	bool have_loop = false, have_ctl = false, have_ch = false;
	int code = 1;

	config_init(&cfg);
	memset(&counters, 0, sizeof(counters));
	if (cli->config_file && config_load_file(cli->config_file, &cfg, &err) < 0) {
		fprintf(stderr, "ember: %s\n", err.msg);
		goto out;
	}
	if (setup_logging(cli, &err) < 0) {
		fprintf(stderr, "ember: %s\n", err.msg);
		goto out;
	}
	log_fdlimit(fds, fds_r);
	/* The stderr sink's open and the logger thread's creation now, before
	 * any filter (docs/seccomp.md, "Order"). */
	log_start();
	/* A VMM that waits for its API does the backends' one-time work
	 * meanwhile, so a snapshot load or InstanceStart need not. */
	if (!cli->no_api && !cli->config_file)
		accel_warm_up(&warm);
	if (evloop_init(&loop) < 0) {
		log_err("VMM event loop: %s", strerror(errno));
		goto out;
	}
	have_loop = true;
	struct controller_opts copts = {
		.loop = &loop,
		.id = cli->id,
		.vmm_version = EMBER_VERSION,
		.has_accel = cli->has_accel,
		.accel = cli->accel,
		.boot_timer = cli->boot_timer,
		.console_in = STDIN_FILENO,
		.console_out = STDOUT_FILENO,
		.start_wall = *start_wall,
		.start_cpu = *start_cpu,
		.show_level = cli->show_level,
		.show_log_origin = cli->show_log_origin,
		.api = cli->no_api ? NULL : &counters,
		.mmds_size_limit = cli->mmds_size_limit,
	};
	int r = controller_init(&ctl, &copts);
	if (r < 0) {
		log_err("VMM controller: %s", strerror(-r));
		goto out;
	}
	have_ctl = true;
	if (cli->metrics_path && controller_set_metrics(&ctl, cli->metrics_path, &err) < 0) {
		log_err("%s", err.msg);
		goto out;
	}
	if (cli->metadata && controller_mmds_load_file(&ctl, cli->metadata, &err) < 0) {
		log_err("%s", err.msg);
		goto out;
	}
	if (cli->config_file && controller_load_config(&ctl, &cfg, &err) < 0) {
		log_err("%s", err.msg);
		goto out;
	}
	install_signals(&ctl);
	if (!cli->no_api) {
		if ((r = api_channel_init(&ch)) < 0 ||
		    (r = evloop_add(&loop, ch.efd, EPOLLIN, on_api_channel, &link)) < 0) {
			log_err("API channel: %s", strerror(-r));
			goto out;
		}
		have_ch = true;
		struct api_server_opts sopts = {
			.sock_path = cli->api_sock,
			.dispatch = dispatch_to_vmm,
			.dispatch_ctx = &ch,
			.counters = &counters,
		};
		if (api_server_start(&server, &sopts, &err) < 0) {
			log_err("%s", err.msg);
			goto out;
		}
		log_info("API server listening on %s", cli->api_sock);
	}
	struct termios saved;
	bool raw = term_raw(&saved);
	/* Start-up is over: from here on the VMM thread handles what the
	 * guest and the API send it, so it confines itself now. The threads
	 * it makes from here on (vCPUs, the TCG timer) inherit its filter. */
	seccomp_enter(THREAD_VMM);
	/* A config file boots at once, with or without the API (Firecracker). */
	if (cli->config_file && controller_start_config(&ctl, &err) < 0) {
		log_err("%s", err.msg);
		goto out_raw;
	}
	while (!controller_done(&ctl)) {
		r = evloop_run_once(&loop, -1);
		if (r < 0) {
			log_err("VMM event loop: %s", strerror(-r));
			controller_request_exit(&ctl, 1);
		}
	}
	code = controller_finish(&ctl);
out_raw:
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
out:
	/* Waiting API requests get their answer before the server goes. */
	if (have_ch)
		api_channel_close(&ch);
	api_server_stop(server);
	if (have_ch)
		evloop_del(&loop, ch.efd);
	api_channel_destroy(&ch);
	signal_ctl = NULL;
	if (have_ctl)
		controller_destroy(&ctl);
	accel_warm_up_join(&warm);
	if (have_loop)
		evloop_destroy(&loop);
	config_free(&cfg);
	return code;
}

/* The filters: built in or --seccomp-filter's, compiled and set for the
 * threads, or printed (--print-seccomp-filter). A malformed file is one
 * line naming the place, and exit status 1. */
static int setup_seccomp(const struct cli_opts *cli, int *code)
{
	struct filter_set set;
	struct errbuf err = { "" };
	*code = 1;
	if (cli->seccomp_filter) {
		if (filters_load_file(cli->seccomp_filter, &set, &err) < 0) {
			fprintf(stderr, "ember: --seccomp-filter %s\n", err.msg);
			return -1;
		}
	} else {
		filters_builtin(&set);
	}
	int r = 0;
	if (cli->print_seccomp) {
		*code = filters_print_json(&set, stdout) < 0 ? 1 : 0;
		r = -1;
	} else if (filters_install(&set, &err) < 0) {
		if (cli->seccomp_filter)
			fprintf(stderr, "ember: --seccomp-filter %s: %s\n", cli->seccomp_filter, err.msg);
		else
			fprintf(stderr, "ember: built-in seccomp filters: %s\n", err.msg);
		r = -1;
	}
	/* The compiled programs are kept; the rules are no longer needed. */
	filters_free(&set);
	return r;
}

int main(int argc, char **argv)
{
	/* First: a library or thread started later may size itself by it. */
	struct fdlimit fds = { 0 };
	int fds_r = fdlimit_raise(&fds);
	struct timespec start_wall, start_cpu;
	clock_gettime(CLOCK_MONOTONIC, &start_wall);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start_cpu);

	struct cli_opts cli;
	struct errbuf err = { "" };
	if (cli_parse(argc, argv, &cli, &err) < 0) {
		fprintf(stderr, "ember: %s (see --help)\n", err.msg);
		return 2;
	}
	if (cli.help) {
		cli_usage(stdout);
		return 0;
	}
	if (cli.version) {
		printf("ember %s (backends: %s)\n", EMBER_VERSION, accel_built_in());
		return 0;
	}
	/* One-time work of libraries that opens files, done before any filter
	 * rather than by whichever thread first needs it: glibc reads the time
	 * zone at the first log line's timestamp (gmtime_r), jansson its hash
	 * seed from /dev/urandom at the first JSON object. */
	tzset();
	json_object_seed(0);
	/* Compiled before any thread starts: every thread finds its filter
	 * in the process's table (runtime/base/seccomp.h). */
	int code;
	if (!cli.no_seccomp && setup_seccomp(&cli, &code) < 0)
		return code; /* a bad filter, or --print-seccomp-filter done */
	code = run(&cli, &start_wall, &start_cpu, &fds, fds_r);
	log_close();
	return code;
}
