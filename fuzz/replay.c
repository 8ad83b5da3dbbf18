/*
 * replay.c — runs a fuzz target's LLVMFuzzerTestOneInput() on saved inputs,
 * so that a committed corpus is a regression test without libFuzzer (and
 * with any compiler).  Linked into the fuzz-*-replay executables only.
 *
 * usage: fuzz-TARGET-replay PATH...
 * Each PATH is a file or a directory whose regular files (not recursively,
 * in name order) are run.  Each input is copied into a buffer of exactly its
 * size, so ASan sees any read past its end.  The name of every input is
 * printed before it runs, so a crash names its input.  Exit status: 0 when
 * every input ran; 1 if a path is missing or unreadable, or a directory has
 * no regular file.  A failing input abort()s inside the target.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Corpus files are small; a bigger one is a mistake. */
#define MAX_FILE ((size_t)16 << 20)

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, len = 0;
	uint8_t *buf = malloc(cap);
	int rc = 0;
	for (;;) {
		if (!buf) {
			fprintf(stderr, "replay: %s: out of memory\n", path);
			rc = -1;
			goto out;
		}
		len += fread(buf + len, 1, cap - len, f);
		if (len < cap)
			break;
		if (cap >= MAX_FILE) {
			fprintf(stderr, "replay: %s: larger than %zu bytes\n", path, MAX_FILE);
			rc = -1;
			goto out;
		}
		cap *= 2;
		uint8_t *nb = realloc(buf, cap);
		if (!nb)
			free(buf);
		buf = nb;
	}
	if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		rc = -1;
		goto out;
	}
	/* An exact-size copy: no slack after the input for a bad read to hit. */
	uint8_t *exact = malloc(len ? len : 1);
	if (!exact) {
		fprintf(stderr, "replay: %s: out of memory\n", path);
		rc = -1;
		goto out;
	}
	if (len)
		memcpy(exact, buf, len);
	printf("  %s (%zu bytes)\n", path, len);
	fflush(stdout);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
out:
	free(buf);
	fclose(f);
	return rc;
}

static int not_hidden(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/* Runs the regular files of dir; returns how many ran, or -1. */
static int run_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, not_hidden, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	int ran = 0, rc = 0;
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		int len = snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (len < 0 || (size_t)len >= sizeof(path)) {
			fprintf(stderr, "replay: %s/%s: path too long\n", dir, names[i]->d_name);
			rc = -1;
		} else if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(path))
				rc = -1;
			else
				ran++;
		}
		free(names[i]);
	}
	free(names);
	if (!rc && !ran) {
		fprintf(stderr, "replay: %s: no input files\n", dir);
		rc = -1;
	}
	return rc ? -1 : ran;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
		return 2;
	}
	long total = 0;
	int status = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st)) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			status = 1;
		} else if (S_ISDIR(st.st_mode)) {
			int n = run_dir(argv[i]);
			if (n < 0)
				status = 1;
			else
				total += n;
		} else if (run_file(argv[i])) {
			status = 1;
		} else {
			total++;
		}
	}
	printf("replay: ran %ld input%s\n", total, total == 1 ? "" : "s");
	return status;
}
