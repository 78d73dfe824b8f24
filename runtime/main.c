/* ember: boots a microVM from a Firecracker-format config file. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "config/cli.h"
#include "config/config.h"
#include "runtime/accel.h"
#include "runtime/log.h"
#include "runtime/vm.h"

#define EMBER_VERSION "0.1.0"

/* The VM the signal handlers end; set once before they are installed. */
static struct vm *signal_vm;

static void on_terminate(int sig)
{
	if (signal_vm)
		vm_request_exit(signal_vm, 128 + sig);
}

static void install_signals(struct vm *vm)
{
	signal_vm = vm;
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

/* Firecracker's order: command-line flags first, the config file's logger
 * section over them. */
static int setup_logging(const struct cli_opts *cli, const struct config_logger *l,
			 struct errbuf *err)
{
	log_set_level(cli->has_level ? cli->level : LOG_WARN);
	bool show_level = cli->show_level, show_origin = cli->show_log_origin;
	const char *path = cli->log_path, *module = cli->module;
	if (l->present) {
		if (l->has_level)
			log_set_level(l->level);
		if (l->has_show_level)
			show_level = l->show_level;
		if (l->has_show_log_origin)
			show_origin = l->show_log_origin;
		if (l->log_path)
			path = l->log_path;
		if (l->module)
			module = l->module;
	}
	log_set_options(show_level, show_origin);
	log_set_id(cli->id);
	log_set_module(module);
	if (path) {
		int r = log_set_path(path);
		if (r < 0)
			return err_set(err, r, "log path %s: %s", path, strerror(-r));
	}
	return 0;
}

static int run(const struct cli_opts *cli, const struct timespec *start_wall,
	       const struct timespec *start_cpu)
{
	struct vm_config cfg;
	struct errbuf err = { "" };
	int code = 1;

	config_init(&cfg);
	if (!cli->no_api) {
		fprintf(stderr, "ember: the API server is not built yet; run with --no-api --config-file FILE\n");
		return 1;
	}
	if (config_load_file(cli->config_file, &cfg, &err) < 0) {
		fprintf(stderr, "ember: %s\n", err.msg);
		goto out;
	}
	if (setup_logging(cli, &cfg.logger, &err) < 0) {
		fprintf(stderr, "ember: %s\n", err.msg);
		goto out;
	}
	if (cfg.metrics.present || cli->metrics_path) {
		log_err("metrics: not supported yet");
		goto out;
	}
	enum config_accel accel = cli->has_accel ? cli->accel : cfg.machine.accel;
	const struct backend_ops *be = accel_select(accel, &err);
	if (!be) {
		log_err("accel %s: %s", config_accel_name(accel), err.msg);
		goto out;
	}

	struct vm vm;
	struct evloop loop;
	if (evloop_init(&loop) < 0) {
		log_err("VMM event loop: %s", strerror(errno));
		goto out;
	}
	struct vm_opts opts = {
		.loop = &loop,
		.boot_timer = cli->boot_timer,
		.console_in = STDIN_FILENO,
		.console_out = STDOUT_FILENO,
		.start_wall = *start_wall,
		.start_cpu = *start_cpu,
	};
	if (vm_create(&vm, &cfg, be, &opts, &err) < 0) {
		log_err("cannot build the VM: %s", err.msg);
		evloop_destroy(&loop);
		goto out;
	}
	log_info("VM built on %s: %u vCPU(s), %llu MiB", be->name, cfg.machine.vcpu_count,
		 (unsigned long long)cfg.machine.mem_size_mib);
	install_signals(&vm);
	struct termios saved;
	bool raw = term_raw(&saved);
	code = vm_run(&vm);
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	signal_vm = NULL;
	vm_destroy(&vm);
	evloop_destroy(&loop);
out:
	config_free(&cfg);
	return code;
}

int main(int argc, char **argv)
{
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
	int code = run(&cli, &start_wall, &start_cpu);
	log_close();
	return code;
}
