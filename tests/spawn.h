/*
 * spawn.h — helpers for tests that run loopback servers and write scratch
 * files: start a child that prints its port, stop it by its pid, find a port
 * nobody listens on, temporary files and directories.  Header-only (static
 * functions); include after <cmocka.h>.
 *
 * Children are always stopped by the pid they were started with, never by
 * name, and reaped; nothing here leaves a process behind on success.
 */
#ifndef ST_TEST_SPAWN_H
#define ST_TEST_SPAWN_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h" /* ST_UNUSED */

/* Stop a child started here (SIGTERM, then reap it); *pid becomes 0. */
static ST_UNUSED void sp_stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

/* Run argv (argv[0] looked up in PATH, NULL-terminated) with its stdout on a
 * pipe; the first line it prints is the port it listens on.  0 with *ret_pid
 * and *ret_port; -1, said on stderr, when it did not start (the child is
 * stopped then). */
static ST_UNUSED int sp_start_port(const char *const *argv, pid_t *ret_pid, int *ret_port)
{
	int fds[2];
	if (pipe(fds))
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (!pid) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	char buf[32] = "";
	size_t got = 0;
	while (got < sizeof(buf) - 1 && !memchr(buf, '\n', got)) {
		ssize_t r = read(fds[0], buf + got, sizeof(buf) - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fds[0]);
	buf[got] = 0;
	long port = memchr(buf, '\n', got) ? strtol(buf, NULL, 10) : 0;
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "%s did not start\n", argv[1] ? argv[1] : argv[0]);
		sp_stop(&pid);
		return -1;
	}
	*ret_pid = pid;
	*ret_port = (int)port;
	return 0;
}

/* A loopback TCP port nobody listens on right now, or -1. */
static ST_UNUSED int sp_free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(s, (struct sockaddr *)&a, &al)) {
		if (s >= 0)
			close(s);
		return -1;
	}
	close(s);
	return ntohs(a.sin_port);
}

/* A new file /tmp/<prefix>-XXXXXX holding the n bytes at data; its name goes
 * to path (at least 64 bytes).  Fails the test when it cannot be written. */
static ST_UNUSED void sp_tmpfile(char *path, size_t cap, const char *prefix, const void *data,
				 size_t n)
{
	snprintf(path, cap, "/tmp/%s-XXXXXX", prefix);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}

/* Write a file from a printf format; fails the test when it cannot. */
static ST_UNUSED void sp_write_file(const char *path, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static ST_UNUSED void sp_write_file(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	assert_int_equal(fclose(f), 0);
}

/* A whole file, NUL-terminated (its length in *ret_len when not NULL), or
 * NULL when it cannot be opened.  Free it. */
static ST_UNUSED char *sp_read_all(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *b = NULL;
	size_t n = 0, r;
	char chunk[4096];
	while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		b = realloc(b, n + r + 1);
		assert_non_null(b);
		memcpy(b + n, chunk, r);
		n += r;
	}
	fclose(f);
	if (!b)
		b = calloc(1, 1);
	assert_non_null(b);
	b[n] = 0;
	if (ret_len)
		*ret_len = n;
	return b;
}

/* rm -rf a scratch directory (a path we made, quoted for the shell): the
 * status of system(3), 0 when it went. */
static ST_UNUSED int sp_rmrf(const char *dir)
{
	if (!dir[0] || strchr(dir, '\''))
		return -1;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

#endif
